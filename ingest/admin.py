"""Operator views: devices (block, overrides, trust), uploads (status, error), quarantine (re-queue)."""
from __future__ import annotations

from django.contrib import admin, messages

from accounts import pairing, trust
from ingest import policy
from ingest.devices import pseudonym_of
from ingest.models import AppCode, Device, PreCalibration, QuarantinedUpload, TouchedBucket, Upload, UploadStatus
from ingest.quarantine import ReleaseRefused, release


@admin.register(AppCode)
class AppCodeAdmin(admin.ModelAdmin):
    list_display = ("code", "label", "active", "created_at")
    list_filter = ("active",)
    search_fields = ("code", "label")


@admin.register(Device)
class DeviceAdmin(admin.ModelAdmin):
    list_display = ("device_id", "pseudonym", "blocked", "trust", "l1_target_epm", "l1_thresh", "l1_trig_lock",
                    "xb_period_s", "uploads_indexed", "last_upload_at")
    list_filter = ("blocked", "trust")
    search_fields = ("device_id", "pseudonym", "note")
    readonly_fields = ("pseudonym", "first_upload_at", "last_upload_at", "uploads_indexed", "trust",
                       "trust_reason", "trust_changed_at", "pairing_state", "history")
    fieldsets = (
        (None, {"fields": ("device_id", "pseudonym", "blocked", "note")}),
        ("Trust (docs/security.md): change it with the actions or manage.py trust_device",
         {"fields": ("trust", "trust_reason", "trust_changed_at", "pairing_state", "history")}),
        ("Server commands sent with every 202 (b-clients only)",
         {"fields": ("l1_target_epm", "l1_thresh", "l1_trig_lock", "xb_period_s")}),
        ("Activity", {"fields": ("first_upload_at", "last_upload_at", "uploads_indexed")}),
    )
    actions = ("block", "unblock", "approve", "revoke")

    @admin.display(description="pairing")
    def pairing_state(self, obj):
        state = pairing.pairing(obj.device_id)
        if state.owner_id is not None:
            return f"paired to account #{state.owner_id}{' (confirmed by an operator)' if state.confirmed else ''}"
        if state.contested:
            accounts = ", ".join(f"#{u}" for u in state.claimants)
            return f"contested by accounts {accounts}: confirm one claim under Accounts > Phone claims"
        return "not paired"

    @admin.display(description="history rule")
    def history(self, obj):
        ok, why = trust.history_verdict(obj.device_id)
        return f"{'met' if ok else 'not met'}: {why}"

    @admin.action(description="Approve (trust: their hits count toward public candidates)")
    def approve(self, request, queryset):
        n = trust.approve(queryset.values_list("device_id", flat=True), by=request.user.get_username())
        self.message_user(request, f"trusted {n} device(s)", messages.SUCCESS)

    @admin.action(description="Revoke trust (for good: history never trusts them again)")
    def revoke(self, request, queryset):
        n = trust.revoke(queryset.values_list("device_id", flat=True), by=request.user.get_username())
        self.message_user(request, f"revoked {n} device(s)", messages.SUCCESS)

    def save_model(self, request, obj, form, change):
        if not obj.pseudonym:
            obj.pseudonym = pseudonym_of(obj.device_id)
        super().save_model(request, obj, form, change)

    @admin.action(description="Block (answer 403 to their uploads)")
    def block(self, request, queryset):
        n = queryset.update(blocked=True)
        policy.clear()
        self.message_user(request, f"blocked {n} device(s)", messages.SUCCESS)

    @admin.action(description="Unblock")
    def unblock(self, request, queryset):
        n = queryset.update(blocked=False)
        policy.clear()
        self.message_user(request, f"unblocked {n} device(s)", messages.SUCCESS)


class _UploadAdminBase(admin.ModelAdmin):
    list_display = ("id", "device_id", "status", "size", "received_at", "crayfis_version", "unlinked",
                    "n_hits", "attempts", "short_error")
    list_filter = ("status", "unlinked", "crayfis_version")
    search_fields = ("device_id", "sha256", "run_id")
    date_hierarchy = "received_at"
    exclude = ("body",)
    readonly_fields = ("device_id", "sha256", "size", "received_at", "remote_addr", "run_id",
                                   "camera_id", "crayfis_version", "crayfis_version_code", "app_code",
                                   "hash_code", "unlinked", "status", "claim_owner", "claim_until_ms",
                                   "attempts", "error", "released_at", "indexed_at", "n_docs", "n_hits")
    actions = ("requeue", "release_from_quarantine")

    def get_queryset(self, request):
        return super().get_queryset(request).defer("body")

    def has_add_permission(self, request):
        return False  # uploads come from phones only

    @admin.display(description="error")
    def short_error(self, obj):
        return (obj.error or "")[:80]

    @admin.action(description="Re-queue for indexing")
    def requeue(self, request, queryset):
        n = queryset.update(status=UploadStatus.PENDING, attempts=0, claim_owner=None, claim_until_ms=None)
        self.message_user(request, f"re-queued {n} upload(s)", messages.SUCCESS)

    @admin.action(description="Release from quarantine (index despite the event-time window)")
    def release_from_quarantine(self, request, queryset):
        try:
            released = release(queryset.values_list("id", flat=True))
        except ReleaseRefused as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        self.message_user(request, f"released {len(released)} upload(s); the indexer indexes them next",
                          messages.SUCCESS)


@admin.register(Upload)
class UploadAdmin(_UploadAdminBase):
    pass


@admin.register(QuarantinedUpload)
class QuarantinedUploadAdmin(_UploadAdminBase):
    list_filter = ("unlinked", "crayfis_version")

    def get_queryset(self, request):
        return super().get_queryset(request).filter(status=UploadStatus.QUARANTINED)


@admin.register(PreCalibration)
class PreCalibrationAdmin(admin.ModelAdmin):
    list_display = ("device_id", "camera_id", "res_x", "res_y", "hot_hash", "wgt_hash", "end_ms", "updated_at")
    search_fields = ("device_id",)
    exclude = ("weights",)
    readonly_fields = ("device_id", "camera_id", "res_x", "res_y", "hot_hash", "wgt_hash", "mask",
                       "interpolation", "compressed_format", "end_ms", "run_uuid", "upload", "updated_at")


@admin.register(TouchedBucket)
class TouchedBucketAdmin(admin.ModelAdmin):
    list_display = ("bucket_ms", "hits", "first_touched_ms", "touched_ms")
    ordering = ("-touched_ms",)
