"""Decode a stored upload (a row of the raw store) the way the indexer does: protobuf bodies from
/submit with the request's headers as they were stored, JSON bodies from /api/v1/uploads with
the JSON decoder."""
from __future__ import annotations

from crayfis.wire import jsonapi
from crayfis.wire.decode import decode_submit
from crayfis.wire.records import DecodedChunk
from ingest.models import Upload


def stored_headers(upload: Upload) -> dict[str, str]:
    """The /submit headers the decoder reads, as the upload's row keeps them."""
    return {"Device-id": upload.device_id, "Run-id": upload.run_id, "Camera-id": upload.camera_id,
            "Crayfis-version": upload.crayfis_version, "Crayfis-version-code": upload.crayfis_version_code}


def decode(upload: Upload, *, with_pixels: bool = False) -> DecodedChunk:
    """The upload's records; raises what the decoders raise for a body they refuse (the JSON
    decoder always gives pixels)."""
    body = bytes(upload.body)
    if upload.payload_format == jsonapi.FORMAT:
        return jsonapi.decode_upload(body, upload.device_id)
    return decode_submit(body, stored_headers(upload), with_pixels=with_pixels)
