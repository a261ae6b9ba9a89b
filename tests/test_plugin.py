"""The plugin through pytest: activation, collection, the pipeline, settings, exit status,
hooks, diagnosis, history, xdist and the PR comment, each in a small project in a temp dir."""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from conftest import Project, case_yaml

USAGE = pytest.ExitCode.USAGE_ERROR


def files_under(root: Path) -> set[str]:
    """The project's files, without pytester's own (captured output, base temp dirs)."""
    return {
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file()
        and "__pycache__" not in p.parts
        and not p.relative_to(root).parts[0].startswith(("runpytest-", "stdout", "stderr"))
    }


# --------------------------------------------------------------------------------------------
# Activation


INERT_CONFTEST = """
import sys

WATCHED = ("pytest_ragft.cases", "pytest_ragft.session", "yaml", "sqlalchemy", "httpx")

def pytest_unconfigure(config):
    loaded = [name for name in WATCHED if name in sys.modules]
    print("heavy modules loaded:", loaded or "none")
"""


def test_inert_without_a_ragft_table(pytester: pytest.Pytester) -> None:
    pytester.makefile(".toml", pyproject='[project]\nname = "plain"\n')
    pytester.makeconftest(INERT_CONFTEST)
    pytester.makepyfile(test_plain='def test_ok():\n    assert "ok".upper() == "OK"\n')
    (pytester.path / "evals").mkdir()
    (pytester.path / "evals" / "x.yaml").write_text("- {id: a, kind: knowledge}\n")
    before = files_under(pytester.path)

    def run(*args: str) -> list[str]:
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *args, timeout=60)
        assert result.ret == 0
        return [
            re.sub(r"in \d+\.\d+s", "in Ns", line)
            for line in result.outlines
            if not line.startswith(("plugins:", "rootdir:", "running:", "     in:"))
        ]

    with_plugin = run()
    assert with_plugin == run("-p", "no:ragft")
    assert "heavy modules loaded: none" in with_plugin
    assert not any("ragft" in line for line in with_plugin)
    assert files_under(pytester.path) == before


@pytest.mark.parametrize(
    ("table", "args", "active"),
    [
        pytest.param(True, [], True, id="table"),
        pytest.param(False, ["--ragft", "--ragft-pipeline", "bot:answer"], True, id="flag"),
        pytest.param(False, [], False, id="neither"),
        pytest.param(True, ["-p", "no:ragft"], False, id="disabled"),
    ],
)
def test_activation(project: Project, table: bool, args: list[str], active: bool) -> None:
    project.pipeline()
    project.cases("k", [case_yaml("a", "knowledge", "ok")])
    if table:
        project.configure()
    else:
        project.pytester.makefile(".toml", pyproject='[project]\nname = "demo"\n')
    result = project.run("-p", "no:cacheprovider", *args)
    text = result.stdout.str()
    assert ("= ragft =" in text) is active
    assert ("evals/k.yaml" in text or "1 passed" in text) is active
    assert (project.path / "ragft-report.json").exists() is active


# --------------------------------------------------------------------------------------------
# Collection and selection


PY_CASES = """
import pytest

@pytest.mark.ragft(kind="behavior", facts=["30 days"], tags=["py"])
def test_refund_is_polite(ragft):
    result = ragft.ask("30 days, please", format="text")
    assert "please" in result.answer

@pytest.mark.ragft(kind="knowledge", repeats=3)
def test_repeated(ragft, ragft_repeat):
    assert ragft.ask("30 days").answer == "30 days"

def test_plain():
    pass
"""


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(
            [],
            [
                "evals/behavior.yaml::short",
                "evals/behavior.yaml::polite",
                "evals/knowledge.yaml::refund-window",
                "evals/knowledge.yaml::store-hours",
                "test_py.py::test_refund_is_polite",
                "test_py.py::test_repeated[r1]",
                "test_py.py::test_repeated[r2]",
                "test_py.py::test_repeated[r3]",
                "test_py.py::test_plain",
            ],
            id="all",
        ),
        pytest.param(
            ["-m", "behavior"],
            [
                "evals/behavior.yaml::short",
                "evals/behavior.yaml::polite",
                "test_py.py::test_refund_is_polite",
            ],
            id="m-behavior",
        ),
        pytest.param(
            ["-m", "knowledge"],
            [
                "evals/knowledge.yaml::refund-window",
                "evals/knowledge.yaml::store-hours",
                "test_py.py::test_repeated[r1]",
                "test_py.py::test_repeated[r2]",
                "test_py.py::test_repeated[r3]",
            ],
            id="m-knowledge",
        ),
        pytest.param(
            ["-k", "refund"],
            ["evals/knowledge.yaml::refund-window", "test_py.py::test_refund_is_polite"],
            id="k",
        ),
        pytest.param(
            ["-m", "ragft and not knowledge"],
            [
                "evals/behavior.yaml::short",
                "evals/behavior.yaml::polite",
                "test_py.py::test_refund_is_polite",
            ],
            id="m-ragft",
        ),
    ],
)
def test_item_ids_and_selection(project: Project, args: list[str], expected: list[str]) -> None:
    project.standard()
    project.pytester.makepyfile(test_py=PY_CASES)
    result = project.run("--collect-only", "-q", *args)
    ids = [line for line in result.outlines if "::" in line]
    assert sorted(ids) == sorted(expected)


def test_python_cases_count_in_their_category(project: Project, plugin_args: list[str]) -> None:
    project.standard(thresholds={"behavior": 0.0})
    project.pytester.makepyfile(test_py=PY_CASES)
    result = project.run_with(plugin_args)
    result.assert_outcomes(passed=8, failed=1)
    assert result.ret == 0
    report = project.report()
    by_id = {c["id"]: c for c in report["cases"]}
    assert by_id["test_py.py::test_refund_is_polite"]["kind"] == "behavior"
    assert by_id["test_py.py::test_refund_is_polite"]["tags"] == ["py"]
    repeated = by_id["test_py.py::test_repeated"]
    assert (repeated["kind"], repeated["outcome"], repeated["pass_ratio"]) == (
        "knowledge",
        "passed",
        1.0,
    )
    assert len(repeated["repeats"]) == 3
    assert report["categories"]["knowledge"]["total"] == 3
    assert report["categories"]["behavior"]["total"] == 3
    assert "test_py.py::test_plain" not in by_id


def test_python_case_failure_is_diagnosed(project: Project) -> None:
    project.configure()
    project.pipeline()
    project.pytester.makepyfile(
        test_py="""
        import pytest

        @pytest.mark.ragft(kind="behavior", facts=["30 days"])
        def test_has_fact_but_wrong_style(ragft):
            result = ragft.ask("30 days")
            assert result.answer.endswith("!"), "not enthusiastic"

        @pytest.mark.ragft(kind="knowledge", facts=["$35"])
        def test_missing_fact(ragft):
            assert "$35" in ragft.ask("no idea").answer
        """
    )
    project.run().assert_outcomes(failed=2)
    cases = {c["id"]: c for c in project.report()["cases"]}
    assert cases["test_py.py::test_has_fact_but_wrong_style"]["diagnosis"] == "behavior"
    assert "not enthusiastic" in cases["test_py.py::test_has_fact_but_wrong_style"]["messages"][0]
    assert cases["test_py.py::test_missing_fact"]["diagnosis"] == "knowledge"


@pytest.mark.parametrize(
    ("args", "calls"),
    [
        pytest.param(["--collect-only"], 0, id="collect-only"),
        pytest.param(["--collect-only", "-n", "2"], 0, id="collect-only-xdist"),
        pytest.param(["evals/k.yaml", "evals/broken.yaml"], 0, id="collection-error"),
        pytest.param([], 1, id="run"),
    ],
)
def test_the_pipeline_is_called_only_when_cases_run(
    project: Project, args: list[str], calls: int
) -> None:
    project.configure(diagnose="static")
    project.pipeline(COUNTING_PIPELINE)
    project.cases("k", [case_yaml("a", "knowledge", "q", {"contains": "no idea"})])
    if "evals/broken.yaml" in args:
        project.cases("broken", "- id: b\n  input: x\n")
    project.run(*args)
    log = project.path / "calls.jsonl"
    assert (len(log.read_text().splitlines()) if log.exists() else 0) == calls


# --------------------------------------------------------------------------------------------
# Case-file errors


@pytest.mark.parametrize(
    ("text", "where", "words"),
    [
        pytest.param(
            "- id: a\n  kind: knowledge\n  input: [unclosed\n", ":4", ["invalid YAML"], id="yaml"
        ),
        pytest.param(
            "- id: a\n  kind: knowledge\n  input: x\n  expect: {contains: x}\n"
            "- id: b\n  input: x\n  expect: {contains: x}\n",
            ":5",
            ["kind"],
            id="missing-kind",
        ),
        pytest.param(
            "- id: a\n  kind: knowledge\n  input: x\n  expect:\n    contanes: x\n",
            ":5",
            ["contanes"],
            id="unknown-check",
        ),
        pytest.param(
            "- id: 'bad id!'\n  kind: knowledge\n  input: x\n  expect: {contains: x}\n",
            ":1",
            ["id"],
            id="bad-id",
        ),
        pytest.param(
            "- id: a\n  kind: wisdom\n  input: x\n  expect: {contains: x}\n",
            ":2",
            ["kind"],
            id="bad-kind",
        ),
    ],
)
def test_case_file_errors_are_collection_errors(
    project: Project, text: str, where: str, words: list[str]
) -> None:
    project.configure()
    project.pipeline()
    project.cases("good", [case_yaml("fine", "knowledge", "ok")])
    project.cases("bad", text)
    result = project.run()
    result.assert_outcomes(errors=1)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    out = result.stdout.str()
    assert f"evals/bad.yaml{where}" in out
    for word in words:
        assert word in out
    assert "Traceback" not in out and "site-packages" not in out

    goes_on = project.run("--continue-on-collection-errors")
    goes_on.assert_outcomes(passed=1, errors=1)
    assert goes_on.ret == pytest.ExitCode.TESTS_FAILED
    assert project.outcomes() == {"fine": "passed"}


def test_duplicate_ids_across_files(project: Project) -> None:
    project.configure()
    project.pipeline()
    project.cases("a", [case_yaml("same", "knowledge", "ok"), case_yaml("x", "knowledge", "ok")])
    project.cases(
        "b",
        "- id: other\n  kind: behavior\n  input: ok\n  expect: {contains: ok}\n"
        "- id: same\n  kind: behavior\n  input: ok\n  expect: {contains: ok}\n",
    )
    result = project.run()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*evals/b.yaml:5: duplicate case id 'same'*evals/a.yaml:1*"])


# --------------------------------------------------------------------------------------------
# The pipeline


FAULTY_PIPELINE = """
import asyncio

async def _unused():
    pass

def answer(question, **vars):
    if question == "raise":
        raise ValueError("the index is gone")
    if question == "int":
        return 42
    if question == "no-answer":
        return {"text": "hi"}
    if question == "object":
        class Reply:
            answer = "ok from object"
            contexts = ["ctx"]
        return Reply()
    return {"answer": question, "contexts": [], "sources": [], "metadata": {"tokens": 3}}

async def answer_async(question, **vars):
    await asyncio.sleep(0)
    if question == "raise":
        raise KeyError("async boom")
    return question
"""


@pytest.mark.parametrize(
    ("pipeline", "input", "outcome", "message"),
    [
        pytest.param(
            "bot:answer",
            "raise",
            "error",
            r"ValueError: the index is gone \(at .*bot\.py:8 in answer\)",
            id="raises",
        ),
        pytest.param("bot:answer", "int", "error", r"returned int", id="wrong-type"),
        pytest.param(
            "bot:answer",
            "no-answer",
            "error",
            r"without an 'answer' key",
            id="mapping-without-answer",
        ),
        pytest.param("bot:answer", "object ok", "passed", None, id="mapping"),
        pytest.param("bot:answer", "object", "passed", None, id="object"),
        pytest.param("bot:answer_async", "ok async", "passed", None, id="async"),
        pytest.param(
            "bot:answer_async", "raise", "error", r"KeyError: 'async boom'", id="async-raises"
        ),
    ],
)
def test_pipeline_outcomes(
    project: Project, pipeline: str, input: str, outcome: str, message: str | None
) -> None:
    project.configure(pipeline=pipeline)
    project.pipeline(FAULTY_PIPELINE)
    project.cases(
        "k",
        [
            case_yaml("c", "knowledge", input, {"contains": "ok"}),
            case_yaml("other", "knowledge", "ok"),
        ],
    )
    result = project.run()
    assert project.outcomes() == {"c": outcome, "other": "passed"}
    case = project.report()["cases"][0]
    if message is not None:
        assert re.search(message, case["messages"][0]), case["messages"]
        assert case["diagnosis"] == "error"
        result.stdout.fnmatch_lines(["*error: the pipeline*"])


HANGING_PIPELINE = """
import time

def answer(question, **vars):
    if question == "hang":
        time.sleep(30)
    return question
"""


def test_a_hanging_call_times_out_and_does_not_hold_the_process(
    project: Project, plugin_args: list[str]
) -> None:
    project.configure(timeout_s=0.5, concurrency=1)
    project.pipeline(HANGING_PIPELINE)
    project.cases(
        "k",
        [
            case_yaml("stuck", "knowledge", "hang", {"contains": "hang"}),
            *(case_yaml(f"fine-{n}", "knowledge", "ok") for n in range(4)),
        ],
    )
    # A hang (in the call or at interpreter exit) trips the 20 s limit and fails the test.
    result = project.run_subprocess(*plugin_args, timeout=20)
    result.assert_outcomes(passed=4, failed=1)
    outcomes = project.outcomes()
    assert outcomes.pop("stuck") == "error"
    assert set(outcomes.values()) == {"passed"}
    assert "timeout_s = 0.5" in project.report()["cases"][-1]["messages"][0]


@pytest.mark.parametrize(
    ("pipeline", "source", "words"),
    [
        pytest.param(
            "nosuchmodule:answer", "", ["nosuchmodule", "cannot be imported"], id="no-module"
        ),
        pytest.param(
            "bot:missing",
            "def answer(q):\n    return q\n",
            ["no attribute 'missing'"],
            id="no-attribute",
        ),
        pytest.param("bot:VALUE", "VALUE = 3\n", ["int, not a callable"], id="not-callable"),
        pytest.param(
            "bot:answer",
            "import nothing_here_either\n",
            ["nothing_here_either"],
            id="import-fails-inside",
        ),
        pytest.param("bot-answer", "", ["module:callable"], id="no-colon"),
    ],
)
def test_unusable_pipeline_is_a_usage_error(
    project: Project, plugin_args: list[str], pipeline: str, source: str, words: list[str]
) -> None:
    project.configure(pipeline=pipeline)
    if source:
        project.pipeline(source)
    project.cases("k", [case_yaml(f"c{n}", "knowledge", "ok") for n in range(3)])
    result = project.run_with(plugin_args)
    assert result.ret == USAGE
    text = result.stdout.str() + result.stderr.str()
    for word in words:
        assert word in text
    assert "Traceback" not in text
    assert sum(words[0] in line for line in text.splitlines()) == 1  # once, not once per case


def test_pipeline_hook(project: Project, plugin_args: list[str]) -> None:
    project.configure(pipeline=None)
    project.pytester.makeconftest(
        """
        def pytest_ragft_pipeline(config):
            return lambda question: question.upper()
        """
    )
    project.cases("k", [case_yaml("upper", "knowledge", "ok", {"equals": "OK"})])
    result = project.run_with(plugin_args)
    result.assert_outcomes(passed=1)
    assert project.outcomes() == {"upper": "passed"}


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


COUNTING_PIPELINE = """
import json
from pathlib import Path

def answer(question, contexts=None):
    with Path("calls.jsonl").open("a") as log:
        log.write(json.dumps({"question": question, "contexts": contexts}) + "\\n")
    return {"answer": " ".join(contexts) if contexts else "no idea", "contexts": []}
"""


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


# --------------------------------------------------------------------------------------------
# Exit status and hooks


@pytest.mark.parametrize(
    ("settings", "extra_test", "ret", "line"),
    [
        pytest.param({"thresholds": {"behavior": 0.0}}, None, 0, "gate: PASS*", id="healthy"),
        pytest.param({}, None, 1, "gate: FAIL (below_threshold*", id="below-threshold"),
        pytest.param(
            {"thresholds": {"behavior": 0.0}},
            "assert False",
            1,
            "gate: FAIL (1 non-eval test(s) failed)",
            id="failing-unit-test",
        ),
        pytest.param(
            {"thresholds": {"behavior": 0.0}},
            'assert "ok".upper() == "OK"',
            0,
            "gate: PASS*",
            id="passing-unit-test",
        ),
        pytest.param({"repeats": 0}, None, USAGE, "*repeats*", id="bad-config"),
        pytest.param({"repeat": 3}, None, USAGE, "*repeat*repeats*", id="misspelt-key"),
    ],
)
def test_exit_status(
    project: Project, settings: dict[str, Any], extra_test: str | None, ret: int, line: str
) -> None:
    project.standard(**settings)
    if extra_test is not None:
        project.pytester.makepyfile(test_unit=f"def test_unit():\n    {extra_test}\n")
    result = project.run()
    assert result.ret == ret
    (result.stdout if ret != USAGE else result.stderr).fnmatch_lines([line])


def test_diagnose_hook_overrides(project: Project) -> None:
    project.standard(thresholds={"behavior": 0.0})
    project.pytester.makeconftest(
        """
        def pytest_ragft_diagnose(case, result, failures):
            assert result is not None and failures
            return "hybrid" if case.id == "polite" else None
        """
    )
    project.run()
    case = next(c for c in project.report()["cases"] if c["id"] == "polite")
    assert case["diagnosis"] == "hybrid"


def test_checks_hook_adds_a_check(project: Project, plugin_args: list[str]) -> None:
    project.configure()
    project.pipeline()
    project.pytester.makeconftest(
        """
        from pytest_ragft.model import CheckOutcome

        def starts_with(case, result, expected):
            ok = result.answer.startswith(expected)
            return CheckOutcome("starts_with", ok, f"starts_with: expected {expected!r}")

        def pytest_ragft_checks():
            return {"starts_with": starts_with}
        """
    )
    project.cases(
        "k",
        [
            case_yaml("yes", "knowledge", "Hello there", {"starts_with": "Hello"}),
            case_yaml("no", "knowledge", "Bye", {"starts_with": "Hello"}),
        ],
    )
    result = project.run_with(plugin_args)
    result.assert_outcomes(passed=1, failed=1)
    assert project.outcomes() == {"yes": "passed", "no": "failed"}
    assert "starts_with: expected 'Hello'" in result.stdout.str()


def test_run_finished_hook_gets_the_report(project: Project, plugin_args: list[str]) -> None:
    project.standard(thresholds={"behavior": 0.0})
    project.pytester.makeconftest(
        """
        import json, os

        def pytest_ragft_run_finished(run):
            with open("finished.jsonl", "a") as out:
                out.write(json.dumps({"suite": run["suite"], "run_id": run["run_id"],
                                      "worker": os.environ.get("PYTEST_XDIST_WORKER")}) + "\\n")
        """
    )
    project.run_with(plugin_args)
    calls = [
        json.loads(line) for line in (project.path / "finished.jsonl").read_text().splitlines()
    ]
    assert calls == [{"suite": "demo", "run_id": project.report()["run_id"], "worker": None}]


def normalised(report: dict[str, Any]) -> dict[str, Any]:
    def case(c: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in c.items() if k not in ("repeats",)}
        out["repeats"] = [
            {k: v for k, v in r.items() if k != "latency_s"} for r in c.get("repeats", [])
        ]
        return out

    return {
        "cases": [case(c) for c in report["cases"]],
        "categories": report["categories"],
        "gate": report["gate"],
        "diagnosis": report["diagnosis"],
        "checklist": report["checklist"],
        "recommendation": report["recommendation"],
    }


def test_same_results_with_and_without_xdist(project: Project) -> None:
    project.standard(diagnose="counterfactual")
    project.pytester.makepyfile(test_py=PY_CASES)
    serial = project.run()
    first = normalised(project.report())
    distributed = project.run_subprocess("-n", "2")
    assert serial.ret == distributed.ret == 1
    assert normalised(project.report()) == first


def test_junit_xml_properties(project: Project, plugin_args: list[str]) -> None:
    project.standard(thresholds={"behavior": 0.0})
    project.run_with(plugin_args, "--junitxml=junit.xml")
    root = ET.parse(project.path / "junit.xml").getroot()
    props = {
        case.get("name"): {p.get("name"): p.get("value") for p in case.iter("property")}
        for case in root.iter("testcase")
    }
    assert props["polite"] == {"kind": "behavior", "diagnosis": "knowledge", "pass_ratio": "0"}
    assert props["short"] == {"kind": "behavior", "diagnosis": "", "pass_ratio": "1"}
    assert props["refund-window"]["kind"] == "knowledge"


# --------------------------------------------------------------------------------------------
# The diagnosis end to end, with faults we control


FAULTY_BOT = """
import json
from pathlib import Path

ARTICLES = {
    "repairs": "Repairs cost $20 per hour.",
    "tent": "Renting a tent costs $35 per weekend.",
    "canada": "Free shipping to Canada on orders over $150.",
    "domestic": "Free shipping on domestic orders over $75.",
    "loyalty": 'Our tiers are "Trailhead" and "Summit".',
}
PUBLISHED = ["canada", "domestic", "repairs", "loyalty"]  # the tent article is a draft

def retrieve(question):
    words = set(question.lower().replace("?", "").split())
    scores = {k: sum(w in ARTICLES[k].lower() for w in words) for k in PUBLISHED}
    ranked = sorted((k for k in PUBLISHED if scores[k]), key=lambda k: -scores[k])
    return [ARTICLES[k] for k in ranked][:2] or [ARTICLES["repairs"]]

def answer(question, format="text", contexts=None):
    with Path("calls.jsonl").open("a") as log:
        log.write(json.dumps({"q": question, "contexts": contexts is not None}) + "\\n")
    passages = list(contexts) if contexts is not None else retrieve(question)
    text = passages[0]  # the model only reads the top passage
    if format == "json":
        return {"answer": '{"answer": "%s"}' % text, "contexts": passages}  # no escaping, no [1]
    return {"answer": text + " [1]", "contexts": passages}
"""

DIAGNOSIS_CASES = """
- id: tent-rental-price
  kind: knowledge
  input: How much does renting a tent cost?
  expect: {contains: "$35"}
  gold_contexts: ["Renting a tent costs $35 per weekend."]
- id: free-shipping
  kind: knowledge
  input: free shipping orders over
  expect: {contains: "$75"}
  gold_contexts: ["Free shipping to Canada on orders over $150.",
                  "Free shipping on domestic orders over $75."]
- id: json-tiers
  kind: behavior
  input: what are the loyalty tiers
  vars: {format: json}
  facts: [Trailhead, Summit]
  expect:
    json_schema: {type: object, required: [answer]}
    cites_sources: true
- id: repairs-ok
  kind: knowledge
  input: repairs cost
  expect: {contains: "$20", cites_sources: true}
"""


def test_diagnosis_end_to_end(project: Project, plugin_args: list[str]) -> None:
    project.configure(thresholds={"knowledge": 0.0, "behavior": 0.0})
    project.pipeline(FAULTY_BOT)
    project.cases("cases", DIAGNOSIS_CASES)
    result = project.run_with(plugin_args)
    assert result.ret == 0
    cases = {c["id"]: c for c in project.report()["cases"]}
    got = {
        k: (c["outcome"], c.get("static_diagnosis"), c.get("counterfactual"), c.get("diagnosis"))
        for k, c in cases.items()
    }
    assert got == {
        "tent-rental-price": ("failed", "knowledge", "passed", "knowledge"),
        "free-shipping": ("failed", "hybrid", "failed", "hybrid"),
        "json-tiers": ("failed", "behavior", None, "behavior"),
        "repairs-ok": ("passed", None, None, None),
    }
    assert any("json_schema" in m for m in cases["json-tiers"]["messages"])
    assert any("cites_sources" in m for m in cases["json-tiers"]["messages"])
    report = project.report()
    assert report["diagnosis"] == {"knowledge": 1, "hybrid": 1, "behavior": 1, "error": 0}
    assert report["counterfactual"] == {"run": 2, "confirmed": 2, "overturned": 0}
    calls = [json.loads(line) for line in (project.path / "calls.jsonl").read_text().splitlines()]
    rerun = sorted(c["q"] for c in calls if c["contexts"])
    assert rerun == ["How much does renting a tent cost?", "free shipping orders over"]
    assert len(calls) == 6


def test_pipeline_without_contexts_keyword_is_never_given_it(project: Project) -> None:
    project.configure()
    project.pipeline(
        """
        import json

        def answer(question, **vars):
            with open("calls.jsonl", "a") as log:
                log.write(json.dumps(sorted(vars)) + "\\n")
            return {"answer": "no idea", "contexts": []}
        """
    )
    project.cases(
        "k",
        [
            case_yaml(
                "k",
                "knowledge",
                "q",
                {"contains": "$35"},
                gold_contexts=["$35"],
                vars={"lang": "en"},
            )
        ],
    )
    project.run()
    calls = (project.path / "calls.jsonl").read_text().splitlines()
    assert calls == ['["lang"]']
    case = project.report()["cases"][0]
    assert (case["counterfactual"], case["diagnosis"]) == (None, "knowledge")


# --------------------------------------------------------------------------------------------
# History through pytest


MODE_PIPELINE = """
from pathlib import Path

def answer(question, **vars):
    broken = Path("mode.txt").read_text().strip() == "broken"
    if broken and question.startswith("b"):
        return "BAD"
    return question
"""


def history_project(project: Project) -> None:
    project.configure(
        history=".ragft/history.sqlite",
        thresholds={"behavior": 0.0, "knowledge": 0.0},
        checklist={"baseline_min_runs": 3},
    )
    project.pipeline(MODE_PIPELINE)
    project.cases(
        "k", [case_yaml(f"k{n}", "knowledge", f"k{n}", {"contains": f"k{n}"}) for n in range(3)]
    )
    project.cases(
        "b", [case_yaml(f"b{n}", "behavior", f"b{n}", {"contains": f"b{n}"}) for n in range(8)]
    )


def test_regression_against_the_baseline(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_REF_NAME", "main")
    history_project(project)
    (project.path / "mode.txt").write_text("healthy")
    for n in range(3):
        result = project.run()
        assert result.ret == 0
        report = project.report()
        assert report["gate"]["events"] == []
        assert report["git"]["branch"] == "main"
        if n == 0:
            assert report["categories"]["behavior"]["baseline"] is None
    (project.path / "mode.txt").write_text("broken")
    result = project.run()
    assert result.ret == 1
    report = project.report()
    events = [e for e in report["gate"]["events"] if e["event"] == "regression"]
    assert [e["category"] for e in events] == ["behavior"]
    regression = report["categories"]["behavior"]["regression"]
    assert regression["fires"] and regression["p_value"] < 0.05
    assert re.search(r"p\s*[=<]\s*0\.0\d*", events[0]["detail"]), events[0]["detail"]
    assert report["categories"]["behavior"]["baseline"] == 1.0
    assert report["checklist"][0]["answer"] == "no"  # behavior threshold 0: nothing to fail
    result.stdout.fnmatch_lines(["gate: FAIL (regression: behavior*"])


def test_first_broken_run_raises_no_regression(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_REF_NAME", "main")
    history_project(project)
    (project.path / "mode.txt").write_text("broken")
    assert project.run().ret == 0
    assert project.report()["gate"]["events"] == []


@pytest.mark.parametrize(
    ("changed", "blocked"),
    [
        pytest.param("finetune/train.jsonl", True, id="training-data"),
        pytest.param("src/app.py,README.md", False, id="elsewhere"),
        pytest.param("", False, id="nothing"),
    ],
)
def test_finetune_blocked(
    project: Project, monkeypatch: pytest.MonkeyPatch, changed: str, blocked: bool
) -> None:
    monkeypatch.setenv("RAGFT_CHANGED_FILES", changed)
    project.standard(thresholds={"behavior": 0.0})
    result = project.run()
    events = [e["event"] for e in project.report()["gate"]["events"]]
    assert events == (["finetune_blocked"] if blocked else [])
    assert result.ret == (1 if blocked else 0)
    if blocked:
        result.stdout.fnmatch_lines(["gate: FAIL (finetune_blocked: *finetune/train.jsonl*"])


# --------------------------------------------------------------------------------------------
# The PR comment and the job summary


class FakeGitHub:
    """Just enough of the REST API for PR comments, on 127.0.0.1."""

    def __init__(self, fail_with: int | None = None) -> None:
        self.comments: dict[int, dict[str, Any]] = {}
        self.requests: list[tuple[str, str]] = []
        self.fail_with = fail_with
        self.next_id = 1
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, payload: Any) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> dict[str, Any]:
                length = int(self.headers.get("Content-Length") or 0)
                return json.loads(self.rfile.read(length) or b"{}")  # type: ignore[no-any-return]

            def _handle(self) -> None:
                fake.requests.append((self.command, self.path))
                if fake.fail_with is not None:
                    self._send(fake.fail_with, {"message": "Not Found"})
                    return
                if self.command == "GET" and "/issues/7/comments" in self.path:
                    self._send(200, list(fake.comments.values()))
                elif self.command == "POST" and self.path.endswith("/issues/7/comments"):
                    comment = {
                        "id": fake.next_id,
                        "body": self._body()["body"],
                        "html_url": f"http://example.test/c/{fake.next_id}",
                    }
                    fake.comments[fake.next_id] = comment
                    fake.next_id += 1
                    self._send(201, comment)
                elif self.command == "PATCH" and "/issues/comments/" in self.path:
                    number = int(self.path.rsplit("/", 1)[1])
                    fake.comments[number]["body"] = self._body()["body"]
                    self._send(200, fake.comments[number])
                else:
                    self._send(404, {"message": "Not Found"})

            do_GET = do_POST = do_PATCH = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeGitHub:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def github_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitHub]:
    with FakeGitHub() as fake:
        monkeypatch.setenv("GITHUB_API_URL", fake.url)
        monkeypatch.setenv("GITHUB_REPOSITORY", "acme/bot")
        monkeypatch.setenv("GITHUB_TOKEN", "ghs_" + "x" * 36)
        monkeypatch.setenv("RAGFT_PR", "7")
        yield fake


def test_two_runs_leave_one_updated_comment(project: Project, github_env: FakeGitHub) -> None:
    project.standard(report={"github": "auto"})
    first = project.run()
    assert first.ret == 1
    first.stdout.fnmatch_lines(["written:*PR comment: created*"])
    (project.path / "evals" / "behavior.yaml").unlink()
    second = project.run()
    assert second.ret == 0
    second.stdout.fnmatch_lines(["written:*PR comment: updated*"])
    assert len(github_env.comments) == 1
    body = github_env.comments[1]["body"]
    assert body.startswith("<!-- ragft:report suite=demo -->")
    assert "behavior" not in body.split("\n", 3)[1]  # updated: the second run has no behavior
    assert [m for m, _ in github_env.requests] == ["GET", "POST", "GET", "PATCH"]


@pytest.mark.parametrize(
    ("mode", "ret"),
    [pytest.param("auto", 0, id="auto"), pytest.param("always", 1, id="always")],
)
def test_a_failing_api(project: Project, github_env: FakeGitHub, mode: str, ret: int) -> None:
    github_env.fail_with = 404
    project.standard(thresholds={"behavior": 0.0}, report={"github": mode})
    result = project.run()
    assert result.ret == ret
    result.stdout.fnmatch_lines(["warning: PR comment not posted:*404*"])
    assert "ghs_" not in result.stdout.str()


def test_step_summary(project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    summary = tmp_path / "step-summary.md"
    summary.write_text("# earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    project.standard(thresholds={"behavior": 0.0})
    project.run()
    text = summary.read_text()
    assert text.startswith("# earlier step\n<!-- ragft:report suite=demo -->")
    assert "polite" in text


def test_no_token_is_said_once(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAGFT_PR", "7")
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/bot")
    project.standard(thresholds={"behavior": 0.0}, report={"github": "auto"})
    result = project.run()
    assert result.ret == 0
    assert result.stdout.str().count("no GitHub token") == 1


@pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")
def test_closing_the_caller_closes_its_loop_and_late_answers_are_dropped() -> None:
    """Nothing of a run's call loop outlives it: not its sockets, not a late answer's error."""
    from pytest_ragft.pipeline import Caller

    release = threading.Event()

    def pipeline(question: str) -> str:
        if question == "late":
            release.wait(5)
        return question

    caller = Caller(pipeline, concurrency=2, timeout_s=0.05)
    assert caller.submit(caller.call("hi", {})).result().answer == "hi"  # type: ignore[union-attr]
    late = caller.submit(caller.call("late", {})).result()
    assert "timeout_s = 0.05" in late.message  # type: ignore[union-attr]
    caller.close()
    assert caller.loop.is_closed()
    release.set()
    for thread in threading.enumerate():
        if thread.name == "ragft-call":
            thread.join(5)


@pytest.mark.parametrize(
    ("regression_action", "exit_code"),
    [
        pytest.param("fail", 1, id="regression-gate-fails"),
        pytest.param("warn", 0, id="regression-gate-warns"),
    ],
)
def test_an_unusable_history_store_is_said_and_loses_no_report(
    project: Project, regression_action: str, exit_code: int
) -> None:
    project.standard(
        history=".ragft/history.sqlite",
        thresholds={"behavior": 0.0},
        gate={"regression": regression_action},
    )
    store = project.path / ".ragft" / "history.sqlite"
    store.parent.mkdir()
    store.write_bytes(b"this is not a database" * 100)
    result = project.run()
    assert result.ret == exit_code
    result.stdout.fnmatch_lines(["*history.sqlite is not a SQLite database or is damaged*"])
    assert store.read_bytes() == b"this is not a database" * 100  # left as it was
    report = project.report()
    assert report["gate"]["verdict"] == ("fail" if exit_code else "pass")
    assert len(report["cases"]) == 4
    assert "Traceback" not in result.stdout.str()


@pytest.mark.parametrize(
    "define", [pytest.param("def", id="sync"), pytest.param("async def", id="async")]
)
def test_a_pipeline_that_exits_is_an_error_and_the_run_goes_on(
    project: Project, define: str
) -> None:
    project.configure(thresholds={"knowledge": 0.0})
    project.pipeline(
        f"""
        import sys

        {define} answer(question, **vars):
            if question == "exit":
                sys.exit(3)
            return question
        """
    )
    project.cases(
        "knowledge",
        [
            case_yaml("exits", "knowledge", "exit", {"contains": "x"}),
            case_yaml("answers", "knowledge", "30 days", {"contains": "30 days"}),
        ],
    )
    result = project.run_subprocess()
    result.stdout.fnmatch_lines(["*the pipeline raised SystemExit: 3*"])
    assert project.outcomes() == {"exits": "error", "answers": "passed"}
    assert result.ret == 0


@pytest.mark.parametrize(
    "selection",
    [
        pytest.param([], id="whole-suite"),
        pytest.param(["evals/behavior.yaml"], id="other-file-only"),
        pytest.param(["-k", "short"], id="keyword"),
    ],
)
def test_contamination_counts_every_eval_case_whatever_is_selected(
    project: Project, selection: list[str]
) -> None:
    project.standard(
        thresholds={"behavior": 0.0},
        checklist={"training_data": ["finetune/*.jsonl"], "min_training_examples": 1},
    )
    train = project.path / "finetune" / "train.jsonl"
    train.parent.mkdir()
    rows = [
        {"prompt": "30 days", "completion": "leaks the refund-window case"},
        {"prompt": "something new", "completion": "fine"},
    ]
    train.write_text("".join(json.dumps(r) + "\n" for r in rows))
    project.run(*selection)
    evidence = project.report()["checklist"][2]["evidence"]
    assert "1 equal to an eval case's input" in evidence, evidence
    assert evidence.startswith("1 valid example"), evidence


# --------------------------------------------------------------------------------------------
# Partial runs, user mistakes in hooks and markers, outputs that cannot be written


def _stored_runs(project: Project) -> int:
    import sqlite3

    store = project.path / ".ragft" / "history.sqlite"
    if not store.exists():
        return 0
    with sqlite3.connect(store) as db:
        return int(db.execute("SELECT COUNT(*) FROM ragft_runs").fetchone()[0])


@pytest.mark.parametrize(
    ("args", "exit_code", "why"),
    [
        pytest.param(["-x"], 1, "stopped early", id="stopped-by-x"),
        pytest.param(["--maxfail=1"], 1, "stopped early", id="maxfail"),
        pytest.param(["-k", "refund"], 0, "1 of 4 file cases ran", id="keyword-selection"),
        pytest.param(["evals/knowledge.yaml"], 0, "2 of 4 file cases ran", id="one-file"),
    ],
)
def test_a_partial_run_is_reported_but_not_stored(
    project: Project, args: list[str], exit_code: int, why: str
) -> None:
    project.standard(history=".ragft/history.sqlite", thresholds={"behavior": 0.0})
    result = project.run(*args)
    assert result.ret == exit_code
    report = project.report()
    assert report["complete"] is False
    assert why in report["partial"]
    result.stdout.fnmatch_lines(["*not stored in history*baselines compare whole runs*"])
    assert _stored_runs(project) == 0
    project.run()
    assert project.report()["complete"] is True
    assert _stored_runs(project) == 1


def test_a_bad_marker_is_that_tests_error_with_or_without_xdist(
    project: Project, plugin_args: list[str]
) -> None:
    project.standard(thresholds={"behavior": 0.0})
    project.pytester.makepyfile(
        test_bad="""
        import pytest

        @pytest.mark.ragft(kind="behaviour")
        def test_typo(ragft):
            ragft.ask("x")
        """
    )
    result = project.run_with(plugin_args)
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*needs kind='knowledge' or kind='behavior', got 'behaviour'*"])
    assert "INTERNALERROR" not in result.stdout.str()
    assert len(project.report()["cases"]) == 4  # the file cases still ran


@pytest.mark.parametrize(
    ("marker", "message"),
    [
        pytest.param('kind="knowledge", repeats="3"', "must be a whole number", id="repeats"),
        pytest.param('kind="knowledge", min_pass_ratio=0', "min_pass_ratio must be", id="ratio"),
        pytest.param('kind="knowledge", facts=[1]', "facts must be a string", id="facts"),
    ],
)
def test_bad_marker_arguments_are_named(project: Project, marker: str, message: str) -> None:
    project.configure()
    project.pipeline()
    project.pytester.makepyfile(
        test_bad=f"""
        import pytest

        @pytest.mark.ragft({marker})
        def test_case(ragft):
            ragft.ask("x")
        """
    )
    result = project.run()
    assert result.ret in (1, 2)
    assert message in result.stdout.str()
    assert "Traceback" not in result.stdout.str()


def test_a_python_only_suite_with_a_bad_pipeline_is_one_usage_error_under_xdist(
    project: Project,
) -> None:
    project.configure(pipeline="nosuchmodule:answer", cases=["evals/*.yaml"])
    project.pytester.makepyfile(test_py=PY_CASES)
    result = project.run_subprocess("-n", "2")
    assert result.ret == 4
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
    assert "nosuchmodule" in result.stderr.str()


def test_a_bad_pipeline_names_the_option_it_came_from(project: Project) -> None:
    project.standard()
    result = project.run("--ragft-pipeline=nosuchmodule:answer")
    assert result.ret == 4
    result.stderr.fnmatch_lines(["*nosuchmodule*(from --ragft-pipeline)*"])


def test_a_diagnose_hook_returning_a_bad_value_stops_the_run_once(project: Project) -> None:
    project.standard()
    project.pytester.makeconftest(
        """
        def pytest_ragft_diagnose(case, result, failures):
            return "retrieval"
        """
    )
    result = project.run()
    assert result.ret == 4
    out = result.stdout.str() + result.stderr.str()
    assert out.count("pytest_ragft_diagnose returned 'retrieval'") == 1
    assert "Traceback" not in out


def test_the_diagnose_hook_sees_python_cases_too(project: Project) -> None:
    project.standard(thresholds={"behavior": 0.0, "knowledge": 0.0})
    project.pytester.makepyfile(
        test_py="""
        import pytest

        @pytest.mark.ragft(kind="behavior", facts=["30 days"])
        def test_shouts(ragft):
            assert ragft.ask("30 days").answer.isupper()
        """
    )
    project.pytester.makeconftest(
        """
        def pytest_ragft_diagnose(case, result, failures):
            return "hybrid" if case.id.endswith("test_shouts") else None
        """
    )
    project.run()
    cases = {c["id"]: c for c in project.report()["cases"]}
    shouts = cases["test_py.py::test_shouts"]
    assert (shouts["static_diagnosis"], shouts["diagnosis"]) == ("behavior", "hybrid")


def test_a_cases_entry_that_matches_nothing_is_a_warning(project: Project) -> None:
    project.standard(cases=["evals/*.yaml", "eval/*.yaml"], thresholds={"behavior": 0.0})
    result = project.run()
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*cases entry 'eval/*.yaml' matches no file*"])
    assert "'evals/*.yaml' matches no file" not in result.stdout.str()


def test_a_report_that_cannot_be_written_fails_the_run_without_a_traceback(
    project: Project,
) -> None:
    project.standard(
        history=".ragft/history.sqlite",
        thresholds={"behavior": 0.0},
        report={"json": "out/r.json", "markdown": "out/r.md"},
    )
    (project.path / "out" / "r.json").mkdir(parents=True)  # a folder where the file should go
    result = project.run()
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*JSON report not written to*"])
    assert "internal error" not in result.stdout.str() + result.stderr.str()
    assert (project.path / "out" / "r.md").exists()
    assert _stored_runs(project) == 1


def test_a_run_finished_hook_that_raises_fails_the_run_and_loses_nothing(
    project: Project,
) -> None:
    project.standard(history=".ragft/history.sqlite", thresholds={"behavior": 0.0})
    project.pytester.makeconftest(
        """
        def pytest_ragft_run_finished(run):
            raise RuntimeError("exporter down")
        """
    )
    result = project.run()
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*pytest_ragft_run_finished raised RuntimeError: exporter down*"])
    assert project.report()["gate"]["verdict"] == "pass"
    assert _stored_runs(project) == 1


def test_a_required_comment_that_fails_fails_the_gate_in_every_output(project: Project) -> None:
    project.standard(thresholds={"behavior": 0.0}, report={"github": "always"})
    result = project.run()
    assert result.ret == 1
    assert project.report()["gate"]["verdict"] == "fail"
    assert "could not be posted" in project.report()["gate"]["reason"]


def test_an_error_then_a_failure_is_diagnosed_from_the_failure(project: Project) -> None:
    project.configure(thresholds={"knowledge": 0.0}, repeats=2)
    project.pipeline(
        """
        import itertools
        calls = itertools.count()

        def answer(question, **vars):
            if next(calls) == 0:
                raise RuntimeError("flaky upstream")
            return {"answer": "no idea", "contexts": ["The window is 30 days."]}
        """
    )
    project.cases("k", [case_yaml("window", "knowledge", "q", {"contains": "30 days"})])
    project.run("-p", "no:randomly")
    (case,) = project.report()["cases"]
    assert case["outcome"] == "failed"
    assert case["static_diagnosis"] == "hybrid"


def test_chat_input_reaches_the_pipeline_as_a_list_of_messages(project: Project) -> None:
    project.configure(thresholds={"knowledge": 0.0})
    project.pipeline(
        """
        def answer(messages, **vars):
            assert isinstance(messages, list), type(messages)
            messages.append({"role": "assistant", "content": "mutated"})
            return messages[-2]["content"]
        """
    )
    project.cases(
        "k",
        [
            case_yaml(
                "chat",
                "knowledge",
                [{"role": "user", "content": "30 days"}],  # type: ignore[arg-type]
                {"contains": "30 days"},
                repeats=2,
            )
        ],
    )
    project.run()
    assert project.outcomes() == {"chat": "passed"}
