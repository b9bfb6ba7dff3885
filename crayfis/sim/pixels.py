"""Labelled pixel clusters of each morphology and of phone noise, as the app uploads them.

The physical picture (docs/morphology.md states it with its sources):

- Sensor: a phone CMOS camera covered by the user, 8-bit luma values. Per event a pixel pitch of
  1.1-1.6 um, a sensitive depth of 15-30 um, a gain of 0.25-1 value units per collected electron,
  and charge diffusion: charge freed at depth z (0 = the collecting side) spreads with an rms of
  sigma0 * sqrt(0.2 + 0.8 z / depth) pixels, sigma0 0.4-0.9.
- Dark frame: pedestal 0.5-3.5 and read/thermal noise 0.7-2.0 units. The app tunes L1 to pass
  ~20 of ~1800 frames a minute (~1 %), which for ~2 million Gaussian pixels is near pedestal +
  5.7 sigma, and takes L2 one unit below; its uploads hold about 1.2 L2 pixels per event
  (crayfis/sim/phone.py). Here L2 is the lowest whole value leaving at most STRAY_MEAN noise
  pixels above it per frame (~5.6 sigma), L1 one unit above, and a frame holds Poisson of that
  many stray pixels above L2, anywhere in it.
- Muons (tracks): minimum-ionising, cos^2 zenith intensity through a flat sensor (zenith density
  cos^3 sin), straight through the sensitive layer: depth x tan(zenith) / pitch pixels long,
  ~100 electrons per um with Landau (Moyal) fluctuations. Near-vertical ones are spots.
- Electrons (worms): Compton electrons of 40 keV-1 MeV from environmental gamma rays, started
  anywhere in the layer in any direction, slowing down along the Katz-Penfold range-energy
  relation and deflected by multiple scattering (Rossi's width 13.6 MeV / (beta c p) sqrt(step /
  X0)) until they stop or leave the layer: curved when slow, nearly straight when fast.
- Soft electrons (spots): photo-absorbed X-rays and the softest Compton electrons, 5-40 keV,
  a few um of range: compact.
- Noise: a hot pixel (one bright pixel with no charge shared with its neighbours); thermal noise
  (one or more isolated pixels just above the threshold anywhere in the frame); a light leak
  (a broad glow lifting a region to the threshold, with its photon shot noise).

Each particle's label is the class of its true path's footprint (the pixels the path crosses,
widened by one pixel: what a noise-free camera would show), by the classes' definition
(crayfis.morphology.rules) measured as the classifier measures a cluster
(compiled_features.cluster_shape and shape_class). The classifier only sees the recorded pixels:
with noise, the threshold, the sensor's own diffusion and gain, Landau gaps, strays, the frame's
edges and the 120-pixel cap. The app's side is mimicked exactly: lit pixels are those above L2
in scan order, at most 120, uploaded as a byte block of 5x5 squares (or, for older builds, as a
`pixels` list); a frame whose brightest pixel does not pass L1 is not an event. Seeded and
deterministic.
"""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr, ndtri

from crayfis.morphology.compiled_features import cluster_shape, limits, shape_class
from crayfis.morphology.rules import CLASS_NAMES
from crayfis.wire import build
from crayfis.wire import crayfis_pb2 as pb
from crayfis.wire.byteblock import block_coords

RES = (1920, 1080)
N_FRAME_PIXELS = RES[0] * RES[1]
SIDE_LENGTH = 5                  # the app's byte block squares
MAX_L2_PIXELS = 120              # the app's npix
STRAY_MEAN = 0.2                 # most noise pixels above L2 per frame (the app's ~1.2 L2 pixels per event)
MAX_VALUE = 255                  # 8-bit luma
EV_PER_PAIR = 3.6                # eV per electron-hole pair in silicon
MIP_MP_PER_UM = 76.0             # most probable MIP charge, electrons per um (mean ~100 with the tail)
MOYAL_SCALE = 0.25               # relative Landau width of a 0.3 um step (Moyal shape)
STEP_UM = 0.3                    # transport and deposit step
X0_SI_UM = 93_700.0              # radiation length of silicon
ELECTRON_MASS_MEV = 0.511
CARRIERS_PER_STEP = 8            # Monte Carlo diffusion samples per deposit step
MAX_ZENITH = np.radians(85.0)

SOURCES = ("muon", "electron", "soft_electron", "hot_pixel", "thermal", "glow")
PARTICLE_SOURCES = SOURCES[:3]
NOISE_SOURCES = SOURCES[3:]


@dataclass(frozen=True)
class Sensor:
    """One event's camera: pixel pitch and sensitive depth (um), gain (units per electron),
    diffusion sigma0 (px), dark pedestal and noise (units), and the L2 threshold."""

    pitch_um: float
    depth_um: float
    gain: float
    diffusion_px: float
    pedestal: float
    noise: float
    l2: int

    @property
    def stray_mean(self) -> float:
        """Expected dark pixels above L2 in one frame."""
        return N_FRAME_PIXELS * float(ndtr(-(self.l2 + 0.5 - self.pedestal) / self.noise))


@dataclass(frozen=True)
class LabelledEvent:
    """One simulated event as the app uploads it, with its truth."""

    label: str                             # spot, track, worm or noise
    source: str                            # one of SOURCES
    hits: list[tuple[int, int]]            # L2 pixels (x, y) in scan order, at most 120
    block: list[tuple[int, int, int]]      # (x, y, value) of the byte block in wire order
    avg: float                             # frame mean (Event.avg)
    std: float                             # frame std (Event.std)
    l2: int                                # the sensor's L2 threshold

    @property
    def lit_values(self) -> list[tuple[int, int, int]]:
        """(x, y, value) of the hits: the `pixels` list of older builds."""
        lit = set(self.hits)
        by_xy = {(x, y): v for x, y, v in self.block if (x, y) in lit}
        return [(x, y, by_xy[(x, y)]) for x, y in self.hits]


def draw_sensor(rng: np.random.Generator) -> Sensor:
    pedestal, noise = rng.uniform(0.5, 3.5), rng.uniform(0.7, 2.0)
    z = -float(ndtri(STRAY_MEAN / N_FRAME_PIXELS))      # a value v is above L2 when v >= L2 + 0.5
    l2 = int(np.ceil(pedestal + z * noise - 0.5))
    return Sensor(rng.uniform(1.1, 1.6), rng.uniform(15.0, 30.0), float(np.exp(rng.uniform(np.log(0.25), 0.0))),
                  rng.uniform(0.4, 0.9), pedestal, noise, l2)


# --- particles: deposits (x px, y px, depth fraction, electrons) and the true path -----------------

@dataclass(frozen=True)
class Deposits:
    x: np.ndarray      # px
    y: np.ndarray      # px
    depth: np.ndarray  # 0 = collecting side, 1 = far side
    q: np.ndarray      # electrons


def muon(rng: np.random.Generator, sensor: Sensor) -> Deposits:
    """A straight minimum-ionising crossing of the sensitive layer (zenith density cos^3 sin)."""
    while True:
        zenith = np.arccos(rng.random() ** 0.25)   # cos^4 uniform <=> density cos^3 sin
        if zenith <= MAX_ZENITH:
            break
    azimuth = rng.uniform(0.0, 2.0 * np.pi)
    path_um = sensor.depth_um / np.cos(zenith)
    n = max(int(np.ceil(path_um / STEP_UM)), 1)
    s = (np.arange(n) + 0.5) / n
    reach_px = sensor.depth_um * np.tan(zenith) / sensor.pitch_um
    x0, y0 = rng.uniform(0, RES[0]), rng.uniform(0, RES[1])
    moyal = -np.log(rng.standard_normal(n) ** 2)
    q = np.maximum(MIP_MP_PER_UM * (path_um / n) * (1.0 + MOYAL_SCALE * moyal), 0.0)
    return Deposits(x0 + s * reach_px * np.cos(azimuth), y0 + s * reach_px * np.sin(azimuth), s, q)


def range_um(e_mev: np.ndarray) -> np.ndarray:
    """Katz-Penfold CSDA range of electrons in silicon (2.33 g/cm^3), um."""
    n = 1.265 - 0.0954 * np.log(e_mev)
    return 412.0 * e_mev ** n / 2.33 * 10.0


_E_GRID = np.geomspace(1e-4, 3.0, 2000)
_R_GRID = range_um(_E_GRID)


def energy_mev(residual_um: np.ndarray) -> np.ndarray:
    """Kinetic energy of an electron with this residual range (inverse of range_um)."""
    return np.interp(residual_um, _R_GRID, _E_GRID, left=0.0)


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cross product of (n, 3) arrays (np.cross is slow on many small calls)."""
    return np.column_stack([a[:, 1] * b[:, 2] - a[:, 2] * b[:, 1], a[:, 2] * b[:, 0] - a[:, 0] * b[:, 2],
                            a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]])


def _scatter(direction: np.ndarray, theta0: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Deflect unit vectors by small angles of rms theta0 in each transverse plane."""
    helper = np.where(np.abs(direction[:, 2:3]) < 0.9, [[0.0, 0.0, 1.0]], [[1.0, 0.0, 0.0]])
    e1 = _cross(direction, helper)
    e1 /= np.linalg.norm(e1, axis=1, keepdims=True)
    e2 = _cross(direction, e1)
    kick = rng.standard_normal((len(direction), 2)) * theta0[:, None]
    out = direction + kick[:, :1] * e1 + kick[:, 1:] * e2
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def electrons(rng: np.random.Generator, sensors: list[Sensor], e_lo_kev: float, e_hi_kev: float,
              ) -> list[Deposits]:
    """Transport one electron per sensor (log-uniform energy, isotropic, anywhere in the layer),
    all together in steps, until each stops or leaves its layer."""
    b = len(sensors)
    depth = np.array([s.depth_um for s in sensors])
    pitch = np.array([s.pitch_um for s in sensors])
    start = rng.uniform(0, 1, (b, 2)) * RES
    pos = np.zeros((b, 3))
    pos[:, 2] = rng.uniform(0, depth)
    direction = rng.standard_normal((b, 3))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    residual = range_um(np.exp(rng.uniform(np.log(e_lo_kev), np.log(e_hi_kev), b)) / 1000.0)
    idx = np.arange(b)
    steps: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    while idx.size:
        ds = np.minimum(STEP_UM, residual[idx])
        e_now, e_next = energy_mev(residual[idx]), energy_mev(residual[idx] - ds)
        mid = pos[idx] + direction[idx] * (ds / 2)[:, None]
        steps.append((idx, mid, (e_now - e_next) * 1e6 / EV_PER_PAIR))
        pos[idx] += direction[idx] * ds[:, None]
        residual[idx] -= ds
        total = e_next + ELECTRON_MASS_MEV
        pc_beta = np.maximum(e_next * (e_next + 2 * ELECTRON_MASS_MEV) / total, 1e-4)
        theta0 = np.minimum(13.6 / pc_beta * np.sqrt(ds / X0_SI_UM), 1.0)
        direction[idx] = _scatter(direction[idx], theta0, rng)
        z = pos[idx, 2]
        idx = idx[(residual[idx] > 1e-3) & (z >= 0) & (z <= depth[idx])]
    owner = np.concatenate([s[0] for s in steps])
    mid = np.concatenate([s[1] for s in steps])
    q = np.concatenate([s[2] for s in steps])
    inside = (mid[:, 2] >= 0) & (mid[:, 2] <= depth[owner])
    owner, mid, q = owner[inside], mid[inside], q[inside]
    order = np.argsort(owner, kind="stable")
    bounds = np.searchsorted(owner[order], np.arange(b + 1))
    out = []
    for i in range(b):
        k = order[bounds[i]:bounds[i + 1]]
        out.append(Deposits(start[i, 0] + mid[k, 0] / pitch[i], start[i, 1] + mid[k, 1] / pitch[i],
                            mid[k, 2] / depth[i], q[k]))
    return out


_LIMITS = limits()


def footprint(dep: Deposits) -> tuple[np.ndarray, np.ndarray]:
    """The in-frame pixels the true path crosses, widened by one pixel on every side: the image a
    noise-free camera would show, with the least charge sharing a deposit has (x, y arrays)."""
    step = np.array([-1, 0, 1])
    x = (np.floor(dep.x).astype(np.int64)[:, None, None] + step[None, :, None]).repeat(3, axis=2).ravel()
    y = (np.floor(dep.y).astype(np.int64)[:, None, None] + step[None, None, :]).repeat(3, axis=1).ravel()
    keep = (x >= 0) & (x < RES[0]) & (y >= 0) & (y < RES[1])
    cells = np.unique(y[keep] * RES[0] + x[keep])
    return (cells % RES[0]).astype(np.float64), (cells // RES[0]).astype(np.float64)


def true_label(dep: Deposits) -> str | None:
    """The class of the path's footprint by the classes' definition; None when it is off the frame."""
    x, y = footprint(dep)
    if not x.size:
        return None
    return CLASS_NAMES[shape_class(*cluster_shape(x, y), _LIMITS)]


# --- frames: what the camera records and the app uploads ------------------------------------------

@dataclass
class Patch:
    """A rectangle of recorded values (rows y0.., columns x0..)."""

    x0: int
    y0: int
    values: np.ndarray   # int, shape (rows, columns)


def _render(dep: Deposits, sensor: Sensor, rng: np.random.Generator) -> tuple[int, int, np.ndarray]:
    """Signal (value units) of the diffused deposits on the pixel grid: (x0, y0, image)."""
    sigma = sensor.diffusion_px * np.sqrt(0.2 + 0.8 * dep.depth)
    k = CARRIERS_PER_STEP
    xs = np.repeat(dep.x, k) + rng.standard_normal(dep.x.size * k) * np.repeat(sigma, k)
    ys = np.repeat(dep.y, k) + rng.standard_normal(dep.y.size * k) * np.repeat(sigma, k)
    w = np.repeat(dep.q / k, k) * sensor.gain
    px, py = np.floor(xs).astype(np.int64), np.floor(ys).astype(np.int64)
    keep = (px >= 0) & (px < RES[0]) & (py >= 0) & (py < RES[1])
    px, py, w = px[keep], py[keep], w[keep]
    if not px.size:
        return 0, 0, np.zeros((0, 0))
    x0, y0 = px.min(), py.min()
    shape = (py.max() - y0 + 1, px.max() - x0 + 1)
    image = np.bincount((py - y0) * shape[1] + (px - x0), weights=w, minlength=shape[0] * shape[1])
    return int(x0), int(y0), image.reshape(shape)


def _record(signal: np.ndarray, x0: int, y0: int, sensor: Sensor, rng: np.random.Generator,
            shot: float = 0.0) -> Patch:
    """Values the camera records over a signal image (dark noise, optional shot noise), padded by
    the byte block radius so the squares around lit pixels read recorded values."""
    pad = SIDE_LENGTH // 2
    rows, cols = signal.shape
    full = np.zeros((rows + 2 * pad, cols + 2 * pad))
    full[pad:pad + rows, pad:pad + cols] = signal
    sd = np.sqrt(sensor.noise ** 2 + shot * full)
    values = np.rint(sensor.pedestal + full + sd * rng.standard_normal(full.shape))
    return Patch(x0 - pad, y0 - pad, np.clip(values, 0, MAX_VALUE).astype(np.int64))


def _tail_values(sensor: Sensor, above: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """n dark values drawn from the noise distribution above `above` (exclusive)."""
    lo = float(ndtr((above + 0.5 - sensor.pedestal) / sensor.noise))
    z = ndtri(lo + (1.0 - lo) * rng.random(n))
    return np.clip(np.rint(sensor.pedestal + sensor.noise * z), above + 1, MAX_VALUE).astype(np.int64)


def _dark_values(sensor: Sensor, n: int, rng: np.random.Generator) -> np.ndarray:
    """n dark values at or below L2 (a pixel above it would have been an L2 pixel)."""
    hi = float(ndtr((sensor.l2 + 0.5 - sensor.pedestal) / sensor.noise))
    z = ndtri(hi * np.maximum(rng.random(n), 1e-12))
    return np.clip(np.rint(sensor.pedestal + sensor.noise * z), 0, sensor.l2).astype(np.int64)


def _frame_stats(sensor: Sensor, signal_sum: float, signal_sq: float) -> tuple[float, float]:
    mean = signal_sum / N_FRAME_PIXELS
    var = sensor.noise ** 2 + signal_sq / N_FRAME_PIXELS - mean ** 2
    return sensor.pedestal + mean, float(np.sqrt(var))


def _upload(sensor: Sensor, patches: list[Patch], strays: dict[tuple[int, int], int], label: str,
            source: str, stats: tuple[float, float], rng: np.random.Generator) -> LabelledEvent | None:
    """The app's L1/L2 and byte block over the recorded values; None when L1 does not pass.

    Recorded values come from the patches, then the strays (which win where both say), and the
    dark frame (at or below L2) everywhere else."""
    sx = np.array([c[0] for c in strays], dtype=np.int64)
    sy = np.array([c[1] for c in strays], dtype=np.int64)
    sv = np.array(list(strays.values()), dtype=np.int64)
    above = sv > sensor.l2
    xs, ys, vs = [sx[above]], [sy[above]], [sv[above]]
    for p in patches:
        py, px = np.nonzero(p.values > sensor.l2)
        gx, gy = px + p.x0, py + p.y0
        keep = (gx >= 0) & (gx < RES[0]) & (gy >= 0) & (gy < RES[1])
        xs.append(gx[keep])
        ys.append(gy[keep])
        vs.append(p.values[py[keep], px[keep]])
    x, y, v = np.concatenate(xs), np.concatenate(ys), np.concatenate(vs)
    if not v.size or v.max() <= sensor.l2 + 1:
        return None
    order = np.lexsort((x, y))
    key = y[order] * RES[0] + x[order]
    first = np.concatenate([[True], key[1:] != key[:-1]])   # a stray on a patch pixel: one hit
    hits = list(zip(x[order][first][:MAX_L2_PIXELS].tolist(), y[order][first][:MAX_L2_PIXELS].tolist()))
    coords = block_coords([h[0] for h in hits], [h[1] for h in hits], SIDE_LENGTH, *RES)
    cx = np.array([c[0] for c in coords], dtype=np.int64)
    cy = np.array([c[1] for c in coords], dtype=np.int64)
    values = np.full(len(coords), -1, dtype=np.int64)
    for p in patches:
        rows, cols = p.values.shape
        inside = (cx >= p.x0) & (cx < p.x0 + cols) & (cy >= p.y0) & (cy < p.y0 + rows)
        values[inside] = p.values[cy[inside] - p.y0, cx[inside] - p.x0]
    for i, c in enumerate(coords):
        if c in strays:
            values[i] = strays[c]
    missing = values < 0
    values[missing] = _dark_values(sensor, int(missing.sum()), rng)
    block = list(zip(cx.tolist(), cy.tolist(), values.tolist()))
    return LabelledEvent(label, source, hits, block, stats[0], stats[1], sensor.l2)


def _strays(sensor: Sensor, n: int, rng: np.random.Generator, first_above: int | None = None) -> dict:
    """n dark pixels above L2 anywhere in the frame (the first above `first_above` if given)."""
    xy = zip(rng.integers(0, RES[0], n).tolist(), rng.integers(0, RES[1], n).tolist())
    values = _tail_values(sensor, sensor.l2, n, rng)
    if first_above is not None and n:
        values[0] = _tail_values(sensor, first_above, 1, rng)[0]
    return dict(zip(xy, values.tolist()))


def particle_event(dep: Deposits, label: str, source: str, sensor: Sensor,
                   rng: np.random.Generator) -> LabelledEvent | None:
    x0, y0, signal = _render(dep, sensor, rng)
    if not signal.size:
        return None
    patch = _record(signal, x0, y0, sensor, rng)
    strays = _strays(sensor, int(rng.poisson(sensor.stray_mean)), rng)
    stats = _frame_stats(sensor, float(signal.sum()), float((signal ** 2).sum()))
    return _upload(sensor, [patch], strays, label, source, stats, rng)


def noise_event(source: str, sensor: Sensor, rng: np.random.Generator) -> LabelledEvent | None:
    """A hot pixel, thermal noise or a light leak that passes L1."""
    strays = _strays(sensor, int(rng.poisson(sensor.stray_mean)), rng)
    stats = _frame_stats(sensor, 0.0, 0.0)
    patches: list[Patch] = []
    if source == "hot_pixel":
        x, y = int(rng.integers(0, RES[0])), int(rng.integers(0, RES[1]))
        strays[(x, y)] = int(rng.integers(sensor.l2 + 2, MAX_VALUE + 1))
    elif source == "thermal":
        strays.update(_strays(sensor, 1 + int(rng.poisson(1.0)), rng, first_above=sensor.l2 + 1))
    else:  # glow: a Gaussian blob of light reaching the threshold, with photon shot noise
        width = rng.uniform(8.0, 60.0)
        level = sensor.l2 - sensor.pedestal + rng.uniform(-1.0, 3.0) * sensor.noise
        cx, cy = rng.uniform(0, RES[0]), rng.uniform(0, RES[1])
        x0, y0 = max(int(cx - 3 * width), 0), max(int(cy - 3 * width), 0)
        ys, xs = np.mgrid[y0:min(int(cy + 3 * width), RES[1] - 1) + 1, x0:min(int(cx + 3 * width), RES[0] - 1) + 1]
        signal = level * np.exp(-((xs + 0.5 - cx) ** 2 + (ys + 0.5 - cy) ** 2) / (2 * width ** 2))
        patches.append(_record(signal, x0, y0, sensor, rng, shot=1.0))
        stats = _frame_stats(sensor, float(signal.sum()), float((signal ** 2).sum()))
    return _upload(sensor, patches, strays, "noise", source, stats, rng)


# --- labelled samples ---------------------------------------------------------------------------

PARTICLE_ENERGIES_KEV = {"electron": (40.0, 1000.0), "soft_electron": (5.0, 40.0)}
BATCH = 64


def _particle_batch(rng: np.random.Generator) -> Iterator[tuple[Deposits, str, str, Sensor]]:
    """(deposits, true label, source, sensor) for a batch of each particle source, in a fixed order."""
    sensors = [draw_sensor(rng) for _ in range(BATCH)]
    candidates = [(muon(rng, s), "muon", s) for s in sensors]
    for source, (lo, hi) in PARTICLE_ENERGIES_KEV.items():
        sensors = [draw_sensor(rng) for _ in range(BATCH)]
        candidates += [(d, source, s) for s, d in zip(sensors, electrons(rng, sensors, lo, hi))]
    for dep, source, sensor in candidates:
        label = true_label(dep) if dep.q.size else None
        if label is not None:
            yield dep, label, source, sensor


def simulate(n: int, seed: int, progress=None) -> list[LabelledEvent]:
    """n events, as close to a quarter of each class as n allows, in a seeded order.

    Particles come from the three particle sources in equal measure and fill the spot, track and
    worm quotas by their true labels (a class already full drops further ones, and a frame that
    does not pass L1 is no event); noise comes from the three noise sources in turn.
    `progress(done, n)` is called now and then.
    """
    rng = np.random.default_rng(seed)
    quota = {name: n // 4 + (1 if i < n % 4 else 0) for i, name in enumerate(CLASS_NAMES)}
    out: list[LabelledEvent] = []
    k = 0
    while quota["noise"] > 0:
        ev = noise_event(NOISE_SOURCES[k % len(NOISE_SOURCES)], draw_sensor(rng), rng)
        k += 1
        if ev is not None:
            out.append(ev)
            quota["noise"] -= 1
    while any(quota[c] > 0 for c in ("spot", "track", "worm")):
        for dep, label, source, sensor in _particle_batch(rng):
            if quota[label] > 0:
                ev = particle_event(dep, label, source, sensor, rng)
                if ev is not None:
                    out.append(ev)
                    quota[label] -= 1
        if progress is not None:
            progress(len(out), n)
    order = rng.permutation(len(out))
    return [out[i] for i in order]


# --- uploads ------------------------------------------------------------------------------------

EVENTS_PER_BLOCK = 50
EVENT_SPACING_MS = 3_000


def _pb_event(ev: LabelledEvent, t_ms: int, xbn: int, pixel_list: bool) -> pb.Event:
    if pixel_list:
        out = build.event(t_ms, xbn=xbn, res=RES, avg=ev.avg, std=ev.std)
        for x, y, v in ev.lit_values:
            out.pixels.add(x=x, y=y, val=v)
        return out
    values = {(x, y): v for x, y, v in ev.block}
    return build.event(t_ms, xbn=xbn, hits=ev.hits, values=values, res=RES, side_length=SIDE_LENGTH,
                       avg=ev.avg, std=ev.std)


def data_chunk(events: list[LabelledEvent], *, run_uuid: str, start_ms: int, pixel_list: bool = False) -> bytes:
    """One /submit body holding the events in DATA blocks of EVENTS_PER_BLOCK, in order.

    The events come from independent simulated sensors; a block states the median L2 threshold
    of its events (the classifier reads no block-level threshold)."""
    blocks = []
    for b in range(0, len(events), EVENTS_PER_BLOCK):
        part = events[b:b + EVENTS_PER_BLOCK]
        t0 = start_ms + b * EVENT_SPACING_MS
        pb_events = [_pb_event(ev, t0 + (i + 1) * EVENT_SPACING_MS, b // EVENTS_PER_BLOCK, pixel_list)
                     for i, ev in enumerate(part)]
        l2 = int(np.median([ev.l2 for ev in part]))
        blocks.append(build.exposure_block(
            run_uuid, xbn=b // EVENTS_PER_BLOCK, start_ms=t0, end_ms=t0 + (len(part) + 1) * EVENT_SPACING_MS,
            events=pb_events, l1_threshold=float(l2 + 1), l2_threshold=l2,
            l2_task="pixels" if pixel_list else "byteblock", res=RES))
    return build.data_chunk(run_configs=[build.run_config(run_uuid, start_ms=start_ms, res=RES)],
                            exposure_blocks=blocks)


def run_uuid_for(seed: int) -> str:
    """A run UUID that is a function of the seed."""
    return str(uuid.UUID(bytes=np.random.default_rng(seed).bytes(16), version=4))
