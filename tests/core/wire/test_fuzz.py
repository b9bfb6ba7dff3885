"""Arbitrary bytes give records or WireDecodeError, never another exception (the caller
quarantines on WireDecodeError); documents can be built from whatever decodes."""
from __future__ import annotations

import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crayfis.es.documents import build_actions
from crayfis.wire import build
from crayfis.wire.decode import WireDecodeError, decode_submit
from crayfis.wire.records import DecodedChunk

DATA = Path(__file__).parent / "data"
EXPECTED = json.loads((DATA / "expected.json").read_text())
SAMPLES = {name: (DATA / name).read_bytes() for name in EXPECTED}


def _built_body() -> bytes:
    run = "f0000000-0000-4000-8000-00000000000f"       # id_hi >= 2**63
    def values(x, y):
        return (x * 3 + y) % 256
    events = [
        build.event(1735689700000, xbn=2, hits=[(0, 0), (1, 1), (63, 47)], values=values, res=(64, 48),
                    lat=46.2, lon=6.1, accuracy=5.0, pressure=950.0, orient=(0.1, 0.2, 0.3), avg=1.0, std=0.5),
        build.event(1735689701000, xbn=2, zero_bias=build.zero_bias_square(3, 4, range(100))),
    ]
    xb = build.exposure_block(run, xbn=2, start_ms=1735689600000, end_ms=1735689780000, events=events,
                              res=(64, 48), lat=46.2, lon=6.1, accuracy=5.0,
                              processed=[10, 9, 9, 2], passed=[1, 9, 2, 5], battery_temp_c=30.0)
    return build.data_chunk(
        [build.run_config(run, start_ms=1735689500000)], [xb],
        [build.calibration_result(run, end_ms=1735689550000, hist_maxpixel=[1, 2, 3])],
        [build.precalibration_result(run, end_ms=1735689540000, res=(64, 48), hot_hash=1, wgt_hash=2,
                                     weights_jpeg=b"\xff\xd8jpeg", hotcell=[5, 70])],
    )


SEEDS = [*SAMPLES.values(), _built_body()]
HEADERS = [spec["headers"] for spec in EXPECTED.values()] + [{}, {"Run-id": "not-a-uuid", "Camera-id": "x"}]


def _decode_or_quarantine(body: bytes, headers) -> None:
    try:
        chunk = decode_submit(body, headers)
    except WireDecodeError:
        return
    assert isinstance(chunk, DecodedChunk)
    # whatever decodes must also turn into documents without error
    build_actions(chunk, prefix="fuzz", key=b"k", device_id="dev", received_ms=1735689600000)
    lean = decode_submit(body, headers, with_pixels=False)
    assert len(lean.events) == len(chunk.events)


FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.binary(max_size=512), st.sampled_from(HEADERS))
def test_random_bytes(body, headers):
    _decode_or_quarantine(body, headers)


@FUZZ
@given(st.sampled_from(SEEDS), st.data(), st.sampled_from(HEADERS))
def test_truncated_bodies(seed, data, headers):
    cut = data.draw(st.integers(0, len(seed)))
    _decode_or_quarantine(seed[:cut], headers)


@FUZZ
@given(st.sampled_from(SEEDS), st.data(), st.sampled_from(HEADERS))
def test_mutated_bodies(seed, data, headers):
    body = bytearray(seed)
    for _ in range(data.draw(st.integers(1, 8))):
        op = data.draw(st.sampled_from(["flip", "set", "insert", "delete"]))
        pos = data.draw(st.integers(0, max(len(body) - 1, 0)))
        if op == "flip" and body:
            body[pos] ^= 1 << data.draw(st.integers(0, 7))
        elif op == "set" and body:
            body[pos] = data.draw(st.integers(0, 255))
        elif op == "insert":
            body[pos:pos] = data.draw(st.binary(min_size=1, max_size=8))
        elif op == "delete" and body:
            del body[pos:pos + data.draw(st.integers(1, 4))]
    _decode_or_quarantine(bytes(body), headers)


def test_non_bytes_and_junk_are_wire_errors():
    for junk in (b"\xff" * 10, b"\x0a\xff\xff\xff\xff\x0f", "text", None):
        try:
            decode_submit(junk, {})
        except WireDecodeError:
            continue
        raise AssertionError(f"{junk!r} decoded")
