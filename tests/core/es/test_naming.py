from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crayfis.es.naming import index_for, index_pattern


def test_monthly_and_single_indices():
    t = 1735689600000 - 1                      # 2024-12-31T23:59:59.999Z
    assert index_for("crayfis", "hits", t) == "crayfis-hits-2024.12"
    assert index_for("crayfis", "hits", t + 1) == "crayfis-hits-2025.01"
    assert index_for("p", "exposures", 0) == "p-exposures-1970.01"
    assert index_for("p", "calibrations", 253402300799999) == "p-calibrations-9999.12"
    assert index_for("p", "runs") == "p-runs" == index_pattern("p", "runs")
    assert index_for("p", "candidates", 123) == "p-candidates"
    assert index_pattern("p", "hits") == "p-hits-*"
    with pytest.raises(ValueError):
        index_for("p", "hits", None)
    with pytest.raises(ValueError):
        index_for("p", "nope", 1)


@given(st.integers(0, 253402300799999))
def test_month_is_the_utc_month(t):
    d = dt.datetime.fromtimestamp(t / 1000, tz=dt.UTC)
    assert index_for("x", "hits", t) == f"x-hits-{d.year:04d}.{d.month:02d}"
