"""Evaluate cases: every repeat's pipeline call, the checks, the diagnosis and the
counterfactual re-run, issued ahead of the items that report them.

Items only wait for a future and report what it holds, so pytest's order, ``-x``, ``-k`` and
``-m`` behave as usual while the calls overlap.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from pytest_ragft import checks as checks_mod
from pytest_ragft import costs, diagnosis
from pytest_ragft.model import (
    CallError,
    Case,
    CaseRecord,
    CheckOutcome,
    Evidence,
    Gold,
    RepeatRecord,
    Result,
    judge_counts,
)
from pytest_ragft.pipeline import Caller, accepts_contexts
from pytest_ragft.records import Diagnosed, make_record, pass_rule

EXCERPT = 2000  # characters of an answer kept in a record
# Built-in checks of a few string operations on the answer, run on the call loop itself.
INLINE_CHECKS = frozenset(
    {"equals", "contains", "contains_any", "not_contains", "max_chars", "max_words"}
)


@dataclass
class Evaluation:
    """What evaluating a case found: its repeats and diagnosis, plus the live objects the
    diagnose hook reads. ``record`` makes the case record, once the hook had its say."""

    case: Case
    repeats: list[RepeatRecord]
    min_pass_ratio: float
    diagnosed: Diagnosed = field(default_factory=Diagnosed)
    messages: list[str] = field(default_factory=list)
    result: Result | None = None
    failures: list[CheckOutcome] = field(default_factory=list)
    pipeline: Callable[..., Any] | None = None  # a variant's; None: the main pipeline
    evidence: Evidence | None = None

    @property
    def outcome(self) -> str:
        return pass_rule(self.repeats, self.min_pass_ratio)[0]

    def record(self, override: str | None = None) -> CaseRecord:
        """The case's record, with ``override`` (from ``pytest_ragft_diagnose``) as its final
        diagnosis when given."""
        diagnosed = self.diagnosed
        if override is not None:
            diagnosed = replace(diagnosed, final=override)
        return make_record(
            self.case,
            self.repeats,
            min_pass_ratio=self.min_pass_ratio,
            diagnosed=diagnosed,
            messages=self.messages,
            evidence=self.evidence,
        )


class Runner:
    """One per process: owns the call loop and the futures of the cases it was asked for."""

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        concurrency: int,
        timeout_s: float,
        repeats: int,
        min_pass_ratio: float,
        checks: Mapping[str, checks_mod.CheckFn],
        counterfactual: bool,
        extra_checks: Callable[[Case, Result], Sequence[CheckOutcome]] | None = None,
    ) -> None:
        self.caller = Caller(fn, concurrency=concurrency, timeout_s=timeout_s)
        self.repeats = repeats
        self.min_pass_ratio = min_pass_ratio
        self.checks = checks
        # Why a failed case gets no re-run with its gold passages, when that is for the run.
        self.no_counterfactual: Gold | None = None
        if not counterfactual:
            self.no_counterfactual = "off"
        elif not accepts_contexts(fn):
            self.no_counterfactual = "unsupported"
        self.extra_checks = extra_checks
        self._futures: dict[str, concurrent.futures.Future[Evaluation]] = {}
        # Named pipelines beside the main one: each case is evaluated by them too, through
        # the same loop and concurrency slots, with their vars merged into the case's.
        self.variants: dict[str, tuple[Callable[..., Any], Mapping[str, Any]]] = {}

    def submit(self, case: Case) -> concurrent.futures.Future[Evaluation]:
        """Start evaluating a case (once, unless cancelled); later calls return the same future."""
        key = _key(case)
        future = self._futures.get(key)
        if future is None or future.cancelled():
            future = self.caller.submit(self._evaluate(case))
            self._futures[key] = future
            for name, (fn, vars) in self.variants.items():
                variant = replace(case, vars={**case.vars, **vars})
                self._futures[f"{name}\0{key}"] = self.caller.submit(self._evaluate(variant, fn))
        return future

    def variant_futures(self, case: Case) -> dict[str, concurrent.futures.Future[Evaluation]]:
        """The variants' evaluations of a submitted case, by variant name."""
        key = _key(case)
        found = ((name, self._futures.get(f"{name}\0{key}")) for name in self.variants)
        return {name: future for name, future in found if future is not None}

    def release(self, case: Case) -> None:
        """Forget a case's finished evaluations once its test has read them, so a long run
        keeps one record per case, not every evaluation besides; a later ``submit`` (a rerun)
        evaluates afresh."""
        for key in (_key(case), *(f"{name}\0{_key(case)}" for name in self.variants)):
            future = self._futures.get(key)
            if future is not None and future.done():
                del self._futures[key]

    def cancel(self, case: Case) -> None:
        """Stop a case's evaluation that is not done: its calls still waiting for a slot are
        never made (an async one in flight is cancelled). A later ``submit`` starts afresh."""
        for key in (_key(case), *(f"{name}\0{_key(case)}" for name in self.variants)):
            future = self._futures.get(key)
            if future is not None and not future.done():
                future.cancel()
                del self._futures[key]

    def ask(
        self, input: Any, vars: Mapping[str, Any], fn: Callable[..., Any] | None = None
    ) -> Result | CallError:
        """One call for a Python case, through the same loop, slots and time-out; ``fn`` calls
        a variant instead of the main pipeline."""
        return self.caller.submit(self.caller.call(input, vars, fn)).result()

    def close(self) -> None:
        """Cancel every evaluation not done, then close the call loop."""
        for future in self._futures.values():
            future.cancel()
        self._futures.clear()
        self.caller.close()

    def check(self, case: Case, result: Result) -> list[CheckOutcome]:
        outcomes = checks_mod.run_checks(case, result, self.checks)
        if self.extra_checks is not None and "deepeval" in case.expect:
            outcomes.extend(self.extra_checks(case, result))
        return outcomes

    async def _evaluate(self, case: Case, fn: Callable[..., Any] | None = None) -> Evaluation:
        repeats = case.repeats or self.repeats
        ratio = case.min_pass_ratio if case.min_pass_ratio is not None else self.min_pass_ratio
        calls = await asyncio.gather(
            *(self.caller.call(_pipeline_input(case), case.vars, fn) for _ in range(repeats))
        )
        records: list[RepeatRecord] = []
        # The first repeat that failed its checks: what the diagnosis reads.
        first_failed: tuple[Result, list[CheckOutcome]] | None = None
        for n, call in enumerate(calls, start=1):
            record, failed = await self._repeat(case, n, call)
            records.append(record)
            if failed and first_failed is None and isinstance(call, Result):
                first_failed = (call, failed)
        evaluation = Evaluation(case, records, ratio, pipeline=fn)
        if evaluation.outcome == "passed":
            return evaluation
        if first_failed is None:  # an error outcome: every non-passing repeat errored
            bad = next(r for r in records if r.outcome != "passed")
            evaluation.messages = list(bad.messages)
            evaluation.diagnosed = Diagnosed("error", None, "error")
            return evaluation
        return await self._diagnose(evaluation, *first_failed)

    def _checks_inline(self, case: Case) -> bool:
        """Whether a case's checks are all built-ins that take microseconds on any answer
        (``INLINE_CHECKS``), so the call loop runs them itself rather than hand them to a
        thread and back; anything else (regex, json_schema, the project's own, deepeval)
        runs off the loop, where it cannot hold up the other calls' time-outs."""
        builtin = checks_mod.BUILTIN_CHECKS
        return all(
            name in INLINE_CHECKS and self.checks.get(name) is builtin[name] for name in case.expect
        )

    async def _repeat(
        self, case: Case, n: int, call: Result | CallError
    ) -> tuple[RepeatRecord, list[CheckOutcome]]:
        """One repeat's record and its failed checks."""
        if isinstance(call, CallError):
            return RepeatRecord(
                repeat=n,
                outcome="error",
                messages=[f"error: {call.message}"],
                latency_s=round(call.latency_s, 6),
                error=call.message,
            ), []
        if self._checks_inline(case):
            outcomes = self.check(case, call)
        else:
            loop = asyncio.get_running_loop()
            outcomes = await loop.run_in_executor(None, self.check, case, call)
        failed = [o for o in outcomes if not o.passed]
        return RepeatRecord(
            repeat=n,
            outcome="failed" if failed else "passed",
            messages=[o.message for o in failed],
            answer=call.answer[:EXCERPT],
            contexts=[c[:EXCERPT] for c in call.contexts],
            sources=list(call.sources),
            latency_s=round(call.latency_s, 6),
            scores={o.check: o.score for o in outcomes if o.score is not None},
            judge=judge_counts(outcomes),
            **costs.usage(call.metadata),
        ), failed

    async def _diagnose(
        self, evaluation: Evaluation, result: Result, failures: list[CheckOutcome]
    ) -> Evaluation:
        """The static diagnosis of the first failed repeat, made firmer by a counterfactual
        re-run with the gold passages where the pipeline takes ``contexts``."""
        case = evaluation.case
        evaluation.messages = [f.message for f in failures]
        static = diagnosis.static_diagnosis(case, result, failures, False)
        evaluation.diagnosed = Diagnosed(static, None, static)
        evaluation.result, evaluation.failures = result, failures
        gold = await self._counterfactual(evaluation, static)
        evaluation.evidence = diagnosis.evidence(case, result, gold)
        return evaluation

    async def _counterfactual(self, evaluation: Evaluation, static: str) -> Gold:
        """The re-run with the gold passages, where it can tell something: its outcome (and the
        final diagnosis it makes), or why there was none."""
        case = evaluation.case
        gold = diagnosis.counterfactual_contexts(case)
        if not diagnosis.needs_counterfactual(static):
            return "not-needed"
        fn = evaluation.pipeline
        unsupported = fn is not None and not accepts_contexts(fn)
        if self.no_counterfactual == "off" or (fn is None and self.no_counterfactual):
            return self.no_counterfactual or "off"
        if unsupported:
            return "unsupported"
        if not gold:
            return "no-gold"
        with_gold = {**case.vars, "contexts": list(gold)}
        call = await self.caller.call(_pipeline_input(case), with_gold, fn)
        if isinstance(call, CallError):
            evaluation.messages.append(f"counterfactual run: {call.message}")
            return "error"
        outcomes = await asyncio.get_running_loop().run_in_executor(None, self.check, case, call)
        cf: Gold = "failed" if any(not o.passed for o in outcomes) else "passed"
        evaluation.diagnosed = Diagnosed(static, cf, diagnosis.final_diagnosis(static, cf))
        return cf


def _key(case: Case) -> str:
    return f"{case.source}::{case.id}"


def _pipeline_input(case: Case) -> Any:
    """A string input as is; chat messages as a fresh list of dicts, as SPEC 4 describes them
    (a case is frozen; the pipeline may mutate what it gets)."""
    if isinstance(case.input, str):
        return case.input
    return [dict(message) for message in case.input]
