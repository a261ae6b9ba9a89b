"""The outputs of the GitHub Action (``action.yml``): verdict, report path and rates, read from
the JSON report the run wrote. ``python -m pytest_ragft.actions --report-dir DIR``.

Written to ``$GITHUB_OUTPUT``; when no report was written (a usage error, a crash) the job
summary says so, since the plugin could not.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

REPORT_NAME = "ragft-report.json"


def find_report(report_dir: Path) -> Path | None:
    """The JSON report in ``report_dir``: ``ragft-report.json``, else the only ``*.json``."""
    preferred = report_dir / REPORT_NAME
    if preferred.is_file():
        return preferred
    found = sorted(report_dir.glob("*.json")) if report_dir.is_dir() else []
    return found[0] if len(found) == 1 else None


def outputs(report_dir: Path, prefix: str, exit_code: int) -> tuple[dict[str, str], str | None]:
    """The action's outputs, and a line for the job summary when there is no report."""
    from pytest_ragft.report.jsonfile import ReportError, load_report

    path = find_report(report_dir)
    problem = f"no JSON report in {report_dir}"
    report: Mapping[str, Any] = {}
    if path is not None:
        try:
            report = load_report(path)
        except (ReportError, OSError) as exc:
            problem = str(exc)
    if not report:
        summary = (
            f"**ragft: no verdict** (pytest exited {exit_code}; {problem}): see the job log "
            "for the reason, e.g. a configuration error."
        )
        return {"verdict": "error", "report-path": "", "rates": "{}"}, summary
    assert path is not None
    categories = report.get("categories") or {}
    rates = {name: cat.get("rate") for name, cat in sorted(categories.items())}
    where = os.path.normpath(os.path.join(prefix, os.path.relpath(path)))
    verdict = str((report.get("gate") or {}).get("verdict") or "error")
    return {"verdict": verdict, "report-path": where, "rates": json.dumps(rates)}, None


def write_outputs(values: Mapping[str, str], target: Path) -> None:
    """Append ``name=value`` lines (values are single-line) to an Actions output file."""
    with target.open("a", encoding="utf-8") as handle:
        for name, value in values.items():
            if "\n" in value:
                raise ValueError(f"output {name} spans lines")
            handle.write(f"{name}={value}\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pytest_ragft.actions")
    parser.add_argument("--report-dir", type=Path, required=True, help="where the reports are")
    parser.add_argument("--prefix", default=".", help="the working directory, for report-path")
    parser.add_argument("--exit-code", type=int, default=0, help="pytest's exit status")
    args = parser.parse_args(argv)
    values, summary = outputs(args.report_dir, args.prefix, args.exit_code)
    target = os.environ.get("GITHUB_OUTPUT")
    if target:
        write_outputs(values, Path(target))
    else:
        print("\n".join(f"{k}={v}" for k, v in values.items()))
    summary_file = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary is not None:
        print(summary, file=sys.stderr)
        if summary_file:
            with Path(summary_file).open("a", encoding="utf-8") as handle:
                handle.write(summary + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
