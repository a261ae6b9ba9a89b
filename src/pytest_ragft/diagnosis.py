"""Why a case failed: knowledge, hybrid, behavior or error.

The answer decides what to fix: a fact that retrieval never supplied is a knowledge gap (RAG), a
fact the model had in hand and did not use, or a fact-complete answer in the wrong shape, is a
behavior gap (prompts, then fine-tuning). The static diagnosis reads the answer and the retrieved
contexts; the counterfactual re-run with the gold passages makes it firmer.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pytest_ragft.matching import contains_any_fact, locate_fact
from pytest_ragft.model import (
    Case,
    CheckOutcome,
    ContextEvidence,
    Diagnosis,
    Evidence,
    Gold,
    Result,
)
from pytest_ragft.wording import plural

BEHAVIOR_BOUND: frozenset[str] = frozenset({"behavior", "hybrid"})
EVIDENCE_CONTEXTS = 5  # contexts kept as a failure's evidence
WINDOW = 280  # characters of a context kept around the fact it holds
LEAD = 60  # of them before the fact
_SNAP = 20  # a cut moves this far at most to fall between words


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
    missing = [g for g in case.fact_groups if not contains_any_fact(result.answer, g)]
    if not missing:
        return "behavior"
    if result.contexts and all(
        any(contains_any_fact(context, group) for context in result.contexts) for group in missing
    ):
        return "hybrid"
    return "knowledge"


def evidence(case: Case, result: Result, gold: Gold | None) -> Evidence:
    """What the diagnosis of a failed case read, for the reports: each fact found or missing in
    the answer and in each context, by the same matching as ``static_diagnosis``.

    At most ``EVIDENCE_CONTEXTS`` contexts are kept: those holding a fact the answer lacks come
    first (they are why "retrieval held the facts"), then the best ranked; each is cut to a
    window around the fact it holds, a missing one preferred.
    """
    groups = case.fact_groups
    in_answer = [contains_any_fact(result.answer, g) for g in groups]
    marks = [[contains_any_fact(context, g) for g in groups] for context in result.contexts]
    holding = [any(f and not a for f, a in zip(m, in_answer, strict=True)) for m in marks]
    ranks = sorted(range(len(marks)), key=lambda i: not holding[i])[:EVIDENCE_CONTEXTS]
    contexts = [_context_evidence(i, result, groups, marks[i], in_answer) for i in sorted(ranks)]
    return Evidence(
        facts=[" or ".join(g) for g in groups],
        answer=in_answer,
        contexts=contexts,
        contexts_total=len(result.contexts),
        gold=gold,
    )


def _context_evidence(
    index: int,
    result: Result,
    groups: Sequence[Sequence[str]],
    marks: list[bool],
    in_answer: list[bool],
) -> ContextEvidence:
    text = result.contexts[index]
    order = [i for i, m in enumerate(marks) if m and not in_answer[i]]
    order += [i for i, m in enumerate(marks) if m and in_answer[i]]
    span = next(
        (s for i in order for option in groups[i] if (s := locate_fact(text, option))), None
    )
    start, end = _window(text, span)
    hit = None if span is None else [span[0] - start, min(span[1], end) - start]
    return ContextEvidence(
        rank=index + 1,
        source=result.sources[index] if index < len(result.sources) else None,
        excerpt=text[start:end],
        start=start,
        length=len(text),
        facts=marks,
        hit=hit,
    )


def _window(text: str, span: tuple[int, int] | None) -> tuple[int, int]:
    """The part of ``text`` shown: all of it when short, else ``WINDOW`` characters from a
    little before the fact (from the start without one), cut between words where one is near."""
    if len(text) <= WINDOW:
        return 0, len(text)
    start = 0 if span is None else max(0, min(span[0] - LEAD, len(text) - WINDOW))
    end = max(start + WINDOW, span[1] if span else 0)
    if start > 0:
        space = text.find(" ", start, start + _SNAP)
        if space != -1 and (span is None or space < span[0]):
            start = space + 1
    if end < len(text):
        space = text.rfind(" ", end - _SNAP, end)
        if space != -1 and (span is None or space >= span[1]):
            end = space
    return start, min(end, len(text))


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
            out.append(f"{plural(n, 'knowledge case')} failed for behavior reasons")
        if self.behavior_for_knowledge:
            n = self.behavior_for_knowledge
            out.append(f"{plural(n, 'behavior case')} failed for knowledge reasons")
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
