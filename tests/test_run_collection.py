"""The plugin through pytest: eval items, their ids and selection, Python cases, and
case-file errors as collection errors."""

from __future__ import annotations

import pytest
from conftest import COUNTING_PIPELINE, PY_CASES, Project, case_yaml

# --------------------------------------------------------------------------------------------
# Collection and selection


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


def test_python_case_message_is_pytests_own_words(project: Project) -> None:
    """Not wrapped in quotes (nor its quotes escaped): the reports escape it once."""
    project.configure(report={"markdown": "ragft-report.md"})
    project.pipeline()
    project.pytester.makepyfile(
        test_py="""
        import pytest

        @pytest.mark.ragft(kind="behavior", facts=["30 days"])
        def test_style(ragft):
            assert ragft.ask("it's 30 days").answer.endswith("!"), "it's not enthusiastic"
        """
    )
    project.run().assert_outcomes(failed=1)
    [case] = project.report()["cases"]
    assert case["messages"][0].startswith("AssertionError: it's not enthusiastic")
    assert case["repeats"][0]["messages"] == case["messages"]
    md = (project.path / "ragft-report.md").read_text()
    assert "- AssertionError: it's not enthusiastic" in md


def test_python_case_failure_carries_its_evidence(project: Project) -> None:
    project.configure()
    project.pipeline(
        """
        def answer(question):
            return {"answer": "no idea", "contexts": ["Tents rent for $35."], "sources": ["t#1"]}
        """
    )
    project.pytester.makepyfile(
        test_py="""
        import pytest

        @pytest.mark.ragft(kind="knowledge", facts=["$35"], repeats=2)
        def test_price(ragft, ragft_repeat):
            assert "$35" in ragft.ask("tent price?").answer
        """
    )
    project.run().assert_outcomes(failed=2)
    [case] = project.report()["cases"]
    evidence = case["evidence"]
    assert (evidence["facts"], evidence["answer"], evidence["gold"]) == (["$35"], [False], "python")
    assert [(c["rank"], c["source"], c["facts"]) for c in evidence["contexts"]] == [
        (1, "t#1", [True])
    ]
    assert [r["sources"] for r in case["repeats"]] == [["t#1"], ["t#1"]]
    assert case["min_pass_ratio"] == 1.0


def test_a_pipeline_error_in_ask_shows_the_tests_line_not_the_plugins(project: Project) -> None:
    project.configure()
    project.pipeline(
        """
        def answer(question):
            raise ConnectionError("index down")
        """
    )
    project.pytester.makepyfile(
        test_py="""
        import pytest

        @pytest.mark.ragft(kind="knowledge")
        def test_ask(ragft):
            ragft.ask("anything")
        """
    )
    result = project.run()
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert 'ragft.ask("anything")' in out
    assert "PipelineCallError" in out and "index down" in out
    assert "pycases.py" not in out and "self._runner" not in out


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
