"""Reading a request body under a cap, and gzip request bodies without zip bombs."""
from __future__ import annotations

import zlib

from rest_framework.exceptions import UnsupportedMediaType

from api.errors import BadRequest, PayloadTooLarge


def read_capped(django_request, cap: int) -> bytes:
    """The raw body; 413 when the declared or the actual length exceeds cap (checked first)."""
    try:
        declared = int(django_request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > cap:
        raise PayloadTooLarge(f"body of {declared} bytes; the limit is {cap}")
    body = django_request.read(cap + 1)
    if len(body) > cap:
        raise PayloadTooLarge(f"body larger than {cap} bytes")
    return body


def decode_content(body: bytes, encoding: str, cap: int) -> bytes:
    """Undo Content-Encoding (identity or gzip), never inflating beyond cap bytes (413)."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        if len(body) > cap:
            raise PayloadTooLarge(f"JSON body larger than {cap} bytes")
        return body
    if encoding not in ("gzip", "x-gzip"):
        raise UnsupportedMediaType(encoding, detail=f"Content-Encoding {encoding!r} is not supported; use gzip")
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(body, cap + 1)
    except zlib.error as exc:
        raise BadRequest(f"body is not valid gzip: {exc}") from None
    if len(out) > cap or inflater.unconsumed_tail:
        raise PayloadTooLarge(f"decompressed body larger than {cap} bytes")
    if not inflater.eof:
        raise BadRequest("gzip body is truncated")
    if inflater.unused_data:
        raise BadRequest("data after the end of the gzip stream")
    return out
