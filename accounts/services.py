"""Account operations shared by the account pages, the admin and the tests.

Each returns what the caller must show once (a clear API key) and stores only what is safe to
keep (the key's hash). App codes are short and typeable: lowercase letters and digits without
the look-alikes (l/1, o/0), because volunteers type them into the CRAYFIS app's settings.
"""
from __future__ import annotations

import secrets
import uuid

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from accounts.keys import can_read_exact, forget_keys
from accounts.models import AccountAppCode, DeviceAPIKey, RegisteredDevice, ScientistAPIKey
from ingest.devices import pseudonym_of
from ingest.models import AppCode, Device

APP_CODE_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"
APP_CODE_LENGTH = 10          # 32**10 ~ 1e15 codes
API_DEVICE_PREFIX = "api-"    # ANDROID_IDs are hex: this prefix can never collide with one


def new_app_code_text() -> str:
    return "".join(secrets.choice(APP_CODE_ALPHABET) for _ in range(APP_CODE_LENGTH))


def current_app_code(user: AbstractBaseUser) -> AppCode | None:
    link = (AccountAppCode.objects.filter(user=user, app_code__active=True)
            .select_related("app_code").first())
    return link.app_code if link else None


@transaction.atomic
def issue_app_code(user: AbstractBaseUser) -> AppCode:
    """A fresh code for the account; the previous ones stop linking new uploads."""
    AppCode.objects.filter(account_link__user=user, active=True).update(active=False)
    while True:
        text = new_app_code_text()
        if not AppCode.objects.filter(code=text).exists():
            break
    code = AppCode.objects.create(code=text, label=f"account {user.get_username()}")
    AccountAppCode.objects.create(user=user, app_code=code)
    return code


@transaction.atomic
def register_device(user: AbstractBaseUser, name: str, kind: str) -> tuple[RegisteredDevice, str]:
    """A new JSON API device and its first key: (registration, clear key shown once)."""
    device_id = f"{API_DEVICE_PREFIX}{uuid.uuid4().hex}"
    device = Device.objects.create(device_id=device_id, pseudonym=pseudonym_of(device_id),
                                   note=f"JSON API: {name}"[:200])
    reg = RegisteredDevice.objects.create(user=user, device=device, name=name, kind=kind)
    _, key = DeviceAPIKey.objects.create_key(device=device, name=name[:50])
    return reg, key


def new_device_key(reg: RegisteredDevice) -> str:
    """Another key for a registered device (rotate: create the new one, then revoke the old)."""
    _, key = DeviceAPIKey.objects.create_key(device=reg.device, name=reg.name[:50])
    return key


def revoke_device_key(user: AbstractBaseUser, prefix: str) -> bool:
    """Revoke one of the user's device keys; False when it is not theirs or already revoked."""
    done = DeviceAPIKey.objects.filter(prefix=prefix, device__registration__user=user,
                                       revoked=False).update(revoked=True) == 1
    forget_keys()  # an UPDATE sends no post_save
    return done


def new_scientist_key(user: AbstractBaseUser, name: str) -> str:
    """A read key for a scientist (PermissionError for accounts without the permission)."""
    if not can_read_exact(user):
        raise PermissionError("this account may not hold a read API key")
    _, key = ScientistAPIKey.objects.create_key(user=user, name=name[:50] or "read key")
    return key


def revoke_scientist_key(user: AbstractBaseUser, prefix: str) -> bool:
    done = ScientistAPIKey.objects.filter(prefix=prefix, user=user, revoked=False).update(revoked=True) == 1
    forget_keys()  # an UPDATE sends no post_save
    return done
