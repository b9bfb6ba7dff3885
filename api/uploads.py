"""POST /api/v1/uploads: validated JSON into the raw store, idempotent on upload_id.

Order of checks, cheapest first: key (401), device key (403), per-device and per-address rates
(429), device blocked (403), content type (415), size (413), gzip (413/400), msgspec validation (400 naming
every bad field), then one durable write, which also settles idempotency: the same upload_id
with the same body stores nothing and gets the same 202, with another body 409. Indexing happens
later (manage.py index_uploads).
"""
from __future__ import annotations

import hashlib
import logging

from django.conf import settings
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework.exceptions import PermissionDenied, UnsupportedMediaType
from rest_framework.response import Response

from api import schema
from api.authentication import ApiKeyAuthentication
from api.base import ApiView
from api.body import decode_content, read_capped
from api.errors import BadRequest, Conflict, Unavailable
from api.permissions import IsDevice
from api.rawstore import store, stored_sha256
from api.throttles import DeviceUploadThrottle, UploadAddressThrottle
from crayfis.wire.jsonapi import Limits, UploadInvalid, upload_stats, validate_upload
from ingest import policy
from ingest.addresses import client_address
from ingest.store import StoreUnavailable

logger = logging.getLogger(__name__)


def _limits() -> Limits:
    return Limits(max_blocks=settings.CRAYFIS_API_MAX_BLOCKS, max_hits=settings.CRAYFIS_API_MAX_HITS,
                  max_errors=settings.CRAYFIS_API_MAX_ERRORS)


class UploadView(ApiView):
    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [IsDevice]
    throttle_classes = [DeviceUploadThrottle, UploadAddressThrottle]
    parser_classes: list = []          # the body is read raw and validated with msgspec

    @extend_schema(
        operation_id="uploads_create",
        summary="Upload exposure blocks and their hits",
        description=schema.UPLOAD_DESCRIPTION,
        tags=["uploads"],
        request={"application/json": schema.ref("Upload")},
        responses={
            202: OpenApiResponse(schema.UploadAccepted, description="stored durably; indexed soon after"),
            400: OpenApiResponse(schema.ValidationErrorBody,
                                 description="invalid body: every bad field with its index"),
            401: schema.ERROR_401, 403: schema.ERROR_403,
            409: OpenApiResponse(schema.ErrorBody, description="upload_id already used with another body"),
            413: OpenApiResponse(schema.ErrorBody, description="body over the size cap"),
            415: OpenApiResponse(schema.ErrorBody,
                                 description="not application/json, or an unsupported Content-Encoding"),
            429: schema.ERROR_429,
            503: OpenApiResponse(schema.ErrorBody, description="storage busy: retry after Retry-After seconds"),
        },
        examples=[OpenApiExample("OneBlock", value=schema.UPLOAD_EXAMPLE, request_only=True)],
    )
    def post(self, request):
        cred = request.auth
        if policy.device_policy(cred.device_id).blocked:
            raise PermissionDenied("device blocked")
        ctype = request.content_type.split(";")[0].strip().lower()
        if ctype != "application/json":
            raise UnsupportedMediaType(ctype or "none", detail="Content-Type must be application/json")
        raw = read_capped(request._request, settings.CRAYFIS_API_MAX_BODY_BYTES)
        body = decode_content(raw, request.headers.get("Content-Encoding", ""), settings.CRAYFIS_API_MAX_JSON_BYTES)
        try:
            upload = validate_upload(body, _limits())
        except UploadInvalid as exc:
            raise BadRequest(f"{len(exc.errors)} invalid field(s)", [e.as_dict() for e in exc.errors]) from None

        upload_id = str(upload.upload_id)
        sha = hashlib.sha256(body).hexdigest()
        answer = _answer(upload)
        # No lookup first: the insert itself decides. A byte-identical retry is skipped by the
        # (device, sha256) conflict rule; the same upload_id with another body violates the
        # (device, upload_id) unique constraint and fails, and only then do we look.
        try:
            store(cred.device_id, upload_id, sha, body,
                  client_address(request.META.get("REMOTE_ADDR", ""), request.META.get("HTTP_X_FORWARDED_FOR")))
        except StoreUnavailable as exc:
            known = stored_sha256(cred.device_id, upload_id)
            if known is None:
                logger.error("JSON upload %s from %s not stored: %s", upload_id, cred.device_id, exc)
                raise Unavailable() from None
            if known != sha:
                raise Conflict(f"upload_id {upload_id} was already used with a different body") from None
        return Response(answer, status=202)


def _answer(upload) -> dict:
    """The 202 body: a function of the body alone, so a retry gets exactly the same answer."""
    blocks, hits = upload_stats(upload)
    return {"upload_id": str(upload.upload_id), "status": "accepted", "blocks": blocks, "hits": hits}
