"""Admin: app-code links, registered devices, and both key kinds (created keys shown once,
revocation final), via djangorestframework-api-key's APIKeyModelAdmin."""
from django.contrib import admin
from rest_framework_api_key.admin import APIKeyModelAdmin
from rest_framework_api_key.models import APIKey

from accounts.models import AccountAppCode, DeviceAPIKey, RegisteredDevice, ScientistAPIKey

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
