"""Variants through pytest: the picked pipelines run the same file cases through the same
concurrency slots, and the summary compares each with the main pipeline."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from conftest import USAGE, Project, case_yaml

from pytest_ragft.exitguard import exit_guard

PIPELINES = """
CALLS = []

def answer(question, style="plain", **vars):
    if question.startswith("format") and style != "strict":
        return question + " and far too many words for the check"
    return question

def fixed(question, **vars):
    return answer(question, style="strict")
"""


def _project(project: Project, **variants: Any) -> None:
    project.configure(
        thresholds={"knowledge": 0, "behavior": 0},
        variants={"strict": {"pipeline": "bot:fixed", "role": "prompt", "target": "behavior"}},
    )
    project.pipeline(PIPELINES)
    project.cases(
        "behavior",
        [
            case_yaml(
                f"format-{i}",
                "behavior",
                f"format {i}",
                {"contains": f"format {i}", "max_words": 2},
            )
            for i in range(12)
        ],
    )


def test_a_picked_variant_is_run_and_compared(project: Project, plugin_args: list[str]) -> None:
    _project(project)
    result = project.run_with(plugin_args, "--ragft-variant=strict")
    assert result.ret == 0  # the main pipeline is the one gated
    report = project.report()
    assert {c["outcome"] for c in report["cases"]} == {"failed"}
    [variant] = report["variants"]["variants"]
    assert variant["name"] == "strict"
    behavior = variant["categories"]["behavior"]
    assert behavior["verdict"] == "better"
    assert behavior["p_better"] == pytest.approx(0.5**12)  # McNemar exact, 12 fixed, 0 broken
    assert (behavior["wins"], behavior["losses"]) == (12, 0)
    assert variant["replaces"] is True
    events = {e["event"]: e["action"] for e in report["gate"]["events"]}
    assert events.get("variant_better") == "comment"
    result.stdout.fnmatch_lines(["*strict*better*"])


def test_the_comparison_reaches_the_comment_and_the_page(project: Project) -> None:
    _project(project)
    project.configure(
        thresholds={"knowledge": 0, "behavior": 0},
        variants={"strict": {"pipeline": "bot:fixed", "target": "behavior"}},
        report={"markdown": "report.md", "html": "report.html"},
    )
    assert project.run("--ragft-variants=strict").ret == 0
    markdown = (project.path / "report.md").read_text()
    assert "### Variants against the main pipeline" in markdown
    assert "| behavior | 0/12 | 12/12 |" in markdown and "better" in markdown
    assert "Fixed: **format-0** (behavior)" in markdown
    page = (project.path / "report.html").read_text()
    assert 'id="variants"' in page and page.count('<tr class="differs"') == 12


def test_variants_run_only_when_picked(project: Project) -> None:
    _project(project)
    project.run()
    assert "variants" not in project.report()


def test_a_variant_that_cannot_be_imported_is_a_usage_error(project: Project) -> None:
    _project(project)
    project.configure(
        thresholds={"knowledge": 0, "behavior": 0},
        variants={"strict": {"pipeline": "nowhere:fixed"}},
    )
    result = project.run("--ragft-variant=strict")
    assert result.ret == USAGE
    assert "[tool.ragft.variants.strict]" in result.stderr.str()
    assert not exit_guard.active  # no caller was left open by the refused settings


def test_variants_feed_questions_1_and_5(project: Project) -> None:
    """A better-prompt variant that still fails behavior is evidence for question 1; a
    fine-tune variant's fixes replace the declared fix rate of question 5."""
    _project(project)
    project.pipeline(
        PIPELINES
        + """
def prompt_only(question, **vars):
    return answer(question)

def tuned(question, **vars):
    return fixed(question) if question[-1] in "02468" else answer(question)
"""
    )
    project.configure(
        thresholds={"knowledge": 0, "behavior": 0.85},
        variants={
            "v2": {"pipeline": "bot:prompt_only", "role": "prompt"},
            "adapter": {"pipeline": "bot:tuned", "role": "finetune"},
        },
        checklist={
            "cost": {
                "queries_per_month": 1000,
                "value_per_fixed_failure": 1,
                "expected_fix_rate": 0.9,
                "finetune_upfront": 0,
                "finetune_monthly": 0,
            }
        },
    )
    project.run("--ragft-variants=v2,adapter")
    answers = {a["key"]: a for a in project.report()["checklist"]}
    assert "the prompt variant v2 (0.0% < 85%)" in answers["baseline"]["evidence"]
    evidence = answers["cost"]["evidence"]
    assert "measured by the finetune variant adapter: 6 of 12 behavior-bound failures" in evidence
    assert "50% fixed" in evidence  # the measured rate, not the declared 90%


LOGGING_PIPELINES = """
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

def _log(pipeline, question, style):
    with Path("calls.jsonl").open("a") as log:
        log.write(json.dumps({"pipeline": pipeline, "question": question, "style": style}) + "\\n")

def _answer(question, style):
    if question.startswith("format") and style != "strict":
        return question + " and far too many words for the check"
    return question

def answer(question, style="plain", **vars):
    _log("main", question, style)
    return _answer(question, style)

def other(question, style="plain", **vars):
    _log("other", question, style)
    return _answer(question, style)
"""

PY_VARIANT_CASES = """
import pytest

@pytest.mark.ragft(kind="behavior")
def test_short(ragft):
    result = ragft.ask("format py", style="plain")
    assert len(result.answer.split()) <= 2, "too long"

@pytest.mark.ragft(kind="knowledge", repeats=2)
def test_refund(ragft, ragft_repeat):
    assert "30 days" in ragft.ask("30 days").answer
"""


def test_python_cases_are_run_and_compared_for_each_variant(
    project: Project, plugin_args: list[str]
) -> None:
    project.configure(
        thresholds={"knowledge": 0, "behavior": 0},
        variants={
            "strict": {"pipeline": "bot:other", "vars": {"style": "strict"}, "role": "prompt"},
            "loose": {"pipeline": "bot:other", "vars": {"style": "plain"}},
        },
    )
    project.pipeline(LOGGING_PIPELINES)
    project.cases(
        "behavior",
        [case_yaml(f"format-{i}", "behavior", f"format {i}", {"max_words": 2}) for i in range(3)],
    )
    project.pytester.makepyfile(test_py=PY_VARIANT_CASES)
    result = project.run_with(plugin_args, "--ragft-variants=strict,loose")
    assert result.ret == 0
    report = project.report()
    assert project.outcomes()["test_py.py::test_short"] == "failed"
    by_name = {v["name"]: v for v in report["variants"]["variants"]}
    strict, loose = by_name["strict"]["categories"], by_name["loose"]["categories"]
    # the Python behavior case beside the 3 file cases; the Python knowledge case's 2 repeats
    # are one case on each side
    assert (strict["behavior"]["shared"], strict["behavior"]["wins"]) == (4, 4)
    assert (loose["behavior"]["shared"], loose["behavior"]["wins"]) == (4, 0)
    assert strict["knowledge"]["shared"] == loose["knowledge"]["shared"] == 1
    assert strict["knowledge"]["losses"] == 0
    assert "test_py.py::test_short" in [c["id"] for c in strict["behavior"]["fixed"]]
    rows = {r["id"]: r["cells"] for r in report["variants"]["rows"]}
    assert rows["test_py.py::test_short"] == {
        "main": "failed (behavior)",
        "strict": "passed",
        "loose": "failed (behavior)",
    }
    calls = [json.loads(line) for line in (project.path / "calls.jsonl").read_text().splitlines()]
    made = Counter((c["pipeline"], c["style"]) for c in calls)
    # each pipeline: 3 file cases, 1 + 2 Python calls; the variant's vars over the call's
    assert made == {("main", "plain"): 6, ("other", "strict"): 6, ("other", "plain"): 6}
    py = Counter((c["pipeline"], c["style"]) for c in calls if c["question"] == "format py")
    assert py == {("main", "plain"): 1, ("other", "strict"): 1, ("other", "plain"): 1}


def test_a_python_case_without_variants_runs_once(project: Project) -> None:
    project.configure(thresholds={"knowledge": 0, "behavior": 0})
    project.pipeline(LOGGING_PIPELINES)
    project.pytester.makepyfile(test_py=PY_VARIANT_CASES)
    assert project.run().ret == 0
    assert "variants" not in project.report()
    assert len((project.path / "calls.jsonl").read_text().splitlines()) == 3


EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "support_bot"


def test_the_examples_prompt_variant_fixes_its_behavior_failures_and_breaks_nothing(
    tmp_path: Path,
) -> None:
    pytest.importorskip("rank_bm25")
    root = tmp_path / "support_bot"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns(".ragft", "reports"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAGFT_", "GITHUB_", "CI"))}
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly"]
    done = subprocess.run(
        [*args, "--ragft-variant", "json_prompt"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    # The main pipeline is the one gated: its behavior cases still fail the threshold.
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads((root / "reports" / "ragft-report.json").read_text())
    [variant] = report["variants"]["variants"]
    assert (variant["name"], variant["role"], variant["target"]) == (
        "json_prompt",
        "prompt",
        "behavior",
    )
    behavior, knowledge = variant["categories"]["behavior"], variant["categories"]["knowledge"]
    failing = sorted(
        c["id"] for c in report["cases"] if c["kind"] == "behavior" and c["outcome"] == "failed"
    )
    assert sorted(c["id"] for c in behavior["fixed"]) == failing
    assert len(failing) == 3
    assert behavior["broken"] == knowledge["broken"] == []
    assert (behavior["variant_passed"], behavior["shared"]) == (13, 13)  # the Python case too
    assert knowledge["variant_passed"] == knowledge["main_passed"]
    assert variant["tokens_per_case"]["variant"] < variant["tokens_per_case"]["main"]
    assert "variant json_prompt (prompt): behavior no worse" in done.stdout


def test_a_variant_that_raises_in_a_python_case_is_an_error_there(project: Project) -> None:
    project.configure(
        thresholds={"knowledge": 0, "behavior": 0},
        variants={"broken": {"pipeline": "bot:broken"}},
    )
    project.pipeline(
        """
def answer(question, **vars):
    return question

def broken(question, **vars):
    raise RuntimeError("the variant is down")
"""
    )
    project.pytester.makepyfile(
        test_py="""
import pytest

@pytest.mark.ragft(kind="knowledge")
def test_echo(ragft):
    assert ragft.ask("30 days").answer == "30 days"

@pytest.mark.ragft(kind="knowledge")
def test_skips(ragft):
    ragft.ask("30 days")
    pytest.skip("not today")
"""
    )
    assert project.run("--ragft-variant=broken").ret == 0
    report = project.report()
    assert project.outcomes() == {
        "test_py.py::test_echo": "passed",
        "test_py.py::test_skips": "skipped",
    }
    [variant] = report["variants"]["variants"]
    knowledge = variant["categories"]["knowledge"]
    assert (knowledge["shared"], knowledge["losses"]) == (1, 1)
    [row] = [r for r in report["variants"]["rows"] if r["id"] == "test_py.py::test_echo"]
    assert row["cells"] == {"main": "passed", "broken": "error (error)"}
    [broken] = knowledge["broken"]
    assert (broken["id"], broken["variant"], broken["diagnosis"]) == (
        "test_py.py::test_echo",
        "error",
        "error",
    )


def test_the_diagnose_hook_diagnoses_a_variant_as_it_does_main(project: Project) -> None:
    """A variant's failures, of file and of Python cases, go through the project's
    ``pytest_ragft_diagnose`` like the main pipeline's."""
    _project(project)
    project.configure(
        pipeline="bot:fixed",
        thresholds={"knowledge": 0, "behavior": 0},
        variants={"plain": {"pipeline": "bot:answer", "target": "behavior"}},
    )
    project.pytester.makepyfile(
        test_py_case="""
        import pytest

        @pytest.mark.ragft(kind="behavior")
        def test_format_py(ragft):
            assert len(ragft.ask("format py").answer.split()) <= 2
        """
    )
    project.pytester.makeconftest(
        """
        def pytest_ragft_diagnose(case, result, failures):
            return "knowledge" if failures else None
        """
    )
    assert project.run("--ragft-variant=plain").ret == 0
    report = project.report()
    assert {c["outcome"] for c in report["cases"]} == {"passed"}
    behavior = report["variants"]["variants"][0]["categories"]["behavior"]
    broken = {c["id"]: c["diagnosis"] for c in behavior["broken"]}
    assert len(broken) == 13 and "test_py_case.py::test_format_py" in broken
    assert set(broken.values()) == {"knowledge"}  # the hook's, not the static "behavior"
