"""Query parameters of the read API (validated with DRF serializers: one per request, not per
item) and documentation-only reply shapes."""
from __future__ import annotations

import base64
import binascii
import json
import re

from django.conf import settings
from rest_framework import serializers

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
    to_ms = serializers.IntegerField(min_value=1, max_value=T_MAX_MS, help_text="end, Unix ms UTC (exclusive)")

    def validate(self, attrs):
        if attrs["to_ms"] <= attrs["from_ms"]:
            raise serializers.ValidationError({"to_ms": "must be after from_ms"})
        return attrs


class BBoxField(serializers.CharField):
    """'min_lon,min_lat,max_lon,max_lat' (WGS84 degrees; min_lon > max_lon crosses 180)."""

    def to_internal_value(self, data):
        text = super().to_internal_value(data)
        try:
            parts = tuple(float(p) for p in text.split(","))
        except ValueError:
            raise serializers.ValidationError("four numbers: min_lon,min_lat,max_lon,max_lat") from None
        if len(parts) != 4:
            raise serializers.ValidationError("four numbers: min_lon,min_lat,max_lon,max_lat")
        min_lon, min_lat, max_lon, max_lat = parts
        if not all(-180.0 <= x <= 180.0 for x in (min_lon, max_lon)) or not all(-90.0 <= y <= 90.0 for y in (min_lat, max_lat)):
            raise serializers.ValidationError("longitudes in [-180, 180], latitudes in [-90, 90]")
        if min_lat > max_lat:
            raise serializers.ValidationError("min_lat is above max_lat")
        return parts


class DevicesField(serializers.CharField):
    def to_internal_value(self, data):
        names = [n.strip() for n in super().to_internal_value(data).split(",") if n.strip()]
        if len(names) > MAX_DEVICES:
            raise serializers.ValidationError(f"at most {MAX_DEVICES} devices")
        bad = [n for n in names if not _PSEUDONYM.match(n)]
        if bad:
            raise serializers.ValidationError(f"not device pseudonyms (d + 16 hex): {', '.join(bad[:5])}")
        return names


class CursorField(serializers.CharField):
    def to_internal_value(self, data):
        return decode_cursor(super().to_internal_value(data))


class PageQuery(TimeRangeQuery):
    bbox = BBoxField(required=False, help_text=(
        "min_lon,min_lat,max_lon,max_lat. Scientist keys filter exact positions; anonymous "
        "readers filter the public cell centres"))
    device = DevicesField(required=False, help_text="comma-separated device pseudonyms (d + 16 hex)")
    limit = serializers.IntegerField(required=False, min_value=1, help_text="page size")
    cursor = CursorField(required=False, help_text="next_cursor of the previous page")

    def validate_limit(self, value):
        cap = settings.CRAYFIS_API_PAGE_MAX
        if value > cap:
            raise serializers.ValidationError(f"at most {cap}")
        return value


class HitsQuery(PageQuery):
    format = serializers.ChoiceField(choices=["json", "ndjson"], required=False, default="json", help_text=(
        "json: one page (use cursor for the next). ndjson: the whole range streamed as one "
        "hit per line (application/x-ndjson), ignoring limit and cursor"))


class CandidatesQuery(PageQuery):
    min_devices = serializers.IntegerField(required=False, min_value=1, help_text="only candidates with at least this many devices")
    max_p_value = serializers.FloatField(required=False, min_value=0.0, max_value=1.0)


class StatsQuery(serializers.Serializer):
    from_ms = serializers.IntegerField(required=False, min_value=0, max_value=T_MAX_MS,
                                       help_text="start, Unix ms UTC (default: to_ms - 24 h)")
    to_ms = serializers.IntegerField(required=False, min_value=1, max_value=T_MAX_MS,
                                     help_text="end, Unix ms UTC, exclusive (default: now)")


# --- reply shapes (documentation) ---------------------------------------------------------

class HitPublic(serializers.Serializer):
    hit_id = serializers.CharField()
    t_ms = serializers.IntegerField(help_text="phone/detector clock, Unix ms")
    device = serializers.CharField(help_text="device pseudonym (HMAC of its id: stable, not invertible)")
    cell = serializers.CharField(allow_null=True, help_text="public 0.1-degree cell, e.g. '46.25,6.05'")
    cell_lat = serializers.FloatField(allow_null=True, help_text="cell centre latitude")
    cell_lon = serializers.FloatField(allow_null=True, help_text="cell centre longitude")
    n_pix = serializers.IntegerField(allow_null=True)
    max_val = serializers.IntegerField(allow_null=True)


class HitExact(HitPublic):
    lat = serializers.FloatField(allow_null=True, required=False, help_text="exact position: scientist keys only")
    lon = serializers.FloatField(allow_null=True, required=False)
    accuracy = serializers.FloatField(allow_null=True, required=False, help_text="metres")
    altitude = serializers.FloatField(allow_null=True, required=False, help_text="metres")
    t_nano = serializers.IntegerField(allow_null=True, required=False, help_text="monotonic ns, any origin")
    model = serializers.CharField(allow_null=True, required=False)


class HitsPage(serializers.Serializer):
    results = HitExact(many=True, help_text="lat/lon/accuracy/altitude/t_nano/model only with a scientist key")
    next_cursor = serializers.CharField(allow_null=True)
    next = serializers.URLField(allow_null=True)


class Candidate(serializers.Serializer):
    candidate_id = serializers.CharField()
    t_start_ms = serializers.IntegerField()
    t_end_ms = serializers.IntegerField()
    n_hits = serializers.IntegerField()
    n_devices = serializers.IntegerField()
    devices = serializers.ListField(child=serializers.CharField(), help_text="pseudonyms")
    hit_ids = serializers.ListField(child=serializers.CharField())
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
