"""Admin: app-code links, registered devices, phone claims (resolving a contested phone), both
key kinds (created keys shown once, revocation final, via djangorestframework-api-key's
APIKeyModelAdmin), and the e-mails to owners with their attempts and opt-ins."""
from django.contrib import admin, messages
from django.utils import timezone
from rest_framework_api_key.admin import APIKeyModelAdmin
from rest_framework_api_key.models import APIKey

from accounts import pairing, trust
from accounts.models import (
    AccountAppCode,
    DeviceAPIKey,
    OwnerMessage,
    OwnerMessageAttempt,
    PhoneClaim,
    PhoneMailSubscription,
    RegisteredDevice,
    ScientistAPIKey,
)

# The library's own concrete APIKey model is unused here: hide it so nobody issues a key that
# no endpoint accepts.
if admin.site.is_registered(APIKey):
    admin.site.unregister(APIKey)


@admin.register(DeviceAPIKey)
class DeviceAPIKeyAdmin(APIKeyModelAdmin):
    list_display = (*APIKeyModelAdmin.list_display, "device")
    search_fields = (*APIKeyModelAdmin.search_fields, "device__device_id")
    raw_id_fields = ("device",)


@admin.register(ScientistAPIKey)
class ScientistAPIKeyAdmin(APIKeyModelAdmin):
    list_display = (*APIKeyModelAdmin.list_display, "user")
    search_fields = (*APIKeyModelAdmin.search_fields, "user__username")
    raw_id_fields = ("user",)


@admin.register(RegisteredDevice)
class RegisteredDeviceAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "user", "device", "created_at")
    search_fields = ("name", "user__username", "device__device_id")
    raw_id_fields = ("user", "device")


@admin.register(AccountAppCode)
class AccountAppCodeAdmin(admin.ModelAdmin):
    list_display = ("app_code", "user", "created_at")
    search_fields = ("app_code__code", "user__username")
    raw_id_fields = ("user", "app_code")


@admin.register(PhoneClaim)
class PhoneClaimAdmin(admin.ModelAdmin):
    """Accounts' claims on devices. A device claimed by two accounts is contested (paired to
    nobody, so it cannot earn trust by history): check with the volunteers which one owns it,
    then confirm that claim."""

    list_display = ("device_id", "user", "confirmed", "uploads", "hits", "first_seen_at", "last_seen_at")
    list_filter = ("confirmed",)
    search_fields = ("device_id", "user__username")
    readonly_fields = ("device_id", "user", "first_upload_id", "first_seen_at", "last_seen_at", "uploads", "hits",
                       "confirmed")
    actions = ("confirm_owner",)

    def has_add_permission(self, request):
        return False  # claims come from uploads only

    @admin.action(description="Confirm as the device's one owner (resolves a contest)")
    def confirm_owner(self, request, queryset):
        devices = list(queryset.values_list("device_id", "user_id"))
        if len({d for d, _ in devices}) != len(devices):
            self.message_user(request, "choose one claim per device", messages.ERROR)
            return
        for device_id, user_id in devices:
            pairing.confirm(device_id, user_id)
        trust.earn_by_history(d for d, _ in devices)   # a paired device may now meet the history rule
        self.message_user(request, f"confirmed {len(devices)} owner(s)", messages.SUCCESS)


class OwnerMessageAttemptInline(admin.TabularInline):
    model = OwnerMessageAttempt
    extra = 0
    can_delete = False
    readonly_fields = ("at", "duration_ms", "ok", "error")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(OwnerMessage)
class OwnerMessageAdmin(admin.ModelAdmin):
    """Every e-mail the notifier wrote to an owner (manage.py notify_owners), with every attempt
    to send it. "Retry now" makes a given-up or waiting message due at once."""

    list_display = ("subject", "user", "day", "to_email", "attempts", "sent_at", "gave_up", "short_error")
    list_filter = ("gave_up", "day")
    search_fields = ("subject", "user__username", "to_email")
    readonly_fields = ("user", "claim", "day", "kinds", "to_email", "subject", "body", "unsubscribe_url",
                       "created_at", "attempts", "next_attempt_at", "sent_at", "gave_up", "last_error")
    inlines = (OwnerMessageAttemptInline,)
    actions = ("retry_now",)

    def has_add_permission(self, request):
        return False

    @admin.display(description="last error")
    def short_error(self, obj):
        return (obj.last_error or "")[:80]

    @admin.action(description="Retry now")
    def retry_now(self, request, queryset):
        n = queryset.filter(sent_at__isnull=True).update(gave_up=False, next_attempt_at=timezone.now())
        self.message_user(request, f"{n} message(s) due now", messages.SUCCESS)


@admin.register(PhoneMailSubscription)
class PhoneMailSubscriptionAdmin(admin.ModelAdmin):
    list_display = ("user", "active", "changed_at")
    list_filter = ("active",)
    search_fields = ("user__username",)
    raw_id_fields = ("user",)
