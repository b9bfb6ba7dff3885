"""Query parameters of the read API (validated with DRF serializers: one per request, not per
item) and documentation-only reply shapes."""
from __future__ import annotations

import base64
import binascii
import json
import re

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from crayfis.es.candidates import CONTINUOUS, SOURCES
from crayfis.wire.jsonapi import T_MAX_MS

_PSEUDONYM = re.compile(r"^d[0-9a-f]{16}$")
MAX_DEVICES = 100


def encode_cursor(sort_values: list) -> str:
    return base64.urlsafe_b64encode(json.dumps(sort_values, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(text: str) -> list:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        values = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise serializers.ValidationError("not a cursor from this API") from None
    if (not isinstance(values, list) or len(values) != 2 or not isinstance(values[0], int)
            or isinstance(values[0], bool) or not isinstance(values[1], str)):
        raise serializers.ValidationError("not a cursor from this API")
    return values


class TimeRangeQuery(serializers.Serializer):
    from_ms = serializers.IntegerField(min_value=0, max_value=T_MAX_MS, help_text="start, Unix ms UTC (inclusive)")
    to_ms = serializers.IntegerField(min_value=0, max_value=T_MAX_MS, help_text=(
        "end, Unix ms UTC (exclusive); to_ms <= from_ms is an empty range"))


_LAT = r"-?(?:90(?:\.0+)?|[1-8]?[0-9](?:\.[0-9]+)?)"
_LON = r"-?(?:180(?:\.0+)?|(?:1[0-7][0-9]|[1-9]?[0-9])(?:\.[0-9]+)?)"
BBOX_PATTERN = rf"^{_LON},{_LAT},{_LON},{_LAT}$"
_BBOX = re.compile(BBOX_PATTERN)


@extend_schema_field({"type": "string", "pattern": BBOX_PATTERN, "example": "5.9,45.8,10.5,47.8"})
class BBoxField(serializers.CharField):
    """'min_lon,min_lat,max_lon,max_lat' (WGS84 degrees; min_lon > max_lon crosses 180;
    min_lat > max_lat is an empty box)."""

    def to_internal_value(self, data):
        text = super().to_internal_value(data)
        if not _BBOX.match(text):
            raise serializers.ValidationError("four decimal numbers: min_lon,min_lat,max_lon,max_lat")
        return tuple(float(p) for p in text.split(","))


PSEUDONYMS_PATTERN = rf"^d[0-9a-f]{{16}}(?:,d[0-9a-f]{{16}}){{0,{MAX_DEVICES - 1}}}$"


@extend_schema_field({"type": "string", "pattern": PSEUDONYMS_PATTERN})
class DevicesField(serializers.CharField):
    def to_internal_value(self, data):
        text = super().to_internal_value(data)
        if not re.match(PSEUDONYMS_PATTERN, text):
            raise serializers.ValidationError(f"up to {MAX_DEVICES} comma-separated device pseudonyms (d + 16 hex)")
        return text.split(",")


CURSOR_PATTERN = r"^[A-Za-z0-9_-]{1,400}$"


@extend_schema_field({"type": "string", "pattern": CURSOR_PATTERN})
class CursorField(serializers.CharField):
    """Opaque base64url text: the sort key of the last row of the previous page."""

    def to_internal_value(self, data):
        text = super().to_internal_value(data)
        if not re.match(CURSOR_PATTERN, text):
            raise serializers.ValidationError("not a cursor from this API")
        return decode_cursor(text)


class PageQuery(TimeRangeQuery):
    bbox = BBoxField(required=False, help_text=(
        "min_lon,min_lat,max_lon,max_lat. Scientist keys filter exact positions; anonymous "
        "readers filter the public cell centres"))
    device = DevicesField(required=False, help_text=(
        "comma-separated device pseudonyms (d + 16 hex): scientist keys only (400 without a key)"))
    limit = serializers.IntegerField(required=False, min_value=1, max_value=settings.CRAYFIS_API_PAGE_MAX,
                                     help_text=f"page size (default {settings.CRAYFIS_API_PAGE_SIZE})")
    cursor = CursorField(required=False, trim_whitespace=False, help_text="next_cursor of the previous page (opaque)")


class HitsQuery(PageQuery):
    format = serializers.ChoiceField(choices=["json", "ndjson", "parquet"], required=False, default="json", help_text=(
        "json: one page (use cursor for the next). ndjson: the whole range streamed as one "
        "hit per line (application/x-ndjson). parquet: the whole range as one Parquet file "
        "(application/vnd.apache.parquet, zstd). ndjson and parquet ignore limit and cursor"))


JOB_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"


class CandidatesQuery(PageQuery):
    min_devices = serializers.IntegerField(required=False, min_value=1,
                                           help_text="only candidates with at least this many devices")
    max_p_value = serializers.FloatField(required=False, min_value=0.0, max_value=1.0)
    source = serializers.ChoiceField(choices=list(SOURCES), required=False, default=CONTINUOUS, help_text=(
        "continuous: the continuous search's catalogue (what the public pages show). batch: "
        "candidates written by batch runs of the Spark job (--to-es)"))
    job_id = serializers.RegexField(JOB_ID_PATTERN, required=False, help_text=(
        "only the candidates of this run (a batch run's job_id is in its summary.json)"))


class StatsQuery(serializers.Serializer):
    from_ms = serializers.IntegerField(required=False, min_value=0, max_value=T_MAX_MS,
                                       help_text="start, Unix ms UTC (default: to_ms - 24 h)")
    to_ms = serializers.IntegerField(required=False, min_value=0, max_value=T_MAX_MS,
                                     help_text=("end, Unix ms UTC, exclusive (default: now); "
                                                "to_ms <= from_ms is an empty range"))


# --- reply shapes (documentation) ---------------------------------------------------------

class HitPublic(serializers.Serializer):
    hit_id = serializers.CharField(help_text="opaque id (a hash: carries no time and names no device)")
    t_ms = serializers.IntegerField(help_text=(
        "phone/detector clock, Unix ms; without a key truncated to the whole second"))
    cell = serializers.CharField(allow_null=True, help_text="public 0.1-degree cell, e.g. '46.25,6.05'")
    cell_lat = serializers.FloatField(allow_null=True, help_text="cell centre latitude")
    cell_lon = serializers.FloatField(allow_null=True, help_text="cell centre longitude")
    n_pix = serializers.IntegerField(allow_null=True)
    max_val = serializers.IntegerField(allow_null=True)


class HitExact(HitPublic):
    device = serializers.CharField(required=False, help_text=(
        "device pseudonym (HMAC of its id: stable, not invertible): scientist keys only"))
    lat = serializers.FloatField(allow_null=True, required=False, help_text="exact position: scientist keys only")
    lon = serializers.FloatField(allow_null=True, required=False)
    accuracy = serializers.FloatField(allow_null=True, required=False, help_text="metres")
    altitude = serializers.FloatField(allow_null=True, required=False, help_text="metres")
    t_nano = serializers.IntegerField(allow_null=True, required=False, help_text="monotonic ns, any origin")
    model = serializers.CharField(allow_null=True, required=False)


class HitsPage(serializers.Serializer):
    results = HitExact(many=True, help_text=(
        "device/lat/lon/accuracy/altitude/t_nano/model and millisecond times only with a scientist key; "
        "without one, rows are ordered by (second, hit_id)"))
    next_cursor = serializers.CharField(allow_null=True)
    next = serializers.URLField(allow_null=True)


class Candidate(serializers.Serializer):
    candidate_id = serializers.CharField()
    source = serializers.ChoiceField(choices=list(SOURCES), allow_null=True,
                                     help_text="who wrote it: the continuous search or a batch run")
    job_id = serializers.CharField(allow_null=True, help_text="the run that wrote it ('continuous' for the "
                                                              "continuous search)")
    t_start_ms = serializers.IntegerField()
    t_end_ms = serializers.IntegerField()
    n_hits = serializers.IntegerField()
    n_devices = serializers.IntegerField()
    n_trusted_devices = serializers.IntegerField(help_text=(
        "members that are trusted devices (docs/security.md); a candidate is public with at least k"))
    multiplicity = serializers.IntegerField(allow_null=True, help_text="most distinct devices in one window")
    devices = serializers.ListField(child=serializers.CharField(), required=False,
                                    help_text="member pseudonyms: scientist keys only")
    trusted_devices = serializers.ListField(child=serializers.CharField(), required=False,
                                            help_text="the trusted members' pseudonyms: scientist keys only")
    hit_ids = serializers.ListField(child=serializers.CharField(), required=False,
                                    help_text="member hits: scientist keys only")
    public = serializers.BooleanField(required=False, help_text=(
        "whether anonymous readers see it (at least k trusted members): scientist keys only"))
    n_triggered_anchors = serializers.IntegerField(allow_null=True)
    expected_background = serializers.FloatField(allow_null=True)
    p_value = serializers.FloatField(allow_null=True)
    false_alarm_per_year = serializers.FloatField(allow_null=True)
    tau_ms = serializers.IntegerField(allow_null=True)
    radius_m = serializers.FloatField(allow_null=True)
    k = serializers.IntegerField(allow_null=True)
    cell = serializers.CharField(allow_null=True)
    cell_lat = serializers.FloatField(allow_null=True)
    cell_lon = serializers.FloatField(allow_null=True)
    lat = serializers.FloatField(allow_null=True, required=False, help_text="centroid: scientist keys only")
    lon = serializers.FloatField(allow_null=True, required=False)


class CandidatesPage(serializers.Serializer):
    results = Candidate(many=True)
    next_cursor = serializers.CharField(allow_null=True)
    next = serializers.URLField(allow_null=True)


class NetworkStats(serializers.Serializer):
    from_ms = serializers.IntegerField()
    to_ms = serializers.IntegerField()
    hits = serializers.IntegerField()
    devices = serializers.IntegerField(help_text="distinct devices with hits (approximate above 3,000)")
    cells = serializers.IntegerField(help_text="distinct public cells with hits")
    first_hit_ms = serializers.IntegerField(allow_null=True)
    last_hit_ms = serializers.IntegerField(allow_null=True)
    exposure_hours = serializers.FloatField(help_text="summed live time of DATA exposure blocks")
    live_devices = serializers.IntegerField(help_text="distinct devices with exposure blocks")
    candidates = serializers.IntegerField()
