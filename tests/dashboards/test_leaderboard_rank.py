"""The leaderboard's ranking rule, on hand-made inputs."""
from dashboards.leaderboard import rank

KW = {"min_hours": 1.0, "rate_factor": 2.5, "limit": 100}


def test_ranks_by_candidates_per_exposure_hour_not_by_hits():
    live = {"a": 10 * 3600.0, "b": 2 * 3600.0, "c": 5 * 3600.0}
    hits = {"a": 12_000, "b": 2_400, "c": 6_000}  # all 20 per live minute
    joined = {"a": 3, "b": 2, "c": 0}
    out = rank(live, hits, joined, **KW)
    assert [r["device"] for r in out["ranked"]] == ["b", "a", "c"]  # 100/h, 30/h, 0/h
    assert out["ranked"][0]["score"] == 100.0
    assert out["median_hits_per_min"] == 20.0


def test_noisy_phone_is_not_ranked_however_many_candidates():
    live = {"quiet": 4 * 3600.0, "noisy": 4 * 3600.0, "mid": 4 * 3600.0}
    hits = {"quiet": 4800, "noisy": 4800 * 4, "mid": 5200}
    joined = {"quiet": 1, "noisy": 9, "mid": 1}
    out = rank(live, hits, joined, **KW)
    assert "noisy" not in [r["device"] for r in out["ranked"]]
    assert {r["device"]: r["reason"] for r in out["unranked"]} == {"noisy": "rate inconsistent"}


def test_short_or_missing_exposure_is_unranked_with_its_reason():
    out = rank({"short": 600.0, "ok": 7200.0}, {"short": 200, "ok": 2400, "ghost": 50}, {"short": 1}, **KW)
    reasons = {r["device"]: r["reason"] for r in out["unranked"]}
    assert reasons == {"short": "under 1 h of exposure", "ghost": "no exposure recorded"}
    assert [r["device"] for r in out["ranked"]] == ["ok"]


def test_ties_go_to_longer_exposure_and_limit_applies():
    live = {"x": 2 * 3600.0, "y": 4 * 3600.0}
    hits = {"x": 2400, "y": 4800}
    out = rank(live, hits, {}, min_hours=1.0, rate_factor=2.5, limit=1)
    assert [r["device"] for r in out["ranked"]] == ["y"] and out["ranked_total"] == 2


def test_empty():
    assert rank({}, {}, {}, **KW)["ranked"] == []
