"""The five fine-tuning-readiness questions and the decision matrix.

Each answer is ``yes``, ``no`` or ``unknown`` with a sentence of evidence carrying the numbers,
so a team can see what to change to move it. Functions take plain values, not settings or a
run, so each rule is tested on its own; ``pytest_ragft.training`` reads the training files.
"""

from __future__ import annotations

import calendar
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from pytest_ragft.diagnosis import BEHAVIOR_BOUND
from pytest_ragft.matching import normalize
from pytest_ragft.wording import percent

Answer = Literal["yes", "no", "unknown"]
Cell = Literal["rag", "pretraining", "fine-tune", "prompt"]

KEYS: tuple[str, ...] = ("baseline", "behavior_gap", "training_data", "owner", "cost")
TITLES: Mapping[str, str] = {
    "baseline": "An eval baseline that RAG + better prompts already fail?",
    "behavior_gap": "A behavior problem, not a knowledge problem?",
    "training_data": "Hundreds of production-matched training examples ready?",
    "owner": "Someone owns the adapter lifecycle for the horizon?",
    "cost": "Does the gain justify the operational cost?",
}
# The order of operations, cheapest first: it breaks ties between cells.
CELLS: tuple[Cell, ...] = ("prompt", "rag", "fine-tune", "pretraining")
_COUNT_ORDER: tuple[Cell, ...] = ("rag", "pretraining", "fine-tune", "prompt")
# The cost table's entries (question 5), as [tool.ragft.checklist.cost] names them.
COST_FIELDS = (
    "queries_per_month",
    "value_per_fixed_failure",
    "expected_fix_rate",
    "per_query_saving",
    "finetune_upfront",
    "finetune_monthly",
)
MAX_PROBLEMS = 5  # invalid training lines listed by file:line; the rest are only counted
_EPSILON = 1e-9


def _answer(key: str, answer: Answer, evidence: str, note: str = "") -> dict[str, Any]:
    """One checklist entry; ``note`` is a few words for one-line summaries ("183/200
    examples")."""
    return {
        "question": KEYS.index(key) + 1,
        "key": key,
        "title": TITLES[key],
        "answer": answer,
        "evidence": evidence,
        "note": note,
    }


# --- 1. baseline ------------------------------------------------------------------------------


def answer_baseline(
    prior_runs: int, min_runs: int, behavior_rate: float | None, behavior_threshold: float
) -> dict[str, Any]:
    """Question 1: enough earlier baseline-branch runs, and behavior still below its threshold.

    ``prior_runs`` counts earlier runs of the suite on the baseline branch, this one excluded.
    """
    runs = (
        f"{prior_runs} earlier {_plural(prior_runs, 'run')} on the baseline branch "
        f"({min_runs} needed)"
    )
    if behavior_rate is None:
        rate = "no behavior cases in this run"
        below = False
    else:
        below = behavior_rate < behavior_threshold
        relation = "below" if below else "not below"
        rate = (
            f"behavior pass rate {percent(behavior_rate)} is {relation} its "
            f"{_limit(behavior_threshold)} threshold"
        )
    enough = prior_runs >= min_runs
    answer: Answer = "yes" if enough and below else "no"
    if not enough:
        note = f"{prior_runs}/{min_runs} runs"
    elif behavior_rate is None:
        note = "no behavior cases"
    else:
        note = f"behavior {percent(behavior_rate)}" + (" < " if below else " >= ")
        note += _limit(behavior_threshold)
    return _answer("baseline", answer, f"{runs}; {rate}", note)


# --- 2. behavior gap ----------------------------------------------------------------------------


def answer_behavior_gap(
    behavior_bound: int,
    failures: int,
    share: float,
    knowledge_rate: float | None,
    knowledge_threshold: float,
) -> dict[str, Any]:
    """Question 2: behavior-bound failures are at least ``share`` of the diagnosed failures and
    knowledge cases meet their threshold (RAG already does its part).

    ``failures`` are the failed cases diagnosed knowledge, hybrid or behavior: an error says
    nothing about which gap it is. Without knowledge cases only the share is judged.
    """
    if failures <= 0:
        return _answer("behavior_gap", "no", "no diagnosed failures in this run", "no failures")
    ratio = behavior_bound / failures
    share_ok = ratio >= share
    relation = "at least" if share_ok else "under"
    shares = (
        f"{behavior_bound} of {failures} diagnosed failures are behavior-bound "
        f"({percent(ratio)}, {relation} the {_limit(share)} required)"
    )
    if knowledge_rate is None:
        knowledge_ok = True
        knowledge = "no knowledge cases in this run"
    else:
        knowledge_ok = knowledge_rate >= knowledge_threshold
        relation = "meets" if knowledge_ok else "is below"
        knowledge = (
            f"knowledge pass rate {percent(knowledge_rate)} {relation} its "
            f"{_limit(knowledge_threshold)} threshold"
        )
    answer: Answer = "yes" if share_ok and knowledge_ok else "no"
    notes = [f"{behavior_bound}/{failures} behavior" + ("" if share_ok else f" < {_limit(share)}")]
    if not knowledge_ok and knowledge_rate is not None:
        notes.append(f"knowledge {percent(knowledge_rate)} < {_limit(knowledge_threshold)}")
    if answer == "no" and share_ok:
        notes = notes[1:]  # the share holds: the knowledge rate is the reason
    return _answer("behavior_gap", answer, f"{shares}; {knowledge}", "; ".join(notes))


# --- 3. training data ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainingAudit:
    """What the ``training_data`` files hold, line by line.

    ``valid`` = well-formed examples less the contaminated (input equals an eval case's input)
    and the duplicates (repeats of an earlier example, contaminated ones not counted twice).
    """

    patterns: tuple[str, ...] = ()
    files: tuple[str, ...] = ()
    unmatched: tuple[str, ...] = ()  # patterns that matched no file
    lines: int = 0
    blank: int = 0
    messages: int = 0
    prompt_completion: int = 0
    input_output: int = 0
    invalid: int = 0
    problems: tuple[str, ...] = ()  # the first MAX_PROBLEMS invalid lines, "file:line: why"
    duplicates: int = 0
    contaminated: int = 0
    valid: int = 0

    @property
    def well_formed(self) -> int:
        return self.messages + self.prompt_completion + self.input_output


class _Invalid(Exception):
    """A training line that is not a usable example; the message says why."""


def audit_examples(
    patterns: Sequence[str],
    files: Sequence[tuple[str, bytes | str]],
    unmatched: Sequence[str],
    eval_inputs: Iterable[str],
) -> TrainingAudit:
    """Count the usable fine-tuning examples in ``files`` (name, content bytes, or the reason
    the file could not be read); ``pytest_ragft.training`` reads them.

    Each JSONL line is ``{"messages": [...]}``, ``{"prompt", "completion"}`` or
    ``{"input", "output"}``. Blank lines are skipped; examples equal (ignoring case and white
    space) to an earlier one are duplicates; examples whose input equals an eval case's input
    would let the model learn the eval, so they are dropped as contaminated.
    """
    eval_keys = {key for key in (normalize(text) for text in eval_inputs) if key}
    tally = _Tally()
    seen: set[tuple[str, ...]] = set()
    for name, data in files:
        if isinstance(data, str):
            tally.reject(name, f"cannot be read ({data})")
            continue
        for where, text in _decoded_lines(name, data, tally):
            try:
                kind, example_input, key = _parse_example(text)
            except _Invalid as exc:
                tally.reject(where, str(exc))
                continue
            tally.formats[kind] += 1
            if normalize(example_input) in eval_keys:
                tally.contaminated += 1
            elif key in seen:
                tally.duplicates += 1
            else:
                seen.add(key)
    formats = tally.formats
    return TrainingAudit(
        patterns=tuple(patterns),
        files=tuple(name for name, _ in files),
        unmatched=tuple(unmatched),
        lines=tally.lines,
        blank=tally.blank,
        messages=formats["messages"],
        prompt_completion=formats["prompt_completion"],
        input_output=formats["input_output"],
        invalid=tally.invalid,
        problems=tuple(tally.problems),
        duplicates=tally.duplicates,
        contaminated=tally.contaminated,
        valid=sum(formats.values()) - tally.duplicates - tally.contaminated,
    )


@dataclass
class _Tally:
    """The audit's running counts; the first ``MAX_PROBLEMS`` invalid lines by file:line."""

    formats: dict[str, int] = field(
        default_factory=lambda: {"messages": 0, "prompt_completion": 0, "input_output": 0}
    )
    lines: int = 0
    blank: int = 0
    invalid: int = 0
    duplicates: int = 0
    contaminated: int = 0
    problems: list[str] = field(default_factory=list)

    def reject(self, where: str, why: str) -> None:
        self.invalid += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(f"{where}: {why}")


def _decoded_lines(name: str, data: bytes, tally: _Tally) -> Iterator[tuple[str, str]]:
    """A file's non-blank lines as text with their file:line; blank and undecodable lines are
    counted, not yielded."""
    raw_lines = data.split(b"\n")
    if raw_lines and raw_lines[-1] == b"":
        raw_lines.pop()
    for number, raw in enumerate(raw_lines, start=1):
        tally.lines += 1
        where = f"{name}:{number}"
        try:
            text = raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError:
            tally.reject(where, "not UTF-8 text")
            continue
        if not text.strip():
            tally.blank += 1
            continue
        yield where, text


def _parse_example(text: str) -> tuple[str, str, tuple[str, ...]]:
    """(format, example input, duplicate key) of one JSONL line, or :class:`_Invalid`."""
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _Invalid(f"invalid JSON ({exc.msg} at column {exc.colno})") from None
    except (ValueError, RecursionError) as exc:  # e.g. an integer too long to convert
        raise _Invalid(f"invalid JSON ({exc})") from None
    if not isinstance(record, dict):
        raise _Invalid(f"a JSON {_json_type(record)}, not an object")
    if "messages" in record:
        return _parse_messages(record["messages"])
    for first, second, kind in (
        ("prompt", "completion", "prompt_completion"),
        ("input", "output", "input_output"),
    ):
        if first in record or second in record:
            source = _string_field(record, first)
            target = _string_field(record, second)
            return kind, source, ("pair", normalize(source), normalize(target))
    raise _Invalid("no messages, prompt/completion or input/output fields")


def _string_field(record: Mapping[str, Any], name: str) -> str:
    if name not in record:
        raise _Invalid(f'"{name}" is missing')
    value = record[name]
    if not isinstance(value, str):
        raise _Invalid(f'"{name}" is a JSON {_json_type(value)}, not a string')
    if not value.strip():
        raise _Invalid(f'"{name}" is empty')
    return value


def _parse_messages(messages: Any) -> tuple[str, str, tuple[str, ...]]:
    if not isinstance(messages, list):
        raise _Invalid(f'"messages" is a JSON {_json_type(messages)}, not a list')
    last: dict[str, str] = {}
    key: list[str] = ["messages"]
    for index, message in enumerate(messages, start=1):
        if not isinstance(message, dict):
            raise _Invalid(f"message {index} is a JSON {_json_type(message)}, not an object")
        role, content = message.get("role"), message.get("content")
        if "role" not in message:
            raise _Invalid(f'message {index} has no "role" key')
        if not isinstance(role, str):
            raise _Invalid(f'message {index} "role" is a JSON {_json_type(role)}, not a string')
        if "content" not in message:
            raise _Invalid(f'message {index} has no "content" key')
        if not isinstance(content, str):
            raise _Invalid(
                f'message {index} "content" is a JSON {_json_type(content)}, not a string'
            )
        last[role] = content
        key += [role, normalize(content)]
    for role in ("user", "assistant"):
        if role not in last:
            raise _Invalid(f"no {role} message")
        if not last[role].strip():
            raise _Invalid(f"the last {role} message is empty")
    return "messages", last["user"], tuple(key)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def answer_training_data(audit: TrainingAudit, min_examples: int) -> dict[str, Any]:
    """Question 3: at least ``min_examples`` usable examples, with every count as evidence."""
    if not audit.patterns:
        return _answer(
            "training_data",
            "no",
            "no training data configured: set training_data in [tool.ragft.checklist] to the "
            "JSONL files of fine-tuning examples",
            f"0/{min_examples} examples",
        )
    answer: Answer = "yes" if audit.valid >= min_examples else "no"
    if not audit.files:
        evidence = f"no files match training_data ({', '.join(audit.patterns)})"
    else:
        evidence = (
            f"{audit.valid} valid {_plural(audit.valid, 'example')} ({min_examples} needed) "
            f"in {len(audit.files)} {_plural(len(audit.files), 'file')}: {audit.lines} "
            f"{_plural(audit.lines, 'line')}, {audit.blank} blank, {audit.invalid} invalid, "
            f"{audit.duplicates} {_plural(audit.duplicates, 'duplicate')}, "
            f"{audit.contaminated} equal to an eval case's input"
        )
        if audit.problems:
            evidence += f"; first invalid: {audit.problems[0]}"
        if audit.unmatched:
            evidence += f"; no files match {', '.join(audit.unmatched)}"
    return _answer("training_data", answer, evidence, f"{audit.valid}/{min_examples} examples")


# --- 4. owner -----------------------------------------------------------------------------------


def add_months(day: date, months: int) -> date:
    """``day`` plus calendar months, the day clamped to the month's end (Jan 31 + 1 = Feb 28)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def answer_owner(
    owner: str, owned_until: date | None, horizon_months: int, today: date
) -> dict[str, Any]:
    """Question 4: an owner is named and committed until at least ``horizon_months`` from today."""
    horizon = add_months(today, horizon_months)
    span = f"the {horizon_months}-month horizon ({horizon.isoformat()})"
    who = owner.strip()
    if not who:
        return _answer(
            "owner",
            "no",
            f"no owner set: set owner and owned_until in [tool.ragft.checklist] to cover {span}",
            "no owner",
        )
    if owned_until is None:
        return _answer(
            "owner",
            "no",
            f"{who} is named but no owned_until date is set; it must reach {span}",
            "no end date",
        )
    until = owned_until.isoformat()
    if owned_until >= horizon:
        evidence = f"{who} owns the adapter until {until}, which covers {span}"
        return _answer("owner", "yes", evidence, f"until {until}")
    short = (horizon - owned_until).days
    evidence = (
        f"{who} owns the adapter until {until}, {short} {_plural(short, 'day')} short of {span}"
    )
    return _answer("owner", "no", evidence, f"until {until}, {short} {_plural(short, 'day')} short")


# --- 5. cost ------------------------------------------------------------------------------------


def answer_cost(
    cost: Mapping[str, float] | None,
    behavior_bound_failed: int,
    total_cases: int,
    horizon_months: int,
    *,
    measured_per_query: float | None = None,
) -> dict[str, Any]:
    """Question 5 from the declared figures, with the cost per query this run measured (the
    pipeline's metadata ``cost``) beside them, so a stale declared figure shows."""
    found = declared_cost(cost, behavior_bound_failed, total_cases, horizon_months)
    if measured_per_query is not None:
        found["evidence"] += f"; measured cost per query {_money(measured_per_query)}"
    return found


def declared_cost(
    cost: Mapping[str, float] | None,
    behavior_bound_failed: int,
    total_cases: int,
    horizon_months: int,
) -> dict[str, Any]:
    """Question 5: the monthly gain of fixing behavior failures covers the monthly cost.

    gain = queries_per_month x behavior-bound failure rate x expected_fix_rate x
    value_per_fixed_failure + queries_per_month x per_query_saving;
    cost = finetune_monthly + finetune_upfront / horizon_months. Missing entries count as 0.
    """
    if cost is None:
        return _answer(
            "cost",
            "unknown",
            "no cost table: set [tool.ragft.checklist.cost] to weigh the gain against the cost",
            "no cost table",
        )
    if total_cases <= 0:
        return _answer(
            "cost",
            "unknown",
            "no cases scored: no behavior-bound failure rate to weigh the gain against the cost",
            "no cases scored",
        )
    queries = float(cost.get("queries_per_month", 0.0))
    value = float(cost.get("value_per_fixed_failure", 0.0))
    fix_rate = float(cost.get("expected_fix_rate", 0.0))
    saving = float(cost.get("per_query_saving", 0.0))
    upfront = float(cost.get("finetune_upfront", 0.0))
    monthly = float(cost.get("finetune_monthly", 0.0))
    months = max(horizon_months, 1)
    failure_rate = behavior_bound_failed / total_cases
    gain = queries * failure_rate * fix_rate * value + queries * saving
    spend = monthly + upfront / months
    answer: Answer = "yes" if gain >= spend - _EPSILON * max(1.0, abs(spend)) else "no"
    gain_parts = (
        f"{queries:,.0f} queries x {percent(failure_rate)} behavior-bound failures x "
        f"{_limit(fix_rate)} fixed x {_money(value)}"
    )
    if saving:
        gain_parts += f" + {queries:,.0f} x {_money(saving)} saved per query"
    spend_parts = f"{_money(monthly)} + {_money(upfront)} upfront over {months} months"
    if gain - monthly > _EPSILON:
        payback_months = upfront / (gain - monthly)
        payback = f"payback {payback_months:.1f} months"
        note = payback
    else:
        payback = "payback never (the gain does not cover the monthly cost)"
        note = "payback never"
    evidence = (
        f"gain {_money(gain)}/month ({gain_parts}) vs cost {_money(spend)}/month "
        f"({spend_parts}); {payback}"
    )
    if answer == "no":
        note = f"gain {_money(gain)} < cost {_money(spend)} a month"
    return _answer("cost", answer, evidence, note)


# --- the decision matrix ------------------------------------------------------------------------

_ADVICE: Mapping[Cell, str] = {
    "fine-tune": "Stable behavior gap: fine-tune a LoRA/QLoRA adapter once all five answers "
    "are yes.",
    "prompt": "Volatile behavior: use prompt engineering and few-shot examples, which change as "
    "fast as the requirements do.",
    "rag": "Volatile knowledge: fix retrieval (RAG) so the right passage reaches the model.",
    "pretraining": "Stable knowledge: continued pretraining is rarely worth it; try RAG first.",
}
# The one wording of each cell; the reports label the matrix with it too.
HEADLINES: Mapping[Cell, str] = {
    "fine-tune": "behavior-bound, stable -> fine-tune (LoRA/QLoRA)",
    "prompt": "behavior-bound, volatile -> prompt engineering + few-shot",
    "rag": "knowledge-bound, volatile -> RAG",
    "pretraining": "knowledge-bound, stable -> continued pretraining (rare; try RAG first)",
}


def matrix_cell(diagnosis: str | None, volatile: bool) -> Cell | None:
    """Where one failure sits in the matrix; errors and undiagnosed failures sit nowhere."""
    if diagnosis == "knowledge":
        return "rag" if volatile else "pretraining"
    if diagnosis in BEHAVIOR_BOUND:
        return "prompt" if volatile else "fine-tune"
    return None


def recommend(
    failures: Iterable[tuple[str | None, bool]], answers: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """Place each (final diagnosis, volatile) failure in the matrix and name the fullest cell."""
    return recommend_cells((matrix_cell(d, v) for d, v in failures), answers)


def recommend_cells(
    cells: Iterable[Cell | None], answers: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """Name the fullest cell of the failures placed in ``cells``.

    Ties go to the cheaper step in the order of operations (prompt, RAG, fine-tune,
    pretraining). For fine-tune, ``not_yet`` lists the questions not answered yes.
    """
    counts: dict[Cell, int] = dict.fromkeys(_COUNT_ORDER, 0)
    for cell in cells:
        if cell is not None:
            counts[cell] += 1
    leading: Cell | None = None
    for cell in CELLS:  # cheapest first, so a tie keeps the earlier step
        if counts[cell] and (leading is None or counts[cell] > counts[leading]):
            leading = cell
    not_yet: list[int] = []
    if leading == "fine-tune":
        yes = {a.get("question") for a in answers if a.get("answer") == "yes"}
        not_yet = [q for q in range(1, len(KEYS) + 1) if q not in yes]
    if leading is None:
        advice, summary = "No diagnosed failures to place in the matrix.", "no failures to place"
    else:
        advice, summary = _ADVICE[leading], HEADLINES[leading]
        if leading == "fine-tune":
            summary += (
                f": not yet, {_not_yet(not_yet, answers)}" if not_yet else ": all five answers yes"
            )
    return {
        "cell": leading,
        "counts": dict(counts),
        "not_yet": not_yet,
        "advice": advice,
        "summary": summary,
    }


# --- wording ------------------------------------------------------------------------------------


def _not_yet(numbers: Sequence[int], answers: Sequence[Mapping[str, Any]]) -> str:
    """``questions 1 (0/3 runs) and 3 (38/200 examples)``: each with the checklist's reason."""
    notes = {a.get("question"): str(a.get("note") or "") for a in answers}
    return _questions([f"{q} ({notes[q]})" if notes.get(q) else str(q) for q in numbers])


def _questions(numbers: Sequence[int | str]) -> str:
    """ "question 3", "questions 3 and 5", "questions 1, 3 and 5"."""
    if len(numbers) == 1:
        return f"question {numbers[0]}"
    head = ", ".join(str(n) for n in numbers[:-1])
    return f"questions {head} and {numbers[-1]}"


def _plural(n: int, word: str) -> str:
    return word if n == 1 else f"{word}s"


def _limit(rate: float) -> str:
    """A configured threshold or share as written: 85%, 60%, 87.5%."""
    return f"{rate * 100:.10g}%"


def _money(amount: float) -> str:
    """Two decimals, except for sub-unit amounts such as a per-query saving of 0.0004."""
    if 0 < abs(amount) < 1:
        return f"{amount:.4g}"
    return f"{amount:,.2f}"
