"""The run summary as a pure function: merging records, categories, the gate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_ragft.config import GateSettings, Settings, Thresholds
from pytest_ragft.model import CaseRecord
from pytest_ragft.records import merge_records
from pytest_ragft.summarize import RunInputs, summarize


def record(
    case_id: str,
    outcome: str,
    *,
    kind: str = "knowledge",
    python: bool = False,
    repeat: int = 1,
    nodeid: str | None = None,
) -> CaseRecord:
    return CaseRecord.from_dict(
        {
            "id": case_id,
            "nodeid": nodeid or case_id,
            "kind": kind,
            "outcome": outcome,
            "pass_ratio": float(outcome == "passed"),
            "tags": [],
            "volatile": False,
            "source": "evals/x.yaml",
            "input": "q",
            "facts": [],
            "repeats": [{"repeat": repeat, "outcome": outcome, "messages": []}],
            "messages": [] if outcome == "passed" else [f"{outcome} in r{repeat}"],
            "static_diagnosis": None if outcome == "passed" else "behavior",
            "counterfactual": None,
            "diagnosis": None if outcome == "passed" else "behavior",
            "python": python,
            "skip_reason": None,
            "min_pass_ratio": 0.6 if python else None,
        }
    )


PY_REPEATS = [
    record("t.py::test_a", outcome, python=True, repeat=n, nodeid=f"t.py::test_a[r{n}]")
    for n, outcome in enumerate(
        [
            "passed",
            "failed",
            "passed",
            "passed",
            "passed",
            "passed",
            "passed",
            "passed",
            "passed",
            "failed",
            "passed",
        ],
        start=1,
    )
]


@given(st.permutations(PY_REPEATS))
def test_repeats_of_a_python_case_merge_the_same_whatever_their_order(
    arrival: list[CaseRecord],
) -> None:
    assert merge_records(arrival) == merge_records(PY_REPEATS)


def test_repeats_of_a_python_case_become_one_case() -> None:
    (merged,) = merge_records(PY_REPEATS)
    assert merged.nodeid == "t.py::test_a"
    assert [r.repeat for r in merged.repeats] == list(range(1, 12))
    assert merged.pass_ratio == pytest.approx(9 / 11)
    assert merged.outcome == "passed"  # 9/11 >= 0.6


def test_merging_leaves_the_records_given_as_they_were() -> None:
    import copy

    single = record("k1", "passed")
    given_records = [*PY_REPEATS, single]
    before = copy.deepcopy(given_records)
    merged = merge_records(given_records)
    assert given_records == before  # the Python case's repeats were merged into a copy
    assert single in merged and any(m is single for m in merged)  # one of a kind: not copied
    assert len(merged) == 2


def settings(tmp_path: Path, **gate: Any) -> Settings:
    return Settings(
        rootdir=tmp_path,
        suite="s",
        history="",
        thresholds=Thresholds(knowledge=0.5, behavior=0.5),
        gate=GateSettings(**gate),
    )


def inputs(tmp_path: Path, records: list[CaseRecord], non_eval: int = 0, **gate: Any) -> RunInputs:
    from datetime import date

    return RunInputs(
        records,
        settings=settings(tmp_path, **gate),
        run_id="r",
        started_at="2026-01-01T00:00:00",
        today=date(2026, 1, 1),
        non_eval_failed=non_eval,
        plugin_version="0",
        config_hash="h",
    )


def report(
    tmp_path: Path, records: list[CaseRecord], non_eval: int = 0, **gate: Any
) -> dict[str, Any]:
    return summarize(inputs(tmp_path, records, non_eval, **gate)).to_json()


@pytest.mark.parametrize(
    ("outcomes", "non_eval", "gate", "verdict"),
    [
        pytest.param(["passed", "passed"], 0, {}, "pass", id="all-pass"),
        pytest.param(["passed", "failed"], 0, {}, "pass", id="at-threshold-case-failures-gate"),
        pytest.param(["passed", "failed"], 0, {"case_failures": "strict"}, "fail", id="strict"),
        pytest.param(["failed", "failed"], 0, {}, "fail", id="below-threshold"),
        pytest.param(["failed", "failed"], 0, {"below_threshold": "warn"}, "pass", id="warn"),
        pytest.param(["passed", "passed"], 1, {}, "fail", id="non-eval-failure"),
    ],
)
def test_gate_verdict(
    tmp_path: Path, outcomes: list[str], non_eval: int, gate: dict[str, Any], verdict: str
) -> None:
    records = [record(f"c{i}", o) for i, o in enumerate(outcomes)]
    assert report(tmp_path, records, non_eval, **gate)["gate"]["verdict"] == verdict


def test_category_counts_exclude_skipped_from_the_rate(tmp_path: Path) -> None:
    records = [record("a", "passed"), record("b", "error"), record("c", "skipped")]
    cat = report(tmp_path, records)["categories"]["knowledge"]
    assert (cat["passed"], cat["error"], cat["skipped"], cat["total"]) == (1, 1, 1, 2)
    assert cat["rate"] == 0.5
    assert cat["ci"][0] < 0.5 < cat["ci"][1]


def test_a_required_comment_that_failed_is_an_input_to_the_gate(tmp_path: Path) -> None:
    from dataclasses import replace

    given = inputs(tmp_path, [record("a", "passed"), record("b", "passed")])
    assert summarize(given).gate.verdict == "pass"
    failed = summarize(replace(given, comment_error="the PR comment could not be posted"))
    assert (failed.gate.verdict, failed.gate.reason) == (
        "fail",
        "the PR comment could not be posted",
    )


def test_the_summary_round_trips_through_its_json(tmp_path: Path) -> None:
    from pytest_ragft.runsummary import RunSummary

    records = [record("a", "passed"), record("b", "failed"), record("c", "error")]
    made = summarize(inputs(tmp_path, records))
    assert RunSummary.from_json(made.to_json()) == made
