"""A search response is complete, or partial (timed out, or some shards failed): one rule."""
from __future__ import annotations

import pytest

from crayfis.es.partial import PartialResults, is_partial, require_complete, search_timeout

COMPLETE = {"timed_out": False, "_shards": {"total": 3, "successful": 3, "skipped": 0, "failed": 0}}


def test_the_time_limit_is_whole_milliseconds_and_never_zero():
    assert search_timeout(5.0) == "5000ms"
    assert search_timeout(0.0004) == "1ms"
    assert search_timeout(2.5) == "2500ms"


@pytest.mark.parametrize("resp, partial", [
    (COMPLETE, False),
    ({**COMPLETE, "timed_out": True}, True),
    ({**COMPLETE, "_shards": {"total": 3, "successful": 2, "skipped": 0, "failed": 1}}, True),
    ({"count": 4, "_shards": {"total": 1, "successful": 1, "failed": 0}}, False),   # a _count answer
])
def test_partial_means_timed_out_or_a_failed_shard(resp, partial):
    assert is_partial(resp) is partial


def test_require_complete_passes_a_complete_answer_through_and_names_a_partial_one():
    assert require_complete(COMPLETE, "hits") is COMPLETE
    with pytest.raises(PartialResults, match="^hits: partial search results .*timed_out=True"):
        require_complete({**COMPLETE, "timed_out": True}, "hits")
