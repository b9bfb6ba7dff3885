"""The .proto against the field tables of docs/wire-protocol.md, every field through the bindings, no drift."""
from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2
from google.protobuf.descriptor import FieldDescriptor as FD

from crayfis.wire import crayfis_pb2 as pb

REPO = Path(__file__).resolve().parents[3]
SPEC_DOC = REPO / "docs" / "wire-protocol.md"   # section 4 holds the field tables
PROTO = "crayfis/wire/crayfis.proto"

SCALAR_NAMES = {
    FD.TYPE_UINT64: "uint64", FD.TYPE_UINT32: "uint32", FD.TYPE_INT32: "int32", FD.TYPE_INT64: "int64",
    FD.TYPE_DOUBLE: "double", FD.TYPE_FLOAT: "float", FD.TYPE_BOOL: "bool", FD.TYPE_STRING: "string",
    FD.TYPE_BYTES: "bytes",
}

SPEC_MESSAGES = ["DataChunk", "RunConfig", "ExposureBlock", "Event", "Pixel", "ByteBlock",
                 "ZeroBiasSquare", "CalibrationResult", "PreCalibrationResult"]


def _type_text(fd) -> str:
    if fd.type in (FD.TYPE_MESSAGE, FD.TYPE_ENUM):
        base = (fd.message_type or fd.enum_type).name
    else:
        base = SCALAR_NAMES[fd.type]
    return ("repeated " if fd.is_repeated else "") + base


def _is_repeated(fd) -> bool:
    return fd.is_repeated


def _spec_tables() -> dict[str, list[tuple[int, str, str]]]:
    """{message: [(number, name, type)]} from the `**Message**` tables of docs/wire-protocol.md."""
    text = SPEC_DOC.read_text()
    tables: dict[str, list[tuple[int, str, str]]] = {}
    current = None
    for line in text.splitlines():
        m = re.match(r"\*\*(\w+)\*\*", line)
        if m:
            current = m.group(1) if m.group(1) in SPEC_MESSAGES else None
            if current:
                tables[current] = []
            continue
        if current and line.startswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if len(cells) >= 3 and cells[0].isdigit() and re.fullmatch(r"\w+", cells[1]):
                tables[current].append((int(cells[0]), cells[1], cells[2]))
    return tables


SPEC = _spec_tables()


def test_spec_tables_were_found():
    assert set(SPEC) == set(SPEC_MESSAGES)
    assert len(SPEC["ExposureBlock"]) == 47   # 1..48 without the reserved 31


@pytest.mark.parametrize("message", SPEC_MESSAGES)
def test_every_spec_field_has_its_number_name_and_type(message):
    desc = getattr(pb, message).DESCRIPTOR
    for number, name, type_text in SPEC[message]:
        fd = desc.fields_by_number.get(number)
        assert fd is not None, f"{message}.{name} ({number}) missing"
        assert fd.name == name, f"{message} #{number}: {fd.name} != {name}"
        assert _type_text(fd) == type_text, f"{message}.{name}: {_type_text(fd)} != {type_text}"


def test_retired_fields_are_declared_as_a_superset():
    """Reserved rows of the spec, declared again so old uploads parse into named fields."""
    retired = [
        (pb.ExposureBlock, 31, "bg_avg", "double"),
        (pb.Event, 17, "battery_temp", "uint32"),
        (pb.PreCalibrationResult, 6, "weights", "repeated float"),
        (pb.PreCalibrationResult, 7, "sample_res_x", "uint32"),
        (pb.PreCalibrationResult, 8, "sample_res_y", "uint32"),
        (pb.PreCalibrationResult, 9, "hotcell_x", "repeated uint32"),
        (pb.PreCalibrationResult, 10, "hotcell_y", "repeated uint32"),
    ]
    for cls, number, name, type_text in retired:
        fd = cls.DESCRIPTOR.fields_by_number[number]
        assert (fd.name, _type_text(fd)) == (name, type_text)


def test_no_field_beyond_the_spec():
    """Every declared field is either in a spec table or one of the retired ones above."""
    retired = {("ExposureBlock", 31), ("Event", 17), *(("PreCalibrationResult", n) for n in range(6, 11))}
    for message in SPEC_MESSAGES:
        spec_numbers = {n for n, _, _ in SPEC[message]}
        for fd in getattr(pb, message).DESCRIPTOR.fields:
            assert fd.number in spec_numbers or (message, fd.number) in retired, f"{message}.{fd.name}"


def test_state_enum_and_syntax():
    state = pb.ExposureBlock.State
    assert {v.name: v.number for v in state.DESCRIPTOR.values} == {
        "INIT": 0, "CALIBRATION": 1, "DATA": 2, "PRECALIBRATION": 3}
    assert pb.DESCRIPTOR.package == "crayfis"
    file_proto = descriptor_pb2.FileDescriptorProto.FromString(pb.DESCRIPTOR.serialized_pb)
    assert file_proto.syntax in ("", "proto2")          # protoc leaves proto2 implicit
    # proto2: repeated scalars unpacked, as the app writes them
    assert not pb.ExposureBlock.DESCRIPTOR.fields_by_name["processed"].is_packed


PRECAL_UPDATE_LAYOUTS = {
    "PreCalibrationUpdate2018_07": {1: ("precal_id", "uint64"), 2: ("precal_id_hi", "uint64"),
                                    3: ("camera_id", "int32"), 4: ("res_x", "uint32"), 5: ("res_y", "uint32"),
                                    6: ("weights", "bytes"), 7: ("hotcells", "repeated uint32")},
    "PreCalibrationUpdate2018_10": {1: ("hot_hash", "int32"), 2: ("wgt_hash", "int32"),
                                    3: ("camera_id", "int32"), 4: ("res_x", "uint32"), 5: ("res_y", "uint32"),
                                    6: ("weights", "bytes"), 7: ("hotcells", "repeated uint32")},
    "PreCalibrationUpdate": {1: ("device_id", "string"), 2: ("camera_id", "int32"), 3: ("res_x", "uint32"),
                             4: ("res_y", "uint32"), 5: ("weights", "bytes"), 6: ("hotcells", "repeated uint32"),
                             7: ("hot_hash", "int32"), 8: ("wgt_hash", "int32")},
}


def _spec_precal_update_columns() -> dict[str, dict[int, tuple[str, str]]]:
    """The three-layout PreCalibrationUpdate table of the spec, column by column."""
    text = SPEC_DOC.read_text()
    block = text[text.index("**PreCalibrationUpdate**"):text.index("**CrayonMessage**")]
    cols: dict[str, dict[int, tuple[str, str]]] = {"2018-07": {}, "2018-10": {}, "2021-02": {}}
    for line in block.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0].isdigit():
            for key, cell in zip(cols, cells[1:]):
                if cell not in ("–", "-"):
                    name, type_text = cell.split(" ", 1)
                    cols[key][int(cells[0])] = (name, type_text)
    return cols


def test_precalibration_update_layouts_match_the_spec():
    spec = _spec_precal_update_columns()
    assert spec["2018-07"] == PRECAL_UPDATE_LAYOUTS["PreCalibrationUpdate2018_07"]
    assert spec["2018-10"] == PRECAL_UPDATE_LAYOUTS["PreCalibrationUpdate2018_10"]
    assert spec["2021-02"] == PRECAL_UPDATE_LAYOUTS["PreCalibrationUpdate"]
    for message, layout in PRECAL_UPDATE_LAYOUTS.items():
        desc = getattr(pb, message).DESCRIPTOR
        assert {fd.number: (fd.name, _type_text(fd)) for fd in desc.fields} == layout
    # DataChunk field 5 carries the v1.0.x layout
    fd5 = pb.DataChunk.DESCRIPTOR.fields_by_number[5]
    assert fd5.name == "precalibration_updates" and fd5.message_type.name == "PreCalibrationUpdate"


def test_crayon_message():
    expected = {1: ("payload", "bytes"), 2: ("run_id", "string"), 3: ("device_id", "string"),
                4: ("user_id", "uint32"), 5: ("app_code", "string"), 6: ("remote_addr", "string"),
                7: ("submit_time", "uint32"), 8: ("camera_id", "int32")}
    desc = pb.CrayonMessage.DESCRIPTOR
    assert {fd.number: (fd.name, _type_text(fd)) for fd in desc.fields} == expected


# --- every field of every message through serialize/parse -----------------------------------

def _sample_value(fd, k: int):
    """A value that differs per field and per element and exercises the type's range."""
    t = fd.type
    if t == FD.TYPE_UINT64:
        return 2**64 - 1 - k * 7 - fd.number         # >= 2**63: unsigned must survive
    if t == FD.TYPE_UINT32:
        return 2**32 - 1 - k * 5 - fd.number
    if t == FD.TYPE_INT32:
        return -(2**31) + k + fd.number
    if t == FD.TYPE_INT64:
        return -(2**63) + k + fd.number
    if t == FD.TYPE_DOUBLE:
        return -1234.5678 + fd.number + k / 3.0
    if t == FD.TYPE_FLOAT:
        return 0.25 * fd.number + k                   # exactly representable in float32
    if t == FD.TYPE_BOOL:
        return True
    if t == FD.TYPE_STRING:
        return f"{fd.name}-{k}-é"
    if t == FD.TYPE_BYTES:
        return bytes([0, 255, fd.number % 256, k % 256])
    if t == FD.TYPE_ENUM:
        values = fd.enum_type.values
        return values[(fd.number + k) % len(values)].number
    raise AssertionError(fd)


def _fill(msg, depth: int = 0):
    for fd in msg.DESCRIPTOR.fields:
        if fd.type == FD.TYPE_MESSAGE:
            if depth > 3:
                continue
            if _is_repeated(fd):
                for _ in range(2):
                    _fill(getattr(msg, fd.name).add(), depth + 1)
            else:
                _fill(getattr(msg, fd.name), depth + 1)
        elif _is_repeated(fd):
            getattr(msg, fd.name).extend([_sample_value(fd, 0), _sample_value(fd, 1)])
        else:
            setattr(msg, fd.name, _sample_value(fd, 0))
    return msg


def _check_equal(a, b, path: str):
    for fd in a.DESCRIPTOR.fields:
        va, vb = getattr(a, fd.name), getattr(b, fd.name)
        where = f"{path}.{fd.name}"
        if fd.type == FD.TYPE_MESSAGE:
            if _is_repeated(fd):
                assert len(va) == len(vb), where
                for i, (x, y) in enumerate(zip(va, vb)):
                    _check_equal(x, y, f"{where}[{i}]")
            else:
                assert b.HasField(fd.name) == a.HasField(fd.name), where
                _check_equal(va, vb, where)
        else:
            if not _is_repeated(fd):
                assert b.HasField(fd.name), where
            assert list(va) == list(vb) if _is_repeated(fd) else va == vb, where


ALL_MESSAGES = list(pb.DESCRIPTOR.message_types_by_name)


@pytest.mark.parametrize("message", ALL_MESSAGES)
def test_every_field_round_trips(message):
    cls = getattr(pb, message)
    original = _fill(cls())
    wire = original.SerializeToString()
    back = cls.FromString(wire)
    _check_equal(original, back, message)
    assert back == original
    # and the values are the ones we put in (not just equal defaults on both sides)
    for fd in cls.DESCRIPTOR.fields:
        if fd.type != FD.TYPE_MESSAGE and not _is_repeated(fd):
            assert getattr(back, fd.name) == _sample_value(fd, 0), f"{message}.{fd.name}"


def test_pass_keyword_field_is_reachable():
    xb = pb.ExposureBlock()
    getattr(xb, "pass").extend([6, 5398])
    back = pb.ExposureBlock.FromString(xb.SerializeToString())
    assert list(getattr(back, "pass")) == [6, 5398]


def test_repeated_scalars_are_written_unpacked():
    """The app writes unpacked repeated scalars: each value carries its own tag (43 << 3 | 0)."""
    xb = pb.ExposureBlock(processed=[5, 6])
    assert xb.SerializeToString() == bytes([0xD8, 0x02, 5, 0xD8, 0x02, 6])


def test_packed_input_also_parses():
    packed = bytes([0xDA, 0x02, 2, 5, 6])      # field 43, wire type 2, two varints
    assert list(pb.ExposureBlock.FromString(packed).processed) == [5, 6]


# --- schema and bindings cannot drift -----------------------------------------------------------

def _regenerate(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "crayfis" / "wire").mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / PROTO, out / PROTO)
    subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", "-I.", "--python_out=.", "--pyi_out=.", PROTO],
        cwd=out, check=True, capture_output=True, text=True,
    )


def _protoc_version(text: str) -> str | None:
    m = re.search(r"^# Protobuf Python Version: (\S+)$", text, re.M)
    return m.group(1) if m else None


def _serialized_descriptor(text: str) -> bytes:
    """The FileDescriptorProto embedded in a generated _pb2.py: the schema itself."""
    m = re.search(r"AddSerializedFile\((b'.*?')\)\n", text, re.S)
    return ast.literal_eval(m.group(1))


def test_checked_in_bindings_equal_a_fresh_protoc_run(tmp_path):
    """crayfis/wire/README.md documents this command; edit the .proto, then rerun it.

    Same protoc as the checked-in header: byte-identical output. Another protoc version writes
    other boilerplate, so then the embedded schema (and the .pyi field list) must still match.
    """
    pytest.importorskip("grpc_tools")
    _regenerate(tmp_path)
    fresh = (tmp_path / "crayfis/wire/crayfis_pb2.py").read_text()
    checked_in = (REPO / "crayfis/wire/crayfis_pb2.py").read_text()
    assert _serialized_descriptor(fresh) == _serialized_descriptor(checked_in) == pb.DESCRIPTOR.serialized_pb, \
        "crayfis_pb2.py is stale: regenerate it (crayfis/wire/README.md)"
    if _protoc_version(fresh) == _protoc_version(checked_in):
        assert fresh == checked_in, "crayfis_pb2.py is stale: regenerate it (crayfis/wire/README.md)"
        pyi_fresh = (tmp_path / "crayfis/wire/crayfis_pb2.pyi").read_text()
        assert pyi_fresh == (REPO / "crayfis/wire/crayfis_pb2.pyi").read_text(), "crayfis_pb2.pyi is stale"
