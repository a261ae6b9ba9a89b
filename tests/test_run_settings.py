"""The plugin through pytest: each setting of [tool.ragft], through what it does."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest
from conftest import COUNTING_PIPELINE, Project, case_yaml, files_under

# --------------------------------------------------------------------------------------------
# Settings, each through what it does


FLAKY_PIPELINE = """
import itertools

CALLS = itertools.count()

def answer(question, **vars):
    if question == "flaky" and next(CALLS) == 0:
        return "no"
    return question
"""


@pytest.mark.parametrize(
    ("settings", "args", "outcome", "ratio"),
    [
        pytest.param({"repeats": 3, "min_pass_ratio": 0.6}, [], "passed", 0.666667, id="0.6"),
        pytest.param({"repeats": 3, "min_pass_ratio": 1.0}, [], "failed", 0.666667, id="1.0"),
        pytest.param(
            {"min_pass_ratio": 0.6}, ["--ragft-repeats", "3"], "passed", 0.666667, id="cli-repeats"
        ),
        pytest.param({"repeats": 1, "min_pass_ratio": 0.6}, [], "failed", 0.0, id="one-repeat"),
    ],
)
def test_repeats_and_min_pass_ratio(
    project: Project, settings: dict[str, Any], args: list[str], outcome: str, ratio: float
) -> None:
    project.configure(**settings)
    project.pipeline(FLAKY_PIPELINE)
    project.cases("k", [case_yaml("f", "knowledge", "flaky", {"contains": "flaky"})])
    project.run(*args)
    case = project.report()["cases"][0]
    assert (case["outcome"], case["pass_ratio"]) == (outcome, ratio)


def test_per_case_repeats_override(project: Project) -> None:
    project.configure(repeats=1)
    project.pipeline(FLAKY_PIPELINE)
    project.cases(
        "k",
        [
            case_yaml(
                "f", "knowledge", "flaky", {"contains": "flaky"}, repeats=4, min_pass_ratio=0.75
            )
        ],
    )
    result = project.run()
    result.assert_outcomes(passed=1)
    case = project.report()["cases"][0]
    assert (len(case["repeats"]), case["pass_ratio"]) == (4, 0.75)


BARRIER_PIPELINE = """
import threading

MEET = threading.Barrier(2, timeout=1.0)

def answer(question, **vars):
    MEET.wait()  # two calls must be in flight together
    return question
"""


@pytest.mark.parametrize(
    ("concurrency", "outcome"),
    [pytest.param(1, "error", id="one-at-a-time"), pytest.param(2, "passed", id="two")],
)
def test_concurrency(project: Project, concurrency: int, outcome: str) -> None:
    project.configure(concurrency=concurrency)
    project.pipeline(BARRIER_PIPELINE)
    project.cases("k", [case_yaml("a", "knowledge", "ok"), case_yaml("b", "knowledge", "ok")])
    project.run()
    assert set(project.outcomes().values()) == {outcome}


@pytest.mark.parametrize(
    ("timeout_s", "outcome"),
    [pytest.param(0.05, "error", id="too-short"), pytest.param(10, "passed", id="enough")],
)
def test_timeout_s(project: Project, timeout_s: float, outcome: str) -> None:
    project.configure(timeout_s=timeout_s)
    project.pipeline("import time\n\ndef answer(q):\n    time.sleep(0.3)\n    return q\n")
    project.cases("k", [case_yaml("slow", "knowledge", "ok")])
    project.run()
    assert project.outcomes() == {"slow": outcome}


@pytest.mark.parametrize(
    ("behavior", "ret", "event"),
    [
        pytest.param(0.5, 0, None, id="at-threshold"),
        pytest.param(0.51, 1, "below_threshold", id="just-above"),
        pytest.param(0.0, 0, None, id="zero"),
    ],
)
def test_thresholds(project: Project, behavior: float, ret: int, event: str | None) -> None:
    project.standard(thresholds={"behavior": behavior})
    result = project.run()
    assert result.ret == ret
    events = [e["event"] for e in project.report()["gate"]["events"]]
    assert events == ([event] if event else [])
    if event:
        result.stdout.fnmatch_lines(["gate: FAIL (below_threshold: behavior 50.0% < 51%)"])


@pytest.mark.parametrize(
    ("gate", "args", "ret", "says"),
    [
        pytest.param({}, [], 0, 'no gate event set to "fail" fired', id="gate"),
        pytest.param({"case_failures": "strict"}, [], 1, 'case_failures = "strict"', id="strict"),
        pytest.param({}, ["--ragft-strict"], 1, 'case_failures = "strict"', id="flag"),
        pytest.param({"below_threshold": "warn"}, [], 0, "eval case(s) failed", id="warn"),
    ],
)
def test_case_failures(
    project: Project, gate: dict[str, Any], args: list[str], ret: int, says: str
) -> None:
    project.standard(thresholds={"behavior": 0.5}, gate=gate or None)
    result = project.run(*args)
    assert result.ret == ret
    assert says in result.stdout.str()
    assert says in project.report()["gate"]["reason"]


def test_report_dir(project: Project) -> None:
    project.standard(
        thresholds={"behavior": 0.0},
        report={"markdown": "ragft-report.md", "html": "ragft-report.html"},
    )
    project.run("--ragft-report-dir", "out/reports")
    written = files_under(project.path / "out" / "reports")
    assert written == {"ragft-report.md", "ragft-report.json", "ragft-report.html"}
    assert not (project.path / "ragft-report.json").exists()
    assert project.report("out/reports/ragft-report.json")["suite"] == "demo"


@pytest.mark.parametrize(
    ("history", "args", "stored"),
    [
        pytest.param(".ragft/h.sqlite", [], True, id="on"),
        pytest.param(".ragft/h.sqlite", ["--ragft-no-history"], False, id="no-history-flag"),
        pytest.param("", [], False, id="empty"),
    ],
)
def test_history_switch(project: Project, history: str, args: list[str], stored: bool) -> None:
    project.standard(history=history, thresholds={"behavior": 0.0})
    result = project.run(*args)
    assert result.ret == 0
    assert (project.path / ".ragft" / "h.sqlite").exists() is stored
    assert not (project.path / ".ragft").exists() or stored


@pytest.mark.parametrize(
    ("diagnose", "calls", "counterfactual", "diagnosis"),
    [
        pytest.param("counterfactual", 2, "passed", "knowledge", id="counterfactual"),
        pytest.param("static", 1, None, "knowledge", id="static"),
    ],
)
def test_diagnose_setting(
    project: Project, diagnose: str, calls: int, counterfactual: str | None, diagnosis: str
) -> None:
    project.configure(diagnose=diagnose)
    project.pipeline(COUNTING_PIPELINE)
    project.cases(
        "k",
        [
            case_yaml(
                "price",
                "knowledge",
                "tent price?",
                {"contains": "$35"},
                gold_contexts=["A tent costs $35."],
            )
        ],
    )
    project.run()
    log = (project.path / "calls.jsonl").read_text().splitlines()
    assert len(log) == calls
    case = project.report()["cases"][0]
    assert (case["static_diagnosis"], case["counterfactual"], case["diagnosis"]) == (
        "knowledge",
        counterfactual,
        diagnosis,
    )


@pytest.mark.parametrize(
    ("store_outputs", "kept"),
    [pytest.param(True, True, id="stored"), pytest.param(False, False, id="hashes-only")],
)
def test_store_outputs(project: Project, store_outputs: bool, kept: bool) -> None:
    secret = "zebra-quartz-umbrella answer"
    project.configure(history=".ragft/h.sqlite", store_outputs=store_outputs)
    project.pipeline()
    project.cases(
        "k",
        [
            case_yaml("leaky", "knowledge", secret, {"contains": "never"}),
            case_yaml("fine", "knowledge", "ok"),
        ],
    )
    project.run()
    dump = "\n".join(sqlite3.connect(project.path / ".ragft" / "h.sqlite").iterdump())
    assert ("zebra-quartz-umbrella" in dump) is kept
    assert "leaky" in dump  # the run itself is stored either way
