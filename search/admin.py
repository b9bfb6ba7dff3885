"""Operator views of the alert queue: each alert with every delivery attempt, and a retry action."""
from __future__ import annotations

from django.contrib import admin, messages

from search.continuous import now_ms
from search.models import Alert, AlertAttempt


class AttemptInline(admin.TabularInline):
    model = AlertAttempt
    fields = ("channel", "at_ms", "duration_ms", "ok", "error")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ("candidate_id", "created_ms", "webhook_done", "email_done", "attempts", "gave_up",
                    "next_attempt_ms", "short_error")
    list_filter = ("gave_up", "webhook_done", "email_done")
    search_fields = ("candidate_id",)
    readonly_fields = ("candidate_id", "payload", "created_ms", "webhook_url", "webhook_done", "emails",
                       "email_done", "attempts", "next_attempt_ms", "gave_up", "last_error", "done_ms")
    inlines = (AttemptInline,)
    actions = ("retry_now",)

    def has_add_permission(self, request):
        return False  # alerts are queued by the continuous search only

    @admin.display(description="last error")
    def short_error(self, obj):
        return (obj.last_error or "")[:80]

    @admin.action(description="Retry now (given-up alerts get a fresh set of attempts)")
    def retry_now(self, request, queryset):
        n = queryset.exclude(webhook_done=True, email_done=True).update(
            gave_up=False, attempts=0, next_attempt_ms=now_ms())
        self.message_user(request, f"{n} alert(s) due now for manage.py deliver_alerts", messages.SUCCESS)
