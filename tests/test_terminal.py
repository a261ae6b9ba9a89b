"""The ``ragft`` section of the terminal summary (SPEC 7) and the report fixture itself."""

from __future__ import annotations

from typing import Any

import pytest
from reportdata import build_report

from pytest_ragft.collect import describe_failure
from pytest_ragft.model import CaseRecord, ContextEvidence, Evidence, RepeatRecord
from pytest_ragft.report.jsonfile import schema_problem
from pytest_ragft.report.terminal import terminal_lines
from pytest_ragft.runsummary import RunSummary


def _cat(
    passed: int, total: int, rate: float, ci: list[float], threshold: float, **kw: Any
) -> dict[str, Any]:
    return {
        "passed": passed,
        "failed": total - passed,
        "error": 0,
        "total": total,
        "rate": rate,
        "ci": ci,
        "threshold": threshold,
        **kw,
    }


def lines_of(report: dict[str, Any]) -> list[str]:
    """The terminal lines of a report, read as the typed summary the renderer takes."""
    return terminal_lines(RunSummary.from_json(report))


def spec_report() -> dict[str, Any]:
    """The run of SPEC section 7's example."""
    report = build_report(4)
    report["categories"] = {
        "knowledge": _cat(46, 50, 0.92, [0.812, 0.968], 0.9, baseline=0.94, change=-0.02),
        "behavior": _cat(
            31, 40, 0.775, [0.625, 0.877], 0.85, baseline=0.78, change=-0.005, below_threshold=True
        ),
    }
    report["diagnosis"] = {"knowledge": 3, "hybrid": 3, "behavior": 5, "error": 2}
    report["counterfactual"] = {"run": 5, "confirmed": 4, "overturned": 1}
    report["disagreements"] = {}
    report["flaky"] = []
    report["gate"] = {
        "verdict": "fail",
        "reason": "below_threshold: behavior 77.5% < 85%",
        "events": [
            {"event": "below_threshold", "action": "fail", "detail": "behavior 77.5% < 85%"}
        ],
    }
    return report


def test_spec_example_exactly() -> None:
    assert lines_of(spec_report()) == [
        "category   pass    rate   95% CI        threshold  baseline  change",
        "knowledge  46/50   92.0%  [81.2, 96.8]  90%        94.0%     -2.0",
        "behavior   31/40   77.5%  [62.5, 87.7]  85%  FAIL  78.0%     -0.5",
        "failures diagnosed: behavior 5 · hybrid 3 · knowledge 3 · error 2",
        "counterfactual: 4 confirmed · 1 overturned",
        "checklist: 1 yes  2 yes  3 NO (183/200 examples)  4 yes  5 yes (payback 7 months)",
        "recommendation: behavior-bound, stable -> fine-tune (LoRA/QLoRA): not yet, question 3",
        "gate: FAIL (below_threshold: behavior 77.5% < 85%)",
    ]


def test_gate_reason_from_events_when_absent() -> None:
    report = spec_report()
    del report["gate"]["reason"]
    assert lines_of(report)[-1] == "gate: FAIL (below_threshold: behavior 77.5% < 85%)"


def test_null_baseline_and_change_show_a_dash() -> None:
    report = spec_report()
    report["categories"]["knowledge"].update(baseline=None, change=None)
    assert lines_of(report)[1] == "knowledge  46/50   92.0%  [81.2, 96.8]  90%        -         -"


def test_wide_values_widen_their_column() -> None:
    report = spec_report()
    report["categories"]["knowledge"].update(passed=1234, total=12345)
    lines = lines_of(report)
    assert lines[0] == "category   pass        rate   95% CI        threshold  baseline  change"
    assert lines[1].startswith("knowledge  1234/12345  92.0%  [81.2, 96.8]")
    assert lines[2].startswith("behavior   31/40       77.5%")


@pytest.mark.parametrize(
    ("change", "regression", "shown"),
    [
        pytest.param(0.031, None, "+3.1", id="gain"),
        pytest.param(-0.0001, None, "+0.0", id="no-negative-zero"),
        pytest.param(-0.08, {"fires": True}, "-8.0  REGRESSION", id="regression"),
    ],
)
def test_change_column(change: float, regression: Any, shown: str) -> None:
    report = spec_report()
    report["categories"]["knowledge"].update(change=change, regression=regression)
    assert lines_of(report)[1].endswith("  " + shown)


def test_extra_lines_for_notes_warnings_flaky_and_disagreements() -> None:
    report = spec_report()
    report["categories"]["behavior"]["power_note"] = "behavior: 40 cases are too few (400 needed)"
    report["disagreements"] = {"knowledge": {"behavior": 4}, "behavior": {"knowledge": 1}}
    report["flaky"] = [
        {"id": "a", "rule": "repeats", "detail": "repeats disagree in this run: 1 of 3 passed"},
        {"id": "b", "rule": "alternating", "detail": "2 flips over the last 3 runs"},
    ]
    report["gate"]["events"] += [
        {"event": "regression", "action": "warn", "detail": "knowledge -6.0 points"},
        {"event": "finetune_ready", "action": "comment", "detail": "all five answers are yes"},
    ]
    lines = lines_of(report)
    assert lines[3] == "note: behavior: 40 cases are too few (400 needed)"
    assert "disagreement: 4 knowledge cases failed for behavior reasons" in lines
    assert "disagreement: 1 behavior case failed for knowledge reasons" in lines
    assert (
        "flaky: a (repeats disagree in this run: 1 of 3 passed), b (2 flips over the last 3 runs)"
        in lines
    )
    assert lines[-3:] == [
        "notice: finetune_ready: all five answers are yes",
        "warning: regression: knowledge -6.0 points",
        "gate: FAIL (below_threshold: behavior 77.5% < 85%)",
    ]


@pytest.mark.parametrize(
    ("item", "shown"),
    [
        pytest.param({"answer": "yes", "evidence": "long text"}, "3 yes", id="yes-quiet"),
        pytest.param(
            {"answer": "no", "evidence": "only 12 examples"}, "3 NO (only 12 examples)", id="no"
        ),
        pytest.param(
            {"answer": "unknown", "evidence": "no cost table"},
            "3 unknown (no cost table)",
            id="unknown",
        ),
        pytest.param(
            {"answer": "no", "evidence": "x" * 80},
            "3 NO (" + "x" * 47 + "…)",
            id="long-evidence-cut",
        ),
        pytest.param(
            {"answer": "no", "evidence": "long", "note": "12/200"}, "3 NO (12/200)", id="note"
        ),
    ],
)
def test_checklist_parenthetical(item: dict[str, Any], shown: str) -> None:
    report = spec_report()
    report["checklist"][2] = {"question": 3, "key": "training_data", **item}
    line = next(x for x in lines_of(report) if x.startswith("checklist:"))
    assert line.split("  ")[2] == shown


@pytest.mark.parametrize(
    ("rec", "shown"),
    [
        pytest.param(
            {"cell": None, "counts": {}, "not_yet": []},
            "nothing failed: no change recommended",
            id="nothing",
        ),
        pytest.param(
            {"cell": "rag", "counts": {"rag": 3}, "not_yet": []},
            "knowledge-bound, volatile -> RAG",
            id="rag",
        ),
        pytest.param(
            {"cell": "fine-tune", "counts": {}, "not_yet": [3, 5]},
            "behavior-bound, stable -> fine-tune (LoRA/QLoRA)",
            id="no-summary-label-only",
        ),
        pytest.param(
            {"cell": "prompt", "counts": {}, "not_yet": [], "summary": "own words"},
            "own words",
            id="summary-wins",
        ),
    ],
)
def test_recommendation_line(rec: dict[str, Any], shown: str) -> None:
    report = spec_report()
    report["recommendation"] = rec
    line = next(x for x in lines_of(report) if x.startswith("recommendation:"))
    assert line == f"recommendation: {shown}"


def test_pass_without_events_and_control_characters() -> None:
    report = spec_report()
    report["gate"] = {"verdict": "pass", "events": [], "reason": "all \x1b[2Jgood"}
    report["diagnosis"] = dict.fromkeys(report["diagnosis"], 0)
    lines = lines_of(report)
    assert lines[-1] == "gate: PASS (all [2Jgood)"
    assert not any(x.startswith("failures diagnosed") for x in lines)


def test_no_cases() -> None:
    report = spec_report()
    report["categories"] = {}
    assert lines_of(report)[0] == "no eval cases ran"


@pytest.mark.parametrize(
    ("kwargs"),
    [
        pytest.param({}, id="default"),
        pytest.param({"cases": 0, "failed": 0, "errors": 0}, id="empty"),
        pytest.param({"cases": 300, "failed": 120, "errors": 30, "baseline": False}, id="large"),
    ],
)
def test_fixture_reports_match_the_schema(kwargs: dict[str, Any]) -> None:
    assert schema_problem(build_report(**kwargs)) is None
    assert schema_problem(spec_report()) is None


# --- a failure as pytest shows it ---------------------------------------------------------------


def _failed_record(evidence: Evidence | None) -> CaseRecord:
    message = "contains: expected '$75' in the answer; got 'Canada over $150 ship free.'"
    return CaseRecord(
        id="free-shipping",
        nodeid="evals/k.yaml::free-shipping",
        kind="knowledge",
        outcome="failed",
        pass_ratio=0.0,
        repeats=[RepeatRecord(repeat=1, outcome="failed", messages=[message])],
        messages=[message],
        static_diagnosis="hybrid",
        counterfactual="failed",
        diagnosis="hybrid",
        evidence=evidence,
    )


def test_a_failure_shows_its_evidence_in_short() -> None:
    long = "Standard shipping costs $5.95 per order and is free on orders of $75 or more. " * 3
    evidence = Evidence(
        facts=["$75"],
        answer=[False],
        contexts=[
            ContextEvidence(1, "intl#2", "Canada over $150 ship free.", 0, 27, [False]),
            ContextEvidence(2, "shipping#2", long, 0, 500, [True], hit=[65, 68]),
            ContextEvidence(3, "evil\x1b[2Jid", "Returns are free.", 0, 17, [False]),
        ],
        contexts_total=4,
        gold="failed",
    )
    assert describe_failure(_failed_record(evidence)).splitlines()[2:] == [
        "  answer: lacks '$75'",
        "  context 2 (shipping#2) holds '$75': …and is free on orders of $75 or more. Standard"
        " shipping costs $5.95 per order and is free on orders of $75…",
        "  contexts 1 (intl#2), 3 (evil[2Jid) hold no fact",
        "  ...and 1 more context not shown",
        "  gold passages: failed: the answer fails even with the gold passages in hand",
        "  diagnosis: hybrid (static hybrid, counterfactual failed)",
    ]


def test_a_failure_without_contexts_or_evidence() -> None:
    bare = Evidence(facts=["$75"], answer=[False], contexts_total=0, gold="unsupported")
    assert describe_failure(_failed_record(bare)).splitlines()[2:] == [
        "  answer: lacks '$75'",
        "  contexts: none came back",
        "  gold passages: not re-run: the pipeline takes no contexts keyword",
        "  diagnosis: hybrid (static hybrid, counterfactual failed)",
    ]
    assert describe_failure(_failed_record(None)).splitlines()[2:] == [
        "  diagnosis: hybrid (static hybrid, counterfactual failed)"
    ]


def test_a_failure_message_reaches_the_terminal_without_control_characters() -> None:
    record = _failed_record(None)
    record.repeats[0].messages = ["check: got '\x1b]0;pwned\x07x'"]
    text = describe_failure(record)
    assert "\x1b" not in text and "\x07" not in text
