"""Properties over arbitrary input: parsers raise only their own errors, every numeric setting
is accepted exactly when its schema allows it, and any text a pipeline returns reaches every
report."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reportdata import build_report

from pytest_ragft.casefiles import load_case_file
from pytest_ragft.cases import CaseFileError
from pytest_ragft.config import _leaves, load_settings, schema
from pytest_ragft.model import Result
from pytest_ragft.pipeline import normalize
from pytest_ragft.report.html import render_html
from pytest_ragft.report.jsonfile import write_json
from pytest_ragft.report.markdown import render_markdown
from pytest_ragft.runsummary import RunSummary

ROOT = Path("/nonexistent/project")
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@FAST
@given(text=st.text(max_size=300), suffix=st.sampled_from([".yaml", ".yml", ".json", ".jsonl"]))
def test_any_text_loads_or_raises_a_case_file_error(
    tmp_path_factory: pytest.TempPathFactory, text: str, suffix: str
) -> None:
    folder = tmp_path_factory.mktemp("any")
    path = folder / f"cases{suffix}"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        load_case_file(path, folder)
    except CaseFileError as exc:
        assert str(exc).startswith(f"cases{suffix}")


@FAST
@given(data=JSON, suffix=st.sampled_from([".yaml", ".json"]))
def test_any_json_value_loads_or_raises_a_case_file_error(
    tmp_path_factory: pytest.TempPathFactory, data: Any, suffix: str
) -> None:
    folder = tmp_path_factory.mktemp("json")
    path = folder / f"cases{suffix}"
    path.write_text(json.dumps(data), encoding="utf-8")
    try:
        load_case_file(path, folder)
    except CaseFileError:
        pass


NUMBERS = [
    (p, n) for p, n in _leaves(schema()) if n.get("type") == "number" and p[0] != "checklist"
]


def _allowed(node: dict[str, Any], value: float) -> bool:
    if not math.isfinite(value):
        return False
    return all(
        (
            "minimum" not in node or value >= node["minimum"],
            "maximum" not in node or value <= node["maximum"],
            "exclusiveMinimum" not in node or value > node["exclusiveMinimum"],
            "exclusiveMaximum" not in node or value < node["exclusiveMaximum"],
        )
    )


@FAST
@given(choice=st.sampled_from(NUMBERS), value=st.floats(), env=st.booleans())
def test_a_number_is_accepted_exactly_when_the_schema_allows_it(
    choice: Any, value: float, env: bool
) -> None:
    path, node = choice
    table: dict[str, Any] = {path[-1]: value}
    for part in reversed(path[:-1]):
        table = {part: table}
    variable = "RAGFT_" + "_".join(p.upper() for p in path)
    try:
        if env:
            load_settings(ROOT, None, {}, {variable: repr(value)})
        else:
            load_settings(ROOT, table, {}, {})
    except pytest.UsageError:
        assert not _allowed(node, value)
    else:
        assert _allowed(node, value)


INTEGERS = [p for p, n in _leaves(schema()) if n.get("type") == "integer" and p[0] != "checklist"]


@FAST
@given(path=st.sampled_from(INTEGERS), value=st.integers(min_value=-(2**70), max_value=2**70))
def test_an_integer_is_accepted_exactly_when_the_schema_allows_it(
    path: tuple[str, ...], value: int
) -> None:
    node = dict(_leaves(schema()))[path]
    table: dict[str, Any] = {path[-1]: value}
    for part in reversed(path[:-1]):  # a key of a table: [tool.ragft.retrieval] k
        table = {part: table}
    try:
        load_settings(ROOT, table, {}, {})
    except pytest.UsageError:
        assert not node["minimum"] <= value <= node["maximum"]
    else:
        assert node["minimum"] <= value <= node["maximum"]


@FAST
@given(answer=st.text(), context=st.text(max_size=50))
def test_any_text_a_pipeline_returns_reaches_every_report(
    tmp_path_factory: pytest.TempPathFactory, answer: str, context: str
) -> None:
    result = normalize({"answer": answer, "contexts": [context], "metadata": {"m": answer}})
    assert isinstance(result, Result)
    report = build_report(cases=2, failed=1, errors=0, failing_answer=result.answer)
    report["cases"][0]["messages"] = [result.contexts[0]]
    folder = tmp_path_factory.mktemp("report")
    write_json(report, folder / "r.json")
    json.loads((folder / "r.json").read_text(encoding="utf-8"))
    render_markdown(RunSummary.from_json(report)).encode("utf-8")
    render_html(RunSummary.from_json(report)).encode("utf-8")
