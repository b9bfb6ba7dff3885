"""The morphology classes and the shape limits that define them (docs/morphology.md).

One definition, imported by the classifier (crayfis.morphology.classify), by the simulator's truth
labels (crayfis.sim.pixels) and by the tests. Lengths are in pixels of the camera frame, values in
raw pixel units (8-bit luma or sensor DN, as the app sends them).

The classes follow DECO's: a *spot* is compact or round, a *track* long and straight, a *worm*
long and bent; *noise* is what no particle deposit looks like (a lone pixel without charge
sharing, lit pixels scattered over the frame, lit pixels that do not stand out from their own
surroundings, or more lit pixels than any deposit lights).
"""
from __future__ import annotations

NONE, SPOT, TRACK, WORM, NOISE = -1, 0, 1, 2, 3
"""Class codes (int8). NONE: the event carries no L2 pixels (a zero-bias sample), so no class."""

CLASS_NAMES = ("spot", "track", "worm", "noise")
"""Name of each class code 0..3: the `morphology` value stored on a hit document."""

LINK_PX = 2
"""Lit pixels at most this far apart (Chebyshev distance) belong to one cluster. A particle's
deposit fluctuates (Landau) and can dip below the threshold for a pixel, so a one-pixel gap does
not split a track; lit pixels three or more pixels apart are separate clusters."""

LONG_PX = 6.0
"""A cluster is long when it spans at least this many pixels along its major axis. A minimum-
ionising muon crossing a ~26 um sensitive layer of 1.4 um pixels is about 19 tan(zenith) pixels
long, so muons within ~18 degrees of the vertical are spots, as DECO also finds."""

MIN_ELONGATION = 2.0
"""A track or a bent worm is at least this many times longer than wide (square root of the ratio
of its second moments). A long cluster less elongated is either a filled round deposit (see
MIN_FILL) or a path curled on itself (a worm)."""

MIN_FILL = 0.5
"""A long but round cluster is a spot when its lit pixels fill at least this fraction of the
ellipse of its second moments (a filled disc fills all of it): a large deposit in one place,
such as an alpha particle's. A path curled on itself, a few pixels thick, fills about its width
over its radius, a small fraction."""

BEND_PX = 1.5
"""A long cluster is bent (a worm) when the least-squares cubic through its pixel centres departs
from the least-squares straight line by at least this much somewhere along it: an arc or an S.
A straight track's thickness averages out of both fits, and its pixel steps move them apart by
a small fraction of a pixel."""

MAX_TRACK_WIDTH_PX = 1.5
"""A straight track is thin: diffusion spreads its charge over 1-4 lit pixels across, an rms
width up to ~1.2 px. A long cluster wider than this (rms about its major axis) is a worm: a path
that doubles back, whose centre line can look straight."""

SHARE_FRACTION = 0.05
"""Charge sharing: the charge a particle frees diffuses over 0.4 px or more before it is
collected, which puts at least ~13 % of the brightest pixel's excess into its brightest neighbour.
A lone lit pixel whose brightest neighbour holds less than this fraction of its excess is a hot
or noisy pixel, not a deposit."""

SHARE_SIGMA = 3.0
"""... and the neighbour's excess must also stand this many noise sigmas above the pedestal, so a
noise fluctuation next to a bright hot pixel does not count as sharing."""

MIN_NOISE_DN = 1.0
"""Floor of the noise estimate (which is also never below the frame's own std): values are
integers, a 1-unit step is never significant."""

MIN_DARK_PIXELS = 8
"""The pedestal and its noise are taken from the event's unlit pixels (the byte block around the
hits) when it holds at least this many; otherwise from the frame mean and std of the event."""

SCATTER_CLUSTERS = 3
"""Frame-wide noise: with at least this many clusters, and fewer than half of the lit pixels in
the main one, the lit pixels are scattered over the frame (thermal noise, a light leak). A
particle lights one compact region; a stray noise pixel in the same frame is rare (the L1
threshold passes ~1 % of frames)."""

MIN_SIGNIFICANCE = 10.0
"""Faint: the brightest lit pixel stands fewer noise sigmas than this above its own surroundings
(the median of the unlit pixels around the hits). The app's L1 threshold sits in the noise tail,
~5.7 sigmas above a dark frame's pedestal (it passes ~1 % of 2-million-pixel frames), and the
brightest pixel of a frame that passed on noise rarely lies much beyond it; a light leak lifts
the surroundings toward the threshold, so its lit pixels stand only a few sigmas above them. A
particle's deposit is not tied to the threshold: its core stands tens of sigmas above a dark
surrounding. A real deposit fainter than this is not told apart from noise in one frame."""

MAX_LIT_PIXELS = 1000
"""Events with more lit pixels than this are noise without a shape analysis: no particle deposit
lights that many pixels of a phone sensor (the app sends at most 120, the JSON format at most
1000), and the analysis costs grow with its square."""
