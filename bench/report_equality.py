"""Run the example suite three times in a fresh git repository and save each JSON report, or
compare two such sets field by field, leaving out what differs between any two runs (timings,
ids, dates, shas).

    python bench/report_equality.py run OUT_DIR
    python bench/report_equality.py compare BEFORE_DIR AFTER_DIR

Used to show that a change of structure changed no result: run it before and after, then
compare. Exit status 1 when the reports differ.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "support_bot"
RUNS = 3
# Keys whose values differ between any two runs of the same code.
VOLATILE_KEYS = {"run_id", "started_at", "finished_at", "duration_s", "latency_s", "sha", "shards"}
# ... and the latency percentiles of the usage section and the run id a change compares with.
VOLATILE_KEYS |= {"latency_p50_s", "latency_p95_s", "against"}


def run(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "support_bot"
        shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns(".ragft", "reports"))
        env = {**os.environ, "GIT_AUTHOR_NAME": "x", "GIT_AUTHOR_EMAIL": "x@example.com"}
        env |= {"GIT_COMMITTER_NAME": "x", "GIT_COMMITTER_EMAIL": "x@example.com"}
        for name in [k for k in env if k.startswith(("GITHUB_", "RAGFT_", "CI"))]:
            del env[name]
        git = ["git", "-C", str(project)]
        subprocess.run([*git, "init", "-q", "-b", "main"], check=True, env=env)
        subprocess.run([*git, "add", "-A"], check=True, env=env)
        subprocess.run([*git, "commit", "-qm", "example"], check=True, env=env)
        for n in range(1, RUNS + 1):
            subprocess.run(
                [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                cwd=project,
                env=env,
                capture_output=True,
                check=False,
            )
            shutil.copy(project / "reports" / "ragft-report.json", out / f"run{n}.json")


def normalise(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: normalise(v) for k, v in sorted(value.items()) if k not in VOLATILE_KEYS}
    if isinstance(value, list):
        return [normalise(v) for v in value]
    return value


def differences(a: Any, b: Any, where: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        found = []
        for key in sorted(set(a) | set(b)):
            if key not in a or key not in b:
                found.append(f"{where}/{key}: only in {'after' if key in b else 'before'}")
            else:
                found += differences(a[key], b[key], f"{where}/{key}")
        return found
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [
            d
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for d in differences(x, y, f"{where}[{i}]")
        ]
    return [] if a == b else [f"{where}: {a!r} != {b!r}"]


def compare(before: Path, after: Path) -> int:
    bad = 0
    for n in range(1, RUNS + 1):
        a = normalise(json.loads((before / f"run{n}.json").read_text()))
        b = normalise(json.loads((after / f"run{n}.json").read_text()))
        found = differences(a, b)
        print(f"run {n}: {'equal' if not found else f'{len(found)} difference(s)'}")
        for line in found[:40]:
            print("  " + line)
        bad += bool(found)
    return 1 if bad else 0


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "run":
        run(Path(argv[1]))
        return 0
    if len(argv) == 3 and argv[0] == "compare":
        return compare(Path(argv[1]), Path(argv[2]))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
