"""Trust: which devices' hits may make a public candidate (docs/security.md, "Devices earn trust").

A device is trusted by an operator (``approve``, `manage.py trust_device`, the admin) or by its
history (``earn_by_history``): paired to one account (accounts/pairing.py), and that account's
uploads from it arrived on at least CRAYFIS_TRUST_MIN_DAYS distinct days spanning at least
CRAYFIS_TRUST_MIN_SPAN_DAYS, all reporting one public cell, with no upload of the device
quarantined and the device not blocked. Days are *receive* days (the server's clock): event times
are whatever the sender writes, so a month of back-dated history posted in an afternoon is one
day. ``revoke`` is final for the history rule: only another approval trusts the device again.

Every change stamps ``trust_changed_at``; the continuous search re-marks the candidates of those
devices on its next pass (a candidate below k trusted members stops being public then).
"""
from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.db import transaction
from django.db.models import Max, Min
from django.utils import timezone

from accounts.models import ClaimDay
from accounts.pairing import owner_of
from ingest.models import Device, Trust, Upload, UploadStatus

__all__ = ["UnknownDevices", "approve", "earn_by_history", "history_verdict", "revoke"]


class UnknownDevices(LookupError):
    """Some Device-ids name no device the server has seen."""

    def __init__(self, missing: list[str]):
        super().__init__(f"no such device: {', '.join(missing)}")
        self.missing = missing


def _existing(device_ids: Iterable[str]) -> list[str]:
    ids = sorted(set(device_ids))
    found = set(Device.objects.filter(device_id__in=ids).values_list("device_id", flat=True))
    missing = [d for d in ids if d not in found]
    if missing:
        raise UnknownDevices(missing)
    return ids


def _set(device_ids: Iterable[str], state: str, reason: str) -> int:
    ids = _existing(device_ids)
    with transaction.atomic():
        n = Device.objects.filter(device_id__in=ids).update(trust=state, trust_reason=reason[:300],
                                                            trust_changed_at=timezone.now())
    return n


def approve(device_ids: Iterable[str], by: str = "an operator") -> int:
    """Operator approval: these devices are trusted from now on. Unknown ids change nothing and
    raise UnknownDevices."""
    return _set(device_ids, Trust.OPERATOR, f"approved by {by} on {timezone.now():%Y-%m-%d %H:%M} UTC")


def revoke(device_ids: Iterable[str], by: str = "an operator") -> int:
    """Operator revocation: untrusted for good (history never trusts them again)."""
    return _set(device_ids, Trust.REVOKED, f"revoked by {by} on {timezone.now():%Y-%m-%d %H:%M} UTC")


def history_verdict(device_id: str) -> tuple[bool, str]:
    """(earns trust by history, why) for a device as its records stand now."""
    owner = owner_of(device_id)
    if owner is None:
        return False, "not paired to one account"
    days = ClaimDay.objects.filter(claim__device_id=device_id, claim__user_id=owner)
    span = days.aggregate(first=Min("day"), last=Max("day"))
    n_days = days.values("day").distinct().count()
    cells = sorted(set(days.exclude(cell="").values_list("cell", flat=True)))
    min_days, min_span = settings.CRAYFIS_TRUST_MIN_DAYS, settings.CRAYFIS_TRUST_MIN_SPAN_DAYS
    span_days = (span["last"] - span["first"]).days if n_days else 0
    if n_days < min_days or span_days < min_span:
        return False, f"{n_days} receive days over {span_days} days (needs {min_days} over {min_span})"
    if len(cells) != 1:
        return False, f"reported {len(cells)} public cells (needs exactly one)"
    if Upload.objects.filter(device_id=device_id, status=UploadStatus.QUARANTINED).exists():
        return False, "has quarantined uploads"
    return True, (f"history: {n_days} receive days over {span_days} days from cell {cells[0]}, "
                  f"paired to account #{owner}")


def earn_by_history(device_ids: Iterable[str]) -> list[str]:
    """Trust those of these devices that now meet the history rule; returns them. Devices that
    are trusted already, revoked or blocked are left as they are."""
    candidates = Device.objects.filter(device_id__in=set(device_ids), trust=Trust.UNTRUSTED, blocked=False)
    earned = []
    for device_id in candidates.values_list("device_id", flat=True):
        ok, why = history_verdict(device_id)
        if ok and Device.objects.filter(device_id=device_id, trust=Trust.UNTRUSTED).update(
                trust=Trust.HISTORY, trust_reason=why[:300], trust_changed_at=timezone.now()):
            earned.append(device_id)
    return earned

