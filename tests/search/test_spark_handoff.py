"""Past the size threshold a pass hands its hit range to the real Spark job (reading
Elasticsearch), and the candidates equal the in-process result.

The job runs on the test session's SparkSession (same arguments as the subprocess the command
starts; a JVM start per test would cost minutes on a loaded 2-core machine); the subprocess
argv is checked against the job's own parser."""
from __future__ import annotations

import pytest

from crayfis.definition import SearchParams
from search.incremental import batch_member_sets
from search.models import SearchedBucket
from search.spark_runner import SparkRunner
from spark_jobs.coincidence import parse_args
from tests.search.conftest import chunk, index_pending, post

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.spark]

T0 = 1_795_000_020_000
PARAMS = SearchParams(window_ms=100, radius_m=1000.0, min_devices=3)


def test_the_command_line_is_one_the_job_accepts():
    runner = SparkRunner("http://127.0.0.1:9200", "pfx", master="local[2]")
    argv = runner.argv((T0 - 100, T0 + 60_100), PARAMS, "/tmp/out")
    assert argv[1:3] == ["-m", "spark_jobs.coincidence"]
    cfg = parse_args(argv[3:])
    assert (cfg.input, cfg.start_ms, cfg.end_ms, cfg.to_es) == ("es://pfx-hits-*", T0 - 100, T0 + 60_101, False)
    assert (cfg.params.window_ms, cfg.params.radius_m, cfg.params.min_devices) == (100, 1000.0, 3)
    assert (cfg.master, cfg.es_prefix) == ("local[2]", "pfx")


def test_a_large_group_goes_to_the_spark_job_with_the_same_result(client, es, es_url, es_prefix, make_loop,
                                                                   spark):
    phones = [f"5ba4c0{i:010x}" for i in range(4)]
    for i, d in enumerate(phones):  # a shower across the bucket edge at T0 + 60 s, and noise
        post(client, *chunk(d, [(T0 + 59_960 + 25 * i, 46.2, 6.1 + 0.001 * i),
                                (T0 + 10_000 * (i + 1), 46.2, 6.1)]))
    index_pending(es_url)
    loop = make_loop(PARAMS, spark_threshold_hits=0)
    loop.search.large_runner = SparkRunner(es_url, es_prefix, session=spark)
    outcome = loop.run_once()
    assert outcome.report.groups_large == 1 and outcome.report.groups_in_process == 0
    assert outcome.report.changes == {"created": 1}
    loop.hits.refresh()
    everything = loop.hits.fetch([(T0 - 10**6, T0 + 10**6)])
    assert {frozenset(c.hit_ids) for c in loop.store.all_active()} == batch_member_sets(everything, PARAMS)
    (cand,) = loop.store.all_active()
    assert cand.component.n_devices == 4 and cand.component.n_triggered_anchors >= 1

    # The same data searched in-process again: nothing to change.
    SearchedBucket.objects.all().delete()
    again = make_loop(PARAMS).run_once()
    assert again.report.groups_in_process >= 1 and again.report.n_changes == 0
