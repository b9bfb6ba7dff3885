"""Finding 3, precalibration poisoning: /submit takes any Device-id, and the stored map is "the
latest by end time", so a map claiming to end in the future wins over every real one and
/precal.json serves the attacker's weights to the victim's phone.

The trust model caps a map's end time to the time its upload was received, so the phone's next
real map replaces a forged one (a forged map can still be posted; docs/security.md says why that
residual risk is accepted).
"""
from __future__ import annotations

import base64
import json
import time
import uuid

import pytest

from crayfis.wire import build
from tests.security.actors import RES, chunk, index_uploads, now_ms, post_submit

pytestmark = [pytest.mark.security, pytest.mark.django_db(transaction=True)]

VICTIM = "9c0ffee000000042"
YEAR_9999_MS = 253_402_300_799_000


def _precal(end_ms: int, weights: bytes, hashes: int):
    run = uuid.uuid4()
    return run, build.precalibration_result(run, end_ms=end_ms, res=RES, hot_hash=hashes, wgt_hash=hashes,
                                            weights_jpeg=weights, hotcell=[hashes % 1000])


def _post_map(client, end_ms: int, weights: bytes, hashes: int) -> int:
    run, pre = _precal(end_ms, weights, hashes)
    body, headers = chunk(VICTIM, [], precals=[pre], run=run)
    return post_submit(client, body, headers, remote_addr="203.0.113.66").status_code


@pytest.mark.parametrize("claimed_end", ["year_9999", "tomorrow"])
def test_a_precalibration_from_the_future_cannot_pin_a_phones_map(client, es, es_prefix, claimed_end):
    """Attack: knowing a victim's Device-id, post a precalibration map for its camera whose
    end_ms lies in the future: year 9999, or 20 hours ahead (inside the accepted lead of one day).

    Property: once the phone uploads its own, real map, /precal.json serves the real one (the
    forged end time counted no later than its receive time).

    Fails on main at 8e37016: the forged map's end time beats the real one, so /precal.json
    keeps serving the attacker's weights and hashes.
    """
    end = YEAR_9999_MS if claimed_end == "year_9999" else now_ms() + 20 * 3_600_000
    _post_map(client, end, b"\xff\xd8forged-weights", 666)
    index_uploads()
    time.sleep(0.01)
    assert _post_map(client, now_ms() - 1, b"\xff\xd8real-weights", 4242) == 202
    index_uploads()

    resp = client.post("/precal.json", data=json.dumps({"device_id": VICTIM, "camera_id": 0,
                                                         "res": f"{RES[0]}x{RES[1]}"}),
                       content_type="application/json")
    assert resp.status_code == 200, resp.status_code
    served = resp.json()
    assert (served["wgt_hash"], base64.b64decode(served["weights"])) == (4242, b"\xff\xd8real-weights"), \
        f"/precal.json serves the forged map (wgt_hash {served['wgt_hash']})"
