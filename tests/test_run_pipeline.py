"""The plugin through pytest: what the pipeline returns, raises or hangs on, and how it is found."""

from __future__ import annotations

import re

import pytest
from conftest import USAGE, Project, case_yaml

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
