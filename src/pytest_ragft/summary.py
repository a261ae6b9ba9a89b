"""One run's summary: case records in; categories, statistics, diagnosis counts, the five
answers, the recommendation and the gate verdict out, as the JSON report dict.

Pure: everything it needs (history, the training-data audit, changed files, today) is handed
in, so every rule is tested without pytest, files or a database.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from pytest_ragft import checklist, diagnosis, stats
from pytest_ragft.diagnosis import BEHAVIOR_BOUND
from pytest_ragft.model import DIAGNOSES, KINDS

if TYPE_CHECKING:
    from pytest_ragft.config import Settings

SCHEMA_VERSION = 1


@dataclass
class HistoryContext:
    """What the history store knows that this run's summary needs."""

    prior_runs: int = 0  # earlier runs of the suite on the baseline branch
    baseline_rates: Mapping[str, float | None] = field(default_factory=dict)
    baseline_pooled: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    latest_outcomes: Mapping[str, tuple[str, bool]] = field(default_factory=dict)
    baseline_count: int = 0
    series: Sequence[Mapping[str, Any]] = ()  # earlier runs, oldest first
    flaky: Sequence[str] = ()


def merge_records(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One record per case: Python cases with repeats arrive as one record per repeat item."""
    merged: dict[str, dict[str, Any]] = {}
    # Under xdist the repeats of a Python case arrive in any order: merge them in item order.
    ordered = sorted(
        records, key=lambda r: (r["id"] if r.get("python") else r["nodeid"], _first_repeat(r))
    )
    for record in ordered:
        key = record["nodeid"] if not record.get("python") else record["id"]
        if key not in merged:
            merged[key] = {**record, "repeats": list(record.get("repeats", []))}
            if record.get("python"):
                merged[key]["nodeid"] = record["id"]
            continue
        into = merged[key]
        into["repeats"].extend(record.get("repeats", []))
        for name in ("static_diagnosis", "diagnosis"):
            if into.get(name) is None and record.get(name) is not None:
                into[name] = record[name]
        into["messages"] = list(into.get("messages", [])) + [
            m for m in record.get("messages", []) if m not in into.get("messages", [])
        ]
    for into in merged.values():
        if into.get("python") and len(into["repeats"]) > 1:
            _recompute(into)
    return sorted(merged.values(), key=lambda r: (r.get("source", ""), r["nodeid"]))


def _first_repeat(record: Mapping[str, Any]) -> int:
    repeats = record.get("repeats") or [{}]
    return int(repeats[0].get("repeat", 0))


def _recompute(record: dict[str, Any]) -> None:
    repeats = [r for r in record["repeats"] if r["outcome"] != "skipped"]
    record["repeats"].sort(key=lambda r: r["repeat"])
    if not repeats:
        record["outcome"], record["pass_ratio"] = "skipped", None
        return
    passed = sum(r["outcome"] == "passed" for r in repeats)
    ratio = passed / len(repeats)
    record["pass_ratio"] = round(ratio, 6)
    needed = 1.0 if record.get("min_pass_ratio") is None else record["min_pass_ratio"]
    if ratio >= needed:
        record["outcome"] = "passed"
        record["diagnosis"] = record["static_diagnosis"] = None
        record["messages"] = []
    elif any(r["outcome"] == "failed" for r in repeats):
        record["outcome"] = "failed"
    else:
        record["outcome"] = "error"


def category_counts(records: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    counts = {"passed": 0, "failed": 0, "error": 0, "skipped": 0}
    for record in records:
        counts[record["outcome"]] += 1
    counts["total"] = counts["passed"] + counts["failed"] + counts["error"]
    return counts


def _category(records: Sequence[Mapping[str, Any]], threshold: float | None) -> dict[str, Any]:
    counts = category_counts(records)
    total = counts["total"]
    rate = counts["passed"] / total if total else None
    ci = [round(x, 4) for x in stats.wilson_interval(counts["passed"], total)] if total else None
    return {
        **counts,
        "rate": None if rate is None else round(rate, 6),
        "ci": ci,
        "threshold": threshold,
        "baseline": None,
        "change": None,
        "below_threshold": bool(rate is not None and threshold is not None and rate < threshold),
        "regression": None,
        "regression_test": None,
        "power_note": None,
        "trend": [],
    }


def build_report(
    records: Iterable[Mapping[str, Any]],
    *,
    settings: Settings,
    run_id: str,
    started_at: str,
    finished_at: str | None,
    meta: Mapping[str, Any],
    history: HistoryContext | None,
    audit: checklist.TrainingAudit | None,
    changed_files: Sequence[str] | None,
    today: date,
    non_eval_failed: int,
    plugin_version: str,
    config_hash: str,
    duration_s: float | None = None,
    history_error: str | None = None,
    partial: str | None = None,
) -> dict[str, Any]:
    """The whole run as the JSON report dict (see ``schemas/report.schema.json``).

    ``partial`` says why the run does not stand for the whole suite (stopped early, cases not
    selected): it is reported, and not stored as a baseline."""
    cases = merge_records(records)
    thresholds = settings.thresholds
    categories: dict[str, Any] = {}
    for kind_name in KINDS:
        mine = [c for c in cases if c["kind"] == kind_name]
        if mine:
            categories[kind_name] = _category(mine, getattr(thresholds, kind_name))
    tags: dict[str, Any] = {}
    for tag in sorted({t for c in cases for t in c.get("tags", [])}):
        tags[tag] = _category([c for c in cases if tag in c.get("tags", [])], None)

    events: list[dict[str, Any]] = []
    power_notes: list[str] = []
    _history_stats(categories, cases, history, settings, events, power_notes)
    for kind, cat in categories.items():
        if cat["below_threshold"]:
            events.append(
                {
                    "event": "below_threshold",
                    "category": kind,
                    "detail": f"{kind} {cat['rate'] * 100:.1f}% < {cat['threshold'] * 100:g}%",
                }
            )

    failed = [c for c in cases if c["outcome"] in ("failed", "error")]
    diag_counts: dict[str, int] = {d: 0 for d in DIAGNOSES}
    for case in failed:
        if case.get("diagnosis") in diag_counts:
            diag_counts[case["diagnosis"]] += 1
    cf_run = [c for c in failed if c.get("counterfactual") is not None]
    confirmed = sum(c["diagnosis"] == c["static_diagnosis"] for c in cf_run)
    disagree = diagnosis.disagreements((c["kind"], c.get("diagnosis")) for c in failed)

    answers = _checklist(categories, cases, diag_counts, history, audit, settings, today)
    recommendation = checklist.recommend(
        ((c["diagnosis"], bool(c.get("volatile"))) for c in failed if c.get("diagnosis")),
        answers,
    )
    all_yes = all(a["answer"] == "yes" for a in answers)
    if all_yes:
        events.append(
            {
                "event": "finetune_ready",
                "category": None,
                "detail": "all five fine-tuning questions are answered yes",
            }
        )
    if changed_files and not all_yes:
        touched = sorted(
            f
            for f in changed_files
            if any(fnmatch.fnmatchcase(f, p) for p in settings.gate.finetune_paths)
        )
        if touched:
            open_q = [str(a["question"]) for a in answers if a["answer"] != "yes"]
            events.append(
                {
                    "event": "finetune_blocked",
                    "category": None,
                    "detail": (
                        f"this change touches {', '.join(touched[:5])}"
                        f"{' and more' if len(touched) > 5 else ''} while question(s) "
                        f"{', '.join(open_q)} are not answered yes"
                    ),
                }
            )
    gate = _gate(events, cases, settings, non_eval_failed, history_error)
    return {
        "schema_version": SCHEMA_VERSION,
        "suite": settings.suite,
        "run_id": run_id,
        "started_at": started_at,
        "finished_at": finished_at,
        "duration_s": duration_s,
        "plugin_version": plugin_version,
        "pipeline": settings.pipeline or None,
        "config_hash": config_hash,
        "complete": partial is None,
        "partial": partial,
        "git": dict(meta.get("git", {"sha": None, "branch": None})),
        "ci": dict(meta.get("ci", {"provider": None, "run_url": None})),
        "gate": gate,
        "categories": categories,
        "tags": tags,
        "power": power_notes,
        "diagnosis": diag_counts,
        "counterfactual": {
            "run": len(cf_run),
            "confirmed": confirmed,
            "overturned": len(cf_run) - confirmed,
        },
        "disagreements": {
            kind: {other: n}
            for kind, other, n in (
                ("knowledge", "behavior", disagree.knowledge_for_behavior),
                ("behavior", "knowledge", disagree.behavior_for_knowledge),
            )
            if n
        },
        "checklist": answers,
        "recommendation": recommendation,
        "flaky": list(history.flaky) if history else [],
        "history": _series(history, categories, run_id, started_at, meta),
        "cases": cases,
    }


def _history_stats(
    categories: dict[str, Any],
    cases: Sequence[Mapping[str, Any]],
    history: HistoryContext | None,
    settings: Settings,
    events: list[dict[str, Any]],
    power_notes: list[str],
) -> None:
    """Baselines, changes, the regression test and power notes, per category."""
    if history is None:
        return
    for kind, cat in categories.items():
        trend = [run.get("rates", {}).get(kind) for run in list(history.series)[-9:]] + [
            cat["rate"]
        ]
        cat["trend"] = trend
        base = history.baseline_rates.get(kind)
        if base is None or cat["rate"] is None or history.baseline_count == 0:
            continue
        cat["baseline"] = round(base, 6)
        cat["change"] = round(cat["rate"] - base, 6)
        pairs = [
            (before, c["outcome"] == "passed")
            for c in cases
            if c["kind"] == kind and c["outcome"] != "skipped"
            for k, before in [history.latest_outcomes.get(c["id"], ("", None))]
            if k == kind and before is not None
        ]
        pooled = history.baseline_pooled.get(kind, (0, 0))
        test = stats.regression(
            kind,
            baseline_rate=base,
            passed=cat["passed"],
            total=cat["total"],
            pairs=pairs,
            baseline_passed=pooled[0],
            baseline_total=pooled[1],
            max_drop=settings.thresholds.max_drop,
            alpha=settings.thresholds.alpha,
        )
        cat["regression_test"] = {
            "method": test.method,
            "p_value": round(test.p_value, 6),
            "drop": round(test.drop, 6),
            "significant": test.significant,
            "fires": test.fires,
            "detectable": test.detectable,
            "cases_needed": test.cases_needed,
            "detail": test.detail,
        }
        if test.fires:
            cat["regression"] = cat["regression_test"]
            events.append({"event": "regression", "category": kind, "detail": test.detail})
        if not test.detectable:
            note = (
                f"{kind}: {cat['total']} cases are too few to detect a "
                f"{settings.thresholds.max_drop * 100:g}-point drop from {base * 100:.1f}% "
                f"at alpha {settings.thresholds.alpha:g} ({test.cases_needed} cases needed)"
            )
            cat["power_note"] = note
            power_notes.append(note)


def _series(
    history: HistoryContext | None,
    categories: Mapping[str, Any],
    run_id: str,
    started_at: str,
    meta: Mapping[str, Any],
) -> list[dict[str, Any]]:
    earlier = [dict(run) for run in (history.series if history else ())]
    this = {
        "run_id": run_id,
        "started_at": started_at,
        "branch": meta.get("git", {}).get("branch"),
        "rates": {k: c["rate"] for k, c in categories.items()},
    }
    return [*earlier, this]


def _checklist(
    categories: Mapping[str, Any],
    cases: Sequence[Mapping[str, Any]],
    diag_counts: Mapping[str, int],
    history: HistoryContext | None,
    audit: checklist.TrainingAudit | None,
    settings: Settings,
    today: date,
) -> list[dict[str, Any]]:
    cl = settings.checklist
    behavior = categories.get("behavior", {})
    knowledge = categories.get("knowledge", {})
    bound = sum(diag_counts[d] for d in BEHAVIOR_BOUND)
    diagnosed = bound + diag_counts["knowledge"]
    total_cases = sum(c["total"] for c in categories.values())
    if audit is None:
        audit = checklist.audit_examples((), (), (), ())
    cost = None
    if cl.cost is not None:
        cost = {
            name: float(getattr(cl.cost, name))
            for name in (
                "queries_per_month",
                "value_per_fixed_failure",
                "expected_fix_rate",
                "per_query_saving",
                "finetune_upfront",
                "finetune_monthly",
            )
        }
    return [
        checklist.answer_baseline(
            history.prior_runs if history else 0,
            cl.baseline_min_runs,
            behavior.get("rate"),
            settings.thresholds.behavior,
        ),
        checklist.answer_behavior_gap(
            bound,
            diagnosed,
            cl.behavior_share,
            knowledge.get("rate"),
            settings.thresholds.knowledge,
        ),
        checklist.answer_training_data(audit, cl.min_training_examples),
        checklist.answer_owner(cl.owner, cl.owned_until, cl.horizon_months, today),
        checklist.answer_cost(cost, bound, total_cases, cl.horizon_months),
    ]


def fail_gate(report: dict[str, Any], reason: str) -> None:
    """Fail a finished run's gate for a reason found after the summary (a required PR comment
    that could not be posted), keeping the reasons already there."""
    gate = report["gate"]
    if gate["verdict"] == "fail":
        gate["reason"] = f"{gate['reason']}; {reason}"
    else:
        gate["verdict"], gate["reason"] = "fail", reason


def _gate(
    events: list[dict[str, Any]],
    cases: Sequence[Mapping[str, Any]],
    settings: Settings,
    non_eval_failed: int,
    history_error: str | None = None,
) -> dict[str, Any]:
    """Attach each event's configured action, drop ``off`` ones, and decide the verdict."""
    kept = []
    for event in events:
        action = getattr(settings.gate, event["event"])
        if action != "off":
            kept.append({**event, "action": action})
    reasons = [f"{e['event']}: {e['detail']}" for e in kept if e["action"] == "fail"]
    eval_bad = sum(c["outcome"] in ("failed", "error") for c in cases)
    strict = settings.gate.case_failures == "strict"
    if strict and eval_bad:
        reasons.append(f'{eval_bad} eval case(s) failed and case_failures = "strict"')
    if non_eval_failed:
        reasons.append(f"{non_eval_failed} non-eval test(s) failed")
    if history_error is not None and settings.gate.regression == "fail":
        # A gate that silently dropped its regression check would pass what it should stop.
        reasons.append(
            "the regression gate could not be evaluated because the history store is "
            f"unusable: {history_error}"
        )
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
    return {
        "verdict": verdict,
        "reason": reason,
        "events": kept,
        "case_failures": settings.gate.case_failures,
        "non_eval_failed": non_eval_failed,
    }
