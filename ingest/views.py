"""The phone's two paths as Django views, routed in config/urls.py at the paths the app has compiled in.

`submit` adapts a Django request to ingest.submit (the same answers ingest.wsgi and ingest.asgi
give); `precal` answers /precal.json, which a phone asks at most once per run, so every entry
point serves it through Django's normal stack.
"""
from __future__ import annotations

import base64
import json

from django.core.handlers.wsgi import WSGIRequest
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from ingest import submit as submit_path
from ingest.models import PreCalibration

_JSON = "application/json"
_MAX_PRECAL_QUERY_BYTES = 64 * 1024


def submit_reply(request: HttpRequest) -> submit_path.Reply:
    """The /submit answer for a Django request (also used by ingest.wsgi)."""
    meta = request.META  # read directly: request.headers would parse every header each time

    def header(key: str) -> str:
        return meta.get(key, "")

    read = body_reader(request)
    if read is None:
        return submit_path.reject(411, "a chunked body needs a server that marks its end; send Content-Length")
    return submit_path.answer(request.method, header, submit_path.declared_length(meta.get("CONTENT_LENGTH")),
                              read, meta.get("REMOTE_ADDR", ""))


def body_reader(request: HttpRequest):
    """`read(n)` of the request body; None when its end cannot be known.

    A WSGI request without Content-Length (Transfer-Encoding: chunked) has a body that Django
    reads as empty. Servers that decode the chunks themselves and mark the end of the input
    (`wsgi.input_terminated`, PEP 3333's extension; gunicorn sets it) let it be read from
    `wsgi.input` to its end; under any other server the body cannot be told from a cut one,
    so the caller answers 411. ASGI requests always arrive whole.
    """
    meta = request.META
    if not isinstance(request, WSGIRequest) or meta.get("CONTENT_LENGTH"):
        return request.read
    if "chunked" not in meta.get("HTTP_TRANSFER_ENCODING", "").lower():
        return request.read
    if not meta.get("wsgi.input_terminated"):
        return None
    return meta["wsgi.input"].read


def http_response(reply: submit_path.Reply) -> HttpResponse:
    response = HttpResponse(reply.body, status=reply.status, content_type=_JSON)
    if reply.retry_after:
        response["Retry-After"] = str(reply.retry_after)
    return response


@csrf_exempt
def submit(request: HttpRequest) -> HttpResponse:
    """Accept one DataChunk: 202 + commands once committed; 400/401/403/405/411/413/429/503 per docs/ingest.md."""
    return http_response(submit_reply(request))


def _parse_precal_query(body: bytes) -> tuple[str, int, int, int] | None:
    try:
        query = json.loads(body)
        device_id = query["device_id"]
        camera_id = int(query["camera_id"])
        res_x, res_y = (int(part) for part in str(query["res"]).lower().split("x"))
    except (ValueError, OverflowError, KeyError, TypeError, AttributeError):  # int(Infinity) overflows
        return None
    if not isinstance(device_id, str) or submit_path.device_id_error(device_id):
        return None
    if not all(0 <= v < 2**31 for v in (camera_id, res_x, res_y)):
        return None
    return device_id, camera_id, res_x, res_y


def _read_query(request: HttpRequest) -> bytes | None:
    """The body, or None when it is larger than the cap (checked before reading when declared)."""
    if submit_path.declared_length(request.META.get("CONTENT_LENGTH")) > _MAX_PRECAL_QUERY_BYTES:
        return None
    body = request.read(_MAX_PRECAL_QUERY_BYTES + 1)
    return body if len(body) <= _MAX_PRECAL_QUERY_BYTES else None


def _error(status: int, message: str) -> HttpResponse:
    return http_response(submit_path.reject(status, message))


@csrf_exempt
def precal(request: HttpRequest) -> HttpResponse:
    """The latest complete map for (device, camera, resolution): all four keys, or 204."""
    if request.method != "POST":
        return _error(405, "POST only")
    body = _read_query(request)
    parsed = _parse_precal_query(body) if body is not None else None
    if parsed is None:
        return _error(400, 'expected {"device_id": str, "camera_id": int, "res": "WxH"}')
    device_id, camera_id, res_x, res_y = parsed
    row = (PreCalibration.objects.filter(device_id=device_id, camera_id=camera_id, res_x=res_x, res_y=res_y)
           .values("weights", "mask", "hot_hash", "wgt_hash").first())
    if row is None:
        return HttpResponse(status=204)
    return HttpResponse(submit_path.json_bytes({
        "weights": base64.b64encode(bytes(row["weights"])).decode("ascii"), "mask": list(row["mask"]),
        "hot_hash": int(row["hot_hash"]), "wgt_hash": int(row["wgt_hash"])}), content_type=_JSON)
