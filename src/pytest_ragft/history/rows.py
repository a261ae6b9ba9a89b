"""A run report (the JSON ``RunSummary``) turned into table rows, and stripped of model outputs.

Pure functions with no database: the store calls them inside its transaction.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pytest_ragft.history.errors import HistoryError

EXCERPT_CHARS = 500
"""How much of an answer the results table keeps when outputs are stored."""

_REDACT_MIN = 10  # shortest run of answer text that is redacted from a check message
REDACTED = "[answer redacted]"


@dataclass(frozen=True)
class RunRows:
    """Everything ``write_run`` inserts for one run (``run_pk`` is filled in by the store)."""

    run: dict[str, Any]
    categories: list[dict[str, Any]]
    results: list[dict[str, Any]]


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def parse_time(value: Any, key: str) -> datetime | None:
    """An ISO-8601 time as an aware UTC datetime (naive times are taken as UTC)."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            raise HistoryError(
                f"run report has {key}={value!r}, which is not an ISO-8601 time"
            ) from None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def iso(moment: datetime | None) -> str | None:
    """A stored time back as ISO-8601 UTC (SQLite hands back naive datetimes)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat()


def pack(report: Mapping[str, Any] | str) -> bytes:
    """A report as stored: compact JSON, zlib-compressed (level 3: most of the gain, fast)."""
    text = report if isinstance(report, str) else _dumps(report)
    return zlib.compress(text.encode("utf-8"), 3)


def _dumps(report: Mapping[str, Any]) -> str:
    return json.dumps(report, ensure_ascii=False, separators=(",", ":"), default=str)


def unpack(blob: bytes | None) -> dict[str, Any] | None:
    if blob is None:
        return None
    report: dict[str, Any] = json.loads(zlib.decompress(blob).decode("utf-8"))
    return report


def _answer_spans(text: str, answer: str) -> list[bool]:
    """Which characters of ``text`` belong to a run of at least ten characters of ``answer``."""
    taken = [False] * len(text)
    sentinel = next(chr(c) for c in range(0xE000, 0xF900) if chr(c) not in answer)
    current = text
    while True:
        matcher = difflib.SequenceMatcher(None, current, answer, autojunk=False)
        blocks = [b for b in matcher.get_matching_blocks() if b.size >= _REDACT_MIN]
        if not blocks:
            return taken
        for block in blocks:
            for i in range(block.a, block.a + block.size):
                taken[i] = True
        current = "".join(sentinel if t else c for c, t in zip(text, taken, strict=True))


def redact(message: str, answers: list[str]) -> str:
    """``message`` with every run of at least ten characters taken from an answer replaced.

    Check messages quote what came back; with outputs off, those quotes must not survive.
    Matching ignores case, as the checks do.
    """
    if len(message) < _REDACT_MIN:
        return message
    taken = [False] * len(message)
    for answer in answers:
        if len(answer) < _REDACT_MIN:
            continue
        text, wanted = message.lower(), answer.lower()
        if len(text) != len(message) or len(wanted) != len(answer):
            text, wanted = message, answer
        for i, hit in enumerate(_answer_spans(text, wanted)):
            taken[i] = taken[i] or hit
    parts: list[str] = []
    for i, char in enumerate(message):
        if not taken[i]:
            parts.append(char)
        elif i == 0 or not taken[i - 1]:
            parts.append(REDACTED)
    return "".join(parts)


def strip_outputs(report: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of the report with no answer or retrieved context left in it.

    Each answer is replaced by its sha256 (``answer_sha256``), so flakiness and identical answers
    can still be told apart; check messages lose any quoted answer text; a failure's evidence
    keeps which facts each context held, not the contexts' text.
    """
    stripped = copy.deepcopy(dict(report))
    for case in stripped.get("cases") or []:
        if not isinstance(case, dict):
            continue
        answers: list[str] = []
        for repeat in case.get("repeats") or []:
            if not isinstance(repeat, dict):
                continue
            answer = repeat.get("answer")
            if isinstance(answer, str):
                answers.append(answer)
                repeat["answer_sha256"] = sha256(answer)
            repeat["answer"] = None
            repeat["contexts"] = []
        for repeat in case.get("repeats") or []:
            if isinstance(repeat, dict):
                repeat["messages"] = [redact(str(m), answers) for m in repeat.get("messages") or []]
        case["messages"] = [redact(str(m), answers) for m in case.get("messages") or []]
        _strip_evidence(case.get("evidence"))
    return stripped


def _strip_evidence(evidence: Any) -> None:
    if not isinstance(evidence, dict):
        return
    for context in evidence.get("contexts") or []:
        if isinstance(context, dict):
            context["excerpt"] = ""
            context["hit"] = None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _pr(value: Any) -> int | None:
    try:
        return None if value in (None, "") else int(value)
    except (TypeError, ValueError):
        return None


def _category(kind: str, stats: Mapping[str, Any]) -> dict[str, Any]:
    passed = int(stats.get("passed") or 0)
    failed = int(stats.get("failed") or 0)
    error = int(stats.get("error") or 0)
    given = stats.get("total")
    total = int(given) if given is not None else passed + failed + error
    rate = stats.get("rate")
    if rate is None and total:
        rate = passed / total
    return {
        "kind": kind,
        "passed": passed,
        "failed": failed,
        "error": error,
        "skipped": int(stats.get("skipped") or 0),
        "total": total,
        "rate": None if rate is None else float(rate),
    }


def _measures(report: Mapping[str, Any], kind: str) -> dict[str, Any]:
    """A category's retrieval quality and usage from the report, as ``categories`` columns."""
    retrieval = report.get("retrieval")
    usage = report.get("usage")
    found = retrieval.get(kind) if isinstance(retrieval, Mapping) else None
    used = usage.get(kind) if isinstance(usage, Mapping) else None
    found = found if isinstance(found, Mapping) else {}
    used = used if isinstance(used, Mapping) else {}
    k = found.get("k")
    return {
        **{name: _number(found.get(name)) for name in ("hit", "recall", "mrr", "ndcg")},
        "retrieval_k": k if isinstance(k, int) and not isinstance(k, bool) else None,
        "fact_recall": _number(found.get("fact_recall")),
        **{
            name: _number(used.get(name))
            for name in ("latency_p50_s", "latency_p95_s", "tokens_per_case", "cost_per_case")
        },
    }


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _result_rows(case: Mapping[str, Any], pipeline: str | None = None) -> list[dict[str, Any]]:
    """One row per repeat of a case (one row with ``repeat`` null when it never ran);
    ``pipeline`` names the variant that gave it (None: the main pipeline)."""
    base = {
        "pipeline": pipeline,
        "case_id": str(case.get("id", "")),
        "kind": str(case.get("kind", "")),
        "tags": [str(t) for t in case.get("tags") or []],
        "volatile": bool(case.get("volatile", False)),
        "case_outcome": str(case.get("outcome", "")),
        "pass_ratio": case.get("pass_ratio"),
        "diagnosis": _text(case.get("diagnosis")),
        "static_diagnosis": _text(case.get("static_diagnosis")),
        "counterfactual": _text(case.get("counterfactual")),
        "input_hash": sha256(str(case.get("input", ""))),
        "content_hash": _text(case.get("content")),
    }
    repeats = [r for r in case.get("repeats") or [] if isinstance(r, dict)]
    if not repeats:
        return [
            {
                **base,
                "repeat": None,
                "outcome": base["case_outcome"],
                "latency_s": None,
                "error": _text(case.get("skip_reason")),
                "answer_excerpt": None,
                "answer_sha256": None,
                "messages": [str(m) for m in case.get("messages") or []],
            }
        ]
    rows = []
    for repeat in repeats:
        answer = repeat.get("answer")
        digest = sha256(answer) if isinstance(answer, str) else repeat.get("answer_sha256")
        rows.append(
            {
                **base,
                "repeat": int(repeat.get("repeat", 0)),
                "outcome": str(repeat.get("outcome", "")),
                "latency_s": repeat.get("latency_s"),
                "error": _text(repeat.get("error")),
                "answer_excerpt": answer[:EXCERPT_CHARS] if isinstance(answer, str) else None,
                "answer_sha256": _text(digest),
                "messages": [str(m) for m in repeat.get("messages") or []],
            }
        )
    return rows


def _in_baseline(report: Mapping[str, Any]) -> bool | None:
    """False for a run its summary left out of the baseline; None (it may) otherwise."""
    baseline = report.get("baseline")
    if isinstance(baseline, Mapping) and baseline.get("counts") is False:
        return False
    return None


def run_rows(
    report: Mapping[str, Any],
    *,
    store_outputs: bool,
    variants: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
) -> RunRows:
    """The rows of one run; raises ``HistoryError`` when the report lacks what a run needs.

    ``variants`` holds each variant's case records (as report cases) by its name: they become
    result rows of their own, marked with the name, and never part of the report."""
    for key in ("run_id", "suite", "started_at"):
        if not report.get(key):
            raise HistoryError(f"run report has no {key!r}: it cannot be written to history")
    try:
        # A JSON round trip: the rows hold exactly what a JSON reader of the report sees later.
        text = _dumps(report)
        stored = json.loads(text)
    except (TypeError, ValueError) as exc:
        raise HistoryError(f"run report cannot be stored as JSON: {exc}") from None
    if not store_outputs:
        stored = strip_outputs(stored)
        text = _dumps(stored)
    git = report.get("git") or {}
    ci = report.get("ci") or {}
    gate = report.get("gate") or {}
    run = {
        "run_id": str(report["run_id"]),
        "suite": str(report["suite"]),
        "started_at": parse_time(report["started_at"], "started_at"),
        "finished_at": parse_time(report.get("finished_at"), "finished_at"),
        "git_sha": _text(git.get("sha")),
        "branch": _text(git.get("branch")),
        "base_branch": _text(git.get("base_branch")),
        "pr": _pr(git.get("pr")),
        "ci_provider": _text(ci.get("provider")),
        "run_url": _text(ci.get("run_url")),
        "pipeline": _text(report.get("pipeline")),
        "config_hash": _text(report.get("config_hash")),
        "plugin_version": _text(report.get("plugin_version")),
        "verdict": _text(gate.get("verdict")),
        "outputs_stored": store_outputs,
        "dirty": git.get("dirty") if isinstance(git.get("dirty"), bool) else None,
        "in_baseline": _in_baseline(report),
        "report": pack(text),
    }
    categories = [
        {**_category(str(kind), stats), **_measures(report, str(kind))}
        for kind, stats in (report.get("categories") or {}).items()
        if isinstance(stats, Mapping)
    ]
    results: list[dict[str, Any]] = []
    for case in stored.get("cases") or []:
        if isinstance(case, dict):
            results.extend(_result_rows(case))
    for name, cases in (variants or {}).items():
        results.extend(_variant_rows(str(name), cases, store_outputs=store_outputs))
    return RunRows(run=run, categories=categories, results=results)


def _variant_rows(
    name: str, cases: Sequence[Mapping[str, Any]], *, store_outputs: bool
) -> list[dict[str, Any]]:
    try:
        held: dict[str, Any] = json.loads(_dumps({"cases": list(cases)}))
    except (TypeError, ValueError) as exc:
        raise HistoryError(f"variant {name!r} cannot be stored as JSON: {exc}") from None
    if not store_outputs:
        held = strip_outputs(held)
    rows: list[dict[str, Any]] = []
    for case in held["cases"]:
        if isinstance(case, dict):
            rows.extend(_result_rows(case, name))
    return rows
