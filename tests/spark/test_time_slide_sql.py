"""The Spark SQL time slide (search_tasks.TimeSlide.apply_sql) moves every hit exactly as the
core's rule, significance.slid_times, does: the one pin between the two."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from crayfis.coincidence.significance import min_slide_shift_ms, slid_times, slide_offsets
from spark_jobs.search_tasks import TimeSlide

pytestmark = pytest.mark.spark


def test_sql_slide_equals_the_core_rule(spark):
    rng = np.random.default_rng(4)
    n, n_dev, tau = 3000, 17, 10
    t0, span = 1_790_000_000_000, 600_000
    t = t0 + rng.integers(0, span, n)
    t[:5] = [t0, t0 + span - 1, t0, t0 + span - 1, t0 + span // 2]  # the span's two ends
    code = rng.integers(0, n_dev, n)
    hashes = np.sort(rng.choice(np.arange(-(2**62), 2**62, 2**40, dtype=np.int64), n_dev, replace=False))
    offsets = slide_offsets(rng, 1, n_dev, span, min_slide_shift_ms(tau))[0]
    offsets[0], offsets[1] = min_slide_shift_ms(tau), span - min_slide_shift_ms(tau)  # extremes
    encoded = spark.createDataFrame(pa.table({
        "hit_code": np.arange(n, dtype=np.int64), "device_hash": hashes[code], "t_ms": t,
        "lat": np.zeros(n), "lon": np.zeros(n)}))
    got = TimeSlide(t0, span, offsets).apply_sql(encoded, hashes).select("hit_code", "t_ms").toArrow()
    order = np.argsort(got.column("hit_code").to_numpy())
    assert np.array_equal(got.column("hit_code").to_numpy()[order], np.arange(n))
    assert np.array_equal(got.column("t_ms").to_numpy()[order], slid_times(t, t0, span, offsets[code]))
