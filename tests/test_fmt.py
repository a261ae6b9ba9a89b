"""The wording and number formats every renderer shares."""

from __future__ import annotations

import math
from typing import Any

import pytest

from pytest_ragft.checklist import HEADLINES, TITLES
from pytest_ragft.report import fmt
from pytest_ragft.runsummary import Answer, Category, Recommendation, RunSummary


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        pytest.param([0.0, 0.5, 1.0], "▁▅█", id="absolute-scale"),
        pytest.param([0.9, None, 0.91], "▇ ▇", id="missing-run"),
        pytest.param([i / 11 for i in range(12)], "▂▃▄▄▅▅▆▇▇█", id="last-ten"),
        pytest.param([], "", id="none"),
        pytest.param([1.5, -1], "█▁", id="clamped"),
    ],
)
def test_sparkline(values: list[Any], expected: str) -> None:
    assert fmt.sparkline(values) == expected


def _shown(value: Any) -> tuple[str, str, str]:
    """A report value read as a category's rate, threshold and change, then formatted."""
    number = value - 1 if isinstance(value, float | int) and not isinstance(value, bool) else value
    cat = Category.from_json({"rate": value, "threshold": value, "change": number})
    return fmt.pct(cat.rate), fmt.threshold_pct(cat.threshold), fmt.points(cat.change)


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        pytest.param(0.925, ("92.5%", "92.5%", "-7.5"), id="share"),
        pytest.param(0.9, ("90.0%", "90%", "-10.0"), id="round"),
        pytest.param(1, ("100.0%", "100%", "+0.0"), id="int"),
        pytest.param(None, ("-", "-", "-"), id="absent"),
        pytest.param(True, ("-", "-", "-"), id="bool"),
        pytest.param(math.nan, ("-", "-", "-"), id="nan"),
        pytest.param(math.inf, ("-", "-", "-"), id="inf"),
        pytest.param("0.9", ("-", "-", "-"), id="string"),
    ],
)
def test_numbers(value: Any, shown: tuple[str, str, str]) -> None:
    assert _shown(value) == shown


@pytest.mark.parametrize(
    "value",
    [pytest.param(True, id="bool"), pytest.param("0.9", id="string")],
)
def test_a_malformed_number_is_read_as_absent(value: Any) -> None:
    cat = Category.from_json({"rate": value, "threshold": value, "change": value, "ci": [0.1, 1]})
    assert (cat.rate, cat.threshold, cat.change) == (None, None, None)
    assert cat.ci == (0.1, 1.0)


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        pytest.param([0.812, 0.968], "[81.2, 96.8]", id="interval"),
        pytest.param([0.1, math.nan], "-", id="nan"),
        pytest.param([False, True], "-", id="bools"),
        pytest.param("ab", "-", id="string"),
        pytest.param(None, "-", id="absent"),
    ],
)
def test_ci_text(value: Any, shown: str) -> None:
    assert fmt.ci_text(Category.from_json({"ci": value}).ci) == shown


@pytest.mark.parametrize(
    "value",
    [
        pytest.param([False, True], id="bools"),
        pytest.param("ab", id="string"),
        pytest.param([0.1], id="one-end"),
        pytest.param([0.1, "0.9"], id="string-end"),
    ],
)
def test_a_malformed_interval_is_read_as_absent(value: Any) -> None:
    assert Category.from_json({"ci": value}).ci is None


@pytest.mark.parametrize(
    ("item", "title"),
    [
        pytest.param(
            {"question": 2, "key": "behavior_gap", "title": "Own words?"}, "Own words?", id="own"
        ),
        pytest.param({"question": 2, "key": "behavior_gap"}, TITLES["behavior_gap"], id="by-key"),
        pytest.param({"question": 3, "title": "  "}, TITLES["training_data"], id="by-number"),
        pytest.param({"question": 9, "key": "extra"}, "extra", id="unknown-key"),
        pytest.param({"question": 9}, "question 9", id="nothing"),
    ],
)
def test_question_title(item: dict[str, Any], title: str) -> None:
    assert fmt.question_title(Answer.from_json(item)) == title


@pytest.mark.parametrize(
    ("rec", "text"),
    [
        pytest.param(
            {"cell": "fine-tune", "not_yet": [3], "summary": "behavior-bound: not yet, question 3"},
            "behavior-bound: not yet, question 3",
            id="summary",
        ),
        pytest.param(
            {"cell": "fine-tune", "not_yet": [3, 5]},
            "behavior-bound, stable -> fine-tune (LoRA/QLoRA)",
            id="label-only",
        ),
        pytest.param({"cell": "odd"}, "odd", id="unknown-cell"),
        pytest.param({"cell": None}, "nothing failed: no change recommended", id="nothing"),
    ],
)
def test_recommendation_text(rec: dict[str, Any], text: str) -> None:
    assert fmt.recommendation_text(Recommendation.from_json(rec)) == text


def test_every_matrix_cell_has_a_label() -> None:
    cells = [cell for _, row in fmt.MATRIX for cell in row]
    assert sorted(cells) == sorted(fmt.CELL_ORDER) == sorted(HEADLINES)


def test_cells_are_worded_as_the_checklist_words_them() -> None:
    for cell, headline in HEADLINES.items():
        assert fmt.cell_headline(cell) == headline
        assert fmt.recommendation_text(Recommendation(cell)) == headline
    assert fmt.cell_headline("odd") == "odd"


@pytest.mark.parametrize(
    ("value", "texts"),
    [
        pytest.param(
            {"knowledge": {"behavior": 4}, "behavior": {"knowledge": 1}},
            [
                "4 knowledge cases failed for behavior reasons",
                "1 behavior case failed for knowledge reasons",
            ],
            id="counts",
        ),
        pytest.param({"knowledge": {"behavior": 0}}, [], id="zero"),
        pytest.param(None, [], id="absent"),
    ],
)
def test_disagreement_texts(value: Any, texts: list[str]) -> None:
    summary = RunSummary.from_json({"disagreements": value})
    assert fmt.disagreement_texts(summary.disagreements) == texts


@pytest.mark.parametrize(
    "value",
    [
        pytest.param({"knowledge": "4 knowledge cases failed"}, id="text"),
        pytest.param({"knowledge": 4}, id="number"),
        pytest.param({"knowledge": {"behavior": "4"}}, id="text-count"),
        pytest.param({"knowledge": {"behavior": True}}, id="bool-count"),
        pytest.param(["knowledge"], id="list"),
    ],
)
def test_a_malformed_disagreement_is_dropped(value: Any) -> None:
    assert RunSummary.from_json({"disagreements": value}).disagreements == {}


def test_diagnosis_counts_follow_the_one_order() -> None:
    report = {"diagnosis": {"knowledge": 1, "hybrid": 2, "behavior": 3, "error": 4}}
    summary = RunSummary.from_json(report)
    assert [d for d, _ in fmt.diagnosis_counts(summary)] == list(fmt.DIAGNOSIS_ORDER)
    assert fmt.DIAGNOSIS_ORDER == ("behavior", "hybrid", "knowledge", "error")
    assert fmt.diagnosis_text(summary) == "behavior 3 · hybrid 2 · knowledge 1 · error 4"


def test_nothing_diagnosed_has_no_text() -> None:
    summary = RunSummary.from_json({"diagnosis": {"knowledge": 0}})
    assert fmt.diagnosis_counts(summary) == []
    assert fmt.diagnosis_text(summary) is None


def test_diagnosis_path() -> None:
    assert fmt.diagnosis_path("knowledge", "passed") == "static knowledge, counterfactual passed"
