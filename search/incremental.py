"""Incremental coincidence search: re-search a closed region, then reconcile stored candidates.

Two pure steps, so the continuous search (search/ app) and the order-independence tests share
them:

``search_region`` runs the coincidence kernel (``find_coincidences``) on the hits a closed
region reads (``region.py``) and keeps the candidates whose earliest triggered anchor lies in
the region. Anchors in the halo or between intervals see truncated windows; a truncated window
only triggers if the full one does and only links hits the full one links, and (the region
being closed) none of them joins a window inside, so dropping them loses nothing and invents
nothing.

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
from crayfis.definition import SearchParams
from crayfis.es.candidates import ACTIVE, MERGED, RETRACTED, UNSUPPORTED, Component, Lifecycle
from search.region import Interval, contains


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

    @property
    def lifecycle(self) -> Lifecycle:
        return Lifecycle(status=self.status, revision=self.revision, created_ms=self.created_ms,
                         updated_ms=self.updated_ms, aliases=self.aliases,
                         retraction=self.retraction, merged_into=self.merged_into)


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


def batch_member_sets(hits: HitBatch, params: SearchParams) -> set[frozenset[str]]:
    """One batch search over all these hits, as member sets of hit ids.

    What the active candidates must equal once every hit has been searched (the continuous
    search's invariant): the kernel on everything at once, with no region to cut it.
    """
    hits = hits.unique()
    if len(hits) == 0:
        return set()
    _, dev = np.unique(hits.device.astype(str), return_inverse=True)
    res = find_coincidences(hits.t_ms, hits.lat, hits.lon, dev.reshape(-1).astype(np.int64),
                            params.window_ms, params.radius_m, params.min_devices)
    return {frozenset(hits.hit_id[res.candidate_members(i)].astype(str).tolist())
            for i in range(res.n_candidates)}


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


def reconcile(old: Sequence[StoredCandidate], found: Sequence[Component], now_ms: int,
              existing: dict[str, StoredCandidate] | None = None,
              taken_ids: Iterable[str] = ()) -> Reconciliation:
    """Writes that make the store hold ``found`` in place of the active candidates ``old``.

    ``old``: every active stored candidate the closed region overlaps. ``existing``: stored
    documents (any status) for ids a new component may take, so a revived id continues its
    revision count. ``taken_ids``: active ids elsewhere that must not be reused.
    """
    old = sorted({c.candidate_id: c for c in old}.values(), key=_age_key)
    found = sorted(found, key=lambda c: (c.t_start_ms, c.canonical_id))
    overlaps, share = _overlaps(old, found)
    assigned, kept_old = _assign_ids(old, found, overlaps, taken_ids)
    out = Reconciliation()
    absorbed = _retire_unkept(old, share, kept_old, assigned, now_ms, out)
    for i, comp in enumerate(found):
        before = old[kept_old[i]] if i in kept_old else None
        _place(comp, assigned[i], before, [old[j] for j in absorbed[i]],
               (existing or {}).get(assigned[i]), now_ms, out)
    return out


def _overlaps(old: Sequence[StoredCandidate], found: Sequence[Component]
              ) -> tuple[list[list[int]], np.ndarray]:
    """Per component, the old candidates it shares hits with (oldest first), and how many hits
    each (component, old) pair shares. A hit counts for the oldest old candidate holding it."""
    owner: dict[str, int] = {}
    for j, c in enumerate(old):
        for h in c.hit_ids:
            owner.setdefault(h, j)
    share = np.zeros((len(found), len(old)), dtype=np.int64)
    overlaps: list[list[int]] = []
    for i, comp in enumerate(found):
        js, counts = np.unique([owner[h] for h in comp.hit_ids if h in owner], return_counts=True)
        share[i, js.astype(np.int64)] = counts
        overlaps.append(js.astype(np.int64).tolist())
    return overlaps, share


def _assign_ids(old: Sequence[StoredCandidate], found: Sequence[Component],
                overlaps: list[list[int]], taken_ids: Iterable[str]) -> tuple[dict[int, str], dict[int, int]]:
    """Component -> its id, and component -> the old candidate whose id it keeps.

    Components in time order each keep the oldest overlapping old id no earlier component
    kept; the rest get a free id (``_free_id``), never an old one nor one in ``taken_ids``.
    """
    old_ids = {c.candidate_id for c in old}
    taken = set(taken_ids) - old_ids
    assigned: dict[int, str] = {}
    kept_old: dict[int, int] = {}
    used: set[int] = set()
    for i in range(len(found)):
        free = [j for j in overlaps[i] if j not in used]
        if free:
            kept_old[i] = free[0]  # oldest: `old` is sorted by age
            used.add(free[0])
            assigned[i] = old[free[0]].candidate_id
            taken.add(assigned[i])
    for i, comp in enumerate(found):
        if i not in assigned:
            assigned[i] = _free_id(comp, taken | old_ids)
            taken.add(assigned[i])
    return assigned, kept_old


def _retire_unkept(old: Sequence[StoredCandidate], share: np.ndarray, kept_old: dict[int, int],
                   assigned: dict[int, str], now_ms: int, out: Reconciliation) -> dict[int, list[int]]:
    """Retract every old candidate whose id no component kept: merged into the component
    holding most of its hits, or unsupported if none holds any. Returns component -> the old
    candidates it absorbed."""
    absorbed: dict[int, list[int]] = {i: [] for i in range(share.shape[0])}
    kept = set(kept_old.values())
    for j, c in enumerate(old):
        if j in kept:
            continue
        col = share[:, j]
        if len(col) and col.max() > 0:
            i = int(np.argmax(col))
            absorbed[i].append(j)
            out.changes.append(Change(kind="merged", before=c, after=replace(
                c, status=RETRACTED, retraction=MERGED, merged_into=assigned[i],
                revision=c.revision + 1, updated_ms=now_ms, token=c.token)))
        else:
            out.changes.append(Change(kind="retracted", before=c, after=replace(
                c, status=RETRACTED, retraction=UNSUPPORTED, merged_into=None,
                revision=c.revision + 1, updated_ms=now_ms, token=c.token)))
    return absorbed


def _place(comp: Component, cid: str, before: StoredCandidate | None,
           absorbed: Sequence[StoredCandidate], prev: StoredCandidate | None, now_ms: int,
           out: Reconciliation) -> None:
    """The write (or none) that stores ``comp`` under ``cid``.

    ``before``: the old candidate whose id it keeps (grown, or unchanged); else ``prev``: an
    inactive stored document with that id (revived); else it is created.
    """
    aliases = {cid, comp.canonical_id}
    for c in absorbed:
        aliases.update(c.aliases)
        aliases.add(c.candidate_id)
    if before is not None:
        aliases.update(before.aliases)
        # Same members => same anchors (an anchor's window lies inside its candidate).
        same = (set(before.hit_ids) == set(comp.hit_ids)
                and (before.component is None
                     or before.component.n_triggered_anchors == comp.n_triggered_anchors)
                and set(before.aliases) == aliases)
        if same:
            out.unchanged.append(cid)
        else:
            out.changes.append(Change(kind="grown", before=before, after=_stored(
                comp, cid, before.revision + 1, before.created_ms, now_ms, aliases, before.token)))
    elif prev is not None:
        aliases.update(prev.aliases)
        out.changes.append(Change(kind="revived", before=prev, after=_stored(
            comp, cid, prev.revision + 1, prev.created_ms, now_ms, aliases, prev.token)))
    else:
        out.changes.append(Change(kind="created", before=None, after=_stored(
            comp, cid, 1, now_ms, now_ms, aliases, None)))


def _stored(comp: Component, cid: str, revision: int, created_ms: int, now_ms: int,
            aliases: set[str], token) -> StoredCandidate:
    return StoredCandidate(
        candidate_id=cid, status=ACTIVE, revision=revision, created_ms=created_ms,
        updated_ms=now_ms, hit_ids=comp.hit_ids, anchors=comp.anchors,
        t_start_ms=comp.t_start_ms, t_end_ms=comp.t_end_ms, aliases=tuple(sorted(aliases)),
        merged_into=None, retraction=None, component=comp, token=token)
