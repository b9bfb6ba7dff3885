"""The project code Spark executors need, as one zip for spark-submit --py-files.

    python -m ops.pyfiles crayfis_backend.zip

Executors run only the domain core (crayfis/) and the job (spark_jobs/); their Python needs the
third-party packages the job imports (numpy, scipy, numba, pyarrow, elasticsearch and msgspec for
es:// input) but not this project. The zip holds the .py files of those two packages, nothing else.
"""
from __future__ import annotations

import sys
import zipfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("crayfis", "spark_jobs")


def build_zip(out: Path, root: Path = REPO_ROOT) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for package in PACKAGES:
            for path in sorted((root / package).rglob("*.py")):
                if "__pycache__" not in path.parts:
                    zf.write(path, path.relative_to(root).as_posix())
    return out


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0].startswith("-"):
        print("usage: python -m ops.pyfiles OUT.zip", file=sys.stderr)
        return 2
    out = build_zip(Path(args[0]))
    print(f"{out}: {', '.join(PACKAGES)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
