"""One run from the JSON reports of sharded CI jobs: cases are pooled and the summary,
statistics and gate are computed again over all of them."""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from pytest_ragft.config import Settings, config_hash

if TYPE_CHECKING:
    from pytest_ragft.summary import HistoryContext


def merge_reports(
    reports: Sequence[Mapping[str, Any]],
    settings: Settings,
    history: HistoryContext | None = None,
    run_id: str | None = None,
) -> dict[str, Any]:
    """Pool the shards' cases (a case id may appear in one shard only) into one report, judged
    against ``history`` like a run of one job."""
    from pytest_ragft import __version__, suite, training
    from pytest_ragft.checks import BUILTIN_CHECKS
    from pytest_ragft.history.gitmeta import changed_files
    from pytest_ragft.summary import build_report

    if not reports:
        raise ValueError("no reports to merge")
    suites = {r["suite"] for r in reports}
    if len(suites) > 1:
        raise ValueError(f"the reports are of different suites: {', '.join(sorted(suites))}")
    seen: dict[str, int] = {}
    records: list[dict[str, Any]] = []
    for n, report in enumerate(reports):
        for case in report["cases"]:
            key = case.get("nodeid") or case["id"]
            if key in seen and not case.get("python"):
                raise ValueError(
                    f"case {key!r} is in report {seen[key] + 1} and report {n + 1}: "
                    "shards must not overlap"
                )
            seen[key] = n
            records.append(dict(case))
    first = min(reports, key=lambda r: r["started_at"])
    last = max(reports, key=lambda r: r.get("finished_at") or r["started_at"])
    non_eval = sum(int(r["gate"].get("non_eval_failed") or 0) for r in reports)
    cases = suite.file_cases(settings, {*BUILTIN_CHECKS, "deepeval"})
    inputs = training.eval_inputs(cases, records)
    audit = training.audit(settings.checklist.training_data, settings.rootdir, inputs)
    missing = suite.missing_cases(cases, {r["nodeid"] for r in records})
    partial = None
    if missing:
        partial = f"{len(cases) - len(missing)} of {len(cases)} file cases are in the shards"
    merged = build_report(
        records,
        settings=settings,
        run_id=run_id or uuid.uuid4().hex,
        started_at=first["started_at"],
        finished_at=last.get("finished_at") or datetime.now(UTC).isoformat(timespec="seconds"),
        meta={"git": first.get("git", {}), "ci": first.get("ci", {})},
        history=history,
        audit=audit,
        changed_files=changed_files(settings.rootdir, os.environ, settings.baseline_branch),
        today=date.today(),
        non_eval_failed=non_eval,
        plugin_version=__version__,
        config_hash=config_hash(settings),
        partial=partial,
    )
    merged["suite"] = first["suite"]
    merged["shards"] = [r["run_id"] for r in reports]
    return merged
