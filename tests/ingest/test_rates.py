"""ingest.rates: sliding-window rates decided in the process, shared through the cache.

The clock is passed in, so windows and waits are exact; "processes" are separate Limiter
instances sharing one Django cache, as gunicorn workers share Redis.
"""
from __future__ import annotations

import pytest
from django.conf import settings as django_settings
from django.core.cache import caches

from ingest import rates
from ingest.rates import Limiter, Rate, parse_rate, wait_s

T0 = 1_800_000_000.0  # a multiple of 3600 s: a window edge of every period


@pytest.fixture(autouse=True)
def _empty_cache():
    caches[django_settings.CRAYFIS_API_THROTTLE_CACHE].clear()
    yield
    caches[django_settings.CRAYFIS_API_THROTTLE_CACHE].clear()


@pytest.fixture
def limiter(settings):
    settings.TEST_RATE_A = "3/min"
    settings.TEST_RATE_B = "5/hour"
    return Limiter({"a": "TEST_RATE_A", "b": "TEST_RATE_B"})


@pytest.mark.parametrize("text,rate", [("3/min", Rate(3, 60)), ("10/s", Rate(10, 1)), ("1200/hour", Rate(1200, 3600)),
                                       ("7/day", Rate(7, 86400)), (" 5/m ", Rate(5, 60)), ("", None)])
def test_rates_are_written_as_drf_writes_them(text, rate):
    assert parse_rate(text) == rate


@pytest.mark.parametrize("text", ["3", "3/fortnight", "x/min", "0/min", "3/min/2"])
def test_a_bad_rate_is_a_clear_error(text):
    with pytest.raises(ValueError, match="rate"):
        parse_rate(text)


def test_the_limit_admits_n_then_says_how_long_to_wait(limiter):
    waits = [limiter.admit([("a", "k")], now=T0 + i) for i in range(5)]
    assert waits[:3] == [0.0, 0.0, 0.0] and all(w > 0 for w in waits[3:])
    # the wait it names is enough, and not much more than needed
    now = T0 + 3
    wait = limiter.admit([("a", "k")], now=now)
    assert limiter.admit([("a", "k")], now=now + wait * 0.9) > 0
    assert limiter.admit([("a", "k")], now=now + wait + 1e-6) == 0.0


def test_a_window_edge_does_not_reset_the_count(limiter):
    for i in range(3):
        assert limiter.admit([("a", "k")], now=T0 + 59.0 + i * 0.1) == 0.0
    assert limiter.admit([("a", "k")], now=T0 + 60.5) > 0   # the last 60 s still hold 3
    assert limiter.admit([("a", "k")], now=T0 + 60 + 59.9) == 0.0   # by then they have slid out


def test_refused_requests_are_not_counted(limiter):
    for i in range(3):
        limiter.admit([("a", "k")], now=T0 + i)
    for i in range(100):
        assert limiter.admit([("a", "k")], now=T0 + 3 + i * 0.01) > 0
    # a client that keeps sending too fast still gets through at the rate, not never
    assert limiter.admit([("a", "k")], now=T0 + 3 * 60) == 0.0


def test_a_refusal_by_one_key_counts_nothing_on_the_others(limiter):
    for i in range(3):
        assert limiter.admit([("a", "device"), ("b", "address")], now=T0 + i) == 0.0
    assert limiter.admit([("a", "device"), ("b", "address")], now=T0 + 3) > 0
    # the address was charged for the three admitted requests only: two more fit
    assert [limiter.admit([("b", "address")], now=T0 + 4 + i) for i in range(3)][:2] == [0.0, 0.0]


def test_keys_and_scopes_are_counted_apart(limiter):
    for i in range(3):
        limiter.admit([("a", "k1")], now=T0 + i)
    assert limiter.admit([("a", "k2")], now=T0 + 3) == 0.0
    assert limiter.admit([("b", "k1")], now=T0 + 3) == 0.0


def test_an_empty_rate_is_no_limit(limiter, settings):
    settings.TEST_RATE_A = ""
    assert all(limiter.admit([("a", "k")], now=T0) == 0.0 for _ in range(1000))


def test_a_changed_rate_applies_at_once(limiter, settings):
    for i in range(3):
        limiter.admit([("a", "k")], now=T0 + i)
    assert limiter.admit([("a", "k")], now=T0 + 3) > 0
    settings.TEST_RATE_A = "100/min"
    assert limiter.admit([("a", "k")], now=T0 + 4) == 0.0


def test_processes_share_their_counts_through_the_cache(settings):
    settings.TEST_RATE_A = "10/min"
    one, two = Limiter({"a": "TEST_RATE_A"}), Limiter({"a": "TEST_RATE_A"})
    for i in range(6):
        assert one.admit([("a", "k")], now=T0 + i) == 0.0
    for i in range(4):
        assert two.admit([("a", "k")], now=T0 + i) == 0.0
    one.sync(now=T0 + 5)
    two.sync(now=T0 + 5)
    one.sync(now=T0 + 5)   # reads back what two added
    # ten admitted between them: neither admits an eleventh
    assert one.admit([("a", "k")], now=T0 + 6) > 0 and two.admit([("a", "k")], now=T0 + 6) > 0
    cache = caches[settings.CRAYFIS_API_THROTTLE_CACHE]
    assert cache.get(rates._cache_key(("a", "k", 60, int(T0 // 60)))) == 10


def test_the_cache_holds_no_device_id_or_address(settings):
    settings.TEST_RATE_A = "10/min"
    one = Limiter({"a": "TEST_RATE_A"})
    for _ in range(2):
        one.admit([("a", "3f1a9c0b5e7d2468")], now=T0)
    one.sync(now=T0)
    name = rates._cache_key(("a", "3f1a9c0b5e7d2468", 60, int(T0 // 60)))
    assert "3f1a9c0b5e7d2468" not in name and caches[settings.CRAYFIS_API_THROTTLE_CACHE].get(name) == 2


def test_a_key_far_from_its_limit_costs_no_cache_write(settings):
    """Shared from an eighth of the limit on: ordinary clients stay in their process."""
    settings.TEST_RATE_A = "80/min"
    one = Limiter({"a": "TEST_RATE_A"})
    name = rates._cache_key(("a", "phone", 60, int(T0 // 60)))
    for _ in range(9):
        one.admit([("a", "phone")], now=T0)
    one.sync(now=T0)
    assert caches[settings.CRAYFIS_API_THROTTLE_CACHE].get(name) is None
    one.admit([("a", "phone")], now=T0)
    one.sync(now=T0)
    assert caches[settings.CRAYFIS_API_THROTTLE_CACHE].get(name) == 10


def test_a_cleared_cache_does_not_forget_what_this_process_admitted(limiter):
    for i in range(3):
        limiter.admit([("a", "k")], now=T0 + i)
    limiter.sync(now=T0 + 3)
    caches[django_settings.CRAYFIS_API_THROTTLE_CACHE].clear()   # evicted, or a Redis restart
    limiter.sync(now=T0 + 4)
    assert limiter.admit([("a", "k")], now=T0 + 5) > 0


def test_old_windows_are_forgotten(limiter):
    limiter.admit([("a", "k")], now=T0)
    limiter.admit([("b", "k")], now=T0)
    limiter.sync(now=T0 + 3 * 60)
    assert {key[0] for key in limiter._counts} == {"b"}   # a's window is two minutes gone; b's hour is not


def test_memory_is_bounded(limiter, monkeypatch):
    monkeypatch.setattr(rates, "MAX_KEYS", 100)
    limiter.admit([("a", "busy")], now=T0)
    limiter.admit([("a", "busy")], now=T0)
    for i in range(150):
        limiter.admit([("a", f"once-{i}")], now=T0)
    assert len(limiter._counts) <= 100
    assert ("a", "busy", 60, int(T0 // 60)) in limiter._counts   # a key that can be near its limit stays


@pytest.mark.parametrize("previous,current,elapsed", [(0, 3, 0.0), (3, 0, 0.01), (3, 2, 0.5), (3, 1, 0.2), (6, 3, 0.2)])
def test_the_wait_is_exactly_when_one_more_fits(previous, current, elapsed):
    rate = Rate(3, 60)
    wait = wait_s(rate, previous, current, elapsed)

    def fits(after_s):
        e = elapsed + after_s / 60
        if e < 1:
            return previous * (1 - e) + current + 1 <= 3
        return current * (1 - (e - 1)) + 1 <= 3

    assert wait > 0 and not fits(wait - 0.01) and fits(wait + 0.01)


def test_the_default_rates_let_a_phone_flush_its_cache_and_a_nat_full_of_phones_upload():
    """docs/wire-protocol.md: after joining Wi-Fi the app sends every cached file, one every
    200 ms; a phone offline for a week holds about 1,100 of them (one every nine minutes)."""
    limiter = Limiter({"device": "CRAYFIS_INGEST_RATE_PER_DEVICE", "address": "CRAYFIS_INGEST_RATE_PER_IP"})
    week = 7 * 24 * 60 // 9
    assert all(limiter.admit([("device", "phone"), ("address", "home")], now=T0 + 0.2 * i) == 0.0
               for i in range(week))
    # 600 phones behind one carrier NAT, each uploading every nine minutes, for two hours
    nat = Limiter({"device": "CRAYFIS_INGEST_RATE_PER_DEVICE", "address": "CRAYFIS_INGEST_RATE_PER_IP"})
    sends = sorted((round(p * 0.9 + k * 540.0, 3), p) for p in range(600) for k in range(int(7200 / 540)))
    assert all(nat.admit([("device", f"phone-{p}"), ("address", "nat")], now=T0 + t) == 0.0 for t, p in sends)


def test_bad_limit_settings_fail_the_system_check(settings):
    from ingest.checks import ingest_limits

    assert ingest_limits() == []
    settings.CRAYFIS_INGEST_RATE_PER_IP = "lots"
    settings.CRAYFIS_INGEST_MAX_MONTHS_PER_UPLOAD = 0
    assert [e.msg.split(":")[0].split(" ")[0] for e in ingest_limits()] == [
        "CRAYFIS_INGEST_RATE_PER_IP", "CRAYFIS_INGEST_MAX_MONTHS_PER_UPLOAD"]


def test_the_background_thread_shares_the_counts(settings):
    import time

    settings.TEST_RATE_A = "10/hour"
    settings.CRAYFIS_INGEST_RATE_SYNC_S = 0.05
    one = Limiter({"a": "TEST_RATE_A"})
    for _ in range(3):
        assert one.admit([("a", "hot")]) == 0.0
    name = rates._cache_key(("a", "hot", 3600, int(time.time() // 3600)))
    deadline = time.monotonic() + 10
    while caches[settings.CRAYFIS_API_THROTTLE_CACHE].get(name) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert caches[settings.CRAYFIS_API_THROTTLE_CACHE].get(name) == 3
