"""The run summary: one frozen, typed value that the reports, the comment, the history and the
exit status read and never change.

``to_json`` gives the JSON report (``schemas/report.schema.json``); ``from_json`` reads one
back (``ragft comment --report``, ``ragft report --run``), filling what an older or hand-made
report leaves out, so every renderer works on the same typed value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pytest_ragft.flaky import FlakyCase
from pytest_ragft.model import DIAGNOSES, CaseRecord
from pytest_ragft.variants import Comparison

SCHEMA_VERSION = 1


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _int(value: Any, default: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        return default
    return value


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _seq(value: Any) -> Sequence[Any]:
    return value if isinstance(value, list | tuple) else ()


@dataclass(frozen=True)
class RegressionTest:
    """The paired (or pooled) test of a category against its baseline."""

    method: str
    p_value: float
    drop: float
    significant: bool
    fires: bool
    detectable: bool
    cases_needed: int | None
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "p_value": self.p_value,
            "drop": self.drop,
            "significant": self.significant,
            "fires": self.fires,
            "detectable": self.detectable,
            "cases_needed": self.cases_needed,
            "detail": self.detail,
        }

    @classmethod
    def from_json(cls, data: Any) -> RegressionTest | None:
        if not isinstance(data, Mapping):
            return None
        return cls(
            method=str(data.get("method", "")),
            p_value=_float(data.get("p_value")) or 0.0,
            drop=_float(data.get("drop")) or 0.0,
            significant=bool(data.get("significant")),
            fires=bool(data.get("fires", True)),
            detectable=bool(data.get("detectable", True)),
            cases_needed=data.get("cases_needed")
            if isinstance(data.get("cases_needed"), int)
            else None,
            detail=str(data.get("detail") or ""),
        )


@dataclass(frozen=True)
class Category:
    """A category's (or a tag's) counts, rate with its interval, and its place against the
    threshold and the baseline."""

    passed: int = 0
    failed: int = 0
    error: int = 0
    skipped: int = 0
    total: int = 0
    rate: float | None = None
    ci: tuple[float, float] | None = None
    threshold: float | None = None
    baseline: float | None = None
    change: float | None = None
    below_threshold: bool = False
    regression: RegressionTest | None = None  # set only when the event fires
    regression_test: RegressionTest | None = None
    power_note: str | None = None
    trend: tuple[float | None, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "failed": self.failed,
            "error": self.error,
            "skipped": self.skipped,
            "total": self.total,
            "rate": self.rate,
            "ci": None if self.ci is None else list(self.ci),
            "threshold": self.threshold,
            "baseline": self.baseline,
            "change": self.change,
            "below_threshold": self.below_threshold,
            "regression": None if self.regression is None else self.regression.to_json(),
            "regression_test": (
                None if self.regression_test is None else self.regression_test.to_json()
            ),
            "power_note": self.power_note,
            "trend": list(self.trend),
        }

    @classmethod
    def from_json(cls, data: Any) -> Category:
        data = _map(data)
        ci = _seq(data.get("ci"))
        low, high = (_float(ci[0]), _float(ci[1])) if len(ci) == 2 else (None, None)
        return cls(
            passed=_int(data.get("passed")),
            failed=_int(data.get("failed")),
            error=_int(data.get("error")),
            skipped=_int(data.get("skipped")),
            total=_int(data.get("total")),
            rate=_float(data.get("rate")),
            ci=None if low is None or high is None else (low, high),
            threshold=_float(data.get("threshold")),
            baseline=_float(data.get("baseline")),
            change=_float(data.get("change")),
            below_threshold=bool(data.get("below_threshold")),
            regression=RegressionTest.from_json(data.get("regression")),
            regression_test=RegressionTest.from_json(data.get("regression_test")),
            power_note=_str(data.get("power_note")),
            trend=tuple(_float(v) for v in _seq(data.get("trend"))),
        )


@dataclass(frozen=True)
class GateEvent:
    """One gate event with the action ``[tool.ragft.gate]`` gives it."""

    event: str
    action: str
    detail: str
    category: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "event": self.event,
            "category": self.category,
            "detail": self.detail,
            "action": self.action,
        }

    @classmethod
    def from_json(cls, data: Any) -> GateEvent:
        data = _map(data)
        return cls(
            event=str(data.get("event", "event")),
            action=str(data.get("action", "")),
            detail=str(data.get("detail") or ""),
            category=_str(data.get("category")),
        )


@dataclass(frozen=True)
class Gate:
    """The verdict, final when the summary is made, and why."""

    verdict: str
    reason: str
    events: tuple[GateEvent, ...] = ()
    case_failures: str = "gate"
    non_eval_failed: int = 0

    def with_action(self, action: str) -> list[GateEvent]:
        """The events that carry ``action``, in the order the gate raised them."""
        return [e for e in self.events if e.action == action]

    def to_json(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "reason": self.reason,
            "events": [e.to_json() for e in self.events],
            "case_failures": self.case_failures,
            "non_eval_failed": self.non_eval_failed,
        }

    @classmethod
    def from_json(cls, data: Any) -> Gate:
        data = _map(data)
        return cls(
            verdict=str(data.get("verdict") or "unknown"),
            reason=str(data.get("reason") or ""),
            events=tuple(GateEvent.from_json(e) for e in _seq(data.get("events"))),
            case_failures=str(data.get("case_failures") or "gate"),
            non_eval_failed=_int(data.get("non_eval_failed")),
        )


@dataclass(frozen=True)
class Answer:
    """One of the five fine-tuning questions, answered with its evidence."""

    question: int
    key: str
    answer: str
    evidence: str
    title: str = ""
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "key": self.key,
            "title": self.title,
            "answer": self.answer,
            "evidence": self.evidence,
            "note": self.note,
        }

    @classmethod
    def from_json(cls, data: Any) -> Answer:
        data = _map(data)
        note = _str(data.get("note")) or _str(data.get("short")) or ""
        return cls(
            question=_int(data.get("question")),
            key=str(data.get("key") or ""),
            answer=str(data.get("answer") or "unknown"),
            evidence=str(data.get("evidence") or ""),
            title=_str(data.get("title")) or "",
            note=note,
        )


@dataclass(frozen=True)
class Recommendation:
    """The decision-matrix cell with the most failures, every cell's count, and for fine-tune
    the questions not yet answered yes."""

    cell: str | None
    counts: Mapping[str, int] = field(default_factory=dict)
    not_yet: tuple[int, ...] = ()
    advice: str = ""
    summary: str = ""
    # How many failures were placed by their case's declared volatile, by evidence from the
    # case's history, and by the matrix's default.
    placed: Mapping[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "cell": self.cell,
            "counts": dict(self.counts),
            "not_yet": list(self.not_yet),
            "advice": self.advice,
            "summary": self.summary,
            "placed": dict(self.placed),
        }

    @classmethod
    def from_json(cls, data: Any) -> Recommendation:
        data = _map(data)
        counts = {str(k): v for k, v in _map(data.get("counts")).items() if _int(v, -1) >= 0}
        return cls(
            cell=_str(data.get("cell")),
            counts=counts,
            not_yet=tuple(q for q in _seq(data.get("not_yet")) if isinstance(q, int)),
            advice=_str(data.get("advice")) or "",
            summary=_str(data.get("summary")) or "",
            placed={str(k): v for k, v in _map(data.get("placed")).items() if _int(v, -1) >= 0},
        )


@dataclass(frozen=True)
class CounterfactualCounts:
    """How many failed cases were re-run with their gold passages, and what that did to the
    static diagnosis."""

    run: int = 0
    confirmed: int = 0
    overturned: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"run": self.run, "confirmed": self.confirmed, "overturned": self.overturned}

    @classmethod
    def from_json(cls, data: Any) -> CounterfactualCounts:
        data = _map(data)
        return cls(
            run=_int(data.get("run")),
            confirmed=_int(data.get("confirmed")),
            overturned=_int(data.get("overturned")),
        )


@dataclass(frozen=True)
class JudgeCalls:
    """LLM-judged checks of a run: how many called the judge, how many the judge cache
    saved (0 without a history store, where there is no cache)."""

    calls: int = 0
    saved: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"calls": self.calls, "saved": self.saved}

    @classmethod
    def from_json(cls, data: Any) -> JudgeCalls:
        data = _map(data)
        return cls(calls=_int(data.get("calls")), saved=_int(data.get("saved")))


TREND_MEASURES = (
    "hit",
    "recall",
    "mrr",
    "ndcg",
    "fact_recall",
    "latency_p50_s",
    "latency_p95_s",
    "tokens_per_case",
    "cost_per_case",
)
"""The per-category measures a trend carries: runsummary.Retrieval's and Usage's, by name."""


def trend_measures(retrieval: Retrieval | None, usage: Usage | None) -> dict[str, float]:
    """A category's TREND_MEASURES that were measured, from its retrieval and usage."""
    found: dict[str, float] = {}
    for source in (retrieval, usage):
        for name in TREND_MEASURES:
            value = getattr(source, name, None) if source is not None else None
            if isinstance(value, int | float) and not isinstance(value, bool):
                found[name] = float(value)
    return found


@dataclass(frozen=True)
class SeriesPoint:
    """One run of the trend: earlier runs from history, this run last."""

    run_id: str
    started_at: str
    branch: str | None
    rates: Mapping[str, float | None]
    # Category -> TREND_MEASURES name -> value: the measures the run had (none: not measured).
    measures: Mapping[str, Mapping[str, float]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "started_at": self.started_at,
            "branch": self.branch,
            "rates": dict(self.rates),
            "measures": {k: dict(v) for k, v in self.measures.items()},
        }

    @classmethod
    def from_json(cls, data: Any) -> SeriesPoint:
        data = _map(data)
        return cls(
            run_id=str(data.get("run_id") or ""),
            started_at=str(data.get("started_at") or ""),
            branch=_str(data.get("branch")),
            rates={str(k): _float(v) for k, v in _map(data.get("rates")).items()},
            measures={
                str(kind): {
                    str(n): float(v)
                    for n, v in _map(found).items()
                    if n in TREND_MEASURES and _float(v) is not None
                }
                for kind, found in _map(data.get("measures")).items()
            },
        )


@dataclass(frozen=True)
class Usage:
    """Latency, tokens and cost of a group of cases: per case (the mean of its calls) and in
    total (every call). A figure no case reported is None."""

    cases: int = 0
    calls: int = 0
    latency_p50_s: float | None = None
    latency_p95_s: float | None = None
    tokens_per_case: float | None = None
    tokens_total: int | None = None
    cost_per_case: float | None = None
    cost_total: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    @classmethod
    def from_json(cls, data: Any) -> Usage:
        data = _map(data)
        total = data.get("tokens_total")
        return cls(
            cases=_int(data.get("cases")),
            calls=_int(data.get("calls")),
            latency_p50_s=_float(data.get("latency_p50_s")),
            latency_p95_s=_float(data.get("latency_p95_s")),
            tokens_per_case=_float(data.get("tokens_per_case")),
            tokens_total=_int(total) if isinstance(total, int) else None,
            cost_per_case=_float(data.get("cost_per_case")),
            cost_total=_float(data.get("cost_total")),
        )


@dataclass(frozen=True)
class Retrieval:
    """Retrieval quality of a category: each measure's mean over the cases that have it. The
    rank measures come from the cases with ``gold_sources`` (``cases`` of them, cut at ``k``
    when they share one), fact recall from those without (``fact_cases``)."""

    cases: int = 0
    k: int | None = None
    hit: float | None = None
    recall: float | None = None
    mrr: float | None = None
    ndcg: float | None = None
    fact_cases: int = 0
    fact_recall: float | None = None
    # 95% intervals of the means: Wilson for hit (0/1 per case), stats.mean_interval for the
    # others; None where the mean is.
    hit_ci: tuple[float, float] | None = None
    recall_ci: tuple[float, float] | None = None
    mrr_ci: tuple[float, float] | None = None
    ndcg_ci: tuple[float, float] | None = None
    fact_recall_ci: tuple[float, float] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            name: list(value) if isinstance(value, tuple) else value
            for name in self.__dataclass_fields__
            for value in [getattr(self, name)]
        }

    @classmethod
    def from_json(cls, data: Any) -> Retrieval:
        data = _map(data)
        k = data.get("k")
        return cls(
            cases=_int(data.get("cases")),
            k=k if isinstance(k, int) and not isinstance(k, bool) else None,
            hit=_float(data.get("hit")),
            recall=_float(data.get("recall")),
            mrr=_float(data.get("mrr")),
            ndcg=_float(data.get("ndcg")),
            fact_cases=_int(data.get("fact_cases")),
            fact_recall=_float(data.get("fact_recall")),
            **{name: _interval(data.get(name)) for name in RETRIEVAL_CIS},
        )


RETRIEVAL_CIS = ("hit_ci", "recall_ci", "mrr_ci", "ndcg_ci", "fact_recall_ci")


def _interval(value: Any) -> tuple[float, float] | None:
    pair = _seq(value)
    low, high = (_float(pair[0]), _float(pair[1])) if len(pair) == 2 else (None, None)
    return None if low is None or high is None else (low, high)


@dataclass(frozen=True)
class Lift:
    """What a fix could do to one category's pass rate: ``fixed`` of the ``of`` failures it
    addresses would pass, taking the rate from ``rate`` to ``rate_if``; ``expected_rate``
    where a fix rate says how many are expected to (a fine-tune's)."""

    category: str
    passed: int
    total: int
    fixed: int
    of: int
    rate: float
    rate_if: float
    expected_rate: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    @classmethod
    def from_json(cls, data: Any) -> Lift:
        data = _map(data)
        return cls(
            category=str(data.get("category") or ""),
            passed=_int(data.get("passed")),
            total=_int(data.get("total")),
            fixed=_int(data.get("fixed")),
            of=_int(data.get("of")),
            rate=_float(data.get("rate")) or 0.0,
            rate_if=_float(data.get("rate_if")) or 0.0,
            expected_rate=_float(data.get("expected_rate")),
        )


@dataclass(frozen=True)
class Gains:
    """The gain each fix can buy, measured on this run. ``retrieval``: per category, the
    failures re-run with their gold passages and how many then passed. ``finetune``: per
    category, the behavior-bound failures a fine-tune addresses, all of them at best and
    ``fix_rate`` of them expected (from ``fix_rate_from``)."""

    retrieval: tuple[Lift, ...] = ()
    finetune: tuple[Lift, ...] = ()
    fix_rate: float | None = None
    fix_rate_from: str | None = None  # "expected_fix_rate" or the fine-tune variant's evidence

    def to_json(self) -> dict[str, Any]:
        return {
            "retrieval": [lift.to_json() for lift in self.retrieval],
            "finetune": [lift.to_json() for lift in self.finetune],
            "fix_rate": self.fix_rate,
            "fix_rate_from": self.fix_rate_from,
        }

    @classmethod
    def from_json(cls, data: Any) -> Gains:
        data = _map(data)
        return cls(
            retrieval=tuple(Lift.from_json(v) for v in _seq(data.get("retrieval"))),
            finetune=tuple(Lift.from_json(v) for v in _seq(data.get("finetune"))),
            fix_rate=_float(data.get("fix_rate")),
            fix_rate_from=_str(data.get("fix_rate_from")),
        )


CHANGE_LISTS = ("newly_failing", "newly_passing", "still_failing", "new", "removed")


@dataclass(frozen=True)
class Changes:
    """Each case against the latest baseline run: what broke, what was fixed, what still
    fails, what is new and what is gone (ids sorted). ``against`` is None without a baseline."""

    against: str | None = None
    newly_failing: tuple[str, ...] = ()
    newly_passing: tuple[str, ...] = ()
    still_failing: tuple[str, ...] = ()
    new: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    of_case: Mapping[str, str] = field(default_factory=dict)  # id -> change, "still_passing" too

    def to_json(self) -> dict[str, Any]:
        return {
            "against": self.against,
            **{name: list(getattr(self, name)) for name in CHANGE_LISTS},
        }

    @classmethod
    def from_json(cls, data: Any, cases: Sequence[Mapping[str, Any]] = ()) -> Changes:
        data = _map(data)
        lists = {name: tuple(str(i) for i in _seq(data.get(name))) for name in CHANGE_LISTS}
        of_case = {
            str(c.get("id")): str(c["change"]) for c in cases if isinstance(c.get("change"), str)
        }
        return cls(against=_str(data.get("against")), of_case=of_case, **lists)


@dataclass(frozen=True)
class RunSummary:
    """Everything one run found, decided once: the unit every output is made from."""

    suite: str
    run_id: str
    started_at: str
    gate: Gate
    finished_at: str | None = None
    duration_s: float | None = None
    plugin_version: str = ""
    pipeline: str | None = None
    config_hash: str | None = None
    partial: str | None = None
    git: Mapping[str, Any] = field(default_factory=lambda: {"sha": None, "branch": None})
    ci: Mapping[str, Any] = field(default_factory=lambda: {"provider": None, "run_url": None})
    categories: Mapping[str, Category] = field(default_factory=dict)
    tags: Mapping[str, Category] = field(default_factory=dict)
    power: tuple[str, ...] = ()
    diagnosis: Mapping[str, int] = field(default_factory=lambda: dict.fromkeys(DIAGNOSES, 0))
    counterfactual: CounterfactualCounts = CounterfactualCounts()
    disagreements: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    checklist: tuple[Answer, ...] = ()
    recommendation: Recommendation = Recommendation(None)
    flaky: tuple[FlakyCase, ...] = ()
    history: tuple[SeriesPoint, ...] = ()
    cases: tuple[CaseRecord, ...] = ()
    shards: tuple[str, ...] | None = None
    changes: Changes = Changes()
    shard: Mapping[str, int] | None = None
    overrides: Mapping[str, str] = field(default_factory=dict)  # setting -> where it came from
    # Why this run may not form a baseline (dirty, pipeline overridden); empty: it may.
    left_out: tuple[str, ...] = ()
    # Latency, tokens and cost: "all" for the run, then each category.
    usage: Mapping[str, Usage] = field(default_factory=dict)
    variants: Comparison | None = None  # the run's variants against the main pipeline
    # Retrieval quality of each category with a case that measured it.
    retrieval: Mapping[str, Retrieval] = field(default_factory=dict)
    gains: Gains = Gains()  # what fixing retrieval, or a fine-tune, could lift each category to
    judge: JudgeCalls | None = None  # None: no check of the run was LLM-judged

    @property
    def complete(self) -> bool:
        """A run that stands for the whole suite; only such a run is stored as a baseline."""
        return self.partial is None

    @property
    def failed_cases(self) -> list[CaseRecord]:
        return [c for c in self.cases if c.outcome in ("failed", "error")]

    def to_json(self) -> dict[str, Any]:
        """The JSON report, a fresh JSON-safe dict."""
        data: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "suite": self.suite,
            "run_id": self.run_id,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "duration_s": self.duration_s,
            "plugin_version": self.plugin_version,
            "pipeline": self.pipeline,
            "config_hash": self.config_hash,
            "complete": self.complete,
            "partial": self.partial,
            "git": dict(self.git),
            "ci": dict(self.ci),
            "gate": self.gate.to_json(),
            "categories": {k: c.to_json() for k, c in self.categories.items()},
            "tags": {k: c.to_json() for k, c in self.tags.items()},
            "power": list(self.power),
            "diagnosis": dict(self.diagnosis),
            "counterfactual": self.counterfactual.to_json(),
            "disagreements": {k: dict(v) for k, v in self.disagreements.items()},
            "checklist": [a.to_json() for a in self.checklist],
            "recommendation": self.recommendation.to_json(),
            "flaky": [f.to_json() for f in self.flaky],
            "history": [p.to_json() for p in self.history],
            "changes": self.changes.to_json(),
            "cases": [
                {**c.to_dict(), "change": self.changes.of_case.get(c.id)} for c in self.cases
            ],
        }
        if self.shards is not None:
            data["shards"] = list(self.shards)
        if self.shard is not None:
            data["shard"] = dict(self.shard)
        data["overrides"] = dict(self.overrides)
        data["baseline"] = {"counts": not self.left_out, "left_out": list(self.left_out)}
        data["usage"] = {k: u.to_json() for k, u in self.usage.items()}
        data["retrieval"] = {k: r.to_json() for k, r in self.retrieval.items()}
        data["gains"] = self.gains.to_json()
        if self.variants is not None:
            data["variants"] = self.variants.to_json()
        if self.judge is not None:
            data["judge"] = self.judge.to_json()
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RunSummary:
        """A summary from a JSON report (a file, a history row, a hand-made report), with
        what it leaves out filled by the defaults."""
        diagnosis = _map(data.get("diagnosis"))
        shards = data.get("shards")
        return cls(
            suite=str(data.get("suite") or ""),
            run_id=str(data.get("run_id") or ""),
            started_at=str(data.get("started_at") or ""),
            gate=Gate.from_json(data.get("gate")),
            finished_at=_str(data.get("finished_at")),
            duration_s=_float(data.get("duration_s")),
            plugin_version=str(data.get("plugin_version") or ""),
            pipeline=_str(data.get("pipeline")),
            config_hash=_str(data.get("config_hash")),
            partial=_partial(data),
            git=dict(_map(data.get("git"))) or {"sha": None, "branch": None},
            ci=dict(_map(data.get("ci"))) or {"provider": None, "run_url": None},
            categories={
                str(k): Category.from_json(v) for k, v in _map(data.get("categories")).items()
            },
            tags={str(k): Category.from_json(v) for k, v in _map(data.get("tags")).items()},
            power=tuple(str(n) for n in _seq(data.get("power"))),
            diagnosis={d: _int(diagnosis.get(d)) for d in DIAGNOSES},
            counterfactual=CounterfactualCounts.from_json(data.get("counterfactual")),
            disagreements=_disagreements(data.get("disagreements")),
            checklist=tuple(Answer.from_json(a) for a in _seq(data.get("checklist"))),
            recommendation=Recommendation.from_json(data.get("recommendation")),
            flaky=tuple(_flaky(f) for f in _seq(data.get("flaky"))),
            history=tuple(SeriesPoint.from_json(p) for p in _seq(data.get("history"))),
            cases=tuple(_case(c) for c in _seq(data.get("cases")) if isinstance(c, Mapping)),
            shards=tuple(str(s) for s in shards) if isinstance(shards, list) else None,
            shard=dict(data["shard"]) if isinstance(data.get("shard"), Mapping) else None,
            overrides={str(k): str(v) for k, v in _map(data.get("overrides")).items()},
            left_out=tuple(str(r) for r in _seq(_map(data.get("baseline")).get("left_out"))),
            usage={str(k): Usage.from_json(v) for k, v in _map(data.get("usage")).items()},
            retrieval={
                str(k): Retrieval.from_json(v) for k, v in _map(data.get("retrieval")).items()
            },
            gains=Gains.from_json(data.get("gains")),
            changes=Changes.from_json(
                data.get("changes"), [c for c in _seq(data.get("cases")) if isinstance(c, Mapping)]
            ),
            variants=Comparison.from_json(data["variants"]) if data.get("variants") else None,
            judge=JudgeCalls.from_json(data["judge"]) if data.get("judge") else None,
        )


def _case(data: Mapping[str, Any]) -> CaseRecord:
    """A case of a report, with the keys a hand-made or older report may leave out."""
    case_id = str(data.get("id") or "")
    filled = {
        "nodeid": case_id,
        "kind": "knowledge",
        "outcome": "error",
        "pass_ratio": None,
        **{k: v for k, v in data.items() if v is not None or k not in ("nodeid", "kind")},
        "id": case_id,
    }
    filled["repeats"] = [r for r in _seq(filled.get("repeats")) if isinstance(r, Mapping)]
    for name in ("input", "source"):
        filled[name] = _str(filled.get(name)) or ""
    for name in ("messages", "tags", "facts"):
        filled[name] = [str(v) for v in _seq(filled.get(name))]
    return CaseRecord.from_dict(filled)


def _flaky(value: Any) -> FlakyCase:
    """A flaky case of a report; an older report lists only the id."""
    if not isinstance(value, Mapping):
        return FlakyCase(str(value), "history", "outcome changed between runs")
    runs = tuple(str(r) for r in _seq(value.get("runs")))
    return FlakyCase(
        str(value.get("id") or ""),
        str(value.get("rule") or ""),
        str(value.get("detail") or ""),
        runs,
    )


def _partial(data: Mapping[str, Any]) -> str | None:
    partial = _str(data.get("partial"))
    if partial is None and data.get("complete") is False:
        return "the run does not stand for the whole suite"
    return partial


def _disagreements(value: Any) -> dict[str, dict[str, int]]:
    found: dict[str, dict[str, int]] = {}
    for kind, inner in _map(value).items():
        counts = {str(d): n for d, n in _map(inner).items() if _int(n) > 0}
        if counts:
            found[str(kind)] = counts
    return found
