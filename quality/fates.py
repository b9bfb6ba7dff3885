"""What became of an upload, in plain words: the same for its owner and for operators.

- indexed: the indexer put its records in the network's data;
- duplicate: indexed, but an earlier upload of the same phone held the same records (nothing
  was added);
- outside the time window: quarantined by the indexer because its event times lie outside
  what the server accepts;
- quarantined: for another reason (a body that does not decode, records the index refuses, an
  index that kept failing);
- waiting: not indexed yet (or being retried after an index error).

The reason shown is the first line of the indexer's error (a traceback stays for operators).
A byte-identical resend is acknowledged and stored nowhere, so it has no row and no fate.
"""
from __future__ import annotations

from dataclasses import dataclass

from ingest.models import Upload, UploadStatus

INDEXED, DUPLICATE, OUT_OF_WINDOW, QUARANTINED, WAITING = (
    "indexed", "duplicate", "out_of_window", "quarantined", "waiting")
FATE_TITLES = {INDEXED: "indexed", DUPLICATE: "duplicate", OUT_OF_WINDOW: "outside the time window",
               QUARANTINED: "quarantined", WAITING: "waiting"}
"""Each fate's code and its title, in the order counts are listed."""

WINDOW_REASON_PREFIX = "outside the event-time window: "
"""How the indexer's reason begins for an upload held back by the event-time window."""
_KNOWN_REASONS = (
    ("WireDecodeError: ", "the server could not read it: "),
    ("UploadInvalid: ", "the server could not read it: "),
    ("rejected by Elasticsearch: ", "the index refused its records: "),
    ("gave up after ", "the index kept failing; gave up after "),
)


@dataclass(frozen=True)
class Fate:
    code: str
    title: str
    detail: str


def _reason(error: str) -> str:
    first = (error or "").strip().splitlines()[0] if (error or "").strip() else ""
    for prefix, words in _KNOWN_REASONS:
        if first.startswith(prefix):
            return words + first[len(prefix):]
    return first or "no reason recorded"


def fate_of(upload: Upload, duplicate_of: int | None = None) -> Fate:
    """The fate of an upload; ``duplicate_of`` names the earlier upload with the same records
    (pass it only where the reader may know of that upload)."""
    if upload.status == UploadStatus.QUARANTINED:
        error = (upload.error or "").strip()
        if error.startswith(WINDOW_REASON_PREFIX):
            return Fate(OUT_OF_WINDOW, FATE_TITLES[OUT_OF_WINDOW],
                        error.splitlines()[0][len(WINDOW_REASON_PREFIX):])
        return Fate(QUARANTINED, FATE_TITLES[QUARANTINED], _reason(error))
    if upload.status == UploadStatus.INDEXED:
        if duplicate_of is not None:
            return Fate(DUPLICATE, FATE_TITLES[DUPLICATE],
                        f"upload #{duplicate_of} already held the same records; nothing new was added")
        hits = upload.n_hits or 0
        return Fate(INDEXED, FATE_TITLES[INDEXED], f"{hits} hit{'' if hits == 1 else 's'} in the network's data")
    if upload.attempts:
        return Fate(WAITING, FATE_TITLES[WAITING],
                    f"retrying after an index error (attempt {upload.attempts}): {_reason(upload.error)}")
    return Fate(WAITING, FATE_TITLES[WAITING], "waiting for the indexer")
