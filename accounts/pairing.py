"""Pairing: which account a device belongs to, claimed only by uploads that prove it.

The app's protocol has no device secret, so knowing a Device-id is enough to post as that phone.
What an account can prove is its own App-code (or, for a JSON detector, the key of a device it
registered). So:

- an upload claims its device for the account whose *active* App-code it carried (for a JSON
  detector: the account that registered it); uploads without a known code claim nothing;
- the first account to claim a device pairs it; a claim by a second account makes it
  *contested*, paired to nobody, until an operator confirms one claim (``confirm``, the admin's
  "make this the owner" action); a confirmed owner stays paired whatever codes arrive later;
- an account's pages are built only from its own claims (``phones_of``): the counters of a claim
  add up the uploads that carried the account's code and nothing else, so someone who posts one
  upload under a victim's Device-id with his own code sees only what he sent himself. Neither
  the device's public pseudonym nor whether it is contested is shown to an account.

``record_indexed`` is called by the indexer, in the transaction that marks uploads indexed (so
each upload counts exactly once), and also records each claim's receive days and public cells,
the history accounts/trust.py reads. The owner pages (accounts/phone_views.py) list an account's
claims (``own_claims``) and build each phone's page from ``own_uploads`` alone: the uploads under
the claimed Device-id that carried one of the account's App-codes, the active one or an earlier
one, whatever became of them (indexed, quarantined or waiting).
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import F, QuerySet
from django.db.models.functions import Greatest, Least

from accounts.models import AccountAppCode, ClaimDay, PhoneClaim, RegisteredDevice
from accounts.services import API_DEVICE_PREFIX
from ingest.models import Upload

__all__ = ["Arrival", "OwnPhone", "Pairing", "confirm", "label_of", "own_claims", "own_uploads", "owner_of",
           "pairing", "phones_of", "record_indexed"]

LABEL_CHARS = 4   # a phone is shown to its owner by the last characters of the Device-id he sent


@dataclass(frozen=True)
class Arrival:
    """One upload the indexer has just marked indexed: what pairing needs of it."""

    upload_id: int
    device_id: str
    app_code: str
    received_at: dt.datetime
    n_hits: int
    cells: frozenset[str] = frozenset()


@dataclass
class _Claimed:
    """What one batch adds to one (device, account) claim."""

    first_upload_id: int
    first_seen_at: dt.datetime
    last_seen_at: dt.datetime
    uploads: int = 0
    hits: int = 0
    days: set[tuple[dt.date, str]] = field(default_factory=set)


def _claimants(arrivals: Sequence[Arrival]) -> dict[int, int]:
    """upload id -> the account it claims its device for (uploads that claim nothing left out)."""
    codes = {a.app_code for a in arrivals if a.app_code}
    by_code = dict(AccountAppCode.objects.filter(app_code__code__in=codes, app_code__active=True)
                   .values_list("app_code__code", "user_id")) if codes else {}
    api_ids = {a.device_id for a in arrivals if a.device_id.startswith(API_DEVICE_PREFIX)}
    by_device = dict(RegisteredDevice.objects.filter(device__device_id__in=api_ids)
                     .values_list("device__device_id", "user_id")) if api_ids else {}
    out = {}
    for a in arrivals:
        user = by_device.get(a.device_id) if a.device_id in by_device else by_code.get(a.app_code)
        if user is not None:
            out[a.upload_id] = user
    return out


def _group(arrivals: Sequence[Arrival], users: dict[int, int]) -> dict[tuple[str, int], _Claimed]:
    groups: dict[tuple[str, int], _Claimed] = {}
    for a in arrivals:
        user = users.get(a.upload_id)
        if user is None:
            continue
        g = groups.setdefault((a.device_id, user), _Claimed(a.upload_id, a.received_at, a.received_at))
        g.first_upload_id = min(g.first_upload_id, a.upload_id)
        g.first_seen_at, g.last_seen_at = min(g.first_seen_at, a.received_at), max(g.last_seen_at, a.received_at)
        g.uploads += 1
        g.hits += int(a.n_hits)
        day = a.received_at.astimezone(dt.UTC).date()
        g.days.update((day, cell) for cell in (a.cells or {""}))
    return groups


def record_indexed(arrivals: Iterable[Arrival]) -> set[str]:
    """Add these freshly indexed uploads to their accounts' claims; returns the Device-ids whose
    claims gained a receive day or a cell (the only change that can earn trust by history).

    Call it once per upload, inside the transaction that marks it indexed.
    """
    arrivals = [a for a in arrivals if a.app_code or a.device_id.startswith(API_DEVICE_PREFIX)]
    if not arrivals:
        return set()
    groups = _group(arrivals, _claimants(arrivals))
    if not groups:
        return set()
    with transaction.atomic():
        PhoneClaim.objects.bulk_create(
            [PhoneClaim(device_id=d, user_id=u, first_upload_id=g.first_upload_id, first_seen_at=g.first_seen_at,
                        last_seen_at=g.last_seen_at) for (d, u), g in groups.items()],
            ignore_conflicts=True)   # a claim made by another indexer meanwhile stays as it is
        for (d, u), g in groups.items():
            PhoneClaim.objects.filter(device_id=d, user_id=u).update(
                uploads=F("uploads") + g.uploads, hits=F("hits") + g.hits,
                first_upload_id=Least("first_upload_id", g.first_upload_id),
                first_seen_at=Least("first_seen_at", g.first_seen_at),
                last_seen_at=Greatest("last_seen_at", g.last_seen_at))
        rows = PhoneClaim.objects.filter(device_id__in={d for d, _ in groups}, user_id__in={u for _, u in groups})
        claim_ids = {(d, u): c for d, u, c in rows.values_list("device_id", "user_id", "id") if (d, u) in groups}
        wanted = {(claim_ids[key], day, cell) for key, g in groups.items() for day, cell in g.days}
        known = set(ClaimDay.objects.filter(claim_id__in=set(claim_ids.values()),
                                            day__in={day for _, day, _ in wanted})
                    .values_list("claim_id", "day", "cell"))
        new = wanted - known
        ClaimDay.objects.bulk_create([ClaimDay(claim_id=c, day=day, cell=cell) for c, day, cell in new],
                                     ignore_conflicts=True)
    grown = {c for c, _, _ in new}
    return {d for (d, _), c in claim_ids.items() if c in grown}


@dataclass(frozen=True)
class Pairing:
    """Who a device belongs to: ``owner_id`` (None when unclaimed or contested) and the accounts
    that claim it, first claim first."""

    device_id: str
    owner_id: int | None
    claimants: tuple[int, ...]
    confirmed: bool

    @property
    def contested(self) -> bool:
        return self.owner_id is None and len(self.claimants) > 1


def pairing(device_id: str) -> Pairing:
    """The device's pairing as the claims stand now."""
    claims = list(PhoneClaim.objects.filter(device_id=device_id).order_by("first_upload_id", "id")
                  .values_list("user_id", "confirmed"))
    users = tuple(u for u, _ in claims)
    confirmed = [u for u, c in claims if c]
    if confirmed:
        return Pairing(device_id, confirmed[0], users, True)
    return Pairing(device_id, users[0] if len(users) == 1 else None, users, False)


def owner_of(device_id: str) -> int | None:
    """The account a device is paired to, or None (unclaimed, or contested and not resolved)."""
    return pairing(device_id).owner_id


@transaction.atomic
def confirm(device_id: str, user_id: int) -> bool:
    """Operator: make this account's claim the device's only owner (the way out of a contest);
    False when that account has no claim on the device."""
    claims = PhoneClaim.objects.select_for_update().filter(device_id=device_id)
    if not claims.filter(user_id=user_id).exists():
        return False
    claims.exclude(user_id=user_id).update(confirmed=False)
    claims.filter(user_id=user_id).update(confirmed=True)
    return True


@dataclass(frozen=True)
class OwnPhone:
    """A phone as its owner's page shows it: only what the owner's own uploads carried.
    ``claim_id`` names its owner pages (/accounts/phones/<claim_id>/)."""

    label: str
    uploads: int
    hits: int
    first_seen_at: dt.datetime
    last_seen_at: dt.datetime
    claim_id: int = 0


def label_of(device_id: str) -> str:
    """How an owner's pages name a phone: the end of the Device-id its uploads sent."""
    return "…" + device_id[-LABEL_CHARS:]


def own_claims(user) -> QuerySet[PhoneClaim]:
    """The account's claims on phones (not JSON detectors), latest first."""
    return (PhoneClaim.objects.filter(user=user).exclude(device_id__startswith=API_DEVICE_PREFIX)
            .order_by("-last_seen_at", "id"))


def phones_of(user) -> list[OwnPhone]:
    """The phones (not JSON detectors) this account's App-codes were sent from, latest first."""
    return [OwnPhone(label=label_of(c.device_id), uploads=c.uploads, hits=c.hits, first_seen_at=c.first_seen_at,
                     last_seen_at=c.last_seen_at, claim_id=c.pk) for c in own_claims(user)]


def own_uploads(claim: PhoneClaim) -> QuerySet[Upload]:
    """Every upload under the claim's Device-id that carried one of its account's App-codes
    (active or replaced), whatever its status; the body deferred."""
    codes = AccountAppCode.objects.filter(user_id=claim.user_id).values("app_code__code")
    return Upload.objects.filter(device_id=claim.device_id, app_code__in=codes).defer("body")
