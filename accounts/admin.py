"""Admin: app-code links, registered devices, phone claims (resolving a contested phone), and both
key kinds (created keys shown once, revocation final), via djangorestframework-api-key's
APIKeyModelAdmin."""
from django.contrib import admin, messages
from rest_framework_api_key.admin import APIKeyModelAdmin
from rest_framework_api_key.models import APIKey

from accounts import pairing, trust
from accounts.models import AccountAppCode, DeviceAPIKey, PhoneClaim, RegisteredDevice, ScientistAPIKey

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
