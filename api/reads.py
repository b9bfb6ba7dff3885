"""Read API: GET /api/v1/hits, /api/v1/candidates, /api/v1/network/stats.

Anonymous callers get the public view (api/es_queries.py, docs/security.md): hits with coarse
cells and whole-second times and no device, public candidates without members; they may not
filter by device (400). Scientist keys see everything. Pages are sorted on a unique key,
(t_ms, hit_id) or (t_start_ms, candidate_id), and continue with an opaque cursor
(Elasticsearch search_after), so no server-side state is kept between pages; anonymous hit
pages are ordered and cut by whole seconds instead (api/public_hits.py). `format=ndjson` (or
`parquet`) streams a whole range instead, the days the Parquet hit archive holds completely from
it and the rest under one Elasticsearch point in time, the same rows either way
(api/hit_stream.py; the paged view reads Elasticsearch only, its cursors being sort values): at most
CRAYFIS_API_STREAM_MAX_ROWS rows with a key, CRAYFIS_API_ANON_STREAM_MAX_ROWS without (0: anonymous
streams need a key), the cap sent as X-Crayfis-Max-Rows. Every search has a server-side time limit;
one that it cuts short is a 503, never a partial page (api/es_queries.py).
"""
from __future__ import annotations

import logging
import time

import msgspec
from django.conf import settings
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from elasticsearch import ApiError, TransportError
from rest_framework.exceptions import NotAuthenticated
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from api import es_queries, hit_stream, public_hits, schema
from api.authentication import ApiKeyAuthentication
from api.base import ApiView
from api.errors import BadRequest, Unavailable
from api.parquet import MEDIA_TYPE as PARQUET
from api.parquet import parquet_stream
from api.permissions import IsReader, sees_exact
from api.serializers import (
    CandidatesPage,
    CandidatesQuery,
    HitExact,
    HitsPage,
    HitsQuery,
    NetworkStats,
    StatsQuery,
    encode_cursor,
)
from api.throttles import AnonReadThrottle, ScientistReadThrottle
from crayfis.definition import DAY_MS
from crayfis.es.partial import PartialResults
from ops.elastic import get_es, index_prefix

logger = logging.getLogger(__name__)
READ_AUTH = [{schema.SCHEME: []}, {}]
READ_ERRORS = {400: OpenApiResponse(schema.ValidationErrorBody, description="bad query parameter(s)"),
               401: schema.ERROR_401, 403: schema.ERROR_403, 429: schema.ERROR_429,
               503: OpenApiResponse(schema.ErrorBody, description="the index is unavailable")}
_encode = msgspec.json.Encoder().encode


class JsonOnly(BaseContentNegotiation):
    """Always JSON (NDJSON is chosen with format=ndjson, not Accept), so no 406 surprises."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class ReadView(ApiView):
    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [IsReader]
    throttle_classes = [ScientistReadThrottle, AnonReadThrottle]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = JsonOnly
    query_serializer: type

    def query(self, request) -> dict:
        ser = self.query_serializer(data=request.query_params)
        errors = dict(ser.errors) if not ser.is_valid() else {}
        for name in ser.fields:   # DRF reads "x=" as "x absent" for optional fields: refuse it instead
            if request.query_params.get(name, None) == "" and name not in errors:
                errors[name] = ["may not be blank"]
        if errors:
            raise BadRequest("invalid query parameter(s)", _field_errors(errors))
        return ser.validated_data

    def next_link(self, request, cursor: str | None) -> str | None:
        if cursor is None:
            return None
        params = request.query_params.copy()
        params["cursor"] = cursor
        return request.build_absolute_uri(f"{request.path}?{params.urlencode()}")


def _field_errors(errors: dict) -> list[dict]:
    out = []
    for name, messages in errors.items():
        if isinstance(messages, dict):   # validate() raising {"field": "..."}
            out.extend(_field_errors(messages))
            continue
        for message in messages:
            field = None if name == "non_field_errors" else name
            out.append({"loc": f"query.{field}" if field else "query", "field": field, "block": None,
                        "hit": None, "message": str(message)})
    return out


def refuse_device_filter(q: dict, exact: bool) -> None:
    """Only a scientist's key may select by device: the public view names no device's hits or
    candidates (a per-device time series is what the coincidence oracle needs)."""
    if q.get("device") and not exact:
        raise BadRequest("invalid query parameter(s)", _field_errors(
            {"device": ["filtering by device needs a scientist's read key"]}))


def _es_call(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except (TransportError, ApiError) as exc:
        logger.warning("read API: Elasticsearch failed: %s", exc)
        raise Unavailable("the index is unavailable, retry later") from None
    except PartialResults as exc:
        logger.warning("read API: %s", exc)
        raise Unavailable("the search came back incomplete (over the server's time limit, or a part of the "
                          "index failed): narrow the range, or retry later") from None


def stream_max_rows(exact: bool) -> int:
    """Rows one stream may hold: the key's cap, or the anonymous one (never above the key's).
    An anonymous cap of 0 means anonymous streams need a key."""
    if exact:
        return settings.CRAYFIS_API_STREAM_MAX_ROWS
    if settings.CRAYFIS_API_ANON_STREAM_MAX_ROWS <= 0:
        raise NotAuthenticated("streams (format=ndjson|parquet) need a scientist's read key")
    return min(settings.CRAYFIS_API_ANON_STREAM_MAX_ROWS, settings.CRAYFIS_API_STREAM_MAX_ROWS)


class HitsView(ReadView):
    query_serializer = HitsQuery

    @extend_schema(
        operation_id="hits_list", summary="Hits in a time range", tags=["read"], auth=READ_AUTH,
        parameters=[HitsQuery],
        description=(
            "Hits sorted by (t_ms, hit_id). Without a key: public view (coarse 0.1-degree cell, time in "
            "whole seconds, no device; rows ordered by (second, hit_id), the range widened to whole "
            "seconds, bbox filters cell centres; `device` needs a key). With a scientist key: device "
            "pseudonym, exact time and position. Page with `cursor`; or `format=ndjson` / `format=parquet` "
            "to stream the whole range (without a key, only its first rows: the header X-Crayfis-Max-Rows "
            "gives the cap, and a stream that long may have been cut)."),
        responses={(200, "application/json"): HitsPage,
                   (200, "application/x-ndjson"): OpenApiResponse(HitExact, description="one hit per line"),
                   (200, PARQUET): OpenApiResponse(OpenApiTypes.BINARY, description=(
                       "one Parquet file, columns as the JSON fields (int64 times, float64 positions)")),
                   **READ_ERRORS},
    )
    def get(self, request):
        q = self.query(request)
        exact = sees_exact(request)
        refuse_device_filter(q, exact)
        es, prefix = get_es(), index_prefix()
        from_ms, to_ms = (q["from_ms"], q["to_ms"]) if exact else public_hits.whole_seconds(q["from_ms"], q["to_ms"])
        index = es_queries.month_indices(prefix, "hits", from_ms, to_ms)
        query = es_queries.hits_query(from_ms, to_ms, exact=exact, bbox=q.get("bbox"), devices=q.get("device"))
        fields = es_queries.EXACT_HIT_FIELDS if exact else es_queries.PUBLIC_HIT_FIELDS
        if q["format"] in ("ndjson", "parquet"):
            max_rows = stream_max_rows(exact)
            sources = _es_call(hit_stream.hit_sources, es, prefix, query, fields, from_ms, to_ms, exact=exact,
                               bbox=q.get("bbox"), devices=q.get("device"), max_rows=max_rows)
            return _stream(sources, exact, q["format"], max_rows)
        size = q.get("limit") or settings.CRAYFIS_API_PAGE_SIZE
        if exact:
            docs, last = _es_call(es_queries.search_page, es, index, query, es_queries.HIT_SORT, size,
                                  q.get("cursor"), fields)
        else:
            def search(query, sort, n):
                return es_queries.search_page(es, index, query, sort, n, None, fields)[0]

            after = tuple(q["cursor"]) if q.get("cursor") else None
            docs, last = _es_call(public_hits.page, search, query, size, after)
        cursor = encode_cursor(list(last)) if last else None
        return Response({"results": [es_queries.hit_view(d, exact) for d in docs], "next_cursor": cursor,
                         "next": self.next_link(request, cursor)})


def _stream(sources, exact, fmt: str, max_rows: int) -> StreamingHttpResponse:
    """Hit sources in (t_ms, hit_id) order (api/hit_stream.py) -> the streamed response."""

    def exact_order():
        while True:
            try:
                batch = next(sources, None)
            except Exception:  # headers are gone: log and end the stream (the client resumes from its last t_ms)
                logger.exception("read API: %s stream cut short", fmt)
                return
            if batch is None:
                return
            yield [es_queries.hit_view(d, exact) for d in batch]

    def views():
        return exact_order() if exact else public_hits.reorder(exact_order())

    if fmt == "parquet":
        response = StreamingHttpResponse(parquet_stream(views(), exact), content_type=PARQUET)
        response["Content-Disposition"] = 'attachment; filename="hits.parquet"'
    else:
        lines = (b"".join(_encode(h) + b"\n" for h in rows) for rows in views())
        response = StreamingHttpResponse(lines, content_type="application/x-ndjson")
    response["Cache-Control"] = "no-store"
    response["X-Crayfis-Max-Rows"] = str(max_rows)   # a stream this long may have been cut: resume after it
    return response


class CandidatesView(ReadView):
    query_serializer = CandidatesQuery

    @extend_schema(
        operation_id="candidates_list", summary="Coincidence candidates", tags=["read"], auth=READ_AUTH,
        parameters=[CandidatesQuery],
        description=("Candidates found by the coincidence search, sorted by (t_start_ms, candidate_id): "
                     "the continuous search's catalogue, or with source=batch (and job_id) the candidates "
                     "of batch runs; retracted ones (merged or no longer supported) are left out. Without "
                     "a key: public candidates only (at least k trusted members), with counts, times, the "
                     "public cell of the centroid and significance; no members, hit ids or `device` filter. "
                     "A scientist key sees every candidate with its members, trusted members and hit ids."),
        responses={200: CandidatesPage, **READ_ERRORS},
    )
    def get(self, request):
        q = self.query(request)
        exact = sees_exact(request)
        refuse_device_filter(q, exact)
        es, prefix = get_es(), index_prefix()
        query = es_queries.candidates_query(q["from_ms"], q["to_ms"], exact=exact, bbox=q.get("bbox"),
                                        min_devices=q.get("min_devices"), max_p_value=q.get("max_p_value"),
                                        devices=q.get("device"), source=q["source"], job_id=q.get("job_id"))
        size = q.get("limit") or settings.CRAYFIS_API_PAGE_SIZE
        docs, last = _es_call(es_queries.search_page, es, f"{prefix}-candidates", query, es_queries.CANDIDATE_SORT,
                              size, q.get("cursor"),
                              es_queries.EXACT_CANDIDATE_FIELDS if exact else es_queries.PUBLIC_CANDIDATE_FIELDS)
        cursor = encode_cursor(last) if last else None
        return Response({"results": [es_queries.candidate_view(d, exact) for d in docs], "next_cursor": cursor,
                         "next": self.next_link(request, cursor)})


class NetworkStatsView(ReadView):
    query_serializer = StatsQuery

    @extend_schema(
        operation_id="network_stats", summary="Network totals over a time range", tags=["read"],
        auth=READ_AUTH, parameters=[StatsQuery],
        description=("Hits, devices, public cells, exposure hours and candidates in [from_ms, to_ms) "
                     "(default: the last 24 h)."),
        responses={200: NetworkStats, **READ_ERRORS},
    )
    def get(self, request):
        q = self.query(request)
        exact = sees_exact(request)
        to_ms = q["to_ms"] if "to_ms" in q else int(time.time() * 1000)
        from_ms = q["from_ms"] if "from_ms" in q else max(0, to_ms - DAY_MS)
        if not exact:   # a hit count over a millisecond range would time a hit to the millisecond
            from_ms, to_ms = public_hits.whole_seconds(from_ms, to_ms)
        return Response(_es_call(es_queries.network_stats, get_es(), index_prefix(), from_ms, to_ms, exact=exact))
