"""The rules of flakiness and of a failure's signal, as pure functions."""

from __future__ import annotations

import pytest
from records import case

from pytest_ragft.config import MatrixSettings
from pytest_ragft.flaky import Observation, alternating, flaky_cases, same_commit, within_run
from pytest_ragft.model import RepeatRecord
from pytest_ragft.signals import measured_volatility, place


def _seen(pattern: str, content: str = "c", sha: str | None = None) -> list[Observation]:
    return [
        Observation(f"r{n}", sha or f"{n:040d}", content, mark == "P")
        for n, mark in enumerate(pattern)
    ]


@pytest.mark.parametrize(
    ("pattern", "flaky"),
    [
        pytest.param("PPPP", False, id="steady"),
        pytest.param("PPFF", False, id="one-change"),
        pytest.param("PFP", True, id="fail-pass-fail"),
        pytest.param("FPFP", True, id="three-flips"),
        pytest.param("FFPPF", True, id="two-flips"),
        pytest.param("P", False, id="one-run"),
    ],
)
def test_alternating_needs_two_flips(pattern: str, flaky: bool) -> None:
    assert (alternating("x", _seen(pattern)) is not None) == flaky


def test_only_the_runs_with_the_case_as_it_is_now_count() -> None:
    seen = _seen("PFP", content="old") + _seen("FF", content="new")
    assert alternating("x", seen) is None


def test_a_flip_at_one_commit_with_the_same_content_is_a_rerun() -> None:
    sha = "a" * 40
    assert same_commit("x", _seen("PF", sha=sha)) is not None
    changed = [Observation("r1", sha, "old", True), Observation("r2", sha, "new", False)]
    assert same_commit("x", changed) is None


def test_within_run_counts_repeats() -> None:
    record = case("x", outcome="passed")
    record.repeats = [
        RepeatRecord(1, "passed"),
        RepeatRecord(2, "failed"),
        RepeatRecord(3, "skipped"),
    ]
    found = within_run(record)
    assert found is not None and found.detail == "repeats disagree in this run: 1 of 2 passed"


def test_flaky_cases_give_one_reason_each_in_id_order() -> None:
    coin = case("coin", outcome="passed")
    coin.repeats = [RepeatRecord(1, "passed"), RepeatRecord(2, "failed")]
    steady = case("steady", outcome="failed", diagnosis="knowledge")
    steady.content = "c"  # as in the runs before
    history = {"steady": _seen("FP"), "coin": _seen("PF")}
    found = flaky_cases([steady, coin], history, run_id="now", sha="f" * 40)
    assert [(f.id, f.rule) for f in found] == [("coin", "repeats"), ("steady", "alternating")]


@pytest.mark.parametrize(
    ("contents", "spans", "measured"),
    [
        pytest.param({"c"}, True, False, id="unchanged-for-the-horizon"),
        pytest.param({"c"}, False, None, id="unchanged-but-history-too-short"),
        pytest.param({"c", "d"}, False, True, id="changed"),
        pytest.param(set(), True, None, id="no-runs"),
    ],
)
def test_measured_volatility(contents: set[str], spans: bool, measured: bool | None) -> None:
    assert measured_volatility(contents, "c", spans) is measured


def test_place_declared_then_measured_then_default() -> None:
    matrix = MatrixSettings()
    declared = case("a", outcome="failed", diagnosis="knowledge", volatile=False)
    assert place(declared, {}, False, matrix) == ("pretraining", "declaration")
    undeclared = case("b", outcome="failed", diagnosis="behavior")
    undeclared.volatile, undeclared.content = None, "x"
    assert place(undeclared, {"b": {"x", "y"}}, False, matrix) == ("prompt", "evidence")
    assert place(undeclared, {}, False, matrix) == ("fine-tune", "default")
    knowledge = case("c", outcome="failed", diagnosis="knowledge")
    knowledge.volatile = None
    assert place(knowledge, {}, False, matrix) == ("rag", "default")
