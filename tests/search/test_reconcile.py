"""Identity rules of ``reconcile``, case by case (the property test checks them at random)."""
from __future__ import annotations

from crayfis.coincidence.merge import candidate_id
from crayfis.es.candidates import ACTIVE, MERGED, RETRACTED, UNSUPPORTED, Component
from search.incremental import StoredCandidate, reconcile


def comp(hits, anchors=None, t0=100) -> Component:
    anchors = tuple(anchors or hits[:1])
    return Component(canonical_id=candidate_id(anchors[0]), hit_ids=tuple(hits), anchors=anchors,
                     devices=("d1", "d2"), n_devices=2, multiplicity=2, t_start_ms=t0,
                     t_end_ms=t0 + 10, lat=46.2, lon=6.1, n_triggered_anchors=len(anchors))


def stored(cid, hits, created, revision=1, status=ACTIVE) -> StoredCandidate:
    c = comp(hits)
    return StoredCandidate(candidate_id=cid, status=status, revision=revision, created_ms=created,
                           updated_ms=created, hit_ids=tuple(hits), anchors=c.anchors,
                           t_start_ms=100, t_end_ms=110, aliases=(cid,), component=c, token=revision)


def test_a_candidate_no_longer_supported_is_retracted_not_deleted():
    old = stored("cA", ["a", "b"], created=1, revision=3)
    rec = reconcile([old], [], now_ms=50)
    (ch,) = rec.changes
    assert ch.kind == "retracted" and ch.before is old
    assert (ch.after.status, ch.after.retraction, ch.after.revision, ch.after.updated_ms) == \
        (RETRACTED, UNSUPPORTED, 4, 50)
    assert ch.after.hit_ids == ("a", "b")  # what it was stays readable


def test_a_new_component_takes_its_canonical_id_and_revives_a_retracted_document():
    found = comp(["x", "y"])
    rec = reconcile([], [found], now_ms=7)
    (ch,) = rec.changes
    assert (ch.kind, ch.after.candidate_id, ch.after.revision, ch.after.created_ms) == \
        ("created", found.canonical_id, 1, 7)
    dead = stored(found.canonical_id, ["x"], created=2, revision=5, status=RETRACTED)
    (ch,) = reconcile([], [found], now_ms=9, existing={dead.candidate_id: dead}).changes
    assert (ch.kind, ch.after.revision, ch.after.created_ms, ch.after.status) == ("revived", 6, 2, ACTIVE)


def test_three_candidates_joined_keep_the_oldest_id_and_the_others_point_to_it():
    a = stored("cA", ["a1", "a2"], created=30)
    b = stored("cB", ["b1", "b2"], created=10)  # the oldest
    c = stored("cC", ["c1", "c2"], created=20)
    joined = comp(["a1", "a2", "b1", "b2", "c1", "c2", "n"], anchors=["a1", "b1", "c1"])
    rec = reconcile([a, b, c], [joined], now_ms=99)
    kept = rec.by_kind("grown")[0].after
    assert kept.candidate_id == "cB" and kept.revision == 2
    assert set(kept.aliases) == {"cA", "cB", "cC", joined.canonical_id}
    merged = {ch.after.candidate_id: ch.after for ch in rec.by_kind("merged")}
    assert set(merged) == {"cA", "cC"}
    assert all(m.merged_into == "cB" and m.retraction == MERGED and m.status == RETRACTED
               for m in merged.values())


def test_a_split_keeps_the_id_on_the_first_part_and_names_the_other_canonically():
    # (not produced by additions alone, e.g. after a parameter change)
    old = stored("cA", ["a", "b", "c", "d"], created=1)
    left, right = comp(["a", "b"], t0=100), comp(["c", "d"], t0=200)
    rec = reconcile([old], [left, right], now_ms=5)
    ids = {ch.after.hit_ids: (ch.kind, ch.after.candidate_id) for ch in rec.changes}
    assert ids[("a", "b")] == ("grown", "cA")
    assert ids[("c", "d")] == ("created", right.canonical_id)


def test_an_id_active_elsewhere_is_never_taken_over():
    found = comp(["x", "y"], anchors=["x", "y"])
    (ch,) = reconcile([], [found], now_ms=1, taken_ids={found.canonical_id}).changes
    assert ch.after.candidate_id == candidate_id("y") and found.canonical_id in ch.after.aliases
