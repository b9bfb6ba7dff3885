"""Score the morphology classifier on labelled simulated events.

    python -m crayfis.morphology.score --events 10000 --seed 1 [--pixel-lists]

Simulates a quarter of each class (crayfis.sim.pixels), uploads them as the app would (DataChunks
of --upload-events events, byte blocks, or with --pixel-lists the `pixels` lists of older builds),
classifies every event both ways the project does: the raw body (classify_body, the indexer's
path, timed once warm) and the events the project's decoder makes of it (classify_events). The
two must agree; the command stops with an error if they do not. Prints, as Markdown, the
confusion matrix, per-class precision and recall, and how each simulated source was classified,
then the body path's classification rate with the machine's load. Progress goes to stderr.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter

import numpy as np

from crayfis.morphology.classify import class_names, classify_body, classify_events
from crayfis.morphology.rules import CLASS_NAMES
from crayfis.sim import pixels as simpix
from crayfis.wire.decode import decode_submit

START_MS = 1_795_000_000_000


class Mismatch(RuntimeError):
    """The body path and the decoded-events path classified an event differently."""


def _uploads(events, upload_events: int, pixel_lists: bool, seed: int) -> list[bytes]:
    """The /submit bodies of the events, upload_events at a time, in order."""
    return [simpix.data_chunk(events[i:i + upload_events], run_uuid=simpix.run_uuid_for(seed * 1_000_003 + i),
                              start_ms=START_MS + i * simpix.EVENT_SPACING_MS, pixel_list=pixel_lists)
            for i in range(0, len(events), upload_events)]


def _classify_uploads(bodies: list[bytes], say) -> tuple[list[str | None], float]:
    """(class names per event, seconds classify_body took over all bodies once warm)."""
    classify_body(bodies[0])   # the first call in a process compiles the pipeline (seconds); not timed
    t0 = time.perf_counter()
    from_body = [classify_body(body) for body in bodies]
    body_s = time.perf_counter() - t0
    names: list[str | None] = []
    for i, (body, codes) in enumerate(zip(bodies, from_body)):
        decoded = classify_events(decode_submit(body, {"Device-id": "simulated"}).events)
        if not np.array_equal(decoded, codes):
            raise Mismatch(f"upload {i}: body path and decoded events disagree")
        names.extend(class_names(decoded))
        if (i + 1) % 10 == 0 or i + 1 == len(bodies):
            say(f"checked {i + 1} / {len(bodies)} uploads against the decoded events")
    return names, body_s


def _table(header: list[str], rows: list[list]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines


def report(events, predicted: list[str | None]) -> list[str]:
    """Markdown lines: confusion matrix, precision/recall per class, classes per source."""
    classes = list(CLASS_NAMES)
    pairs = Counter((ev.label, p) for ev, p in zip(events, predicted))
    out = ["Confusion matrix (rows: true class, columns: classified as):", ""]
    out += _table(["true \\ classified", *classes, "total"],
                  [[t, *(pairs[(t, p)] for p in classes), sum(pairs[(t, p)] for p in classes)] for t in classes])
    rows = []
    for c in classes:
        true_c = sum(pairs[(c, p)] for p in classes)
        called_c = sum(pairs[(t, c)] for t in classes)
        precision = pairs[(c, c)] / called_c if called_c else float("nan")
        recall = pairs[(c, c)] / true_c if true_c else float("nan")
        rows.append([c, f"{precision:.3f}", f"{recall:.3f}", true_c])
    accuracy = sum(pairs[(c, c)] for c in classes) / max(len(events), 1)
    out += ["", "Per class:", ""] + _table(["class", "precision", "recall", "events"], rows)
    out += ["", f"Accuracy: {accuracy:.3f} over {len(events)} events.", ""]
    by_source = Counter((ev.source, p) for ev, p in zip(events, predicted))
    out += ["Classified as, per simulated source:", ""]
    out += _table(["source", *classes], [[s, *(by_source[(s, p)] for p in classes)] for s in simpix.SOURCES
                                         if any(by_source[(s, p)] for p in classes)])
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crayfis.morphology.score", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000, help="simulated events (a quarter per class)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--upload-events", type=int, default=150, help="events per simulated upload")
    parser.add_argument("--pixel-lists", action="store_true",
                        help="upload `pixels` lists (builds before v1.0.3) instead of byte blocks")
    args = parser.parse_args(argv)
    if args.events < 4:
        parser.error("--events must be at least 4 (one per class)")
    if args.upload_events < 1:
        parser.error("--upload-events must be at least 1")
    started = time.perf_counter()

    def say(msg: str) -> None:
        print(f"[{time.perf_counter() - started:7.1f} s] {msg}", file=sys.stderr, flush=True)

    events = simpix.simulate(args.events, args.seed, progress=lambda done, n: say(f"simulated {done} / {n} events"))
    bodies = _uploads(events, args.upload_events, args.pixel_lists, args.seed)
    say(f"{len(bodies)} uploads built")
    try:
        predicted, body_s = _classify_uploads(bodies, say)
    except Mismatch as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    fmt = "pixel lists (builds before v1.0.3)" if args.pixel_lists else "byte blocks (the v1.0.4 app)"
    command = f"python -m crayfis.morphology.score --events {args.events} --seed {args.seed}" + \
        (f" --upload-events {args.upload_events}" if args.upload_events != 150 else "") + \
        (" --pixel-lists" if args.pixel_lists else "")
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    lines = [f"Command: `{command}`", f"Events: {len(events)} simulated, uploaded as {fmt}.", ""]
    lines += report(events, predicted)
    lines += ["", f"Body path (classify_body, the indexer's call, warm): {len(events)} events in {len(bodies)} "
                  f"uploads in {body_s:.3f} s, {len(events) / body_s:,.0f} events/s; load average {load}."]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
