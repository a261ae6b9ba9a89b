from __future__ import annotations

import math

import pytest

from pytest_ragft.model import Case, RepeatRecord
from pytest_ragft.records import make_record, merge_records
from pytest_ragft.retrieval import (
    case_measures,
    fact_recall,
    hit_at_k,
    ndcg_at_k,
    rank_measures,
    recall_at_k,
    reciprocal_rank,
    relevant_ranks,
)

L2, L3, L4 = math.log2(2), math.log2(3), math.log2(4)  # discounts of ranks 1, 2 and 3


@pytest.mark.parametrize(
    ("sources", "gold", "k", "expected"),
    [
        pytest.param(
            ["a", "b", "c"],
            ["b"],
            None,
            {"hit": 1.0, "recall": 1.0, "mrr": 0.5, "ndcg": (1 / L3) / (1 / L2), "k": 3.0},
            id="one-gold-at-rank-2",
        ),
        pytest.param(
            ["a", "b", "c"],
            ["a"],
            None,
            {"hit": 1.0, "recall": 1.0, "mrr": 1.0, "ndcg": 1.0, "k": 3.0},
            id="gold-first",
        ),
        pytest.param(
            ["b", "a", "c"],
            ["a", "b"],
            None,
            {"hit": 1.0, "recall": 1.0, "mrr": 1.0, "ndcg": 1.0, "k": 3.0},
            id="tie-two-golds-either-order-b-first",
        ),
        pytest.param(
            ["a", "b", "c"],
            ["b", "a"],
            None,
            {"hit": 1.0, "recall": 1.0, "mrr": 1.0, "ndcg": 1.0, "k": 3.0},
            id="tie-two-golds-either-order-a-first",
        ),
        pytest.param(
            ["c", "a"],
            ["a", "x"],
            None,
            {"hit": 1.0, "recall": 0.5, "mrr": 0.5, "ndcg": (1 / L3) / (1 + 1 / L3), "k": 2.0},
            id="one-gold-id-missing",
        ),
        pytest.param(
            ["a", "b"],
            ["x", "y"],
            None,
            {"hit": 0.0, "recall": 0.0, "mrr": 0.0, "ndcg": 0.0, "k": 2.0},
            id="every-gold-id-missing",
        ),
        pytest.param(
            ["c", "a"],
            ["a"],
            10,
            {"hit": 1.0, "recall": 1.0, "mrr": 0.5, "ndcg": (1 / L3) / (1 / L2), "k": 2.0},
            id="k-beyond-the-list-is-the-list",
        ),
        pytest.param(
            ["c", "a", "b"],
            ["a", "b"],
            1,
            {"hit": 0.0, "recall": 0.0, "mrr": 0.0, "ndcg": 0.0, "k": 1.0},
            id="k-cuts-the-golds-off",
        ),
        pytest.param(
            ["c", "a", "b"],
            ["a", "b"],
            2,
            {"hit": 1.0, "recall": 0.5, "mrr": 0.5, "ndcg": (1 / L3) / (1 + 1 / L3), "k": 2.0},
            id="k-2-of-3",
        ),
        pytest.param(
            ["c", "c", "a"],
            ["a", "c"],
            None,
            {"hit": 1.0, "recall": 1.0, "mrr": 1.0, "ndcg": (1 + 1 / L4) / (1 + 1 / L3), "k": 3.0},
            id="duplicate-keeps-its-place-counts-once",
        ),
        pytest.param(
            ["a", "a", "a"],
            ["a"],
            None,
            {"hit": 1.0, "recall": 1.0, "mrr": 1.0, "ndcg": 1.0, "k": 3.0},
            id="duplicate-gold-not-counted-twice",
        ),
        pytest.param(
            ["a", "a"],
            ["a", "b"],
            None,
            {"hit": 1.0, "recall": 0.5, "mrr": 1.0, "ndcg": 1 / (1 + 1 / L3), "k": 2.0},
            id="duplicate-does-not-stand-for-a-missing-gold",
        ),
        pytest.param(
            ["b", "x"],
            ["b", "b"],
            None,
            {"hit": 1.0, "recall": 1.0, "mrr": 1.0, "ndcg": 1.0, "k": 2.0},
            id="duplicate-gold-id",
        ),
        pytest.param(
            [],
            ["a"],
            None,
            {"hit": 0.0, "recall": 0.0, "mrr": 0.0, "ndcg": 0.0, "k": 0.0},
            id="nothing-returned",
        ),
        pytest.param(
            ["a", "b"],
            [],
            None,
            {"hit": 0.0, "recall": 0.0, "mrr": 0.0, "ndcg": 0.0, "k": 2.0},
            id="no-gold",
        ),
    ],
)
def test_rank_measures(
    sources: list[str], gold: list[str], k: int | None, expected: dict[str, float]
) -> None:
    got = rank_measures(sources, gold, k)
    assert got == pytest.approx(expected, abs=1e-12)
    assert got["hit"] == hit_at_k(sources, gold, k)
    assert got["recall"] == recall_at_k(sources, gold, k)
    assert got["mrr"] == reciprocal_rank(sources, gold, k)
    assert got["ndcg"] == ndcg_at_k(sources, gold, k)


def test_a_worked_ndcg() -> None:
    # golds at ranks 2 and 4 of 5: DCG = 1/log2(3) + 1/log2(5) = 1.0616; IDCG = 1 + 1/log2(3)
    # = 1.6309; nDCG = 0.6509
    assert ndcg_at_k(["x", "a", "y", "b", "z"], ["a", "b"]) == pytest.approx(0.650921, abs=1e-6)


@pytest.mark.parametrize(
    ("sources", "gold", "k", "ranks"),
    [
        pytest.param(["a", "b", "a", "c"], ["a", "c"], None, [1, 4], id="duplicate-skipped"),
        pytest.param(["a", "b", "a", "c"], ["a", "c"], 3, [1], id="cut-at-k"),
        pytest.param(["a", "b"], ["b"], 0, [], id="k-zero"),
    ],
)
def test_relevant_ranks(
    sources: list[str], gold: list[str], k: int | None, ranks: list[int]
) -> None:
    assert relevant_ranks(sources, gold, k) == ranks


@pytest.mark.parametrize(
    ("contexts", "groups", "expected"),
    [
        pytest.param(
            ["Shipping takes 5 days.", "Refunds within 30 days."],
            [("5 days",), ("30 days",), ("store credit",)],
            2 / 3,
            id="two-of-three",
        ),
        pytest.param(
            ["Express: 15 days."],
            [("5 days",)],
            0.0,
            id="whole-tokens-only",
        ),
        pytest.param(
            ["Works with **GPT4** and costs $1,000."],
            [("GPT-4",), ("1000",)],
            1.0,
            id="normalised-like-the-diagnosis",
        ),
        pytest.param(
            ["Returns are open for 14 Days."],
            [("two weeks", "14 days")],
            1.0,
            id="any-of-group",
        ),
        pytest.param([], [("5 days",)], 0.0, id="nothing-retrieved"),
        pytest.param(["Shipping takes 5 days."], [], None, id="no-facts"),
    ],
)
def test_fact_recall(
    contexts: list[str], groups: list[tuple[str, ...]], expected: float | None
) -> None:
    assert fact_recall(contexts, groups) == expected


def repeat(n: int, sources: list[str], contexts: list[str]) -> RepeatRecord:
    return RepeatRecord(repeat=n, outcome="passed", sources=sources, contexts=contexts)


SHIPPING = ["Standard shipping takes 5 days.", "Express is next day."]


@pytest.mark.parametrize(
    ("case", "repeats", "expected"),
    [
        pytest.param(
            Case(id="c", kind="knowledge", facts=("5 days",), gold_sources=("ship#2",)),
            [repeat(1, [], []), repeat(2, ["ship#1", "ship#2"], SHIPPING)],
            {"hit": 1.0, "recall": 1.0, "mrr": 0.5, "ndcg": 1 / L3, "k": 2.0},
            id="first-repeat-that-returned-sources",
        ),
        pytest.param(
            Case(id="c", kind="knowledge", gold_sources=("ship#2",)),
            [repeat(1, ["ship#2"], []), repeat(2, ["ship#9"], [])],
            {"hit": 1.0, "recall": 1.0, "mrr": 1.0, "ndcg": 1.0, "k": 1.0},
            id="later-repeats-do-not-count",
        ),
        pytest.param(
            Case(id="c", kind="knowledge", facts=("5 days",), gold_sources=("ship#2",)),
            [repeat(1, [], SHIPPING)],
            None,
            id="gold-ids-but-no-sources",
        ),
        pytest.param(
            Case(id="c", kind="knowledge", facts=("5 days", "store credit")),
            [repeat(1, ["ship#1"], SHIPPING)],
            {"fact_recall": 0.5},
            id="no-gold-fact-recall",
        ),
        pytest.param(
            Case(id="c", kind="knowledge", expect={"contains_any": ["next day", "overnight"]}),
            [repeat(1, [], []), repeat(2, [], SHIPPING)],
            {"fact_recall": 1.0},
            id="no-gold-any-of-group",
        ),
        pytest.param(
            Case(id="c", kind="behavior", expect={"max_words": 5}),
            [repeat(1, ["ship#1"], SHIPPING)],
            None,
            id="no-gold-no-facts",
        ),
        pytest.param(
            Case(id="c", kind="knowledge", facts=("5 days",)),
            [repeat(1, [], [])],
            None,
            id="nothing-retrieved",
        ),
        pytest.param(
            Case(id="c", kind="knowledge", facts=("5 days",), gold_sources=("a",)),
            [],
            None,
            id="no-repeats",
        ),
    ],
)
def test_case_measures(
    case: Case, repeats: list[RepeatRecord], expected: dict[str, float] | None
) -> None:
    got = case_measures(case, repeats)
    assert got == (None if expected is None else pytest.approx(expected, abs=1e-12))
    record = make_record(case, repeats, min_pass_ratio=1.0)
    assert record.retrieval == got


def test_a_python_case_keeps_its_first_repeats_measures_when_merged() -> None:
    case = Case(id="c", kind="knowledge", gold_sources=("b",), source="t.py")
    items = [
        make_record(case, [repeat(n, sources, [])], min_pass_ratio=1.0, python=True)
        for n, sources in ((2, ["b"]), (1, ["a", "b"]))
    ]
    (merged,) = merge_records(items)
    assert merged.retrieval is not None and merged.retrieval["mrr"] == 0.5
