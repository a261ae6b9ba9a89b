"""deepeval goldens, as ``EvaluationDataset.save_as`` writes them (JSON list or JSONL).

A golden carries a question and a reference answer, not checks, so the mapping is a choice:

- ``expected_output`` of a few words (a fact: "30 days", "Paris") becomes ``contains``, so the
  answer must state it and the diagnosis looks for it as a fact;
- a longer ``expected_output`` is a whole reference answer that no answer repeats word for word:
  matching it literally would fail every case, so the case is skipped with a reason saying to
  add checks, rather than reported as failed;
- ``additional_metadata`` may hold pytest-ragft case fields (``kind``, ``expect``, ``facts``,
  ``tags``, ``vars``, ``volatile``...), which win: that is how a team adds checks to goldens
  (``expect`` there replaces the ``contains`` above); a ``knowledge``/``behavior`` tag gives
  the kind;
- ``context`` (the ideal passages) becomes ``gold_contexts``, for the counterfactual diagnosis;
- ``name`` gives the id, else ``<file stem>-<line>``;
- ``actual_output``, ``retrieval_context`` and ``tools_called`` are a past run's output and are not
  needed; ``expected_tools`` and conversational goldens (``scenario``/``turns``) cannot be
  checked and make the case skipped, naming them.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any

from pytest_ragft.cases import (
    BUILTIN_CHECK_NAMES,
    CaseBuilder,
    CaseFileError,
    Problem,
    parse_json,
    parse_jsonl,
)
from pytest_ragft.importers import kind_from, no_kind, open_file, slug, string_list, unique
from pytest_ragft.model import Case

FORMAT = "deepeval"
# An expected_output of at most this many words is a fact an answer can contain verbatim.
MAX_FACT_WORDS = 12
# Case fields a golden's additional_metadata may set.
METADATA_FIELDS = (
    "kind",
    "expect",
    "facts",
    "tags",
    "vars",
    "volatile",
    "gold_contexts",
    "repeats",
    "min_pass_ratio",
    "skip",
    "xfail",
)
# deepeval's JSONL and CSV writers join list fields with this delimiter.
DELIMITER = "|"


def load(
    path: Path,
    rootdir: Path,
    *,
    kind: str | None,
    check_names: Collection[str] = BUILTIN_CHECK_NAMES,
) -> list[Case]:
    """The goldens of one deepeval dataset file as cases."""
    display, text, builder = open_file(
        path,
        rootdir,
        fmt=FORMAT,
        kind=kind,
        check_names=check_names,
        where_kind="set additional_metadata: {kind: knowledge} on the golden, or ",
    )
    records: list[tuple[tuple[Any, ...], Any]]
    if path.suffix.lower() == ".jsonl":
        found, builder.problems = parse_jsonl(text)
        records = [((line,), golden) for line, golden in found]
        builder.lines.update({(line,): line for line, _ in found})
    else:
        data, builder.lines = parse_json(text, display)
        if not isinstance(data, list):
            message = "expected a list of goldens, as EvaluationDataset.save_as writes them"
            raise CaseFileError(display, [Problem(1, None, message)])
        records = [((index,), golden) for index, golden in enumerate(data)]
    goldens = [g for _, g in records if isinstance(g, dict)]
    if kind is None and goldens and not any(_declared_kind(g) for g in goldens):
        no_kind(builder, "the goldens")
    stem = slug(path.stem) or "golden"
    taken: set[str] = set()
    entries: list[tuple[Any, tuple[Any, ...], str]] = []
    for index, (where, golden) in enumerate(records):
        label = f"goldens[{index}]"
        if not isinstance(golden, dict):
            builder.add(where, label, "expected a golden: a mapping with input, expected_output...")
            continue
        case = _case(golden, builder, where, label)
        if case is None:
            continue
        name = golden.get("name")
        base = slug(name) if isinstance(name, str) else ""
        case["id"] = unique(base or f"{stem}-{builder.line(where) or index + 1}", taken)
        entries.append((case, where, label))
    return builder.build_all(entries, {})


def _declared_kind(golden: dict[str, Any]) -> str | None:
    return kind_from(golden.get("additional_metadata"))


def _case(
    golden: dict[str, Any], builder: CaseBuilder, where: tuple[Any, ...], label: str
) -> dict[str, Any] | None:
    case: dict[str, Any] = {}
    unsupported: list[str] = []
    if golden.get("scenario") or golden.get("turns"):
        unsupported.append("conversational goldens (scenario, turns)")
    elif isinstance(golden.get("input"), str):
        case["input"] = golden["input"]
    else:
        builder.add((*where, "input"), f"{label}.input", "missing: a golden needs an input string")
        return None
    if golden.get("expected_tools"):
        unsupported.append("expected_tools")
    context = _strings(golden.get("context"))
    if context:
        case["gold_contexts"] = context
    expected = golden.get("expected_output")
    reason = None
    if isinstance(expected, str) and expected.strip():
        if len(expected.split()) <= MAX_FACT_WORDS:
            case["expect"] = {"contains": expected.strip()}
        else:
            reason = (
                f"expected_output is a reference answer of {len(expected.split())} words, "
                "too long to match literally: add checks under additional_metadata.expect "
                "(e.g. contains: [its key facts])"
            )
    else:
        reason = "the golden has no expected_output: add checks under additional_metadata.expect"
    metadata = golden.get("additional_metadata")
    if isinstance(metadata, dict):
        case.update({k: v for k, v in metadata.items() if k in METADATA_FIELDS})
        declared = kind_from(metadata)
        if declared is not None:
            case["kind"] = declared
    if unsupported:
        case["skip"] = "not supported from deepeval: " + "; ".join(unsupported)
    elif "expect" not in case and "skip" not in case and reason is not None:
        case["skip"] = reason
    return case


def _strings(value: Any) -> list[str]:
    """A list field as JSON saves it, or as JSONL saves it: one string joined with '|'."""
    if isinstance(value, str):
        return [part for part in value.split(DELIMITER) if part.strip()]
    return string_list(value) or []
