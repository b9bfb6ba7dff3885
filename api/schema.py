"""OpenAPI pieces: the Api-Key security scheme, documentation-only serializers for replies, and
the upload body schema generated from the msgspec Structs that validate it (one source).

msgspec writes JSON Schema; OpenAPI 3.0 has no "null" type, so `anyOf [X, null]` becomes X with
`nullable: true` (wrapped in allOf when X is a $ref, whose siblings 3.0 ignores), and an empty
`required` list (invalid in 3.0) is dropped.
"""
from __future__ import annotations

from typing import Any

import msgspec
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

from crayfis.wire import jsonapi

SCHEME = "ApiKeyAuth"


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.ApiKeyAuthentication"
    name = SCHEME

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey", "in": "header", "name": "Authorization",
            "description": "`Api-Key <key>`. Device keys (upload) are made on the account page "
                           "(/accounts/); scientist keys (exact positions) are issued to accounts "
                           "holding the read_exact_hits permission.",
        }


def only_api_v1(endpoints):
    """Preprocessing hook: the public schema documents /api/v1/ only."""
    return [e for e in endpoints if e[0].startswith("/api/v1/")]


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable_3_0(node: Any) -> Any:
    if isinstance(node, list):
        return [_nullable_3_0(x) for x in node]
    if not isinstance(node, dict):
        return node
    node = {k: _nullable_3_0(v) for k, v in node.items() if not (k == "required" and v == [])}
    options = node.get("anyOf")
    if isinstance(options, list) and {"type": "null"} in options:
        rest = [o for o in options if o != {"type": "null"}]
        node.pop("anyOf")
        if len(rest) == 1 and "$ref" not in rest[0]:
            node = {**rest[0], **node}
        elif len(rest) == 1:
            node["allOf"] = rest
        else:
            node["anyOf"] = rest
        node["nullable"] = True
    return node


def upload_components() -> dict[str, dict]:
    """OpenAPI components for the upload body, from the msgspec Structs."""
    _, components = msgspec.json.schema_components([jsonapi.Upload], ref_template="#/components/schemas/{name}")
    return {name: _nullable_3_0(s) for name, s in components.items()}


def add_upload_components(result, generator, request, public):
    """Postprocessing hook: put the msgspec-made schemas into components/schemas; the upload
    body is required (drf-spectacular cannot tell for a raw schema); the integration guide."""
    result.setdefault("components", {}).setdefault("schemas", {}).update(upload_components())
    result.setdefault("info", {})["description"] = API_DESCRIPTION
    upload = result.get("paths", {}).get("/api/v1/uploads", {}).get("post")
    if upload and "requestBody" in upload:
        upload["requestBody"]["required"] = True
    return result


# --- replies (documentation only: views build plain dicts, tests check them against this) -----

class ErrorBody(serializers.Serializer):
    detail = serializers.CharField()


class FieldErrorSerializer(serializers.Serializer):
    loc = serializers.CharField(help_text="JSONPath-like location, e.g. $.blocks[0].hits[3].t_ms")
    field = serializers.CharField(allow_null=True)
    block = serializers.IntegerField(allow_null=True, help_text="index in blocks")
    hit = serializers.IntegerField(allow_null=True, help_text="index in that block's hits")
    message = serializers.CharField()


class ValidationErrorBody(serializers.Serializer):
    detail = serializers.CharField()
    errors = FieldErrorSerializer(many=True)


class UploadAccepted(serializers.Serializer):
    upload_id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=["accepted"])
    blocks = serializers.IntegerField(min_value=0)
    hits = serializers.IntegerField(min_value=0)


ERROR_401 = OpenApiResponse(ErrorBody, description="no key where one is needed, or a wrong/revoked/expired key")
ERROR_403 = OpenApiResponse(ErrorBody, description="the key may not do this (or the device is blocked)")
ERROR_429 = OpenApiResponse(ErrorBody, description="rate limit: retry after the Retry-After header's seconds")

API_DESCRIPTION = """
Upload cosmic-ray detector data as JSON, and read hits, coincidence candidates and network
statistics. (The CRAYFIS Android app keeps its own protobuf endpoint, `POST /submit`.)

**Keys.** Send `Authorization: Api-Key <key>` (the *Authorize* button above).
* *Device key* (uploads): sign up at `/accounts/signup/`, then on your account page
  (`/accounts/`) *Register a detector*. The key is shown once; make a new one to rotate, revoke the
  old one there. A wrong, revoked or expired key gets 401.
* *Scientist key* (reads with exact positions): issued to accounts an operator has granted
  read access. Reads without a key are allowed and get the public view.

**Conventions.** Times are Unix milliseconds, UTC (integers); positions WGS84 degrees; lengths
metres. Every error is `{"detail": "..."}`; a 400 also lists each bad field with its location
(`$.blocks[0].hits[3].t_ms`) and block/hit index. 429 and 503 carry `Retry-After` (seconds).

**Uploading.** Generate a UUID `upload_id` per upload and keep it until you get a 202: retrying
the same body with it is safe (same answer, nothing stored twice); 409 means the id was used
for a different body. `Content-Encoding: gzip` is accepted. A 202 means stored durably; hits
appear in the read API once indexed (normally seconds).

**Reading.** Ranges are `[from_ms, to_ms)`. Pages: follow `next` (or pass `next_cursor` as
`cursor`) until it is null. For large ranges use `GET /api/v1/hits?...&format=ndjson` (one hit
per line) or `format=parquet` (one Parquet file), streamed from a consistent snapshot; without
a key a stream holds only its first rows (the header `X-Crayfis-Max-Rows` gives the cap). A
search that runs past the server's time limit is a 503: narrow the range.

**Privacy.** No reply contains a device's own id or, without a scientist key, an exact position:
places are the 0.1-degree grid cell (`cell`, with its centre `cell_lat`/`cell_lon`), and an
anonymous `bbox` filters on cell centres. Without a key hits name no device and give whole
seconds (ordered and paged by second), and candidates are the public ones (at least k trusted
devices) without their members. With a scientist key devices appear as pseudonyms (`d` + 16
hex, stable) and times to the millisecond.
"""

UPLOAD_DESCRIPTION = """
Send exposure blocks (spans of live data taking) with the hits found in them. Authenticate with
a **device key** (`Authorization: Api-Key <key>`, from the account page).

* `upload_id` is a UUID you generate per upload. A retry with the same id and the same body
  bytes (compared after gunzip) gets the same 202 and stores nothing new; the same id with a
  different body (even re-serialized JSON) gets 409.
* Send `Content-Encoding: gzip` to compress the body. Caps: body size (413), blocks and hits per
  upload (400).
* Times are Unix milliseconds (UTC); positions WGS84 degrees. A hit without `location` takes its
  block's. Two hits of one block with the same `t_ms` need distinct `t_ns`.
* A 400 lists every bad field: its location (`$.blocks[0].hits[3].t_ms`), block and hit index.
* 202 means stored durably; hits appear in the read API once indexed (normally seconds).
"""

UPLOAD_EXAMPLE = {
    "upload_id": "6f1c2a9e-3b7d-4c41-9a55-0d2e8f7b1c33",
    "detector": {"kind": "scintillator", "model": "CosmicWatch v2", "build": "fw-1.4"},
    "blocks": [{
        "start_ms": 1760000000000, "end_ms": 1760000180000,
        "location": {"lat": 46.2044, "lon": 6.1432, "accuracy": 15.0},
        "hits": [{"t_ms": 1760000012345, "amplitude": 412},
                 {"t_ms": 1760000098765, "amplitude": 95}],
    }],
}
