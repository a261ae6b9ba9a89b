"""One run's summary: case records in; categories, statistics, diagnosis counts, the five
answers, the recommendation and the gate verdict out, as one ``RunSummary``.

Pure: everything it needs (history, the training-data audit, changed files, today, a comment
that could not be posted) is in ``RunInputs``, so every rule is tested without pytest, files or
a database. Each part is a small function that returns its value.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from pytest_ragft import checklist, costs, diagnosis, gains, retrieval, stats, variants
from pytest_ragft.diagnosis import BEHAVIOR_BOUND
from pytest_ragft.flaky import FlakyCase, Observation, flaky_cases
from pytest_ragft.model import DIAGNOSES, KINDS, CaseRecord
from pytest_ragft.records import merge_records, outcome_counts
from pytest_ragft.runsummary import (
    CHANGE_LISTS,
    Answer,
    Category,
    Changes,
    CounterfactualCounts,
    Gains,
    Gate,
    GateEvent,
    JudgeCalls,
    Recommendation,
    RegressionTest,
    Retrieval,
    RunSummary,
    SeriesPoint,
    Usage,
    trend_measures,
)
from pytest_ragft.signals import PLACED_BY, place
from pytest_ragft.suite import nothing_evaluated

if TYPE_CHECKING:
    from pytest_ragft.config import Settings


@dataclass
class HistoryContext:
    """What the history store knows that this run's summary needs."""

    prior_runs: int = 0  # earlier runs of the suite on the baseline branch
    baseline_rates: Mapping[str, float | None] = field(default_factory=dict)
    baseline_pooled: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    latest_outcomes: Mapping[str, tuple[str, bool]] = field(default_factory=dict)
    baseline_count: int = 0
    series: Sequence[Mapping[str, Any]] = ()  # earlier runs, oldest first
    # Each case's earlier outcomes and expectations, oldest first: flakiness and the signal.
    case_history: Mapping[str, Sequence[Observation]] = field(default_factory=dict)
    # The expectations digests of the failed cases since the signal's horizon began, and
    # whether the stored runs reach back that far: the evidence of a volatile or stable signal.
    case_contents: Mapping[str, Collection[str]] = field(default_factory=dict)
    spans_horizon: bool = False
    baseline_run_id: str | None = None  # the latest baseline run, which changes compare with
    # case id -> measure -> value in the latest baseline run (costs.case_measures)
    baseline_measures: Mapping[str, Mapping[str, float]] = field(default_factory=dict)


@dataclass(frozen=True)
class RunInputs:
    """Everything a run's summary is made from, gathered once by the session or ``ragft merge``."""

    records: Sequence[CaseRecord]
    settings: Settings
    run_id: str
    started_at: str
    plugin_version: str
    config_hash: str
    today: date
    finished_at: str | None = None
    duration_s: float | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)
    history: HistoryContext | None = None
    audit: checklist.TrainingAudit | None = None
    changed_files: Sequence[str] | None = None
    non_eval_failed: int = 0
    history_error: str | None = None
    partial: str | None = None  # why the run does not stand for the whole suite
    comment_error: str | None = None  # a required PR comment that could not be posted
    # The same evidence from the git history of the failed cases' files: digests per case id,
    # and the ids whose file is older than the horizon.
    git_contents: Mapping[str, Collection[str]] = field(default_factory=dict)
    git_spanning: Collection[str] = ()
    shards: tuple[str, ...] | None = None
    shard: Mapping[str, int] | None = None  # {"index": K, "count": N} for one shard's run
    # Each picked variant's records, by its name; compared with the main pipeline's, never gated.
    variant_records: Mapping[str, Sequence[CaseRecord]] = field(default_factory=dict)


@dataclass(frozen=True)
class _Tested:
    """A category after its history: the category and the events it raised."""

    category: Category
    events: tuple[GateEvent, ...] = ()


def summarize(inputs: RunInputs) -> RunSummary:
    """The run's summary, its verdict final."""
    settings = inputs.settings
    cases = [retrieval.cut_record(c, settings.retrieval.k) for c in merge_records(inputs.records)]
    tested: dict[str, _Tested] = {
        kind: _with_history(kind, mine, inputs)
        for kind in KINDS
        if (mine := [c for c in cases if c.kind == kind])
    }
    categories = {kind: t.category for kind, t in tested.items()}
    failed = [c for c in cases if c.outcome in ("failed", "error")]
    counts = diagnosis_counts(failed)
    usage = usage_by_category(cases)
    compared = compare_variants(cases, inputs)
    seen = from_variants(compared, failed, settings)
    answers = answer_questions(categories, counts, inputs, usage["all"].cost_per_case, seen)
    events = [e for t in tested.values() for e in t.events]
    events += threshold_events(categories)
    events += finetune_events(answers, inputs.changed_files, settings)
    events += spending_events(usage["all"], cases, inputs) + variant_events(compared)
    events += retrieval_events(cases, inputs)
    return RunSummary(
        suite=settings.suite,
        run_id=inputs.run_id,
        started_at=inputs.started_at,
        gate=decide_gate(events, cases, inputs),
        finished_at=inputs.finished_at,
        duration_s=inputs.duration_s,
        plugin_version=inputs.plugin_version,
        pipeline=settings.pipeline or None,
        config_hash=inputs.config_hash,
        partial=inputs.partial,
        git=dict(inputs.meta.get("git", {"sha": None, "branch": None})),
        ci=dict(inputs.meta.get("ci", {"provider": None, "run_url": None})),
        categories=categories,
        tags=tag_categories(cases),
        power=tuple(c.power_note for c in categories.values() if c.power_note),
        diagnosis=counts,
        counterfactual=counterfactual_counts(failed),
        disagreements=disagreements(failed),
        checklist=tuple(answers),
        recommendation=recommend(failed, answers, inputs),
        flaky=flaky_of(cases, inputs),
        history=series(inputs, categories, usage, cases),
        cases=tuple(cases),
        shards=inputs.shards,
        shard=inputs.shard,
        overrides=dict(settings.overrides),
        left_out=left_out_of_baseline(inputs),
        changes=case_changes(cases, inputs.history),
        usage=usage,
        variants=compared,
        retrieval=retrieval_by_category(cases),
        gains=gains_of(cases, seen, settings),
        judge=judge_calls(cases),
    )


def judge_calls(cases: Sequence[CaseRecord]) -> JudgeCalls | None:
    """The run's LLM-judged checks, summed over every call of every case; None with none."""
    counted = [r.judge for c in cases for r in c.repeats if r.judge is not None]
    if not counted:
        return None
    return JudgeCalls(
        calls=sum(int(j.get("calls", 0)) for j in counted),
        saved=sum(int(j.get("saved", 0)) for j in counted),
    )


def gains_of(cases: Sequence[CaseRecord], seen: VariantEvidence, settings: Settings) -> Gains:
    """What fixing retrieval and a fine-tune can win, the fine-tune at the rate a fine-tune
    variant measured, else at ``expected_fix_rate``, else at best only."""
    cost = settings.checklist.cost
    if seen.fix_rate is not None and seen.fix_rate[2]:
        name, fixed, of = seen.fix_rate
        rate, source = fixed / of, f"the finetune variant {name} fixed {fixed} of {of}"
        return gains.gains(cases, rate, source)
    if cost is not None:
        return gains.gains(cases, cost.expected_fix_rate, "expected_fix_rate")
    return gains.gains(cases)


def usage_by_category(cases: Sequence[CaseRecord]) -> dict[str, Usage]:
    """Latency, tokens and cost of the run ("all") and of each category with cases."""
    found = {"all": costs.usage_of(cases)}
    for kind in KINDS:
        mine = [c for c in cases if c.kind == kind]
        if mine:
            found[kind] = costs.usage_of(mine)
    return found


def retrieval_by_category(cases: Sequence[CaseRecord]) -> dict[str, Retrieval]:
    """Each category's retrieval measures, averaged over the cases that have each; a
    category no case of which measured retrieval is left out."""
    found: dict[str, Retrieval] = {}
    for kind in KINDS:
        measured = [c.retrieval for c in cases if c.kind == kind and c.retrieval]
        ranked = [m for m in measured if all(n in m for n in retrieval.RANK_MEASURES)]
        facts = [m[retrieval.FACT_RECALL] for m in measured if retrieval.FACT_RECALL in m]
        if not ranked and not facts:
            continue
        ks = {m.get(retrieval.K) for m in ranked}
        k = ks.pop() if len(ks) == 1 else None
        hits = [m[retrieval.HIT] for m in ranked]
        means = {n: [m[n] for m in ranked] for n in (retrieval.RECALL, retrieval.MRR)}
        ndcg = [m[retrieval.NDCG] for m in ranked]
        found[kind] = Retrieval(
            cases=len(ranked),
            k=None if k is None else int(k),
            hit=_mean(hits),
            recall=_mean(means[retrieval.RECALL]),
            mrr=_mean(means[retrieval.MRR]),
            ndcg=_mean(ndcg),
            fact_cases=len(facts),
            fact_recall=_mean(facts),
            # hit is 0 or 1 per case: a proportion, so Wilson's interval, as for pass rates
            hit_ci=_ci(hits, lambda v: stats.wilson_interval(round(sum(v)), len(v))),
            recall_ci=_ci(means[retrieval.RECALL], stats.mean_interval),
            mrr_ci=_ci(means[retrieval.MRR], stats.mean_interval),
            ndcg_ci=_ci(ndcg, stats.mean_interval),
            fact_recall_ci=_ci(facts, stats.mean_interval),
        )
    return found


def _mean(values: Sequence[float]) -> float | None:
    return round(sum(values) / len(values), 6) if values else None


def _ci(
    values: Sequence[float], interval: Callable[[Sequence[float]], tuple[float, float]]
) -> tuple[float, float] | None:
    """The 95% interval of the mean of ``values``, rounded as a category's is; None without."""
    if not values:
        return None
    low, high = interval(values)
    return (round(low, 4), round(high, 4))


def retrieval_events(cases: Sequence[CaseRecord], inputs: RunInputs) -> list[GateEvent]:
    """``retrieval_regression`` for each category whose retrieval fell against the latest
    baseline run's cases (``[tool.ragft.retrieval] max_drop``); none without a baseline."""
    history, settings = inputs.history, inputs.settings
    if history is None or not history.baseline_measures:
        return []
    found = []
    for kind in KINDS:
        detail = retrieval.regression(
            kind,
            [c for c in cases if c.kind == kind],
            history.baseline_measures,
            settings.retrieval.max_drop,
            settings.thresholds.alpha,
        )
        if detail is not None:
            found.append(GateEvent("retrieval_regression", "", detail, kind))
    return found


def spending_events(run: Usage, cases: Sequence[CaseRecord], inputs: RunInputs) -> list[GateEvent]:
    """``over_budget`` against ``[tool.ragft.budgets]``; ``cost_regression`` against the
    latest baseline run's cases."""
    budgets = inputs.settings.budgets
    history = inputs.history
    before = history.baseline_measures if history else {}
    return costs.budget_events(run, budgets) + costs.rise_events(
        cases, before, budgets.max_increase
    )


def flaky_of(cases: Sequence[CaseRecord], inputs: RunInputs) -> tuple[FlakyCase, ...]:
    history = inputs.history.case_history if inputs.history else {}
    sha = inputs.meta.get("git", {}).get("sha")
    return tuple(flaky_cases(cases, history, run_id=inputs.run_id, sha=sha))


def variant_events(compared: variants.Comparison | None) -> list[GateEvent]:
    """``variant_better`` for a variant that may replace the main pipeline, ``variant_worse``
    for one worse on a category."""
    found: list[GateEvent] = []
    for variant in compared.variants if compared is not None else ():
        worse = [k for k, c in variant.categories.items() if c.verdict == "worse"]
        if variant.replaces:
            found.append(GateEvent("variant_better", "", f"{variant.name}: {variant.reason}"))
        if worse:
            detail = f"{variant.name} is worse than the main pipeline on {', '.join(worse)}"
            found.append(GateEvent("variant_worse", "", detail))
    return found


def compare_variants(cases: Sequence[CaseRecord], inputs: RunInputs) -> variants.Comparison | None:
    """The picked variants against the main pipeline, judged by the configured margin."""
    if not inputs.variant_records:
        return None
    by_name = {v.name: v for v in inputs.settings.variants.pipelines}
    picked = [
        variants.Variant(
            name,
            merge_records(records),
            role=by_name[name].role if name in by_name else None,
            target=by_name[name].target if name in by_name else None,
        )
        for name, records in inputs.variant_records.items()
    ]
    return variants.compare(
        cases,
        picked,
        margin=inputs.settings.variants.rules.margin,
        alpha=inputs.settings.thresholds.alpha,
    )


def case_changes(cases: Sequence[CaseRecord], history: HistoryContext | None) -> Changes:
    """This run's cases against the latest baseline run; "failing" is failed or error."""
    if history is None or history.baseline_run_id is None:
        return Changes()
    before = {case_id: passed for case_id, (_, passed) in history.latest_outcomes.items()}
    return changes_between(before, cases, history.baseline_run_id)


def changes_between(
    before: Mapping[str, bool], cases: Sequence[CaseRecord], against: str
) -> Changes:
    """``cases`` against the outcomes of run ``against`` (case id -> passed; skipped cases
    left out), as the lists and each case's change."""
    of_case = {c.id: change for c in cases if (change := _change(c, before)) is not None}
    lists = {name: sorted(i for i, ch in of_case.items() if ch == name) for name in CHANGE_LISTS}
    lists["removed"] = sorted(set(before) - {c.id for c in cases})
    return Changes(
        against=against,
        of_case=of_case,
        **{name: tuple(ids) for name, ids in lists.items()},
    )


def outcomes_of(cases: Sequence[CaseRecord]) -> dict[str, bool]:
    """Case id -> passed, for the cases of a stored run that were not skipped."""
    return {c.id: c.outcome == "passed" for c in cases if c.outcome != "skipped"}


def _change(case: CaseRecord, before: Mapping[str, bool]) -> str | None:
    if case.outcome == "skipped":
        return None
    if case.id not in before:
        return "new"
    failing = case.outcome in ("failed", "error")
    if before[case.id]:
        return "newly_failing" if failing else "still_passing"
    return "still_failing" if failing else "newly_passing"


def left_out_of_baseline(inputs: RunInputs) -> tuple[str, ...]:
    """Why this run must not form a baseline: a dirty work tree, or a pipeline given on the
    command line or in the environment, unless the settings allow it."""
    settings = inputs.settings
    reasons = []
    if inputs.meta.get("git", {}).get("dirty") and not settings.baseline_dirty:
        reasons.append(
            "the work tree had uncommitted changes (baseline_dirty = true lets such runs count)"
        )
    origin = dict(settings.overrides).get("pipeline")
    if origin is not None and not settings.baseline_overridden:
        reasons.append(
            f"the pipeline came from {origin} (baseline_overridden = true lets such runs count)"
        )
    return tuple(reasons)


def category(records: Sequence[CaseRecord], threshold: float | None) -> Category:
    """Counts, rate and Wilson interval of a group of cases, and its place against a threshold."""
    counts = outcome_counts(records)
    total = counts["total"]
    rate = counts["passed"] / total if total else None
    low, high = stats.wilson_interval(counts["passed"], total) if total else (0.0, 0.0)
    return Category(
        passed=counts["passed"],
        failed=counts["failed"],
        error=counts["error"],
        skipped=counts["skipped"],
        total=total,
        rate=None if rate is None else round(rate, 6),
        ci=(round(low, 4), round(high, 4)) if total else None,
        threshold=threshold,
        below_threshold=bool(rate is not None and threshold is not None and rate < threshold),
    )


def tag_categories(cases: Sequence[CaseRecord]) -> dict[str, Category]:
    return {
        tag: category([c for c in cases if tag in c.tags], None)
        for tag in sorted({t for c in cases for t in c.tags})
    }


def _with_history(kind: str, records: Sequence[CaseRecord], inputs: RunInputs) -> _Tested:
    """A category with its trend, baseline, change, regression test and power note."""
    settings, history = inputs.settings, inputs.history
    cat = category(records, getattr(settings.thresholds, kind))
    if history is None:
        return _Tested(cat)
    trend = [run.get("rates", {}).get(kind) for run in list(history.series)[-9:]]
    cat = _replace(cat, trend=(*trend, cat.rate))
    base = history.baseline_rates.get(kind)
    if base is None or cat.rate is None or history.baseline_count == 0:
        return _Tested(cat)
    test = regression_test(kind, cat, records, history, settings)
    thresholds = settings.thresholds
    note = None
    if not test.detectable:
        note = (
            f"{kind}: {cat.total} cases are too few to detect a "
            f"{thresholds.max_drop * 100:g}-point drop from {base * 100:.1f}% "
            f"at alpha {thresholds.alpha:g} ({test.cases_needed} cases needed)"
        )
    cat = _replace(
        cat,
        baseline=round(base, 6),
        change=round(cat.rate - base, 6),
        regression_test=test,
        regression=test if test.fires else None,
        power_note=note,
    )
    events = (GateEvent("regression", "", test.detail, kind),) if test.fires else ()
    return _Tested(cat, events)


def _replace(cat: Category, **changes: Any) -> Category:
    from dataclasses import replace

    return replace(cat, **changes)


def regression_test(
    kind: str,
    cat: Category,
    records: Sequence[CaseRecord],
    history: HistoryContext,
    settings: Settings,
) -> RegressionTest:
    """The paired test on the cases shared with the latest baseline run, else the pooled one."""
    pairs = [
        (before, c.outcome == "passed")
        for c in records
        if c.outcome != "skipped"
        for k, before in [history.latest_outcomes.get(c.id, ("", None))]
        if k == kind and before is not None
    ]
    pooled = history.baseline_pooled.get(kind, (0, 0))
    assert cat.rate is not None
    test = stats.regression(
        kind,
        baseline_rate=float(history.baseline_rates[kind] or 0.0),
        passed=cat.passed,
        total=cat.total,
        pairs=pairs,
        baseline_passed=pooled[0],
        baseline_total=pooled[1],
        max_drop=settings.thresholds.max_drop,
        alpha=settings.thresholds.alpha,
    )
    return RegressionTest(
        method=test.method,
        p_value=round(test.p_value, 6),
        drop=round(test.drop, 6),
        significant=test.significant,
        fires=test.fires,
        detectable=test.detectable,
        cases_needed=test.cases_needed,
        detail=test.detail,
    )


def threshold_events(categories: Mapping[str, Category]) -> list[GateEvent]:
    return [
        GateEvent(
            "below_threshold",
            "",
            f"{kind} {(cat.rate or 0.0) * 100:.1f}% < {(cat.threshold or 0.0) * 100:g}%",
            kind,
        )
        for kind, cat in categories.items()
        if cat.below_threshold
    ]


def finetune_events(
    answers: Sequence[Answer], changed_files: Sequence[str] | None, settings: Settings
) -> list[GateEvent]:
    """``finetune_ready`` when all five answers are yes; ``finetune_blocked`` when this change
    touches the fine-tuning paths while one is not."""
    if all(a.answer == "yes" for a in answers):
        return [GateEvent("finetune_ready", "", "all five fine-tuning questions are answered yes")]
    touched = sorted(
        f
        for f in changed_files or ()
        if any(fnmatch.fnmatchcase(f, p) for p in settings.gate.finetune_paths)
    )
    if not touched:
        return []
    open_q = [str(a.question) for a in answers if a.answer != "yes"]
    detail = (
        f"this change touches {', '.join(touched[:5])}"
        f"{' and more' if len(touched) > 5 else ''} while question(s) "
        f"{', '.join(open_q)} are not answered yes"
    )
    return [GateEvent("finetune_blocked", "", detail)]


def diagnosis_counts(failed: Sequence[CaseRecord]) -> dict[str, int]:
    counts: dict[str, int] = dict.fromkeys(DIAGNOSES, 0)
    for case in failed:
        if case.diagnosis in counts:
            counts[case.diagnosis] += 1
    return counts


def counterfactual_counts(failed: Sequence[CaseRecord]) -> CounterfactualCounts:
    rerun = [c for c in failed if c.counterfactual is not None]
    confirmed = sum(c.diagnosis == c.static_diagnosis for c in rerun)
    return CounterfactualCounts(len(rerun), confirmed, len(rerun) - confirmed)


def disagreements(failed: Sequence[CaseRecord]) -> dict[str, dict[str, int]]:
    """``{"knowledge": {"behavior": 4}}``: declared kinds that failed for the other reason."""
    found = diagnosis.disagreements((c.kind, c.diagnosis) for c in failed)
    return {
        kind: {other: n}
        for kind, other, n in (
            ("knowledge", "behavior", found.knowledge_for_behavior),
            ("behavior", "knowledge", found.behavior_for_knowledge),
        )
        if n
    }


def recommend(
    failed: Sequence[CaseRecord], answers: Sequence[Answer], inputs: RunInputs
) -> Recommendation:
    """The matrix cell with the most failures, each placed by its declared, measured or
    default signal, and how many were placed each way."""
    history = inputs.history
    stored = history.case_contents if history else {}
    spans = history.spans_horizon if history else False
    placed = [
        place(
            c,
            {c.id: {*stored.get(c.id, ()), *inputs.git_contents.get(c.id, ())}},
            spans or c.id in inputs.git_spanning,
            inputs.settings.matrix,
        )
        for c in failed
        if c.diagnosis and c.diagnosis != "error"
    ]
    made = checklist.recommend_cells((cell for cell, _ in placed), [a.to_json() for a in answers])
    made["placed"] = {how: sum(h == how for _, h in placed) for how in PLACED_BY}
    return Recommendation.from_json(made)


@dataclass(frozen=True)
class VariantEvidence:
    """What the run's variants add to the five answers: a better-prompt or RAG variant that
    still fails behavior (question 1), a fine-tune variant's measured fix rate (question 5)."""

    still_failing: tuple[str, ...] = ()  # "the prompt variant v2 (70.0% < 85%)"
    fix_rate: tuple[str, int, int] | None = None  # (variant, fixed, behavior-bound failures)


def from_variants(
    compared: variants.Comparison | None, failed: Sequence[CaseRecord], settings: Settings
) -> VariantEvidence:
    if compared is None:
        return VariantEvidence()
    threshold = settings.thresholds.behavior
    still, fix_rate = [], None
    bound = {c.id for c in failed if c.diagnosis in BEHAVIOR_BOUND}
    for variant in compared.variants:
        behavior = variant.categories.get("behavior")
        if behavior is None or not behavior.shared:
            continue
        rate = behavior.variant_passed / behavior.shared
        if variant.role in ("prompt", "rag") and rate < threshold:
            still.append(
                f"the {variant.role} variant {variant.name} ({rate * 100:.1f}% < "
                f"{threshold * 100:g}%)"
            )
        if variant.role == "finetune" and bound and fix_rate is None:
            fixed = {c.id for cat in variant.categories.values() for c in cat.fixed} & bound
            fix_rate = (variant.name, len(fixed), len(bound))
    return VariantEvidence(tuple(still), fix_rate)


def answer_questions(
    categories: Mapping[str, Category],
    counts: Mapping[str, int],
    inputs: RunInputs,
    cost_per_query: float | None = None,
    seen: VariantEvidence = VariantEvidence(),
) -> list[Answer]:
    """The five answers, each from the checklist's pure rules, with what the variants add."""
    settings, history = inputs.settings, inputs.history
    cl = settings.checklist
    behavior, knowledge = categories.get("behavior"), categories.get("knowledge")
    bound = sum(counts[d] for d in BEHAVIOR_BOUND)
    total_cases = sum(c.total for c in categories.values())
    audit = inputs.audit or checklist.audit_examples((), (), (), ())
    cost = None
    if cl.cost is not None:
        cost = {name: float(getattr(cl.cost, name)) for name in checklist.COST_FIELDS}
        if seen.fix_rate is not None and seen.fix_rate[2]:
            cost["expected_fix_rate"] = seen.fix_rate[1] / seen.fix_rate[2]
    answers = [
        checklist.answer_baseline(
            history.prior_runs if history else 0,
            cl.baseline_min_runs,
            behavior.rate if behavior else None,
            settings.thresholds.behavior,
        ),
        checklist.answer_behavior_gap(
            bound,
            bound + counts["knowledge"],
            cl.behavior_share,
            knowledge.rate if knowledge else None,
            settings.thresholds.knowledge,
        ),
        checklist.answer_training_data(audit, cl.min_training_examples),
        checklist.answer_owner(cl.owner, cl.owned_until, cl.horizon_months, inputs.today),
        checklist.answer_cost(
            cost, bound, total_cases, cl.horizon_months, measured_per_query=cost_per_query
        ),
    ]
    if seen.still_failing:
        answers[0]["evidence"] += "; still failing behavior: " + ", ".join(seen.still_failing)
    if seen.fix_rate is not None and cost is not None:
        name, fixed, of = seen.fix_rate
        answers[4]["evidence"] += (
            f"; fix rate measured by the finetune variant {name}: {fixed} of {of} "
            "behavior-bound failures fixed (in place of expected_fix_rate)"
        )
    return [Answer.from_json(a) for a in answers]


def series(
    inputs: RunInputs,
    categories: Mapping[str, Category],
    usage: Mapping[str, Usage] | None = None,
    cases: Sequence[CaseRecord] = (),
) -> tuple[SeriesPoint, ...]:
    """Earlier runs from history, oldest first, then this run, with each category's retrieval
    and usage measures beside its pass rate."""
    retrieval = retrieval_by_category(cases)
    measures = {
        kind: found
        for kind in categories
        if (found := trend_measures(retrieval.get(kind), (usage or {}).get(kind)))
    }
    earlier = [
        SeriesPoint.from_json(run) for run in (inputs.history.series if inputs.history else ())
    ]
    this = SeriesPoint(
        run_id=inputs.run_id,
        started_at=inputs.started_at,
        branch=inputs.meta.get("git", {}).get("branch"),
        rates={k: c.rate for k, c in categories.items()},
        measures=measures,
    )
    return (*earlier, this)


def decide_gate(
    events: Sequence[GateEvent], cases: Sequence[CaseRecord], inputs: RunInputs
) -> Gate:
    """Attach each event's configured action, drop ``off`` ones, and decide the verdict."""
    settings = inputs.settings
    kept = [
        GateEvent(e.event, action, e.detail, e.category)
        for e in events
        if (action := getattr(settings.gate, e.event)) != "off"
    ]
    reasons = [f"{e.event}: {e.detail}" for e in kept if e.action == "fail"]
    reasons += _problems(cases, inputs)
    eval_bad = sum(c.outcome in ("failed", "error") for c in cases)
    if reasons:
        verdict, reason = "fail", "; ".join(reasons)
    elif eval_bad:
        verdict = "pass"
        reason = (
            f'{eval_bad} eval case(s) failed, but no gate event set to "fail" fired '
            '(case_failures = "gate")'
        )
    else:
        verdict, reason = "pass", "every gate condition holds"
    return Gate(
        verdict=verdict,
        reason=reason,
        events=tuple(kept),
        case_failures=settings.gate.case_failures,
        non_eval_failed=inputs.non_eval_failed,
    )


def _problems(cases: Sequence[CaseRecord], inputs: RunInputs) -> list[str]:
    """What fails the run besides the gate's events."""
    settings = inputs.settings
    found = []
    eval_bad = sum(c.outcome in ("failed", "error") for c in cases)
    if settings.gate.case_failures == "strict" and eval_bad:
        found.append(f'{eval_bad} eval case(s) failed and case_failures = "strict"')
    if inputs.non_eval_failed:
        found.append(f"{inputs.non_eval_failed} non-eval test(s) failed")
    if inputs.history_error is not None and settings.gate.regression == "fail":
        # A gate that silently dropped its regression check would pass what it should stop.
        found.append(
            "the regression gate could not be evaluated because the history store is "
            f"unusable: {inputs.history_error}"
        )
    nothing = nothing_evaluated([c.outcome for c in cases])
    if nothing is not None:
        found.append(nothing)
    if inputs.comment_error is not None:
        found.append(inputs.comment_error)
    return found
