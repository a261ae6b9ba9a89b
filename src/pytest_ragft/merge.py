"""One run from the JSON reports of sharded CI jobs: cases are pooled and the summary,
statistics and gate are computed again over all of them, as for a run of one job."""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from pytest_ragft.config import Settings
from pytest_ragft.finish import assemble, now, partial_reason, suite_cases
from pytest_ragft.model import CaseRecord

if TYPE_CHECKING:
    from pytest_ragft.summarize import HistoryContext, RunInputs


def pooled_records(reports: Sequence[Mapping[str, Any]]) -> list[CaseRecord]:
    """Every shard's cases; a file case may appear in one shard only."""
    suites = {r["suite"] for r in reports}
    if len(suites) > 1:
        raise ValueError(f"the reports are of different suites: {', '.join(sorted(suites))}")
    seen: dict[str, int] = {}
    records: list[CaseRecord] = []
    for n, report in enumerate(reports):
        for case in report["cases"]:
            key = case.get("nodeid") or case["id"]
            if key in seen and not case.get("python"):
                raise ValueError(
                    f"case {key!r} is in report {seen[key] + 1} and report {n + 1}: "
                    "shards must not overlap"
                )
            seen[key] = n
            records.append(CaseRecord.from_dict(case))
    return records


def merge_inputs(
    reports: Sequence[Mapping[str, Any]],
    settings: Settings,
    history: HistoryContext | None = None,
    run_id: str | None = None,
) -> RunInputs:
    """The merged run's inputs, judged against ``history`` like a run of one job."""
    from pytest_ragft.checks import BUILTIN_CHECKS, check_names
    from pytest_ragft.history.gitmeta import changed_files

    if not reports:
        raise ValueError("no reports to merge")
    records = pooled_records(reports)
    first = min(reports, key=lambda r: r["started_at"])
    settings = replace(settings, suite=str(first["suite"]))  # the run is the shards' suite
    last = max(reports, key=lambda r: r.get("finished_at") or r["started_at"])
    cases = suite_cases(settings, check_names(BUILTIN_CHECKS))
    return assemble(
        settings,
        records,
        cases,
        run_id=run_id or uuid.uuid4().hex,
        started_at=first["started_at"],
        finished_at=last.get("finished_at") or now(),
        meta={"git": first.get("git", {}), "ci": first.get("ci", {})},
        history=history,
        changed_files=changed_files(settings.rootdir, os.environ, settings.baseline_branch),
        non_eval_failed=sum(int(r["gate"].get("non_eval_failed") or 0) for r in reports),
        partial=partial_reason(cases, records, stopped=False, ran="are in the shards"),
        shards=tuple(r["run_id"] for r in reports),
    )
