"""The score command runs on a small sample: Markdown tables on stdout, progress on stderr,
one-line errors for bad arguments."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from crayfis.morphology import score

ROOT = Path(__file__).resolve().parents[3]


def test_score_prints_the_confusion_matrix_and_precision_recall(capsys):
    assert score.main(["--events", "40", "--seed", "3", "--upload-events", "15"]) == 0
    out, err = capsys.readouterr()
    assert "Command: `python -m crayfis.morphology.score --events 40 --seed 3 --upload-events 15`" in out
    assert "| true \\ classified | spot | track | worm | noise | total |" in out
    rows = {m.group(1): [int(v) for v in m.group(2).split(" | ")]
            for m in re.finditer(r"^\| (spot|track|worm|noise) \| ([\d |]+) \|$", out, re.M)}
    assert {k: v[-1] for k, v in rows.items()} == {"spot": 10, "track": 10, "worm": 10, "noise": 10}
    assert all(sum(v[:-1]) == v[-1] for v in rows.values())
    assert re.search(r"^\| noise \| [01]\.\d{3} \| [01]\.\d{3} \| 10 \|$", out, re.M)
    assert "Accuracy:" in out and "events/s; load average" in out
    assert "simulated 40 / 40 events" in err and "checked 3 / 3 uploads" in err


def test_score_with_pixel_lists(capsys):
    assert score.main(["--events", "8", "--seed", "1", "--pixel-lists"]) == 0
    assert "pixel lists (builds before v1.0.3)" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [["--events", "3"], ["--upload-events", "0"], ["--events", "x"]])
def test_bad_arguments_are_one_line_errors(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        score.main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("python -m crayfis.morphology.score: error:")
    assert "Traceback" not in "\n".join(err)


def test_the_module_runs_as_a_command():
    done = subprocess.run([sys.executable, "-m", "crayfis.morphology.score", "--events", "4", "--seed", "2"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "Confusion matrix" in done.stdout
