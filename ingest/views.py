"""POST /submit and POST /precal.json, as the CRAYFIS app has them compiled in.

The /submit path does no decoding (the app times out after 5 s): it checks headers and size,
hashes the body and commits one row (ingest.store), then answers 202 with a JSON object. A body
that does not parse is still stored and answered 202 {}; the indexer decodes it later and keeps
it as `quarantined` with its error (a 4xx would make the phone resend the same bytes forever).
"""
from __future__ import annotations

import base64
import hashlib
import json
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from ingest import policy
from ingest.models import PreCalibration
from ingest.replies import DevicePolicy, server_commands
from ingest.store import StoreUnavailable, UploadRow, commit_upload

logger = logging.getLogger(__name__)

_HEADERS = {  # UploadRow field -> request header (as WSGI names it), with the column's length cap
    "run_id": ("HTTP_RUN_ID", 64),
    "camera_id": ("HTTP_CAMERA_ID", 16),
    "crayfis_version": ("HTTP_CRAYFIS_VERSION", 64),
    "crayfis_version_code": ("HTTP_CRAYFIS_VERSION_CODE", 16),
    "app_code": ("HTTP_APP_CODE", 128),
    "hash_code": ("HTTP_HASH_CODE", 128),
}
_MAX_DEVICE_ID = 128


def _error(status: int, message: str) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def error_body(message: str) -> bytes:
    """The bytes _error sends (for the ASGI entry point)."""
    return json.dumps({"error": message}).encode()


_EMPTY = b"{}"


def _json_bytes(obj: dict) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode() if obj else _EMPTY


def _json(obj: dict, status: int) -> HttpResponse:
    return HttpResponse(_json_bytes(obj), status=status, content_type="application/json")


def _read_body(request, cap: int) -> bytes | None:
    """The body, or None when it is larger than cap (checked before reading when declared)."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > cap:
        return None
    body = request.read(cap + 1)
    return None if len(body) > cap else body


def check_device_id(header) -> str | tuple[int, str]:
    """The Device-id (header: WSGI META name -> value), or (status, error) when it is unusable."""
    device_id = header("HTTP_DEVICE_ID").strip()
    if not device_id:
        return 400, "missing Device-id header"
    if len(device_id) > _MAX_DEVICE_ID:
        return 400, f"Device-id longer than {_MAX_DEVICE_ID} characters"
    return device_id


@dataclass(slots=True)
class Accepted:
    """An upload that passed the checks: the row to commit and what the 202 will say."""

    row: UploadRow
    device: DevicePolicy
    crayfis_version: str

    def reply(self) -> bytes:
        return _json_bytes(server_commands(self.device, self.crayfis_version))


def check_upload(device_id: str, header, body: bytes, remote_addr: str) -> Accepted | tuple[int, str]:
    """Device policy and App-code checks, then the row; (status, error) for 401/403/503.

    Shared by the WSGI view below and the ASGI entry point (ingest/asgi.py), so both answer alike.
    May query the database (policy caches expired): ASGI callers check policy.answers_from_cache first.
    """
    fields = {name: header(key).strip()[:limit] for name, (key, limit) in _HEADERS.items()}
    try:
        device = policy.device_policy(device_id)
        code_known = not fields["app_code"] or policy.app_code_known(fields["app_code"])
    except DatabaseError as exc:
        logger.error("device policy unavailable: %s", exc)
        return 503, "storage unavailable, retry later"
    if device.blocked:
        return 403, "device blocked"
    unlinked = False
    if not code_known:
        if settings.CRAYFIS_INGEST_ENFORCE_APP_CODES:
            return 401, "unknown App-code"
        unlinked = True
    row = UploadRow(device_id=device_id, sha256=hashlib.sha256(body).hexdigest(), body=body,
                    received_at=timezone.now(), remote_addr=remote_addr[:64], unlinked=unlinked, **fields)
    return Accepted(row, device, fields["crayfis_version"])


@csrf_exempt
def submit(request):
    """Accept one DataChunk: 202 + commands once committed; 400/401/403/413 per the spec."""
    if request.method != "POST":
        return _error(405, "POST only")
    meta = request.META  # read directly: request.headers would parse every header each time

    def header(key: str) -> str:
        return meta.get(key, "")

    device_id = check_device_id(header)
    if isinstance(device_id, tuple):
        return _error(*device_id)
    cap = settings.CRAYFIS_INGEST_MAX_BODY_BYTES
    body = _read_body(request, cap)
    if body is None:
        return _error(413, f"body larger than {cap} bytes")
    accepted = check_upload(device_id, header, body, meta.get("REMOTE_ADDR", ""))
    if isinstance(accepted, tuple):
        return _error(*accepted)
    try:
        commit_upload(accepted.row)
    except StoreUnavailable as exc:
        logger.error("upload from %s not stored: %s", device_id, exc)
        return _error(503, "storage unavailable, retry later")
    return HttpResponse(accepted.reply(), status=202, content_type="application/json")


def _parse_precal_query(body: bytes) -> tuple[str, int, int, int] | None:
    try:
        query = json.loads(body)
        device_id = query["device_id"]
        camera_id = int(query["camera_id"])
        res_x, res_y = (int(part) for part in str(query["res"]).lower().split("x"))
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    if not isinstance(device_id, str) or not device_id or len(device_id) > _MAX_DEVICE_ID:
        return None
    if not all(0 <= v < 2**31 for v in (camera_id, res_x, res_y)):
        return None
    return device_id, camera_id, res_x, res_y


@csrf_exempt
def precal(request):
    """The latest complete map for (device, camera, resolution): all four keys, or 204."""
    if request.method != "POST":
        return _error(405, "POST only")
    body = _read_body(request, 64 * 1024)
    parsed = _parse_precal_query(body) if body is not None else None
    if parsed is None:
        return _error(400, 'expected {"device_id": str, "camera_id": int, "res": "WxH"}')
    device_id, camera_id, res_x, res_y = parsed
    row = (PreCalibration.objects.filter(device_id=device_id, camera_id=camera_id, res_x=res_x, res_y=res_y)
           .values("weights", "mask", "hot_hash", "wgt_hash").first())
    if row is None:
        return HttpResponse(status=204)
    return _json({"weights": base64.b64encode(bytes(row["weights"])).decode("ascii"),
                  "mask": list(row["mask"]), "hot_hash": int(row["hot_hash"]),
                  "wgt_hash": int(row["wgt_hash"])}, 200)
