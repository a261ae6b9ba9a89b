"""Why a case failed: knowledge, hybrid, behavior or error.

The answer decides what to fix: a fact that retrieval never supplied is a knowledge gap (RAG), a
fact the model had in hand and did not use, or a fact-complete answer in the wrong shape, is a
behavior gap (prompts, then fine-tuning). The static diagnosis reads the answer and the retrieved
contexts; the counterfactual re-run with the gold passages makes it firmer.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pytest_ragft.matching import contains_fact
from pytest_ragft.model import Case, CheckOutcome, Diagnosis, Result

BEHAVIOR_BOUND: frozenset[str] = frozenset({"behavior", "hybrid"})


def static_diagnosis(
    case: Case, result: Result | None, failed: Sequence[CheckOutcome], errored: bool
) -> Diagnosis:
    """Diagnose a failed case from its answer and retrieved contexts alone.

    ``failed`` (the checks that failed) is taken so the signature matches the
    ``pytest_ragft_diagnose`` hook; the rules need only the facts, as a failed check with every
    fact present is what makes a behavior failure.
    """
    del failed
    if errored or result is None:
        return "error"
    missing = [g for g in case.fact_groups if not _found(result.answer, g)]
    if not missing:
        return "behavior"
    if result.contexts and all(
        any(_found(context, group) for context in result.contexts) for group in missing
    ):
        return "hybrid"
    return "knowledge"


def _found(text: str, group: Sequence[str]) -> bool:
    return any(contains_fact(text, option) for option in group)


def needs_counterfactual(static: str) -> bool:
    """Only a missing fact can be tested by handing the model the right passage."""
    return static in ("knowledge", "hybrid")


def counterfactual_contexts(case: Case) -> tuple[str, ...]:
    """The passages for the counterfactual re-run: ``gold_contexts``, else the facts (for an
    "any of" group, its first string: one right answer is what the model needs to see)."""
    return case.gold_contexts or tuple(group[0] for group in case.fact_groups)


def final_diagnosis(static: str, counterfactual: str | None) -> str:
    """Combine the static diagnosis with the re-run's outcome.

    Given the right passage, a pass means retrieval is what to fix (knowledge) and a failure
    means the model had the facts and still failed (hybrid, behavior-bound).
    """
    if not needs_counterfactual(static) or counterfactual is None:
        return static
    if counterfactual == "passed":
        return "knowledge"
    if counterfactual == "failed":
        return "hybrid"
    raise ValueError(
        f"counterfactual outcome must be 'passed', 'failed' or None: {counterfactual!r}"
    )


@dataclass(frozen=True)
class Disagreements:
    """Failed cases whose diagnosis contradicts the declared ``kind``."""

    knowledge_for_behavior: int = 0  # declared knowledge, diagnosed behavior or hybrid
    behavior_for_knowledge: int = 0  # declared behavior, diagnosed knowledge

    @property
    def total(self) -> int:
        return self.knowledge_for_behavior + self.behavior_for_knowledge

    @property
    def sentences(self) -> tuple[str, ...]:
        """Plain sentences for the reports, e.g. "4 knowledge cases failed for behavior
        reasons"."""
        out: list[str] = []
        if self.knowledge_for_behavior:
            n = self.knowledge_for_behavior
            out.append(f"{n} knowledge {_cases(n)} failed for behavior reasons")
        if self.behavior_for_knowledge:
            n = self.behavior_for_knowledge
            out.append(f"{n} behavior {_cases(n)} failed for knowledge reasons")
        return tuple(out)


def disagreements(records: Iterable[tuple[str, str | None]]) -> Disagreements:
    """Count (declared kind, final diagnosis) pairs that disagree.

    Behavior and hybrid both count as behavior-bound; errors and undiagnosed cases say nothing
    about the kind, so they never disagree.
    """
    knowledge_for_behavior = behavior_for_knowledge = 0
    for kind, diagnosis in records:
        if kind == "knowledge" and diagnosis in BEHAVIOR_BOUND:
            knowledge_for_behavior += 1
        elif kind == "behavior" and diagnosis == "knowledge":
            behavior_for_knowledge += 1
    return Disagreements(knowledge_for_behavior, behavior_for_knowledge)


def _cases(n: int) -> str:
    return "case" if n == 1 else "cases"
