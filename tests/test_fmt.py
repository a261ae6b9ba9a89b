"""The wording and number formats every renderer shares."""

from __future__ import annotations

import math
from typing import Any

import pytest

from pytest_ragft.checklist import HEADLINES, TITLES
from pytest_ragft.report import fmt


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
    change = value - 1 if fmt.number(value) is not None else value
    assert (fmt.pct(value), fmt.threshold_pct(value), fmt.points(change)) == shown


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
    assert fmt.ci_text(value) == shown


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
    assert fmt.question_title(item) == title


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
    assert fmt.recommendation_text(rec) == text


def test_every_matrix_cell_has_a_label() -> None:
    cells = [cell for _, row in fmt.MATRIX for cell in row]
    assert sorted(cells) == sorted(fmt.CELL_ORDER) == sorted(HEADLINES)


def test_cells_are_worded_as_the_checklist_words_them() -> None:
    for cell, headline in HEADLINES.items():
        assert fmt.cell_headline(cell) == headline
        assert fmt.recommendation_text({"cell": cell}) == headline
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
    assert fmt.disagreement_texts(value) == texts


def test_diagnosis_counts_follow_the_one_order() -> None:
    report = {"diagnosis": {"knowledge": 1, "hybrid": 2, "behavior": 3, "error": 4}}
    assert [d for d, _ in fmt.diagnosis_counts(report)] == list(fmt.DIAGNOSIS_ORDER)
    assert fmt.DIAGNOSIS_ORDER == ("behavior", "hybrid", "knowledge", "error")
