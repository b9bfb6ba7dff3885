"""msgspec JSON and copy-free NDJSON serializers for the indexer's Elasticsearch client.

The bulk helpers serialize every action header and document one by one; with the standard
library that costs as much as building the document. msgspec encodes many times faster and also
parses the (large) bulk responses faster. Types msgspec does not know (numpy scalars, pandas
values) fall back to the client's own conversions.

Bulk bodies: the client's NDJSON serializer copies every body twice (into a bytearray, then
to bytes); here a body that is already NDJSON bytes goes out as it is, and a list of lines is
joined once.
"""
from __future__ import annotations

import msgspec
from elasticsearch.serializer import JsonSerializer, NdjsonSerializer


class MsgspecJsonSerializer(JsonSerializer):
    """Drop-in for elastic_transport's JsonSerializer (same mimetype, same fallbacks)."""

    def __init__(self):
        super().__init__()
        self._encoder = msgspec.json.Encoder(enc_hook=self.default)
        self._decoder = msgspec.json.Decoder()

    def dumps(self, data) -> bytes:
        if isinstance(data, (bytes, str)):
            return data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
        return self._encoder.encode(data)

    def loads(self, data: bytes):
        return self._decoder.decode(data)


class NdjsonBytesSerializer(NdjsonSerializer):
    """The client's NDJSON serializer, same output, without its copies of the body."""

    def __init__(self, json: MsgspecJsonSerializer):
        super().__init__()
        self._json = json

    def json_dumps(self, data) -> bytes:
        return self._json.dumps(data)

    def json_loads(self, data: bytes):
        return self._json.loads(data)

    def dumps(self, data) -> bytes:
        if isinstance(data, (bytes, str)):
            data = (data,)
        parts: list[bytes] = []
        for line in data:
            if isinstance(line, str):
                line = line.encode("utf-8", "surrogatepass")
            elif not isinstance(line, bytes):
                line = self.json_dumps(line)
            parts.append(line)
            if not line.endswith(b"\n"):  # every line ends with a newline, as the client's does
                parts.append(b"\n")
        return parts[0] if len(parts) == 1 else b"".join(parts)


def fast_serializers() -> dict:
    """The `serializers` argument for Elasticsearch(): JSON and NDJSON mimetypes (msgspec)."""
    ser = MsgspecJsonSerializer()
    nd = NdjsonBytesSerializer(ser)
    return {"application/json": ser, "application/vnd.elasticsearch+json": ser,
            "application/x-ndjson": nd, "application/vnd.elasticsearch+x-ndjson": nd}
