from __future__ import annotations

import datetime
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_ragft import deepeval_checks
from pytest_ragft.casefiles import load_case_file
from pytest_ragft.cases import CaseFileError
from pytest_ragft.config import load_settings
from pytest_ragft.wording import describe, number_of, percent, plural, suggest


@pytest.mark.parametrize(
    ("word", "options", "expected"),
    [
        pytest.param("contians", ["contains", "regex"], " (did you mean 'contains'?)", id="typo"),
        pytest.param("xyz", ["contains", "regex"], "", id="nothing-close"),
        pytest.param(
            "queries",
            ["queries_per_month", "value_per_fixed_failure"],
            " (did you mean 'queries_per_month'?)",
            id="start-of-one-option",
        ),
        pytest.param("max", ["max_chars", "max_words"], "", id="start-of-two-options"),
        pytest.param("ma", ["max_chars"], "", id="too-short-to-be-a-start"),
        pytest.param(3, ["3a", "b"], " (did you mean '3a'?)", id="not-a-string"),
        pytest.param("a", [], "", id="no-options"),
    ],
)
def test_suggest(word: Any, options: list[str], expected: str) -> None:
    assert suggest(word, options) == expected


@given(st.text(max_size=20), st.lists(st.text(max_size=20), max_size=5))
def test_suggest_names_an_option_or_nothing(word: str, options: list[str]) -> None:
    text = suggest(word, options)
    assert text == "" or any(text == f" (did you mean {o!r}?)" for o in options)


@pytest.mark.parametrize(
    ("value", "toml", "expected"),
    [
        pytest.param(None, False, "null", id="null"),
        pytest.param(True, False, "a boolean (true)", id="boolean"),
        pytest.param(3, False, "an integer (3)", id="integer"),
        pytest.param(1.5, False, "a number (1.5)", id="number"),
        pytest.param("x", False, "a string ('x')", id="string"),
        pytest.param("a" * 100, False, f"a string ('{'a' * 57}...')", id="long-string-cut"),
        pytest.param(datetime.date(2024, 1, 31), False, "a date (2024-01-31)", id="date"),
        pytest.param(
            datetime.datetime(2024, 1, 31, 8, 0),
            False,
            "a date-time (2024-01-31T08:00:00)",
            id="date-time",
        ),
        pytest.param(datetime.time(8, 30), False, "a time (08:30:00)", id="time"),
        pytest.param([1], False, "a list", id="list"),
        pytest.param([], False, "an empty list", id="empty-list"),
        pytest.param({"a": 1}, False, "a mapping", id="mapping"),
        pytest.param([1], True, "an array", id="toml-array"),
        pytest.param([], True, "an empty array", id="toml-empty-array"),
        pytest.param({"a": 1}, True, "a table", id="toml-table"),
        pytest.param(object(), False, "an object", id="other"),
        pytest.param(Path("p"), False, f"a {type(Path('p')).__name__}", id="other-consonant"),
    ],
)
def test_describe(value: Any, toml: bool, expected: str) -> None:
    assert describe(value, toml=toml) == expected


@pytest.mark.parametrize(
    ("rate", "expected"),
    [
        pytest.param(0.775, "77.5%", id="decimal"),
        pytest.param(0.9, "90.0%", id="always-one-decimal"),
        pytest.param(0.0, "0.0%", id="zero"),
    ],
)
def test_percent(rate: float, expected: str) -> None:
    assert percent(rate) == expected


def test_wording_imports_nothing_of_the_package() -> None:
    code = (
        "import sys; import pytest_ragft.wording; "
        "print(sorted(m for m in sys.modules if m.startswith('pytest_ragft.')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "['pytest_ragft.wording']"


# --- one wording across settings, case files and deepeval specs ------------------------------


def test_a_string_where_a_boolean_belongs_reads_the_same_everywhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    got = "got a string ('yes')"
    with pytest.raises(pytest.UsageError) as config_error:
        load_settings(tmp_path, {"store_outputs": "yes"}, {}, {})
    assert got in str(config_error.value)

    (tmp_path / "a.yaml").write_text(
        "- id: a\n  kind: behavior\n  volatile: 'yes'\n  expect: {contains: x}\n"
    )
    with pytest.raises(CaseFileError) as case_error:
        load_case_file(tmp_path / "a.yaml", tmp_path)
    assert got in str(case_error.value)

    monkeypatch.setattr(deepeval_checks, "deepeval_installed", lambda: False)
    (problem,) = deepeval_checks.validate_specs([{"metric": "X", "name": None}])
    assert "got null" in problem
    (problem,) = deepeval_checks.validate_specs([{"metric": "X", "threshold": "yes"}])
    assert problem.endswith(got)


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        pytest.param(
            {"metric": 3}, "expected a metric class name, got an integer (3)", id="metric"
        ),
        pytest.param({"metric": "X", "threshold": 2}, "got an integer (2)", id="threshold"),
        pytest.param(
            {"metric": "X", 1: 2}, "argument names are strings, got an integer (1)", id="key"
        ),
    ],
)
def test_deepeval_spec_problems_describe_what_came(
    spec: dict[str, Any], fragment: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(deepeval_checks, "deepeval_installed", lambda: False)
    problems = deepeval_checks.validate_specs([spec])
    assert any(fragment in p for p in problems), problems


@pytest.mark.parametrize(
    ("count", "noun", "many", "expected"),
    [
        pytest.param(0, "case", None, "0 cases", id="zero"),
        pytest.param(1, "case", None, "1 case", id="one"),
        pytest.param(2, "shared case", None, "2 shared cases", id="two"),
        pytest.param(1, "static diagnosis", "static diagnoses", "1 static diagnosis", id="one-odd"),
        pytest.param(3, "static diagnosis", "static diagnoses", "3 static diagnoses", id="odd"),
    ],
)
def test_plural(count: int, noun: str, many: str | None, expected: str) -> None:
    assert plural(count, noun, many) == expected
    assert number_of(count, noun, many) == expected.split(" ", 1)[1]
