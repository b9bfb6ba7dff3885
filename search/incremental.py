"""Incremental coincidence search: re-search a closed region, then reconcile stored candidates.

Two pure steps, so the continuous search (search/ app) and the order-independence tests share
them:

``search_region`` runs the numpy kernel on the hits a closed region reads (``region.py``) and
keeps the candidates whose earliest triggered anchor lies in the region. Anchors in the halo
or between intervals see truncated windows; a truncated window only triggers if the full one
does and only links hits the full one links, and (the region being closed) none of them joins
a window inside, so dropping them loses nothing and invents nothing.

``reconcile`` turns the found components and the active stored candidates they replace into
writes, keeping identities stable:
- a component that overlaps (shares a hit with) stored candidates keeps the OLDEST of their
  ids (created first); the others are retracted with ``merged_into`` that id, and their ids
  become aliases of it. Every id a candidate ever had stays findable.
- a component that overlaps nothing gets the canonical id: ``candidate_id`` of its earliest
  triggered anchor (what one batch search names it); it is also always among the aliases.
- a stored candidate that overlaps no component is retracted (reason ``unsupported``).
- nothing is deleted; a write happens only when members, aliases or status change, and then
  ``revision`` grows by one and ``updated_ms`` is set.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from crayfis.coincidence.kernel import find_coincidences
from crayfis.coincidence.merge import candidate_id
from search.region import Interval, contains

ACTIVE, RETRACTED = "active", "retracted"
MERGED, UNSUPPORTED = "merged", "unsupported"  # retraction reasons


@dataclass(frozen=True)
class SearchParams:
    window_ms: int
    radius_m: float
    min_devices: int

    def as_dict(self) -> dict:
        return {"window_ms": int(self.window_ms), "radius_m": float(self.radius_m),
                "min_devices": int(self.min_devices)}


@dataclass
class HitBatch:
    """Hits as columns: string ids and devices (object arrays), int64 ms, float64 degrees."""

    hit_id: np.ndarray
    device: np.ndarray
    t_ms: np.ndarray
    lat: np.ndarray
    lon: np.ndarray

    def __post_init__(self):
        self.hit_id = np.asarray(self.hit_id, dtype=object)
        self.device = np.asarray(self.device, dtype=object)
        self.t_ms = np.asarray(self.t_ms, dtype=np.int64)
        self.lat = np.asarray(self.lat, dtype=np.float64)
        self.lon = np.asarray(self.lon, dtype=np.float64)

    def __len__(self) -> int:
        return len(self.t_ms)

    @classmethod
    def empty(cls) -> HitBatch:
        return cls([], [], [], [], [])

    @classmethod
    def concat(cls, parts: Sequence[HitBatch]) -> HitBatch:
        if not parts:
            return cls.empty()
        return cls(*(np.concatenate([getattr(p, f) for p in parts])
                     for f in ("hit_id", "device", "t_ms", "lat", "lon")))

    def take(self, idx) -> HitBatch:
        return HitBatch(self.hit_id[idx], self.device[idx], self.t_ms[idx], self.lat[idx],
                        self.lon[idx])

    def unique(self) -> HitBatch:
        """One row per hit id (a hit read twice through overlapping ranges counts once)."""
        if len(self) == 0:
            return self
        _, first = np.unique(self.hit_id.astype(str), return_index=True)
        return self if len(first) == len(self) else self.take(np.sort(first))


@dataclass(frozen=True)
class Component:
    """One candidate as a search found it (hit ids sorted by (time, id))."""

    canonical_id: str
    hit_ids: tuple[str, ...]
    anchors: tuple[str, ...]  # triggered anchors, earliest first (empty: not known)
    devices: tuple[str, ...]  # sorted distinct devices
    n_devices: int
    multiplicity: int
    t_start_ms: int
    t_end_ms: int
    lat: float
    lon: float
    n_triggered_anchors: int

    @property
    def n_hits(self) -> int:
        return len(self.hit_ids)


@dataclass(frozen=True)
class StoredCandidate:
    """A candidate as the store holds it; ``token`` is the store's concurrency stamp."""

    candidate_id: str
    status: str
    revision: int
    created_ms: int
    updated_ms: int
    hit_ids: tuple[str, ...]
    anchors: tuple[str, ...]
    t_start_ms: int
    t_end_ms: int
    aliases: tuple[str, ...] = ()
    merged_into: str | None = None
    retraction: str | None = None
    component: Component | None = None  # the stats last written (None: not known)
    token: object = None

    @property
    def n_devices(self) -> int:
        return self.component.n_devices if self.component else 0


@dataclass
class Change:
    """One write: the candidate after the change, and what it was before (None: new id)."""

    after: StoredCandidate
    before: StoredCandidate | None
    kind: str  # created | grown | revived | merged | retracted


@dataclass
class Reconciliation:
    changes: list[Change] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    def by_kind(self, kind: str) -> list[Change]:
        return [c for c in self.changes if c.kind == kind]


# ----------------------------------------------------------------------------- search


def search_region(hits: HitBatch, anchors: Sequence[Interval], params: SearchParams,
                  **tuning) -> list[Component]:
    """Candidates whose earliest triggered anchor lies in ``anchors`` (a closed region).

    ``hits`` must hold every hit in ``hit_ranges(anchors, tau)`` (more is fine).
    """
    hits = hits.unique()
    if len(hits) == 0 or not anchors:
        return []
    _, dev_code = np.unique(hits.device.astype(str), return_inverse=True)
    res = find_coincidences(hits.t_ms, hits.lat, hits.lon, dev_code.reshape(-1).astype(np.int64),
                            params.window_ms, params.radius_m, params.min_devices, **tuning)
    if res.n_candidates == 0:
        return []
    keep = np.flatnonzero(contains(anchors, hits.t_ms[res.cand_first_anchor]))
    out = []
    for i in keep.tolist():
        members = res.candidate_members(i)
        anchors_i = res.cand_anchors[res.cand_anchor_offsets[i]:res.cand_anchor_offsets[i + 1]]
        first = str(hits.hit_id[res.cand_first_anchor[i]])
        out.append(Component(
            canonical_id=candidate_id(first),
            hit_ids=tuple(hits.hit_id[members].astype(str).tolist()),
            anchors=tuple(hits.hit_id[anchors_i].astype(str).tolist()),
            devices=tuple(sorted(set(hits.device[members].astype(str).tolist()))),
            n_devices=int(res.cand_n_devices[i]), multiplicity=int(res.cand_multiplicity[i]),
            t_start_ms=int(res.cand_t_start_ms[i]), t_end_ms=int(res.cand_t_end_ms[i]),
            lat=float(res.cand_lat[i]), lon=float(res.cand_lon[i]),
            n_triggered_anchors=len(anchors_i),
        ))
    return out


def keep_anchored_in(components: Iterable[Component], anchors: Sequence[Interval]) -> list[Component]:
    """Components found by a wider search (e.g. the Spark job) whose first anchor is in the region.

    A component's earliest member is its earliest anchor (every member follows an anchor), so
    t_start_ms is the first anchor's time.
    """
    comps = list(components)
    if not comps:
        return []
    ok = contains(anchors, np.array([c.t_start_ms for c in comps], dtype=np.int64))
    return [c for c, k in zip(comps, ok.tolist()) if k]


# ----------------------------------------------------------------------------- reconcile


def _age_key(c: StoredCandidate):
    return (c.created_ms, c.t_start_ms, c.candidate_id)


def _free_id(comp: Component, taken: set[str]) -> str:
    """The canonical id, or (only if another candidate holds it) an id from a later anchor."""
    if comp.canonical_id not in taken:
        return comp.canonical_id
    for hid in comp.anchors:
        cid = candidate_id(hid)
        if cid not in taken:
            return cid
    n = 1
    while (cid := candidate_id(f"{comp.canonical_id}#{n}")) in taken:
        n += 1
    return cid


def reconcile(old: Sequence[StoredCandidate], found: Sequence[Component], now_ms: int,  # noqa: C901 (to split)
              existing: dict[str, StoredCandidate] | None = None,
              taken_ids: Iterable[str] = ()) -> Reconciliation:
    """Writes that make the store hold ``found`` in place of the active candidates ``old``.

    ``old``: every active stored candidate the closed region overlaps. ``existing``: stored
    documents (any status) for ids a new component may take, so a revived id continues its
    revision count. ``taken_ids``: active ids elsewhere that must not be reused.
    """
    existing = dict(existing or {})
    old = sorted({c.candidate_id: c for c in old}.values(), key=_age_key)
    found = sorted(found, key=lambda c: (c.t_start_ms, c.canonical_id))
    owner: dict[str, int] = {}
    for j, c in enumerate(old):
        for h in c.hit_ids:
            owner.setdefault(h, j)

    overlaps: list[list[int]] = []  # per component: overlapping old (oldest first)
    share = np.zeros((len(found), len(old)), dtype=np.int64) if old else None
    for i, comp in enumerate(found):
        hit_js = [owner[h] for h in comp.hit_ids if h in owner]
        if hit_js:
            js, counts = np.unique(hit_js, return_counts=True)
            share[i, js] = counts
            overlaps.append(sorted(js.tolist()))
        else:
            overlaps.append([])

    taken = set(taken_ids) - {c.candidate_id for c in old}
    assigned: dict[int, str] = {}
    kept_old: dict[int, int] = {}  # component -> old index whose id it keeps
    used_old: set[int] = set()
    for i in range(len(found)):
        free = [j for j in overlaps[i] if j not in used_old]
        if free:
            j = free[0]  # oldest: `old` is sorted by age
            used_old.add(j)
            kept_old[i] = j
            assigned[i] = old[j].candidate_id
            taken.add(old[j].candidate_id)
    for i, comp in enumerate(found):
        if i not in assigned:
            cid = _free_id(comp, taken | {c.candidate_id for c in old})
            assigned[i] = cid
            taken.add(cid)

    out = Reconciliation()
    absorbed: dict[int, list[int]] = {i: [] for i in range(len(found))}
    for j, c in enumerate(old):
        if j in used_old:
            continue
        col = share[:, j] if share is not None and len(found) else np.zeros(0, dtype=np.int64)
        if len(col) and col.max() > 0:
            i = int(np.argmax(col))  # the component holding most of its hits
            absorbed[i].append(j)
            out.changes.append(Change(kind="merged", before=c, after=replace(
                c, status=RETRACTED, retraction=MERGED, merged_into=assigned[i],
                revision=c.revision + 1, updated_ms=now_ms, token=c.token)))
        else:
            out.changes.append(Change(kind="retracted", before=c, after=replace(
                c, status=RETRACTED, retraction=UNSUPPORTED, merged_into=None,
                revision=c.revision + 1, updated_ms=now_ms, token=c.token)))

    for i, comp in enumerate(found):
        cid = assigned[i]
        aliases = {cid, comp.canonical_id}
        for j in absorbed[i]:
            aliases.update(old[j].aliases)
            aliases.add(old[j].candidate_id)
        if i in kept_old:
            before = old[kept_old[i]]
            aliases.update(before.aliases)
            # Same members => same anchors (an anchor's window lies inside its candidate).
            same = (set(before.hit_ids) == set(comp.hit_ids)
                    and (before.component is None
                         or before.component.n_triggered_anchors == comp.n_triggered_anchors)
                    and set(before.aliases) == aliases)
            if same:
                out.unchanged.append(cid)
                continue
            out.changes.append(Change(kind="grown", before=before, after=_stored(
                comp, cid, before.revision + 1, before.created_ms, now_ms, aliases, before.token)))
            continue
        prev = existing.get(cid)
        if prev is not None:  # an inactive document with this id: revive it
            aliases.update(prev.aliases)
            out.changes.append(Change(kind="revived", before=prev, after=_stored(
                comp, cid, prev.revision + 1, prev.created_ms, now_ms, aliases, prev.token)))
        else:
            out.changes.append(Change(kind="created", before=None, after=_stored(
                comp, cid, 1, now_ms, now_ms, aliases, None)))
    return out


def _stored(comp: Component, cid: str, revision: int, created_ms: int, now_ms: int,
            aliases: set[str], token) -> StoredCandidate:
    return StoredCandidate(
        candidate_id=cid, status=ACTIVE, revision=revision, created_ms=created_ms,
        updated_ms=now_ms, hit_ids=comp.hit_ids, anchors=comp.anchors,
        t_start_ms=comp.t_start_ms, t_end_ms=comp.t_end_ms, aliases=tuple(sorted(aliases)),
        merged_into=None, retraction=None, component=comp, token=token)
