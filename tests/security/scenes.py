"""A scene several attack tests share: a real shower seen by trusted phones, which stays public
after the fixes, so the tests can check what a public candidate shows (and what it must not)."""
from __future__ import annotations

from dataclasses import dataclass, field

from tests.security.actors import (
    CELL_LON,
    MINUTE_MS,
    index_uploads,
    north_of,
    operator_approves,
    phone_posts,
    public_name,
    search_pass,
)

# The edge between the public cells "46.25,6.15" (south) and "46.35,6.15" (north).
EDGE_LAT = 46.3
SPACING_M = 15.0       # between neighbouring phones along the meridian: all within R of each other


@dataclass
class Shower:
    t_ms: int
    devices: list[str]                  # every member's Device-id
    trusted: list[str]                  # the members an operator approved
    approved: bool                      # False where manage.py trust_device does not exist yet
    positions: dict[str, tuple[float, float]] = field(default_factory=dict)

    @property
    def pseudonyms(self) -> set[str]:
        return {public_name(d) for d in self.devices}

    @property
    def span(self) -> str:
        return f"from_ms={self.t_ms - 60 * MINUTE_MS}&to_ms={self.t_ms + 60 * MINUTE_MS}"


def trusted_shower(client, t_ms: int, k: int, *, untrusted: int = 1, centre_lat: float = EDGE_LAT,
                   search: bool = True) -> Shower:
    """k approved phones and `untrusted` unapproved ones see one shower at t_ms (1 ms apart),
    lined up north-south across `centre_lat` (by default the edge between two public cells), each
    with two background hits 20 minutes either side in 10-minute exposure blocks; posted through
    /submit, indexed, approved by the operator, then (unless `search` is False) one pass of the
    continuous search."""
    n = k + untrusted
    devices = [f"5eed{i:012x}" for i in range(n)]
    positions = {}
    for i, dev in enumerate(devices):
        lat = north_of(centre_lat, SPACING_M * (i - n // 2))
        positions[dev] = (lat, CELL_LON)
        blocks = [[(t_ms - 20 * MINUTE_MS + 7_919 * i, lat, CELL_LON)], [(t_ms + i, lat, CELL_LON)],
                  [(t_ms + 20 * MINUTE_MS + 6_007 * i, lat, CELL_LON)]]
        status = phone_posts(client, dev, blocks, block_ms=10 * MINUTE_MS, remote_addr=f"192.0.2.{20 + i}")
        assert status == 202, f"a real phone's upload was refused: {status}"
    index_uploads()
    trusted = devices[:k]
    approved = operator_approves(*trusted)
    if search:
        search_pass()
    return Shower(t_ms, devices, trusted, approved, positions)
