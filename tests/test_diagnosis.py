from __future__ import annotations

from typing import Any

import pytest

from pytest_ragft.diagnosis import (
    EVIDENCE_CONTEXTS,
    WINDOW,
    Disagreements,
    counterfactual_contexts,
    disagreements,
    evidence,
    final_diagnosis,
    needs_counterfactual,
    static_diagnosis,
)
from pytest_ragft.model import Case, CheckOutcome, Result

FAILED = (CheckOutcome(check="contains", passed=False, message="contains: expected ..."),)


def make_case(facts: tuple[str, ...] = (), expect: dict[str, Any] | None = None) -> Case:
    return Case(id="c1", kind="knowledge", input="q", facts=facts, expect=expect or {})


@pytest.mark.parametrize(
    ("case", "answer", "contexts", "expected"),
    [
        pytest.param(
            make_case(("30 days",)),
            "Refunds are accepted within 30 days.",
            ("Refunds: 30 days.",),
            "behavior",
            id="fact-in-answer",
        ),
        pytest.param(
            make_case(expect={"max_words": 5}),
            "A rather long answer that is too wordy",
            (),
            "behavior",
            id="no-facts",
        ),
        pytest.param(
            make_case(("30 days",)),
            "Refunds are accepted within two weeks.",
            ("Refunds are accepted within 30 days of purchase.",),
            "hybrid",
            id="fact-in-context-only",
        ),
        pytest.param(
            make_case(("30 days",)),
            "I do not know.",
            ("Shipping takes 5 days.", "Refund window: 30 days."),
            "hybrid",
            id="fact-only-in-second-context",
        ),
        pytest.param(
            make_case(("30 days",)),
            "Refunds are accepted within two weeks.",
            ("Shipping takes 5 days.",),
            "knowledge",
            id="fact-nowhere",
        ),
        pytest.param(
            make_case(("30 days",)),
            "Refunds are accepted within two weeks.",
            (),
            "knowledge",
            id="no-contexts",
        ),
        pytest.param(
            make_case(("30 days", "store credit")),
            "Within 30 days, as cash.",
            ("Refunds within 30 days.",),
            "knowledge",
            id="one-missing-fact-in-no-context",
        ),
        pytest.param(
            make_case(("30 days", "store credit")),
            "You get a refund.",
            ("Refunds within 30 days.", "Paid as store credit."),
            "hybrid",
            id="missing-facts-spread-over-contexts",
        ),
        pytest.param(
            make_case(("30 days", "store credit")),
            "You get a refund.",
            ("Refunds within 30 days.", "Paid in cash."),
            "knowledge",
            id="second-missing-fact-in-no-context",
        ),
        pytest.param(
            make_case(expect={"contains": ["30 days", "receipt"]}),
            "Bring your RECEIPT within 30   days!",
            (),
            "behavior",
            id="facts-from-contains-list-present",
        ),
        pytest.param(
            make_case(expect={"contains": "receipt"}),
            "Just come by.",
            ("A receipt is required.",),
            "hybrid",
            id="fact-from-contains-string",
        ),
        pytest.param(
            make_case(("Store-Credit",)),
            "Refunds are paid as **store credit**.",
            (),
            "behavior",
            id="case-and-punctuation-differ",
        ),
        pytest.param(
            make_case(("$1,500",)),
            "The limit is $1500.",
            (),
            "behavior",
            id="thousands-separator",
        ),
        pytest.param(
            make_case(("5 days",)),
            "Shipping takes 15 days.",
            ("Shipping takes 5 days.",),
            "hybrid",
            id="number-is-a-whole-token",
        ),
        pytest.param(
            make_case(("12.50",)),
            "The fee is 12.5 euros.",
            (),
            "behavior",
            id="trailing-zero-decimal",
        ),
    ],
)
def test_static_diagnosis(
    case: Case, answer: str, contexts: tuple[str, ...], expected: str
) -> None:
    result = Result(answer=answer, contexts=contexts)
    assert static_diagnosis(case, result, FAILED, errored=False) == expected


@pytest.mark.parametrize(
    ("result", "errored"),
    [
        pytest.param(None, False, id="no-result"),
        pytest.param(Result(answer="Within 30 days."), True, id="errored"),
        pytest.param(None, True, id="errored-without-result"),
    ],
)
def test_static_diagnosis_of_an_error(result: Result | None, errored: bool) -> None:
    assert static_diagnosis(make_case(("30 days",)), result, (), errored) == "error"


@pytest.mark.parametrize(
    ("static", "expected"),
    [
        pytest.param("knowledge", True, id="knowledge"),
        pytest.param("hybrid", True, id="hybrid"),
        pytest.param("behavior", False, id="behavior"),
        pytest.param("error", False, id="error"),
    ],
)
def test_needs_counterfactual(static: str, expected: bool) -> None:
    assert needs_counterfactual(static) is expected


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        pytest.param(
            Case(id="c", kind="knowledge", facts=("30 days",), gold_contexts=("Policy: 30 days",)),
            ("Policy: 30 days",),
            id="gold-contexts",
        ),
        pytest.param(
            Case(id="c", kind="knowledge", facts=("30 days", "receipt")),
            ("30 days", "receipt"),
            id="facts",
        ),
        pytest.param(
            Case(id="c", kind="knowledge", expect={"contains": "30 days"}),
            ("30 days",),
            id="contains-strings",
        ),
    ],
)
def test_counterfactual_contexts(case: Case, expected: tuple[str, ...]) -> None:
    assert counterfactual_contexts(case) == expected


@pytest.mark.parametrize(
    ("static", "counterfactual", "expected"),
    [
        pytest.param("knowledge", "passed", "knowledge", id="knowledge-confirmed"),
        pytest.param("knowledge", "failed", "hybrid", id="knowledge-overturned"),
        pytest.param("hybrid", "passed", "knowledge", id="hybrid-overturned"),
        pytest.param("hybrid", "failed", "hybrid", id="hybrid-confirmed"),
        pytest.param("knowledge", None, "knowledge", id="knowledge-not-rerun"),
        pytest.param("hybrid", None, "hybrid", id="hybrid-not-rerun"),
        pytest.param("behavior", None, "behavior", id="behavior"),
        pytest.param("error", None, "error", id="error"),
        pytest.param("behavior", "passed", "behavior", id="behavior-is-never-overturned"),
    ],
)
def test_final_diagnosis(static: str, counterfactual: str | None, expected: str) -> None:
    assert final_diagnosis(static, counterfactual) == expected


def test_final_diagnosis_rejects_an_unknown_outcome() -> None:
    with pytest.raises(ValueError, match="'skipped'"):
        final_diagnosis("knowledge", "skipped")


@pytest.mark.parametrize(
    ("records", "expected", "sentences"),
    [
        pytest.param([], Disagreements(0, 0), (), id="nothing"),
        pytest.param(
            [("knowledge", "knowledge"), ("behavior", "behavior"), ("behavior", "hybrid")],
            Disagreements(0, 0),
            (),
            id="all-agree",
        ),
        pytest.param(
            [("knowledge", "behavior"), ("knowledge", "hybrid")] * 2,
            Disagreements(4, 0),
            ("4 knowledge cases failed for behavior reasons",),
            id="knowledge-cases-behavior-bound",
        ),
        pytest.param(
            [("behavior", "knowledge"), ("knowledge", "hybrid")],
            Disagreements(1, 1),
            (
                "1 knowledge case failed for behavior reasons",
                "1 behavior case failed for knowledge reasons",
            ),
            id="one-each-singular",
        ),
        pytest.param(
            [("knowledge", "error"), ("behavior", "error"), ("behavior", None)],
            Disagreements(0, 0),
            (),
            id="errors-and-undiagnosed-never-disagree",
        ),
    ],
)
def test_disagreements(
    records: list[tuple[str, str | None]], expected: Disagreements, sentences: tuple[str, ...]
) -> None:
    got = disagreements(records)
    assert got == expected
    assert got.sentences == sentences
    assert got.total == expected.knowledge_for_behavior + expected.behavior_for_knowledge


@pytest.mark.parametrize(
    ("answer", "contexts", "expected"),
    [
        pytest.param("Paris is the capital.", (), "behavior", id="one-option-present"),
        pytest.param("It is Lyon.", ("The capital is Paris.",), "hybrid", id="option-retrieved"),
        pytest.param("It is Lyon.", ("Lyon is large.",), "knowledge", id="no-option-anywhere"),
        pytest.param("It is Lyon.", (), "knowledge", id="nothing-retrieved"),
    ],
)
def test_contains_any_is_one_any_of_fact_group(
    answer: str, contexts: tuple[str, ...], expected: str
) -> None:
    """An openai/evals sample's ideal answers: any one of them is the fact."""
    case = Case(id="c", kind="knowledge", expect={"contains_any": ["Paris", "Paris, France"]})
    failed = [CheckOutcome("contains_any", False, "missing")]
    assert static_diagnosis(case, Result(answer, contexts), failed, False) == expected
    assert counterfactual_contexts(case) == ("Paris",)


# --- the evidence a failure's diagnosis read ------------------------------------------------


def test_evidence_marks_each_fact_in_the_answer_and_each_context() -> None:
    case = make_case(("$75", "30 days"))
    result = Result(
        answer="Returns take 30 days.",
        contexts=("Returns: 30 days.", "Free shipping over $75.", "Store hours: 9am."),
        sources=("returns#1", "shipping#2"),  # fewer ids than contexts
    )
    found = evidence(case, result, "failed")
    assert (found.facts, found.answer, found.gold) == (["$75", "30 days"], [False, True], "failed")
    assert [(c.rank, c.source, c.facts) for c in found.contexts] == [
        (1, "returns#1", [False, True]),
        (2, "shipping#2", [True, False]),
        (3, None, [False, False]),
    ]
    assert found.contexts_total == 3
    assert [c.excerpt for c in found.contexts] == list(result.contexts)  # short: kept whole
    second = found.contexts[1]
    assert second.hit is not None and second.excerpt[second.hit[0] : second.hit[1]] == "$75."


@pytest.mark.parametrize(
    ("answer", "contexts"),
    [
        pytest.param("no idea", ("Refunds within 30 days.",), id="hybrid"),
        pytest.param("no idea", ("Refunds take a while.",), id="knowledge"),
        pytest.param("Within 30 days!", ("Refunds within 30 days.",), id="behavior"),
        pytest.param("no idea", (), id="no-contexts"),
    ],
)
def test_evidence_says_found_exactly_where_the_diagnosis_does(
    answer: str, contexts: tuple[str, ...]
) -> None:
    """The marks are the diagnosis's own reading: hybrid exactly when every fact missing from
    the answer is marked in some context, behavior exactly when none is missing."""
    case = make_case(("30 days",))
    result = Result(answer=answer, contexts=contexts)
    found = evidence(case, result, None)
    static = static_diagnosis(case, result, FAILED, False)
    missing = [i for i, hit in enumerate(found.answer) if not hit]
    held = all(any(c.facts[i] for c in found.contexts) for i in missing)
    assert static == ("behavior" if not missing else "hybrid" if contexts and held else "knowledge")


def test_evidence_keeps_the_contexts_that_hold_a_missing_fact_first() -> None:
    contexts = (*(f"Passage {n} about nothing." for n in range(1, 10)), "Within 30 days.")
    found = evidence(make_case(("30 days",)), Result(answer="no", contexts=contexts), None)
    ranks = [c.rank for c in found.contexts]
    assert len(ranks) == EVIDENCE_CONTEXTS and ranks == sorted(ranks)
    assert ranks[-1] == 10 and found.contexts[-1].facts == [True]
    assert found.contexts_total == 10


def test_a_long_context_is_cut_around_the_fact() -> None:
    text = (
        "Filler words here. " * 40
        + "Refunds are accepted within 30 days of delivery."
        + (" More filler follows." * 40)
    )
    found = evidence(make_case(("30 days",)), Result(answer="no", contexts=(text,)), None)
    context = found.contexts[0]
    assert len(context.excerpt) <= WINDOW
    assert 0 < context.start and context.start + len(context.excerpt) < context.length
    assert text[context.start : context.start + len(context.excerpt)] == context.excerpt
    assert context.hit is not None
    assert context.excerpt[context.hit[0] : context.hit[1]] == "30 days"
    assert not context.excerpt.startswith(" ") and not context.excerpt.endswith(" ")


def test_a_long_context_without_a_fact_shows_its_start() -> None:
    text = "word " * 200
    found = evidence(make_case(("30 days",)), Result(answer="no", contexts=(text,)), None)
    context = found.contexts[0]
    assert (context.start, context.hit) == (0, None)
    assert len(context.excerpt) <= WINDOW < context.length


def test_an_any_of_group_is_one_fact() -> None:
    case = make_case(expect={"contains_any": ["yes", "correct"]})
    found = evidence(case, Result(answer="no", contexts=("That is correct.",)), None)
    assert (found.facts, found.answer, found.contexts[0].facts) == (
        ["yes or correct"],
        [False],
        [True],
    )
