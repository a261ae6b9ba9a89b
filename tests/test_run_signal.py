"""What a reviewer reads across runs, with a pipeline whose faults we switch between them: a
fix is newly passing, a break newly failing, neither is flaky; repeats that disagree, or an
outcome that alternates with nothing changed, are flaky; a failure's signal is declared,
measured from the case's history, or defaulted."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import Project, case_yaml

# Answers come from faults.json, which the test rewrites between runs; a question listed under
# "alternate" answers right and wrong in turn (counted in calls.txt).
PIPELINE = """
import json, pathlib

def answer(question, **vars):
    root = pathlib.Path(__file__).parent
    faults = json.loads((root / "faults.json").read_text())
    if question in faults.get("alternate", []):
        calls = root / "calls.txt"
        n = int(calls.read_text()) if calls.exists() else 0
        calls.write_text(str(n + 1))
        return question if n % 2 == 0 else "wrong"
    if question in faults.get("verbose", []):
        return question + " and many more words"
    return "wrong" if question in faults.get("broken", []) else question
"""


def _project(project: Project, *cases: dict[str, Any]) -> None:
    project.configure(history=".ragft/history.sqlite", thresholds={"knowledge": 0, "behavior": 0})
    project.pipeline(PIPELINE)
    project.cases("suite", list(cases))


def _run(
    project: Project,
    monkeypatch: pytest.MonkeyPatch,
    sha: str,
    broken: list[str],
    verbose: tuple[str, ...] = (),
) -> dict[str, Any]:
    """One run on main at commit ``sha`` with the ``broken`` questions answered wrong, and the
    ``verbose`` ones right but at length (a behavior failure)."""
    faults = {"broken": broken, "verbose": list(verbose)}
    (project.path / "faults.json").write_text(json.dumps(faults))
    monkeypatch.setenv("GITLAB_CI", "true")
    monkeypatch.setenv("CI_COMMIT_REF_NAME", "main")
    monkeypatch.setenv("CI_COMMIT_SHA", sha * 40)
    result = project.run()
    assert result.ret in (0, 1), result.stdout.str()
    return project.report()


def _cases() -> list[dict[str, Any]]:
    return [
        case_yaml("fixed", "knowledge", "fix me", {"contains": "fix me"}),
        case_yaml("broken", "knowledge", "break me", {"contains": "break me"}),
        case_yaml("steady", "knowledge", "steady", {"contains": "steady"}),
        case_yaml("still", "behavior", "still bad", {"contains": "still bad"}),
    ]


def test_a_fix_and_a_break_are_changes_never_flakiness(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    _project(project, *_cases())
    first = _run(project, monkeypatch, "a", broken=["fix me", "still bad"])
    assert first["changes"]["against"] is None and first["flaky"] == []
    second = _run(project, monkeypatch, "b", broken=["break me", "still bad"])
    assert second["changes"] == {
        "against": first["run_id"],
        "newly_failing": ["broken"],
        "newly_passing": ["fixed"],
        "still_failing": ["still"],
        "new": [],
        "removed": [],
    }
    changes = {c["id"]: c["change"] for c in second["cases"]}
    assert changes == {
        "fixed": "newly_passing",
        "broken": "newly_failing",
        "steady": "still_passing",
        "still": "still_failing",
    }
    assert second["flaky"] == []
    project.cases(
        "suite", [*_cases()[1:], case_yaml("added", "knowledge", "new", {"contains": "new"})]
    )
    third = _run(project, monkeypatch, "c", broken=["still bad"])
    assert third["changes"]["new"] == ["added"] and third["changes"]["removed"] == ["fixed"]
    assert third["changes"]["newly_passing"] == ["broken"]


def test_the_changes_reach_every_report(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    project.configure(
        history=".ragft/history.sqlite",
        thresholds={"knowledge": 0, "behavior": 0},
        report={"markdown": "report.md", "html": "report.html"},
    )
    project.pipeline(PIPELINE)
    project.cases("suite", _cases())
    _run(project, monkeypatch, "a", broken=["fix me"])
    (project.path / "faults.json").write_text(json.dumps({"broken": ["break me"]}))
    result = project.run()
    result.stdout.fnmatch_lines(["changes vs *: 1 newly failing * (newly failing: broken)"])
    markdown = (project.path / "report.md").read_text()
    assert "### Changes against the baseline run" in markdown
    assert markdown.index("**broken**") < markdown.index("**fixed**")
    assert "Changes against the baseline" in (project.path / "report.html").read_text()


def test_repeats_that_disagree_are_flaky_in_that_same_run(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    _project(
        project,
        case_yaml("coin", "knowledge", "coin", {"contains": "coin"}, repeats=2),
        case_yaml("steady", "knowledge", "steady", {"contains": "steady"}),
    )
    (project.path / "faults.json").write_text(json.dumps({"alternate": ["coin"]}))
    monkeypatch.setenv("GITLAB_CI", "true")
    monkeypatch.setenv("CI_COMMIT_REF_NAME", "main")
    project.run("--ragft-concurrency=1")  # the two calls in turn: right, then wrong
    [flaky] = project.report()["flaky"]
    assert flaky["id"] == "coin" and flaky["rule"] == "repeats"
    assert flaky["detail"] == "repeats disagree in this run: 1 of 2 passed"


def test_an_outcome_that_alternates_with_the_case_unchanged_is_flaky(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    _project(project, *_cases())
    _run(project, monkeypatch, "a", broken=["steady"])
    second = _run(project, monkeypatch, "b", broken=[])
    assert second["flaky"] == []  # one change is a fix
    third = _run(project, monkeypatch, "c", broken=["steady"])
    [flaky] = third["flaky"]
    assert (flaky["id"], flaky["rule"]) == ("steady", "alternating")
    assert "2 flips over the last 3 runs" in flaky["detail"]


def test_a_flip_at_the_same_commit_is_flaky(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    _project(project, *_cases())
    _run(project, monkeypatch, "a", broken=["steady"])
    again = _run(project, monkeypatch, "a", broken=[])
    [flaky] = again["flaky"]
    assert (flaky["id"], flaky["rule"]) == ("steady", "same_commit")


def test_a_changed_case_that_flips_is_not_flaky(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The case's expectations changed between the runs: its new outcome is no flakiness."""
    _project(project, *_cases())
    _run(project, monkeypatch, "a", broken=[])
    changed = [*_cases()[:2], case_yaml("steady", "knowledge", "steady", {"contains": "other"})]
    project.cases("suite", [*changed, _cases()[3]])
    _run(project, monkeypatch, "a", broken=[])  # same commit, the case itself changed
    project.cases("suite", _cases())
    third = _run(project, monkeypatch, "a", broken=[])
    assert third["flaky"] == []


def test_an_undeclared_knowledge_failure_goes_to_rag_by_default(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    _project(project, case_yaml("price", "knowledge", "price", {"contains": "price"}))
    report = _run(project, monkeypatch, "a", broken=["price"])
    rec = report["recommendation"]
    assert rec["cell"] == "rag" and rec["counts"]["pretraining"] == 0
    assert rec["placed"] == {"declaration": 0, "evidence": 0, "default": 1}


def test_the_matrix_defaults_are_settings(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    _project(project, case_yaml("tone", "behavior", "tone", {"contains": "tone", "max_words": 1}))
    project.configure(
        history=".ragft/history.sqlite",
        thresholds={"knowledge": 0, "behavior": 0},
        matrix={"behavior": "prompt"},
    )
    report = _run(project, monkeypatch, "a", broken=[], verbose=("tone",))
    assert report["cases"][0]["diagnosis"] == "behavior"
    assert report["recommendation"]["cell"] == "prompt"


def test_a_case_whose_expectations_changed_is_placed_volatile_by_evidence(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A behavior failure defaults to fine-tune (stable); one whose requirement changed
    between stored runs is measured volatile: prompt engineering."""
    expect = {"contains": "format", "max_words": 1}
    _project(project, case_yaml("format", "behavior", "format", expect))
    first = _run(project, monkeypatch, "a", broken=[], verbose=("format",))
    assert first["cases"][0]["diagnosis"] == "behavior"
    assert first["recommendation"]["cell"] == "fine-tune"
    changed = {"contains": "format and", "max_words": 1}  # the requirement moved
    project.cases("suite", [case_yaml("format", "behavior", "format", changed)])
    second = _run(project, monkeypatch, "b", broken=[], verbose=("format",))
    assert second["recommendation"]["cell"] == "prompt"
    assert second["recommendation"]["placed"] == {"declaration": 0, "evidence": 1, "default": 0}


def test_a_declared_signal_wins(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    _project(project, case_yaml("fact", "knowledge", "fact", {"contains": "fact"}, volatile=False))
    report = _run(project, monkeypatch, "a", broken=["fact"])
    assert report["recommendation"]["cell"] == "pretraining"
    assert report["recommendation"]["placed"]["declaration"] == 1
    assert report["cases"][0]["volatile"] is False


def test_a_run_with_an_overridden_pipeline_does_not_form_a_baseline(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    _project(project, *_cases())
    _run(project, monkeypatch, "a", broken=[])
    monkeypatch.setenv("RAGFT_PIPELINE", "bot:answer")
    overridden = _run(project, monkeypatch, "b", broken=["break me"])
    assert overridden["baseline"]["counts"] is False
    assert overridden["overrides"] == {"pipeline": "RAGFT_PIPELINE"}
    monkeypatch.delenv("RAGFT_PIPELINE")
    later = _run(project, monkeypatch, "c", broken=[])
    assert later["changes"]["against"] != overridden["run_id"]
    assert later["changes"]["newly_passing"] == []  # compared with the first run, not the second


def test_trend_and_diff_read_the_same_changes_and_flakiness(
    project: Project, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from pytest_ragft.cli import main

    _project(project, *_cases())
    first = _run(project, monkeypatch, "a", broken=["steady", "still bad"])
    _run(project, monkeypatch, "b", broken=["break me"])
    third = _run(project, monkeypatch, "c", broken=["steady", "still bad", "fix me"])
    monkeypatch.chdir(project.path)
    capsys.readouterr()
    assert main(["trend", "--kind", "behavior"]) == 0
    behavior_only = capsys.readouterr().out
    assert "steady" not in behavior_only and "still  alternating" in behavior_only
    assert main(["trend", "--kind", "knowledge"]) == 0
    knowledge_only = capsys.readouterr().out
    assert "steady  alternating" in knowledge_only and "still " not in knowledge_only
    assert main(["diff", first["run_id"], third["run_id"]]) == 0
    out = capsys.readouterr().out
    assert "1 newly failing · 0 newly passing · 2 still failing · 0 new · 0 removed" in out
    assert "newly failing:\n  fixed  (knowledge)" in out


def test_a_requirement_changed_in_the_case_files_git_history_is_volatile(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No stored runs at all: the case file's own commits are the evidence."""
    import subprocess

    def git(*args: str) -> None:
        env = {"GIT_AUTHOR_NAME": "x", "GIT_AUTHOR_EMAIL": "x@example.com"}
        env |= {"GIT_COMMITTER_NAME": "x", "GIT_COMMITTER_EMAIL": "x@example.com"}
        subprocess.run(["git", *args], cwd=project.path, check=True, capture_output=True, env=env)

    project.configure(thresholds={"knowledge": 0, "behavior": 0})
    project.pipeline(PIPELINE)
    expect = {"contains": "format", "max_words": 1}
    project.cases("suite", [case_yaml("format", "behavior", "format", expect)])
    (project.path / "faults.json").write_text(json.dumps({"verbose": ["format"]}))
    git("init", "-q", "-b", "main")
    git("add", "-A")
    git("commit", "-qm", "first")
    assert project.run().ret in (0, 1)
    assert project.report()["recommendation"]["placed"]["default"] == 1  # one version only
    changed = {"contains": "format and", "max_words": 1}
    project.cases("suite", [case_yaml("format", "behavior", "format", changed)])
    git("commit", "-qam", "the requirement moved")
    project.run()
    rec = project.report()["recommendation"]
    assert rec["cell"] == "prompt" and rec["placed"]["evidence"] == 1
