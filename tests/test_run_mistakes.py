"""The plugin through pytest: partial runs, user mistakes in hooks and markers, outputs that
cannot be written."""

from __future__ import annotations

import sqlite3

import pytest
from conftest import PY_CASES, USAGE, Project, case_yaml

# --------------------------------------------------------------------------------------------
# Partial runs, user mistakes in hooks and markers, outputs that cannot be written


def _stored_runs(project: Project) -> int:

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
    project.configure(pipeline="nosuchmodule:answer")
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


def test_a_cases_entry_that_matches_nothing_stops_the_run(project: Project) -> None:
    """A typo in a glob would shrink the suite while the gate still gives a verdict."""
    project.standard(cases=["evals/*.yaml", "eval/*.yaml"], thresholds={"behavior": 0.0})
    result = project.run()
    assert result.ret == USAGE
    errors = result.stderr.str()
    assert "'eval/*.yaml'" in errors and "matches no file" in errors and "optional = true" in errors
    assert "'evals/*.yaml'" not in errors


def test_an_optional_cases_entry_may_match_nothing(project: Project) -> None:
    project.standard(
        cases=["evals/*.yaml", {"path": "eval/*.yaml", "optional": True}],
        thresholds={"behavior": 0.0},
    )
    assert project.run().ret == 0


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
