"""Elasticsearch search responses (raw JSON bytes) -> Arrow record batches, no Python object per hit.

A compiled scanner (numba) walks a response once and records, for every hit and every wanted
path (``_id``, ``_source.t_ms``, ``_source.location.lat``, ``fields.device[0]``, ``sort[0]``...),
where the value's text starts and ends and what kind of JSON value it is. Arrow then builds the
columns from those spans in bulk: strings are gathered into one buffer; numbers are parsed by
Arrow's string casts (exact int64, correctly rounded doubles), so a value comes out exactly as
``json.loads`` would give it. Values nobody asked for are skipped by their brackets and quotes.

What the scanner does not take on, it reports instead of guessing: a backslash escape in a wanted
string or in a key of a wanted object, or text that is not JSON, and the page is decoded by
``decode_page_python`` (msgspec, a Python object per hit), which is also the reference the tests
hold the fast path to. Values of an unusual but legal shape (a geo_point as ``"lat,lon"``,
``[lon, lat]``, GeoJSON or WKT; a date as ISO 8601; a number as a string, as Elasticsearch
accepts them) are converted for the rows that have them.

A field is read from ``_source`` where the document has it, else from its doc values
(``fields.NAME[0]``, when the request asked for ``docvalue_fields``): an index that disables or
trims ``_source`` still reads, with doc-value precision (geo_points to about 1e-7 degrees).
"""
from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from typing import Any

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numba import njit

# kinds of JSON values (MISSING: the path did not occur in that hit)
MISSING, STRING, NUMBER, TRUE, FALSE, NULL, OBJECT, ARRAY = range(8)
# scan status
OK, ESCAPED, MALFORMED, TOO_MANY_ROWS = range(4)
ROWS = "[rows]"  # path segment: the array whose elements are the rows (hits.hits)

# path segment types and the columns of the trie table
_KEY, _INDEX, _ROWS = range(3)
_LO, _HI, _TYPE, _ARG, _KLEN, _COL = range(6)
_MAX_DEPTH = 64
_QUOTE, _BACKSLASH, _COMMA, _COLON = 34, 92, 44, 58
_LBRACE, _RBRACE, _LBRACKET, _RBRACKET = 123, 125, 91, 93
_IS_WS = np.zeros(256, np.bool_)
_IS_WS[[32, 10, 13, 9]] = True
_ENDS_SCALAR = _IS_WS.copy()  # bytes that end a number or a literal
_ENDS_SCALAR[[_COMMA, _RBRACE, _RBRACKET]] = True


@dataclass(frozen=True)
class PathTrie:
    """Wanted paths as a trie in one table (the children of a node are consecutive rows).

    table[node] = (first child, end of children, segment type, key offset or array index,
    key length, output column or -1); ``keys`` holds the key bytes."""

    table: np.ndarray
    keys: np.ndarray
    n_paths: int

    @classmethod
    def build(cls, paths: list[tuple]) -> PathTrie:
        """``paths``: tuples of segments, each a key (str), an array index (int) or ROWS;
        path i fills column i. ROWS marks the array whose elements are the rows."""
        nodes: list[dict[str, Any]] = [{"seg": None, "kids": {}, "col": -1}]
        for col, path in enumerate(paths):
            at = nodes[0]
            for seg in path:
                if seg not in at["kids"]:
                    nodes.append({"seg": seg, "kids": {}, "col": -1})
                    at["kids"][seg] = len(nodes) - 1
                at = nodes[at["kids"][seg]]
            at["col"] = col
        def rank(i):  # children in order of key length, then key, for _key_child's search
            seg = nodes[i]["seg"]
            return (len(seg.encode()), seg.encode()) if isinstance(seg, str) and seg != ROWS else (-1, b"")
        order, queue = [], [0]  # breadth first, so each node's children are consecutive
        while queue:
            i = queue.pop(0)
            order.append(i)
            queue.extend(sorted(nodes[i]["kids"].values(), key=rank))
        number = {old: new for new, old in enumerate(order)}
        table = np.zeros((len(order), 6), np.int64)
        keys = bytearray()
        for new, old in enumerate(order):
            node = nodes[old]
            kids = sorted(number[k] for k in node["kids"].values())
            table[new, _LO], table[new, _HI] = (kids[0], kids[-1] + 1) if kids else (0, 0)
            table[new, _COL] = node["col"]
            seg = node["seg"]
            if seg == ROWS:
                table[new, _TYPE], table[new, _KLEN] = _ROWS, -1
            elif isinstance(seg, int):
                table[new, _TYPE], table[new, _ARG], table[new, _KLEN] = _INDEX, seg, -1
            elif seg is not None:
                raw = seg.encode()
                table[new, _TYPE], table[new, _ARG], table[new, _KLEN] = _KEY, len(keys), len(raw)
                keys += raw
        return cls(table, np.frombuffer(bytes(keys) + b"\0", np.uint8), len(paths))


@njit(cache=True, nogil=True)
def _string_end(buf, pos, n):
    """Index of the quote closing the string that opens at ``pos``; -1 if it never closes."""
    i = pos + 1
    while i < n:
        c = buf[i]
        if c == _QUOTE:
            return i
        if c == _BACKSLASH:
            i += 2
            continue
        i += 1
    return -1


@njit(cache=True, nogil=True)
def _has_escape(buf, start, end):
    for i in range(start, end):
        if buf[i] == _BACKSLASH:
            return True
    return False


@njit(cache=True, nogil=True)
def _skip_value(buf, pos, n):
    """Position just after the value that starts at ``pos``; -1 if the text ends first."""
    c = buf[pos]
    if c == _QUOTE:
        end = _string_end(buf, pos, n)
        return end + 1 if end >= 0 else -1
    if c != _LBRACE and c != _LBRACKET:
        while pos < n and not _ENDS_SCALAR[buf[pos]]:
            pos += 1
        return pos
    depth = 0
    i = pos
    while i < n:
        c = buf[i]
        if c == _QUOTE:
            end = _string_end(buf, i, n)
            if end < 0:
                return -1
            i = end + 1
            continue
        if c == _LBRACE or c == _LBRACKET:
            depth += 1
        elif c == _RBRACE or c == _RBRACKET:
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return -1


@njit(cache=True, nogil=True)
def _skip_ws(buf, pos, n):
    while pos < n and _IS_WS[buf[pos]]:
        pos += 1
    return pos


@njit(cache=True, nogil=True)
def _kind_of(c):
    if c == _LBRACE:
        return OBJECT
    if c == _LBRACKET:
        return ARRAY
    if c == 116:  # t
        return TRUE
    if c == 102:  # f
        return FALSE
    if c == 110:  # n
        return NULL
    return NUMBER


@njit(cache=True, nogil=True)
def _key_child(buf, start, end, parent, trie, keys):
    """The child of ``parent`` whose key is buf[start:end], or -1 (children are sorted by key
    length: a binary search finds those of this length)."""
    length = end - start
    lo, hi = trie[parent, _LO], trie[parent, _HI]
    while lo < hi:
        mid = (lo + hi) >> 1
        if trie[mid, _KLEN] < length:
            lo = mid + 1
        else:
            hi = mid
    for ch in range(lo, trie[parent, _HI]):
        if trie[ch, _KLEN] != length:
            return -1
        k0 = trie[ch, _ARG]
        j = 0
        while j < length and buf[start + j] == keys[k0 + j]:
            j += 1
        if j == length:
            return ch
    return -1


@njit(cache=True, nogil=True)
def scan(buf, trie, keys, spans, kinds):  # noqa: C901 (one state-machine loop: numba keeps its state in registers)
    """Walk one JSON document; fill spans[row, path] = (start, end) and kinds[row, path] for
    every wanted path inside the rows' array. String spans exclude the quotes.

    Returns (rows seen, status); ``spans`` has room for as many rows as the caller expects and a
    document with more gives TOO_MANY_ROWS. One function on purpose: numba keeps its state in
    registers only while the whole walk is one loop.
    """
    n = len(buf)
    max_rows = spans.shape[0]
    st_node = np.empty(_MAX_DEPTH, np.int64)
    st_flags = np.zeros(_MAX_DEPTH, np.int64)  # 1: array, 2: the rows' array
    st_count = np.zeros(_MAX_DEPTH, np.int64)
    depth = 0
    row = -1
    n_rows = 0
    status = OK
    node = 0
    pos = _skip_ws(buf, 0, n)
    while True:
        # one value at pos, for trie node `node` (-1: not wanted)
        if pos >= n:
            return n_rows, MALFORMED
        c = buf[pos]
        col = -1
        inner = False
        if node >= 0:
            col = trie[node, _COL]
            inner = trie[node, _HI] > trie[node, _LO]
        record = col >= 0 and row >= 0
        if record:
            spans[row, col, 0] = pos
        if inner and (c == _LBRACE or c == _LBRACKET):
            if record:
                kinds[row, col] = OBJECT if c == _LBRACE else ARRAY
            depth += 1
            if depth >= _MAX_DEPTH:
                return n_rows, MALFORMED
            st_node[depth] = node
            st_flags[depth] = 1 if c == _LBRACKET else 0
            st_count[depth] = -1  # no member yet: the first one comes without a comma
            pos += 1
        elif c == _QUOTE:
            end = _string_end(buf, pos, n)
            if end < 0:
                return n_rows, MALFORMED
            if record:
                if _has_escape(buf, pos + 1, end):
                    status = ESCAPED
                spans[row, col, 0] = pos + 1
                spans[row, col, 1] = end
                kinds[row, col] = STRING
            pos = end + 1
        else:
            end = _skip_value(buf, pos, n)
            if end <= pos:
                return n_rows, MALFORMED
            if record:
                spans[row, col, 1] = end
                kinds[row, col] = _kind_of(c)
            pos = end
        if depth == 0:
            return n_rows, status
        # after a value, or just inside a container: close, or go to the next member
        while True:
            pos = _skip_ws(buf, pos, n)
            if pos >= n:
                return n_rows, MALFORMED
            c = buf[pos]
            flags = st_flags[depth]
            if c == _RBRACE or c == _RBRACKET:
                if (c == _RBRACKET) != (flags & 1 == 1):
                    return n_rows, MALFORMED
                if flags & 2:
                    row = -1
                pos += 1
                depth -= 1
                if depth == 0:
                    return n_rows, status
                continue
            count = st_count[depth]
            if count >= 0:
                if c != _COMMA:
                    return n_rows, MALFORMED
                pos = _skip_ws(buf, pos + 1, n)
                if pos >= n:
                    return n_rows, MALFORMED
            count += 1
            st_count[depth] = count
            parent = st_node[depth]
            node = -1
            if flags & 1:
                for ch in range(trie[parent, _LO], trie[parent, _HI]):
                    kind = trie[ch, _TYPE]
                    if kind == _ROWS:
                        node = ch
                        st_flags[depth] = 3
                        row = count
                        if row >= max_rows:
                            return n_rows, TOO_MANY_ROWS
                        n_rows = row + 1
                        break
                    if kind == _INDEX and trie[ch, _ARG] == count:
                        node = ch
                        break
            else:
                if buf[pos] != _QUOTE:
                    return n_rows, MALFORMED
                end = _string_end(buf, pos, n)
                if end < 0:
                    return n_rows, MALFORMED
                if _has_escape(buf, pos + 1, end):
                    return n_rows, ESCAPED
                node = _key_child(buf, pos + 1, end, parent, trie, keys)
                pos = _skip_ws(buf, end + 1, n)
                if pos >= n or buf[pos] != _COLON:
                    return n_rows, MALFORMED
                pos = _skip_ws(buf, pos + 1, n)
            break


@njit(cache=True, nogil=True)
def _gather(buf, spans, kinds, n_rows, paths):
    """The text of every scalar value (a string's contents without quotes) at the given
    paths, one after another: per path j, Arrow offsets ``offsets[:, j]`` relative to its
    start ``base[j]`` in one byte array. Row by row, so the response and the spans are read
    front to back."""
    m = len(paths)
    offsets = np.zeros((n_rows + 1, m), np.int32)
    for i in range(n_rows):
        for j in range(m):
            p = paths[j]
            k = kinds[i, p]
            length = 0
            if k == STRING or k == NUMBER or k == TRUE or k == FALSE:
                length = spans[i, p, 1] - spans[i, p, 0]
            offsets[i + 1, j] = offsets[i, j] + length
    base = np.zeros(m + 1, np.int64)
    for j in range(m):
        base[j + 1] = base[j] + offsets[n_rows, j]
    data = np.empty(max(base[m], 1), np.uint8)
    for i in range(n_rows):
        for j in range(m):
            o = base[j] + offsets[i, j]
            s = spans[i, paths[j], 0]
            for c in range(offsets[i + 1, j] - offsets[i, j]):
                data[o + c] = buf[s + c]
    return offsets, base, data


@dataclass
class Spans:
    """One scanned response: where each (row, path) value is, what kind it is, and the text."""

    buf: np.ndarray
    spans: np.ndarray  # [row, path, start/end]
    kinds: np.ndarray  # [row, path]
    n_rows: int
    status: int

    def __post_init__(self):
        self._text = None

    def kind(self, path: int) -> np.ndarray:
        return self.kinds[:self.n_rows, path]

    def text(self, path: int, take: np.ndarray) -> pa.StringArray:
        """Raw text of the scalar at ``path`` (a string's contents without quotes) where
        ``take``, null elsewhere (and where the value is an object, an array or null)."""
        if self._text is None:
            k = self.kinds[:self.n_rows]
            scalar = (k == STRING) | (k == NUMBER) | (k == TRUE) | (k == FALSE)
            paths = np.flatnonzero(scalar.any(axis=0)).astype(np.int64)
            offsets, base, data = _gather(self.buf, self.spans, self.kinds, self.n_rows, paths)
            column = np.full(self.kinds.shape[1], -1, np.int64)
            column[paths] = np.arange(len(paths))
            self._text = (np.ascontiguousarray(offsets.T), base, pa.py_buffer(data), column, scalar)
        offsets, base, data, column, scalar = self._text
        j = column[path]
        if j < 0:
            return pa.nulls(self.n_rows, pa.string())
        valid = np.asarray(take, np.bool_) & scalar[:, path]
        bitmap = None if valid.all() else pa.array(valid).buffers()[1]
        return pa.StringArray.from_buffers(self.n_rows, pa.py_buffer(offsets[j]),
                                           data.slice(int(base[j]), int(base[j + 1] - base[j])), bitmap)


def scan_page(data: bytes, trie: PathTrie, max_rows: int) -> Spans:
    """Scan one response for the trie's paths, with room for ``max_rows`` rows."""
    buf = np.frombuffer(data, np.uint8)
    spans = np.empty((max_rows, trie.n_paths, 2), np.int64)
    kinds = np.zeros((max_rows, trie.n_paths), np.int8)
    n_rows, status = scan(buf, trie.table, trie.keys, spans, kinds)
    return Spans(buf, spans, kinds, int(n_rows), int(status))


# ---------------------------------------------------------------------------------------------
# What to read: fields of a hit document and the Arrow columns they become

ARROW_OF_ES = {"keyword": pa.string(), "text": pa.string(), "date": pa.int64(), "long": pa.int64(),
               "integer": pa.int32(), "short": pa.int16(), "byte": pa.int8(),
               "float": pa.float32(), "double": pa.float64(), "half_float": pa.float32(),
               "boolean": pa.bool_()}
ID = "_id"  # es_type of the document id (metadata, read from every hit)


@dataclass(frozen=True)
class Field:
    """One field of the hit documents and its output column(s): a geo_point gives two
    (latitude, longitude); every other type one."""

    source: str  # name in _source (and in doc values); "_id" for the document id
    es_type: str
    columns: tuple[str, ...]

    @classmethod
    def named(cls, source: str, es_type: str, column: str | None = None) -> Field:
        column = column or source
        if es_type == "geo_point":
            return cls(source, es_type, (f"{column}_lat", f"{column}_lon"))
        return cls(source, es_type, (column,))

    def arrow_types(self) -> list[pa.DataType]:
        if self.es_type == "geo_point":
            return [pa.float64(), pa.float64()]
        if self.es_type == ID:
            return [pa.string()]
        return [ARROW_OF_ES.get(self.es_type, pa.string())]


_HIT = ("hits", "hits", ROWS)
_GEO_SHAPES = ("lat", "lon", 0, 1, "coordinates")  # {lat, lon}, [lon, lat], GeoJSON


class PageLayout:
    """The paths the scanner looks for, for a list of fields, and the Arrow schema they fill.

    Path 0 is ``sort[0]`` (the hit's _shard_doc, for search_after). Per field: its _source
    path(s) and its doc-value path ``fields.NAME[0]``; the first present wins per row."""

    def __init__(self, fields: list[Field]):
        self.fields = list(fields)
        paths: list[tuple] = [_HIT + ("sort", 0)]
        self.paths_of: list[dict[str, int]] = []
        for f in self.fields:
            mine: dict[str, int] = {}

            def add(key, path, mine=mine):
                mine[key] = len(paths)
                paths.append(_HIT + path)
            if f.es_type == ID:
                add("id", (ID,))
            elif f.es_type == "geo_point":
                add("whole", ("_source", f.source))
                for shape in ("lat", "lon", 0, 1):
                    add(shape, ("_source", f.source, shape))
                add("gj_lon", ("_source", f.source, "coordinates", 0))
                add("gj_lat", ("_source", f.source, "coordinates", 1))
                add("dv", ("fields", f.source, 0))
                # a position mapped as an object of two doubles: doc values per sub-field
                add("dv_lat", ("fields", f"{f.source}.lat", 0))
                add("dv_lon", ("fields", f"{f.source}.lon", 0))
            else:
                add("src", ("_source", f.source))
                add("dv", ("fields", f.source, 0))
            self.paths_of.append(mine)
        self.trie = PathTrie.build(paths)
        self.schema = pa.schema([pa.field(c, t) for f in self.fields
                                 for c, t in zip(f.columns, f.arrow_types())])


@dataclass
class Page:
    """One decoded response: the hits as a record batch, the last hit's sort value."""

    batch: pa.RecordBatch
    last_sort: int | None
    fast: bool  # decoded by the scanner (False: by msgspec, value by value)


def decode_page(data: bytes, layout: PageLayout, max_rows: int) -> Page:
    """A search response -> Page, by the scanner, or value by value when it declines."""
    spans = scan_page(data, layout.trie, max_rows)
    if spans.status != OK:
        return decode_page_python(data, layout)
    columns: list[pa.Array] = []
    for f, paths in zip(layout.fields, layout.paths_of):
        columns.extend(_field_columns(spans, f, paths))
    batch = pa.RecordBatch.from_arrays(columns, schema=layout.schema)
    last = None
    if spans.n_rows:
        kind = spans.kind(0)[-1:]
        if kind[0] == NUMBER:
            take = np.zeros(spans.n_rows, np.bool_)
            take[-1] = True
            last = int(spans.text(0, take)[-1].as_py())
    return Page(batch, last, fast=True)


def _present(kind: np.ndarray) -> np.ndarray:
    return (kind != MISSING) & (kind != NULL)


def _field_columns(spans: Spans, f: Field, paths: dict[str, int]) -> list[pa.Array]:
    if f.es_type == ID:
        kind = spans.kind(paths["id"])
        return [spans.text(paths["id"], kind == STRING)]
    if f.es_type == "geo_point":
        return list(_geo_columns(spans, paths))
    src, dv = spans.kind(paths["src"]), spans.kind(paths["dv"])
    use_src = _present(src)
    use_dv = ~use_src & _present(dv)
    value_type = f.arrow_types()[0]
    return [_coalesce(_scalar_column(spans, paths["src"], src, use_src, f.es_type, value_type),
                      _scalar_column(spans, paths["dv"], dv, use_dv, f.es_type, value_type),
                      use_src)]


def _coalesce(first: pa.Array, second: pa.Array, use_first: np.ndarray) -> pa.Array:
    if use_first.all():
        return first
    if not use_first.any():
        return second
    return pc.if_else(pa.array(use_first), first, second)


def _scalar_column(spans: Spans, path: int, kind: np.ndarray, use: np.ndarray, es_type: str,
                   value_type: pa.DataType) -> pa.Array:
    """Values of one path as ``value_type`` where ``use`` (null elsewhere, and where a value
    has a shape the type cannot hold: an object or an array)."""
    n = len(kind)
    if not use.any():
        return pa.nulls(n, value_type)
    if pa.types.is_string(value_type):  # keyword: numbers and booleans as their text
        return spans.text(path, use & (kind != OBJECT) & (kind != ARRAY))
    if pa.types.is_boolean(value_type):
        literal = use & ((kind == TRUE) | (kind == FALSE))
        as_text = use & (kind == STRING)
        out = np.where(kind == TRUE, True, False)
        mask = ~(literal | as_text)
        if as_text.any():
            text = spans.text(path, as_text).to_numpy(zero_copy_only=False)
            out[as_text] = text[as_text] == "true"
            mask |= as_text & ~np.isin(text, ["true", "false"])
        return pa.array(out, mask=mask)
    usable = use & ((kind == NUMBER) | (kind == STRING))
    text = spans.text(path, usable)
    try:
        return pc.cast(text, value_type)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        values = text.to_pylist()  # rare: an ISO date, "12.0" for a long, an out-of-range value
        return pa.array([None if v is None else _number(v, es_type) for v in values], value_type)


def _geo_columns(spans: Spans, paths: dict[str, int]) -> tuple[pa.Array, pa.Array]:
    """(lat, lon) from whichever shape each row has; NaN where there is none."""
    n = spans.n_rows
    lat, lon = np.full(n, np.nan), np.full(n, np.nan)
    whole = spans.kind(paths["whole"])
    for la, lo in (("lat", "lon"), (1, 0), ("gj_lat", "gj_lon"), ("dv_lat", "dv_lon")):
        ka, ko = spans.kind(paths[la]), spans.kind(paths[lo])
        rows = (ka == NUMBER) | (ka == STRING)
        rows &= ((ko == NUMBER) | (ko == STRING)) & np.isnan(lat)
        if rows.any():
            lat[rows] = _floats(spans.text(paths[la], rows))[rows]
            lon[rows] = _floats(spans.text(paths[lo], rows))[rows]
    from_source = (whole == OBJECT) | (whole == ARRAY)
    for path, rows in ((paths["whole"], (whole == STRING) & np.isnan(lat)),
                       (paths["dv"], ~from_source & (whole != STRING) & np.isnan(lat)
                        & (spans.kind(paths["dv"]) == STRING))):
        if rows.any():
            text = spans.text(path, rows).to_numpy(zero_copy_only=False)
            for i in np.flatnonzero(rows):  # strings are the exception (doc values, WKT)
                lat[i], lon[i] = geo_from_text(text[i])
    bad = np.isnan(lat) | np.isnan(lon)
    lat[bad] = lon[bad] = np.nan
    return pa.array(lat), pa.array(lon)


def _floats(text: pa.StringArray) -> np.ndarray:
    """Number text -> float64, NaN where null or not a number."""
    try:
        return pc.cast(text, pa.float64()).to_numpy(zero_copy_only=False)
    except pa.ArrowInvalid:
        return np.array([_float_or_nan(v) for v in text.to_pylist()], np.float64)


def _float_or_nan(v: Any) -> float:
    if isinstance(v, bool) or v is None:
        return math.nan
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


_WKT_POINT = re.compile(r"^\s*POINT\s*\(\s*(\S+)\s+(\S+)\s*\)\s*$", re.IGNORECASE)


def geo_from_text(text: str) -> tuple[float, float]:
    """(lat, lon) of a geo_point string: "lat,lon" or WKT "POINT (lon lat)"; NaN otherwise
    (a geohash names a cell, not the position)."""
    m = _WKT_POINT.match(text)
    try:
        if m:
            return float(m.group(2)), float(m.group(1))
        if "," in text:
            a, b = text.split(",", 1)
            return float(a), float(b)
    except ValueError:
        pass
    return math.nan, math.nan


def _number(v: Any, es_type: str) -> Any:
    """One value of a numeric or date field as Python gives it (the slow path)."""
    if isinstance(v, bool):
        return None
    if es_type == "date":
        return as_ms(v)
    integer = es_type in ("long", "integer", "short", "byte")
    if integer and isinstance(v, int):
        return v
    if integer and isinstance(v, str) and v.strip().lstrip("-+").isdigit():
        return int(v)
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    if integer:
        return int(x) if math.isfinite(x) and x == int(x) else None
    return x


def as_ms(v: Any) -> int | None:
    """A date value as Unix ms: a number, digits, or ISO 8601 (naive = UTC)."""
    if v is None or isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        return int(v) if math.isfinite(v) else None
    text = str(v).strip()
    if text.lstrip("-").isdigit():
        return int(text)
    try:
        return as_ms(float(text))  # epoch millis with a fraction or an exponent
    except ValueError:
        pass
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return int(round(value.timestamp() * 1000))


# ---------------------------------------------------------------------------------------------
# The general decoder: msgspec, one Python object per hit

def decode_page_python(data: bytes, layout: PageLayout) -> Page:
    """The same Page as ``decode_page``, value by value (any JSON; the reference)."""
    hits = msgspec.json.decode(data).get("hits", {}).get("hits", [])
    columns: dict[str, list] = {name: [] for name in layout.schema.names}
    for h in hits:
        source = h.get("_source") or {}
        doc_values = h.get("fields") or {}
        for f in layout.fields:
            for name, value in zip(f.columns, _python_values(f, h, source, doc_values)):
                columns[name].append(value)
    last = None
    if hits:
        sort = hits[-1].get("sort") or [None]
        last = sort[0] if isinstance(sort[0], int) else None
    arrays = [pa.array(columns[f.name], f.type) for f in layout.schema]
    return Page(pa.RecordBatch.from_arrays(arrays, schema=layout.schema), last, fast=False)


def _python_values(f: Field, hit: dict, source: dict, doc_values: dict) -> tuple:
    if f.es_type == ID:
        v = hit.get("_id")
        return (v if isinstance(v, str) else None,)
    v = source.get(f.source)
    from_source = v is not None
    if not from_source:
        dv = doc_values.get(f.source)
        v = dv[0] if isinstance(dv, list) and dv else None
    if f.es_type == "geo_point" and v is None:  # an object of two doubles: its sub-fields
        lat, lon = (doc_values.get(f"{f.source}.{axis}") for axis in ("lat", "lon"))
        if isinstance(lat, list) and lat and isinstance(lon, list) and lon:
            v = {"lat": lat[0], "lon": lon[0]}
    if f.es_type == "geo_point":
        return _python_geo(v, from_source)
    if v is None or isinstance(v, (dict, list)):
        return (None,)
    value_type = f.arrow_types()[0]
    if pa.types.is_string(value_type):
        return (_json_text(v),)
    if pa.types.is_boolean(value_type):
        return (v if isinstance(v, bool) else {"true": True, "false": False}.get(v),)
    return (_number(v, f.es_type),)


def _json_text(v: Any) -> str:
    """A keyword value as Elasticsearch keeps it: strings as they are, other scalars as JSON."""
    return v if isinstance(v, str) else msgspec.json.encode(v).decode()


def _python_geo(v: Any, from_source: bool) -> tuple[float, float]:
    nan = (math.nan, math.nan)
    if isinstance(v, dict):
        if "lat" in v or "lon" in v:
            pair = (v.get("lat"), v.get("lon"))
        else:
            c = v.get("coordinates")
            pair = (c[1], c[0]) if isinstance(c, list) and len(c) >= 2 else (None, None)
    elif isinstance(v, list):
        pair = (v[1], v[0]) if from_source and len(v) >= 2 else (None, None)
    elif isinstance(v, str):
        return geo_from_text(v)
    else:
        return nan
    if all(isinstance(x, (int, float, str)) and not isinstance(x, bool) for x in pair):
        lat, lon = _float_or_nan(pair[0]), _float_or_nan(pair[1])
        return (lat, lon) if not (math.isnan(lat) or math.isnan(lon)) else nan
    return nan
