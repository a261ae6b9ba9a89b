"""openai/evals samples: JSONL of ``{"input": str | [chat messages], "ideal": str | [str]}``.

``ideal`` becomes ``contains_any`` (any of the ideal answers may appear in the answer), which is
what the registry's ``Includes`` evals check and a looser form of ``Match``. Ids are
``<name>-<line>``, where name is the file stem, or the folder for the registry's
``<eval>/samples.jsonl`` layout, so two evals' samples never share ids.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any

from pytest_ragft.cases import (
    BUILTIN_CHECK_NAMES,
    CaseBuilder,
    parse_jsonl,
)
from pytest_ragft.importers import no_kind, open_file, slug, string_list
from pytest_ragft.model import Case

FORMAT = "openai-evals"


def load(
    path: Path,
    rootdir: Path,
    *,
    kind: str | None,
    check_names: Collection[str] = BUILTIN_CHECK_NAMES,
) -> list[Case]:
    """The samples of one openai/evals JSONL file as cases of the given kind."""
    _, text, builder = open_file(path, rootdir, fmt=FORMAT, kind=kind, check_names=check_names)
    records, problems = parse_jsonl(text)
    builder.problems.extend(problems)
    if kind is None:
        no_kind(builder, "openai/evals samples")
    name = slug(path.parent.name if path.stem == "samples" else path.stem) or "sample"
    entries: list[tuple[Any, tuple[Any, ...], str]] = []
    for index, (line, record) in enumerate(records):
        where, label = (line,), f"samples[{index}]"
        builder.lines[where] = line
        if not isinstance(record, dict):
            builder.add(where, label, "expected a sample {input, ideal}")
            continue
        case = _case(record, f"{name}-{line}", builder, where, label)
        if case is not None:
            entries.append((case, where, label))
    return builder.build_all(entries, {})


def _case(
    record: dict[str, Any], case_id: str, builder: CaseBuilder, where: tuple[Any, ...], label: str
) -> dict[str, Any] | None:
    case: dict[str, Any] = {"id": case_id}
    if "input" not in record:
        builder.add(where, f"{label}.input", "missing: a sample needs an input")
        return None
    case["input"] = record["input"]
    ideal = record.get("ideal")
    if ideal is None:
        case["skip"] = (
            "openai/evals sample has no 'ideal' answer (model-graded samples are not supported)"
        )
        return case
    answers = [ideal] if isinstance(ideal, str) else string_list(ideal)
    if not answers:
        message = "expected a string or a non-empty list of strings"
        builder.add(where, f"{label}.ideal", message)
        return None
    case["expect"] = {"contains_any": answers}
    return case
