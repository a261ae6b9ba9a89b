"""The plugin through pytest: the history store across runs, baselines and regressions."""

from __future__ import annotations

import re

import pytest
from conftest import Project, case_yaml

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
