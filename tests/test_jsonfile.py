"""The JSON report file: atomic, schema-checked on the way out and on the way in."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from reportdata import build_report

from pytest_ragft.report.jsonfile import (
    ReportError,
    encode,
    load_report,
    schema_text,
    write_json,
)


def test_round_trip(tmp_path: Path) -> None:
    report = build_report(12, failed=3, answer="réponse ✓")
    path = tmp_path / "out" / "ragft-report.json"
    write_json(report, path)
    assert load_report(path) == report
    assert "réponse ✓" in path.read_text(encoding="utf-8")
    assert [p.name for p in path.parent.iterdir()] == ["ragft-report.json"]  # no temp file left


def test_each_case_is_a_line_of_its_own(tmp_path: Path) -> None:
    report = build_report(12, failed=3, answer="line one\nline two")
    path = tmp_path / "ragft-report.json"
    write_json(report, path)
    lines = path.read_text(encoding="utf-8").splitlines()
    for case in report["cases"]:
        assert (
            lines.count("    " + json.dumps(case, ensure_ascii=False) + ",")
            + lines.count("    " + json.dumps(case, ensure_ascii=False))
            == 1
        )
    assert lines[0] == "{" and lines[-1] == "}"


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(st.dictionaries(st.text(), JSON_VALUES, max_size=6))
def test_the_encoding_reads_back_as_the_report(report: dict[str, Any]) -> None:
    assert json.loads(encode(report)) == report


def test_overwrites_in_place(tmp_path: Path) -> None:
    path = tmp_path / "ragft-report.json"
    write_json(build_report(4, suite="one"), path)
    write_json(build_report(4, suite="two"), path)
    assert load_report(path)["suite"] == "two"


@pytest.mark.parametrize(
    ("change", "where"),
    [
        pytest.param(lambda r: r["gate"].update(verdict="maybe"), "gate.verdict", id="bad-enum"),
        pytest.param(lambda r: r.pop("run_id"), "'run_id' is a required property", id="missing"),
        pytest.param(
            lambda r: r["categories"]["knowledge"].update(rate=1.5),
            "categories.knowledge.rate",
            id="range",
        ),
    ],
)
def test_invalid_report_is_not_written(tmp_path: Path, change: Any, where: str) -> None:
    report = build_report(4)
    change(report)
    path = tmp_path / "ragft-report.json"
    with pytest.raises(ReportError, match="does not match its own schema") as info:
        write_json(report, path)
    assert where in str(info.value)
    assert not path.exists()


def test_nan_is_refused(tmp_path: Path) -> None:
    report = build_report(4)
    report["duration_s"] = float("nan")
    with pytest.raises(ReportError):
        write_json(report, tmp_path / "r.json")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("content", "words"),
    [
        pytest.param(None, "no such file", id="missing"),
        pytest.param('{"suite": ', "r.json:1:11: not valid JSON", id="truncated"),
        pytest.param(json.dumps({"suite": "x"}), "not a pytest-ragft report", id="other-json"),
        pytest.param(json.dumps([1, 2]), "at the top level", id="not-an-object"),
    ],
)
def test_load_errors_name_file_and_problem(tmp_path: Path, content: str | None, words: str) -> None:
    path = tmp_path / "r.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ReportError) as info:
        load_report(path)
    assert str(path) in str(info.value)
    assert words in str(info.value)


def test_schema_text_is_the_shipped_schema() -> None:
    schema = json.loads(schema_text())
    assert schema["title"] == "pytest-ragft run report"
