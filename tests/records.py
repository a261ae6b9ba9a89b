"""A small builder of case records and of the real run summary made from them, for tests of
what the renderers show against what the summary computed."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from pytest_ragft.config import load_settings
from pytest_ragft.model import CaseRecord, RepeatRecord
from pytest_ragft.runsummary import RunSummary
from pytest_ragft.summarize import HistoryContext, RunInputs, summarize


def case(
    case_id: str,
    kind: str = "knowledge",
    outcome: str = "passed",
    *,
    diagnosis: str | None = None,
    answer: str = "The refund window is 30 days.",
    contexts: tuple[str, ...] = (),
    message: str = "contains: expected '30 days' in the answer",
    tags: tuple[str, ...] = (),
    volatile: bool = False,
) -> CaseRecord:
    """One file case's record with one repeat."""
    failing = outcome in ("failed", "error")
    repeat = RepeatRecord(
        repeat=1,
        outcome=outcome,  # type: ignore[arg-type]
        messages=[message] if failing else [],
        answer=None if outcome == "error" else answer,
        contexts=list(contexts),
        latency_s=0.01,
        error="TimeoutError: the call took too long" if outcome == "error" else None,
    )
    return CaseRecord(
        id=case_id,
        nodeid=f"evals/{kind}.yaml::{case_id}",
        kind=kind,
        outcome=outcome,  # type: ignore[arg-type]
        pass_ratio=None if outcome == "skipped" else float(outcome == "passed"),
        tags=list(tags),
        volatile=volatile,
        source=f"evals/{kind}.yaml",
        input=f"Question of {case_id}?",
        repeats=[repeat],
        messages=[message] if failing else [],
        static_diagnosis=diagnosis if failing else None,
        diagnosis=diagnosis if failing else None,
    )


def settings(root: Path, table: dict[str, Any] | None = None) -> Any:
    return load_settings(root, {"suite": "support-bot", **(table or {})}, {}, {}, root / "p.toml")


def summary(
    root: Path,
    records: list[CaseRecord],
    *,
    table: dict[str, Any] | None = None,
    history: HistoryContext | None = None,
    **inputs: Any,
) -> RunSummary:
    """The run summary pytest-ragft makes of these records, with these settings."""
    return summarize(
        RunInputs(
            records,
            settings=settings(root, table),
            run_id="run-1",
            started_at="2026-03-01T12:00:00+00:00",
            plugin_version="0.0.0",
            config_hash="h",
            today=date(2026, 3, 1),
            history=history,
            **inputs,
        )
    )
