"""Operators' view of the data-quality flags and upload fates.

The ingest admin (ingest/admin.py) mixes these in: devices show their flags with the reasons and
can be filtered to the flagged ones; uploads show their fate in the words their owner reads
(quality/fates.py; operators also see a duplicate whose original came with another code).
DeviceHealth has its own read-only list too.
"""
from __future__ import annotations

from django.contrib import admin
from django.db.models import JSONField, OuterRef, Subquery
from django.utils.html import format_html_join

from quality.fates import fate_of
from quality.models import DeviceHealth


class FlaggedFilter(admin.SimpleListFilter):
    """Devices whose uploads of the recent window break a data-quality rule."""

    title = "data quality"
    parameter_name = "flagged"

    def lookups(self, request, model_admin):
        return (("yes", "flagged"), ("no", "not flagged"))

    def queryset(self, request, queryset):
        flagged = DeviceHealth.objects.filter(flagged=True).values("device_id")
        if self.value() == "yes":
            return queryset.filter(device_id__in=flagged)
        if self.value() == "no":
            return queryset.exclude(device_id__in=flagged)
        return queryset


class DeviceQualityMixin:
    """Adds `quality_flags` (list column) and `data_quality` (the device page) to a Device admin."""

    def get_queryset(self, request):
        health = DeviceHealth.objects.filter(device_id=OuterRef("device_id"))
        return super().get_queryset(request).annotate(
            _flags=Subquery(health.values("flags")[:1], output_field=JSONField()))

    @admin.display(description="flags")
    def quality_flags(self, obj):
        found = getattr(obj, "_flags", None) or []
        return ", ".join(f["title"] for f in found) or "–"

    @admin.display(description="data quality")
    def data_quality(self, obj):
        health = DeviceHealth.objects.filter(device_id=obj.device_id).first()
        if health is None:
            return "not judged: no readable upload in the window (or the worker has not run)"
        if not health.flags:
            return f"no flag (judged {health.evaluated_at:%Y-%m-%d %H:%M} UTC on {health.uploads} uploads)"
        return format_html_join("\n", "<p><b>{}</b>: {}</p>", ((f["title"], f["reason"]) for f in health.flags))


class UploadFateMixin:
    """Adds `fate` (list column and upload page) to an Upload admin."""

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("summary")

    @admin.display(description="fate")
    def fate(self, obj):
        summary = getattr(obj, "summary", None)
        found = fate_of(obj, summary.duplicate_of if summary is not None else None)
        return f"{found.title}: {found.detail}"


@admin.register(DeviceHealth)
class DeviceHealthAdmin(admin.ModelAdmin):
    list_display = ("device_id", "flagged", "uploads", "live_s", "hits_per_live_hour", "evaluated_at")
    list_filter = ("flagged",)
    search_fields = ("device_id",)
    readonly_fields = ("device_id", "flagged", "flags", "uploads", "live_s", "hits_per_live_hour", "evaluated_at")

    def has_add_permission(self, request):
        return False
