"""Builds valid run reports (the dict ``ragft-report.json`` holds) for renderer and CLI tests."""

from __future__ import annotations

from typing import Any

from pytest_ragft.checklist import TITLES
from pytest_ragft.stats import wilson_interval

_FAILED_DIAGNOSES = ("behavior", "hybrid", "knowledge")


def wilson(passed: int, total: int) -> list[float] | None:
    """The summary's own interval, as the JSON report holds it."""
    return list(wilson_interval(passed, total)) if total else None


def _case(
    index: int, kind: str, outcome: str, diagnosis: str | None, answer: str
) -> dict[str, Any]:
    repeats = [
        {
            "repeat": r,
            "outcome": outcome,
            "messages": [] if outcome == "passed" else [f"contains: expected 'fact {index}'"],
            "answer": None if outcome == "error" else answer,
            "contexts": [f"passage {index}"],
            "latency_s": 0.25,
            "error": "TimeoutError: pipeline call exceeded 60 s" if outcome == "error" else None,
            "scores": {},
        }
        for r in range(1, 4)
    ]
    static = "knowledge" if diagnosis in ("knowledge", "hybrid") else diagnosis
    return {
        "id": f"{kind}-{index:05d}",
        "nodeid": f"evals/{kind}.yaml::{kind}-{index:05d}",
        "kind": kind,
        "outcome": outcome,
        "diagnosis": diagnosis,
        "static_diagnosis": static,
        "counterfactual": {"knowledge": "passed", "hybrid": "failed"}.get(diagnosis or ""),
        "pass_ratio": 1.0 if outcome == "passed" else 0.0,
        "messages": repeats[-1]["messages"],
        "tags": ["refunds"] if index % 2 else ["orders"],
        "volatile": index % 3 == 0,
        "source": f"evals/{kind}.yaml",
        "input": f"Question number {index}?",
        "facts": [f"fact {index}"],
        "repeats": repeats,
        "python": False,
        "skip_reason": None,
    }


def build_report(
    cases: int = 20,
    *,
    failed: int = 4,
    errors: int = 1,
    suite: str = "support-bot",
    answer: str = "The refund window is 14 days.",
    failing_answer: str | None = None,
    trend_runs: int = 12,
    baseline: bool = True,
) -> dict[str, Any]:
    """A consistent report: ``cases`` cases alternating knowledge / behavior, the first
    ``failed`` failing (behavior, hybrid, knowledge in turn), the next ``errors`` erroring."""
    records = []
    for i in range(cases):
        kind = "knowledge" if i % 2 == 0 else "behavior"
        if i < failed:
            outcome, diagnosis = "failed", _FAILED_DIAGNOSES[i % 3]
        elif i < failed + errors:
            outcome, diagnosis = "error", "error"
        else:
            outcome, diagnosis = "passed", None
        text = failing_answer if failing_answer is not None and outcome == "failed" else answer
        records.append(_case(i, kind, outcome, diagnosis, text))

    thresholds = {"knowledge": 0.9, "behavior": 0.85}
    categories: dict[str, Any] = {}
    for kind, threshold in thresholds.items():
        mine = [c for c in records if c["kind"] == kind]
        n_pass = sum(c["outcome"] == "passed" for c in mine)
        n_fail = sum(c["outcome"] == "failed" for c in mine)
        n_err = sum(c["outcome"] == "error" for c in mine)
        total = n_pass + n_fail + n_err
        rate = n_pass / total if total else None
        base = 0.94 if baseline else None
        categories[kind] = {
            "passed": n_pass,
            "failed": n_fail,
            "error": n_err,
            "skipped": 0,
            "total": total,
            "rate": rate,
            "ci": wilson(n_pass, total),
            "threshold": threshold,
            "baseline": base,
            "change": None if base is None or rate is None else rate - base,
            "below_threshold": rate is not None and rate < threshold,
            "regression": None,
            "power_note": (
                f"{kind}: {total} cases cannot detect a drop of 5 points; about 400 would"
                if kind == "behavior"
                else None
            ),
            "trend": [0.5 + 0.04 * r for r in range(trend_runs - 1)] + [rate],
        }

    diagnosis = {
        d: sum(c["diagnosis"] == d for c in records)
        for d in ("knowledge", "hybrid", "behavior", "error")
    }
    fail_events = [
        {
            "event": "below_threshold",
            "action": "fail",
            "detail": f"{kind} {cat['rate'] * 100:.1f}% < {cat['threshold'] * 100:.0f}%",
            "category": kind,
        }
        for kind, cat in categories.items()
        if cat["below_threshold"]
    ]
    events = [
        *fail_events,
        {
            "event": "finetune_blocked",
            "action": "warn",
            "detail": "finetune/data.jsonl changed while question 3 is no",
        },
    ]
    verdict = "fail" if fail_events else "pass"
    return {
        "schema_version": 1,
        "suite": suite,
        "run_id": "20260301T120000Z-4f2a",
        "started_at": "2026-03-01T12:00:00Z",
        "finished_at": "2026-03-01T12:01:30Z",
        "duration_s": 90.0,
        "plugin_version": "0.1.0",
        "pipeline": "support_bot.pipeline:answer",
        "config_hash": "abc123",
        "git": {
            "sha": "0123456789abcdef0123456789abcdef01234567",
            "branch": "feature/refunds",
            "base_branch": "main",
            "pr": 42,
        },
        "ci": {
            "provider": "github",
            "run_url": "https://github.com/acme/support-bot/actions/runs/1",
        },
        "gate": {
            "verdict": verdict,
            "events": events,
            "case_failures": "gate",
            "non_eval_failed": 0,
        },
        "categories": categories,
        "tags": {
            tag: {
                "passed": 1,
                "failed": 0,
                "error": 0,
                "total": 1,
                "rate": 1.0,
                "ci": wilson(1, 1),
                "threshold": None,
                "baseline": None,
            }
            for tag in ("orders", "refunds")
        },
        "diagnosis": diagnosis,
        "counterfactual": {
            "run": diagnosis["knowledge"] + diagnosis["hybrid"],
            "confirmed": diagnosis["knowledge"],
            "overturned": diagnosis["hybrid"],
        },
        "disagreements": {"knowledge": {"behavior": 2}},
        "checklist": [
            {
                "question": 1,
                "key": "baseline",
                "title": TITLES["baseline"],
                "answer": "yes",
                "evidence": "5 baseline runs on main; behavior 77.5% < 85%",
            },
            {
                "question": 2,
                "key": "behavior_gap",
                "title": TITLES["behavior_gap"],
                "answer": "yes",
                "evidence": "8 of 10 failures are behavior-bound (share 0.6)",
            },
            {
                "question": 3,
                "key": "training_data",
                "title": TITLES["training_data"],
                "answer": "no",
                "evidence": "183 valid of 200 needed (212 lines, 20 invalid, 9 duplicates)",
                "note": "183/200 examples",
            },
            {
                "question": 4,
                "key": "owner",
                "title": TITLES["owner"],
                "answer": "yes",
                "evidence": "@acme/ml-platform until 2028-01-31",
            },
            {
                "question": 5,
                "key": "cost",
                "title": TITLES["cost"],
                "answer": "yes",
                "evidence": "gain 520.00/month, cost 425.00/month",
                "short": "payback 7 months",
            },
        ],
        "recommendation": {
            "cell": "fine-tune",
            "counts": {"rag": 2, "pretraining": 1, "fine-tune": 6, "prompt": 2},
            "not_yet": [3],
            "advice": "Collect more training examples before fine-tuning.",
            "summary": "behavior-bound, stable -> fine-tune (LoRA/QLoRA): not yet, question 3",
        },
        "flaky": (
            [
                {
                    "id": records[-1]["id"],
                    "rule": "repeats",
                    "detail": "repeats disagree in this run: 2 of 3 passed",
                }
            ]
            if records
            else []
        ),
        "history": [],
        "cases": records,
    }
