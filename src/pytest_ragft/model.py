"""The data that flows through a run: cases, pipeline results, check outcomes, case records.

Pure dataclasses with no I/O, so every other module (and the public API) can import them cheaply.
Records that cross process boundaries (xdist) or land in history are plain JSON-safe dicts made
by ``to_dict`` / ``from_dict``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Kind = Literal["knowledge", "behavior"]
KINDS: tuple[Kind, ...] = ("knowledge", "behavior")
Outcome = Literal["passed", "failed", "error", "skipped"]
Diagnosis = Literal["knowledge", "hybrid", "behavior", "error"]
DIAGNOSES: tuple[Diagnosis, ...] = ("knowledge", "hybrid", "behavior", "error")
Counterfactual = Literal["passed", "failed"]
# What became of a failed case's re-run with its gold passages: its outcome, or why there was none.
Gold = Literal["passed", "failed", "error", "not-needed", "off", "unsupported", "no-gold", "python"]
GOLD: tuple[Gold, ...] = (
    "passed",
    "failed",
    "error",
    "not-needed",
    "off",
    "unsupported",
    "no-gold",
    "python",
)
Message = Mapping[str, str]  # a chat message {role, content}


@dataclass(frozen=True)
class Case:
    """One eval case, from a case file or a ``@pytest.mark.ragft`` test."""

    id: str
    kind: Kind
    input: str | tuple[Message, ...] = ""
    vars: Mapping[str, Any] = field(default_factory=dict)
    expect: Mapping[str, Any] = field(default_factory=dict)
    facts: tuple[str, ...] = ()
    volatile: bool | None = None  # None: placed by evidence from history, else by default
    gold_contexts: tuple[str, ...] = ()
    gold_sources: tuple[str, ...] = ()  # ids of the passages that hold the answer
    tags: tuple[str, ...] = ()
    repeats: int | None = None
    min_pass_ratio: float | None = None
    skip: str | None = None
    xfail: str | None = None
    # Where it came from: the file relative to the rootdir (posix) and the line of the case.
    source: str = ""
    line: int = 0
    # The case file's absolute path, for checks that resolve paths relative to it.
    path: Path | None = None

    @property
    def input_text(self) -> str:
        """The case's input as one string: the string itself or the last user message."""
        return input_text(self.input)

    @property
    def effective_facts(self) -> tuple[str, ...]:
        """The facts the diagnosis looks for: ``facts``, else the ``contains`` strings."""
        if self.facts:
            return self.facts
        contains = self.expect.get("contains")
        if isinstance(contains, str):
            return (contains,)
        if isinstance(contains, list):
            return tuple(str(c) for c in contains)
        return ()

    @property
    def fact_groups(self) -> tuple[tuple[str, ...], ...]:
        """What the diagnosis looks for, as groups of which any one string will do: each fact
        on its own; without facts or ``contains``, the ``contains_any`` strings as one group
        (an openai/evals sample's ideal answers, say)."""
        if self.effective_facts:
            return tuple((fact,) for fact in self.effective_facts)
        any_of = self.expect.get("contains_any")
        if isinstance(any_of, str) and any_of:
            return ((any_of,),)
        if isinstance(any_of, list) and any_of:
            return (tuple(str(option) for option in any_of),)
        return ()


def expectations_digest(case: Case) -> str:
    """A short digest of what a case expects (``facts``, ``expect``, ``gold_contexts``), so
    history can tell a case whose requirement changed from one whose outcome merely moved."""
    import hashlib
    import json

    what = {"facts": case.facts, "expect": case.expect, "gold_contexts": case.gold_contexts}
    text = json.dumps(what, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def input_text(value: str | tuple[Message, ...] | list[Any]) -> str:
    """A string input as is; a chat input as its last user message (else its last message)."""
    if isinstance(value, str):
        return value
    messages = list(value)
    for message in reversed(messages):
        if isinstance(message, Mapping) and message.get("role") == "user":
            return str(message.get("content", ""))
    if messages and isinstance(messages[-1], Mapping):
        return str(messages[-1].get("content", ""))
    return ""


@dataclass(frozen=True)
class Result:
    """What the pipeline answered, normalised from a str, a mapping or an object."""

    answer: str
    contexts: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)
    latency_s: float = 0.0


@dataclass(frozen=True)
class CallError:
    """A pipeline call that did not give a usable result."""

    reason: Literal["exception", "timeout", "type"]
    message: str
    latency_s: float = 0.0


@dataclass(frozen=True)
class CheckOutcome:
    """One check's verdict; ``message`` says which check, what was expected and what came."""

    check: str
    passed: bool
    message: str = ""
    score: float | None = None
    judged: Literal["called", "cached"] | None = None  # an LLM-judged check: judged or cached


def judge_counts(outcomes: Sequence[CheckOutcome]) -> dict[str, int] | None:
    """How many of the outcomes called the judge and how many the cache saved; None when no
    outcome was judged."""
    judged = [o.judged for o in outcomes if o.judged is not None]
    if not judged:
        return None
    return {"calls": judged.count("called"), "saved": judged.count("cached")}


@dataclass
class RepeatRecord:
    """One pipeline call of a case and what its checks said."""

    repeat: int
    outcome: Outcome
    messages: list[str] = field(default_factory=list)
    answer: str | None = None
    contexts: list[str] = field(default_factory=list)
    latency_s: float = 0.0
    error: str | None = None
    scores: dict[str, float] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)
    # From the result's ``metadata`` (costs.usage): None where the pipeline did not say.
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost: float | None = None
    # LLM-judged checks: {"calls": judged now, "saved": read from the judge cache}; None: none
    judge: dict[str, int] | None = None


@dataclass
class ContextEvidence:
    """One retrieved passage of a failed case, as far as the reports show it: its rank, its
    source id (when the pipeline gave ``sources``), a window of its text around the first fact
    it holds, and which facts it holds."""

    rank: int  # 1 = the best
    source: str | None
    excerpt: str  # context[start : start + len(excerpt)], raw: renderers escape it
    start: int  # where the excerpt begins in the context (0: at its start)
    length: int  # the whole context's length: the excerpt is cut at its end when shorter
    facts: list[bool]  # per fact of ``Evidence.facts``: found in this context
    hit: list[int] | None = None  # [start, end] of the shown fact within the excerpt

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ContextEvidence:
        hit = data.get("hit")
        return cls(
            rank=int(data.get("rank", 0)),
            source=None if data.get("source") is None else str(data["source"]),
            excerpt=str(data.get("excerpt") or ""),
            start=int(data.get("start", 0)),
            length=int(data.get("length", 0)),
            facts=[bool(f) for f in data.get("facts") or []],
            hit=[int(v) for v in hit] if isinstance(hit, list) and len(hit) == 2 else None,
        )


@dataclass
class Evidence:
    """What a failed case's diagnosis read, kept for the reader of the reports: each fact found
    or missing in the answer and in the retrieved contexts (a bounded number of them), and what
    the re-run with the gold passages did. "Found" is the diagnosis's own matching."""

    facts: list[str]  # one label per fact the diagnosis looks for ("a or b" for any-of groups)
    answer: list[bool]  # per fact: found in the answer
    contexts: list[ContextEvidence] = field(default_factory=list)
    contexts_total: int = 0  # how many contexts came back (more than ``contexts`` when cut)
    gold: Gold | None = None  # the counterfactual re-run's outcome, or why it did not run

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Evidence:
        gold = data.get("gold")
        contexts = [c for c in data.get("contexts") or [] if isinstance(c, Mapping)]
        return cls(
            facts=[str(f) for f in data.get("facts") or []],
            answer=[bool(f) for f in data.get("answer") or []],
            contexts=[ContextEvidence.from_dict(c) for c in contexts],
            contexts_total=int(data.get("contexts_total", len(contexts))),
            gold=gold if gold in GOLD else None,
        )


@dataclass
class CaseRecord:
    """Everything the run knows about one case: the unit that travels to the controller,
    into history and into the reports."""

    id: str
    nodeid: str
    kind: str
    outcome: Outcome
    pass_ratio: float | None
    tags: list[str] = field(default_factory=list)
    volatile: bool | None = None
    source: str = ""
    input: str = ""
    facts: list[str] = field(default_factory=list)
    repeats: list[RepeatRecord] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    static_diagnosis: str | None = None
    counterfactual: str | None = None
    diagnosis: str | None = None
    python: bool = False
    skip_reason: str | None = None
    min_pass_ratio: float | None = None
    content: str | None = None  # digest of the case's expectations, to tell a changed case
    evidence: Evidence | None = None  # a failed case's, where a result was there to read
    # retrieval.MEASURES of the first repeat that retrieved; None with nothing to measure
    retrieval: dict[str, float] | None = None
    gold_sources: list[str] = field(default_factory=list)  # the case's, for the rank measures

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe copy (lists copied, not shared): faster than ``asdict`` on every item."""
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        for name in ("tags", "facts", "messages", "gold_sources"):
            data[name] = list(data[name])
        data["repeats"] = [
            {
                **vars(r),
                "messages": list(r.messages),
                "contexts": list(r.contexts),
                "scores": dict(r.scores),
                "sources": list(r.sources),
            }
            for r in self.repeats
        ]
        data["evidence"] = None if self.evidence is None else _evidence_dict(self.evidence)
        data["retrieval"] = None if self.retrieval is None else dict(self.retrieval)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CaseRecord:
        values = dict(data)
        fields = RepeatRecord.__dataclass_fields__
        values["repeats"] = [
            RepeatRecord(**{k: v for k, v in r.items() if k in fields})
            for r in values.get("repeats", [])
        ]
        evidence = values.get("evidence")
        values["evidence"] = Evidence.from_dict(evidence) if isinstance(evidence, Mapping) else None
        values["retrieval"] = _measures(values.get("retrieval"))
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in values.items() if k in known})


def _measures(data: Any) -> dict[str, float] | None:
    """A record's retrieval measures as numbers, whatever a report file held."""
    if not isinstance(data, Mapping):
        return None
    kept = {
        str(k): float(v)
        for k, v in data.items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    }
    return kept or None


def _evidence_dict(evidence: Evidence) -> dict[str, Any]:
    return {
        "facts": list(evidence.facts),
        "answer": list(evidence.answer),
        "contexts": [
            {**vars(c), "facts": list(c.facts), "hit": None if c.hit is None else list(c.hit)}
            for c in evidence.contexts
        ],
        "contexts_total": evidence.contexts_total,
        "gold": evidence.gold,
    }


_ID = re.compile(r"^[A-Za-z0-9_.:-]+$")


def valid_case_id(value: str) -> bool:
    return bool(_ID.match(value))
