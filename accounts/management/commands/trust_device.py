"""manage.py trust_device <Device-id>... [--revoke] [--by NAME]: operator approval or revocation.

Approval trusts the devices at once; revocation untrusts them for good (history never trusts
them again; only another approval does). The continuous search re-marks their candidates on its
next pass. Device-ids the server has never seen are refused and nothing changes.
"""
from __future__ import annotations

import getpass

from django.core.management.base import BaseCommand, CommandError

from accounts import trust


class Command(BaseCommand):
    help = "Trust devices by operator approval (or --revoke their trust)."

    def add_arguments(self, parser):
        parser.add_argument("device_ids", nargs="+", metavar="Device-id", help="the app's Device-id")
        parser.add_argument("--revoke", action="store_true", help="revoke instead of approve")
        parser.add_argument("--by", default=None, help="who decides, for the recorded reason (default: $USER)")

    def handle(self, *args, device_ids, revoke=False, by=None, **options):
        who = by or _user()
        try:
            n = (trust.revoke if revoke else trust.approve)(device_ids, by=who)
        except trust.UnknownDevices as exc:
            raise CommandError(f"{exc} (nothing changed)") from None
        self.stdout.write(f"{'revoked' if revoke else 'trusted'} {n} device(s)")


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name in this environment
        return "an operator"
