"""Server commands for the 202 reply, typed for the client's dialect (docs/wire-protocol.md section 2).

A known key with the wrong JSON type crashes the app and the chunk is resent into the same crash,
so commands go only to clients whose dialect is certain: b-clients (v0.11.0+) whose version
parses. a-clients and anything unrecognised get {}. v0.11.x takes l1thresh as an int, v1.0.x as
a float; the keys are sent without `name`, so only the given keys change on the phone.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

_VERSION = re.compile(r"^b v?(\d+)\.(\d+)(?:\.(\d+))?")


@dataclass(frozen=True, slots=True)
class DevicePolicy:
    """What the request path needs to know about a device (cached per process)."""

    known: bool = False
    blocked: bool = False
    l1_target_epm: float | None = None
    l1_thresh: float | None = None
    l1_trig_lock: bool | None = None
    xb_period_s: int | None = None

    @property
    def has_overrides(self) -> bool:
        return any(v is not None for v in (self.l1_target_epm, self.l1_thresh,
                                           self.l1_trig_lock, self.xb_period_s))


def client_dialect(crayfis_version: str) -> str | None:
    """'v1.0' or 'v0.11' for a b-client whose version parses, else None (send nothing)."""
    match = _VERSION.match(crayfis_version.strip())
    if not match:
        return None
    major, minor = int(match.group(1)), int(match.group(2))
    if major >= 1:
        return "v1.0"
    if major == 0 and minor >= 11:
        return "v0.11"
    return None


def server_commands(policy: DevicePolicy, crayfis_version: str) -> dict:
    """The JSON object to send: {} unless the device has overrides and the dialect is known."""
    if not policy.has_overrides:
        return {}
    dialect = client_dialect(crayfis_version)
    if dialect is None:
        return {}
    reply: dict = {}
    l1: dict = {}
    if policy.l1_target_epm is not None:
        l1["target_epm"] = float(policy.l1_target_epm)
    if policy.l1_thresh is not None:
        l1["l1thresh"] = float(policy.l1_thresh) if dialect == "v1.0" else int(round(policy.l1_thresh))
    if policy.l1_trig_lock is not None:
        l1["trig_lock"] = bool(policy.l1_trig_lock)
    if l1:
        reply["set_L1_trig"] = l1
    if policy.xb_period_s is not None:
        reply["set_xb_period"] = int(policy.xb_period_s)
    return reply
