"""Settings from [tool.ragft], RAGFT_* and --ragft-*: defaults, precedence, errors, schema."""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_ragft.config import (
    CaseSource,
    ChecklistSettings,
    Cost,
    GateSettings,
    ReportSettings,
    Settings,
    Thresholds,
    config_hash,
    convert_text,
    env_variables,
    load_settings,
    parse_case_source,
    read_pyproject,
    schema,
    schema_text,
)

ROOT = Path("/nonexistent/project")


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Error messages show the pyproject relative to the working directory."""
    monkeypatch.chdir(tmp_path)


def write(tmp_path: Path, body: str) -> tuple[Path | None, dict[str, Any] | None]:
    (tmp_path / "pyproject.toml").write_text(textwrap.dedent(body), encoding="utf-8")
    return read_pyproject(tmp_path)


def load(tmp_path: Path, body: str, cli: dict[str, Any] | None = None, /, **env: str) -> Settings:
    path, table = write(tmp_path, body)
    return load_settings(tmp_path, table, cli or {}, env, path)


def attr(settings: Settings, dotted: str) -> Any:
    value: Any = settings
    for part in dotted.split("."):
        value = getattr(value, part)
    return value


def usage_error(tmp_path: Path, body: str, cli: dict[str, Any] | None = None, /, **env: str) -> str:
    with pytest.raises(pytest.UsageError) as info:
        load(tmp_path, body, cli, **env)
    return str(info.value)


# --------------------------------------------------------------------------------------------
# read_pyproject


def test_read_pyproject_without_file(tmp_path: Path) -> None:
    assert read_pyproject(tmp_path) == (None, None)


def test_read_pyproject_without_table(tmp_path: Path) -> None:
    path, table = write(tmp_path, '[project]\nname = "x"\n[tool.other]\na = 1\n')
    assert path == tmp_path / "pyproject.toml"
    assert table is None


def test_read_pyproject_with_table(tmp_path: Path) -> None:
    _, table = write(
        tmp_path, '[tool.ragft]\npipeline = "a:b"\n[tool.ragft.gate]\nregression = "warn"\n'
    )
    assert table == {"pipeline": "a:b", "gate": {"regression": "warn"}}


def test_read_pyproject_empty_table_activates(tmp_path: Path) -> None:
    assert write(tmp_path, "[tool.ragft]\n")[1] == {}


def test_invalid_toml_with_ragft_table_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(pytest.UsageError, match=r"pyproject\.toml: not valid TOML: .*line 2"):
        write(tmp_path, '[tool.ragft]\npipeline = "a:b\n')


def test_invalid_toml_without_ragft_is_left_alone(tmp_path: Path) -> None:
    path, table = write(tmp_path, "[tool.black]\nline-length = = 3\n")
    assert path is not None
    assert table is None


def test_tool_ragft_must_be_a_table(tmp_path: Path) -> None:
    with pytest.raises(pytest.UsageError, match=r"tool\.ragft: expected a table, got a string"):
        write(tmp_path, '[tool]\nragft = "on"\n')


# --------------------------------------------------------------------------------------------
# Defaults


@pytest.mark.parametrize(
    ("key", "default"),
    [
        pytest.param("pipeline", "", id="pipeline"),
        pytest.param(
            "cases",
            tuple(
                CaseSource(g)
                for g in (
                    "evals/**/*.yaml",
                    "evals/**/*.yml",
                    "evals/**/*.json",
                    "evals/**/*.jsonl",
                )
            ),
            id="cases",
        ),
        pytest.param("repeats", 1, id="repeats"),
        pytest.param("min_pass_ratio", 1.0, id="min_pass_ratio"),
        pytest.param("concurrency", 8, id="concurrency"),
        pytest.param("timeout_s", 60.0, id="timeout_s"),
        pytest.param("history", ".ragft/history.sqlite", id="history"),
        pytest.param("baseline_branch", "main", id="baseline_branch"),
        pytest.param("baseline_runs", 5, id="baseline_runs"),
        pytest.param("judge", "", id="judge"),
        pytest.param("diagnose", "counterfactual", id="diagnose"),
        pytest.param("store_outputs", True, id="store_outputs"),
        pytest.param("thresholds.knowledge", 0.90, id="thresholds.knowledge"),
        pytest.param("thresholds.behavior", 0.85, id="thresholds.behavior"),
        pytest.param("thresholds.max_drop", 0.05, id="thresholds.max_drop"),
        pytest.param("thresholds.alpha", 0.05, id="thresholds.alpha"),
        pytest.param("checklist.baseline_min_runs", 3, id="checklist.baseline_min_runs"),
        pytest.param("checklist.behavior_share", 0.6, id="checklist.behavior_share"),
        pytest.param("checklist.training_data", (), id="checklist.training_data"),
        pytest.param("checklist.min_training_examples", 200, id="checklist.min_training_examples"),
        pytest.param("checklist.owner", "", id="checklist.owner"),
        pytest.param("checklist.owned_until", None, id="checklist.owned_until"),
        pytest.param("checklist.horizon_months", 12, id="checklist.horizon_months"),
        pytest.param("checklist.cost", None, id="checklist.cost"),
        pytest.param("gate.below_threshold", "fail", id="gate.below_threshold"),
        pytest.param("gate.regression", "fail", id="gate.regression"),
        pytest.param("gate.finetune_ready", "comment", id="gate.finetune_ready"),
        pytest.param("gate.finetune_blocked", "fail", id="gate.finetune_blocked"),
        pytest.param(
            "gate.finetune_paths", ("finetune/**", "adapters/**"), id="gate.finetune_paths"
        ),
        pytest.param("gate.case_failures", "gate", id="gate.case_failures"),
        pytest.param("report.markdown", "ragft-report.md", id="report.markdown"),
        pytest.param("report.json", "ragft-report.json", id="report.json"),
        pytest.param("report.html", "ragft-report.html", id="report.html"),
        pytest.param("report.github", "auto", id="report.github"),
        pytest.param("report_dir", None, id="report_dir"),
    ],
)
def test_default(key: str, default: Any) -> None:
    assert attr(load_settings(ROOT, None, {}, {}), key) == default
    assert attr(load_settings(ROOT, {}, {}, {}), key) == default


def test_defaults_equal_the_dataclass_defaults() -> None:
    assert load_settings(ROOT, None, {}, {}) == Settings(rootdir=ROOT, suite="project")


def _schema_defaults(node: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, sub in node.get("properties", {}).items():
        if sub.get("type") == "object":
            found.update(_schema_defaults(sub, f"{prefix}{key}."))
        elif "default" in sub:
            found[prefix + key] = sub["default"]
    return found


@pytest.mark.parametrize(
    "key", [pytest.param(k, id=k) for k in _schema_defaults(json.loads(schema_text()))]
)
def test_schema_default_matches_settings(key: str) -> None:
    expected = _schema_defaults(schema())[key]
    if key.startswith("checklist.cost."):  # no cost table by default: compare the dataclass
        field_name = key.rsplit(".", 1)[1]
        assert Cost.__dataclass_fields__[field_name].default == expected
        return
    value = attr(load_settings(ROOT, None, {}, {}), key)
    if key == "cases":
        value = [c.pattern for c in value]
    assert (list(value) if isinstance(value, tuple) else value) == expected


# --------------------------------------------------------------------------------------------
# Overrides from each source


@pytest.mark.parametrize(
    ("body", "key", "expected"),
    [
        pytest.param('pipeline = "bot.pipe:answer"', "pipeline", "bot.pipe:answer", id="pipeline"),
        pytest.param(
            'pipeline = "bot:App.answer"', "pipeline", "bot:App.answer", id="pipeline-attr"
        ),
        pytest.param('suite = "support"', "suite", "support", id="suite"),
        pytest.param("repeats = 3", "repeats", 3, id="repeats"),
        pytest.param("min_pass_ratio = 0.6", "min_pass_ratio", 0.6, id="min_pass_ratio"),
        pytest.param("min_pass_ratio = 1", "min_pass_ratio", 1.0, id="min_pass_ratio-int"),
        pytest.param("concurrency = 2", "concurrency", 2, id="concurrency"),
        pytest.param("timeout_s = 5", "timeout_s", 5.0, id="timeout_s-int"),
        pytest.param("timeout_s = 0.5", "timeout_s", 0.5, id="timeout_s-float"),
        pytest.param('history = ""', "history", "", id="history-off"),
        pytest.param(
            'history = "postgresql+psycopg://u@h/db"',
            "history",
            "postgresql+psycopg://u@h/db",
            id="history-url",
        ),
        pytest.param('baseline_branch = "trunk"', "baseline_branch", "trunk", id="baseline_branch"),
        pytest.param("baseline_runs = 10", "baseline_runs", 10, id="baseline_runs"),
        pytest.param('judge = "j:make"', "judge", "j:make", id="judge"),
        pytest.param('diagnose = "static"', "diagnose", "static", id="diagnose"),
        pytest.param("store_outputs = false", "store_outputs", False, id="store_outputs"),
        pytest.param(
            "[tool.ragft.thresholds]\nknowledge = 1", "thresholds.knowledge", 1.0, id="knowledge"
        ),
        pytest.param(
            "[tool.ragft.thresholds]\nbehavior = 0.7", "thresholds.behavior", 0.7, id="behavior"
        ),
        pytest.param(
            "[tool.ragft.thresholds]\nmax_drop = 0.1", "thresholds.max_drop", 0.1, id="max_drop"
        ),
        pytest.param("[tool.ragft.thresholds]\nalpha = 0.01", "thresholds.alpha", 0.01, id="alpha"),
        pytest.param(
            "[tool.ragft.checklist]\nbaseline_min_runs = 1",
            "checklist.baseline_min_runs",
            1,
            id="baseline_min_runs",
        ),
        pytest.param(
            "[tool.ragft.checklist]\nbehavior_share = 1",
            "checklist.behavior_share",
            1.0,
            id="behavior_share",
        ),
        pytest.param(
            '[tool.ragft.checklist]\ntraining_data = ["ft/*.jsonl"]',
            "checklist.training_data",
            ("ft/*.jsonl",),
            id="training_data",
        ),
        pytest.param(
            "[tool.ragft.checklist]\nmin_training_examples = 50",
            "checklist.min_training_examples",
            50,
            id="min_training_examples",
        ),
        pytest.param(
            '[tool.ragft.checklist]\nowner = "@acme/ml"', "checklist.owner", "@acme/ml", id="owner"
        ),
        pytest.param(
            "[tool.ragft.checklist]\nowned_until = 2028-01-31",
            "checklist.owned_until",
            datetime.date(2028, 1, 31),
            id="owned_until-toml-date",
        ),
        pytest.param(
            '[tool.ragft.checklist]\nowned_until = "2028-01-31"',
            "checklist.owned_until",
            datetime.date(2028, 1, 31),
            id="owned_until-string",
        ),
        pytest.param(
            "[tool.ragft.checklist]\nhorizon_months = 24",
            "checklist.horizon_months",
            24,
            id="horizon_months",
        ),
        pytest.param(
            """
            [tool.ragft.checklist.cost]
            queries_per_month = 200000
            value_per_fixed_failure = 0.05
            expected_fix_rate = 0.5
            finetune_upfront = 1500
            finetune_monthly = 300
            """,
            "checklist.cost",
            Cost(
                queries_per_month=200000.0,
                value_per_fixed_failure=0.05,
                expected_fix_rate=0.5,
                per_query_saving=0.0,
                finetune_upfront=1500.0,
                finetune_monthly=300.0,
            ),
            id="cost",
        ),
        pytest.param(
            '[tool.ragft.gate]\nbelow_threshold = "warn"',
            "gate.below_threshold",
            "warn",
            id="below_threshold",
        ),
        pytest.param('[tool.ragft.gate]\nregression = "off"', "gate.regression", "off", id="regr"),
        pytest.param(
            '[tool.ragft.gate]\nfinetune_ready = "fail"',
            "gate.finetune_ready",
            "fail",
            id="finetune_ready",
        ),
        pytest.param(
            '[tool.ragft.gate]\nfinetune_blocked = "comment"',
            "gate.finetune_blocked",
            "comment",
            id="finetune_blocked",
        ),
        pytest.param(
            '[tool.ragft.gate]\nfinetune_paths = ["lora/**"]',
            "gate.finetune_paths",
            ("lora/**",),
            id="finetune_paths",
        ),
        pytest.param(
            '[tool.ragft.gate]\ncase_failures = "strict"',
            "gate.case_failures",
            "strict",
            id="case_failures",
        ),
        pytest.param('[tool.ragft.report]\nmarkdown = "r.md"', "report.markdown", "r.md", id="md"),
        pytest.param('[tool.ragft.report]\njson = ""', "report.json", "", id="json-off"),
        pytest.param('[tool.ragft.report]\nhtml = "h.html"', "report.html", "h.html", id="html"),
        pytest.param(
            '[tool.ragft.report]\ngithub = "never"', "report.github", "never", id="github"
        ),
    ],
)
def test_pyproject_override(tmp_path: Path, body: str, key: str, expected: Any) -> None:
    body = textwrap.dedent(body).strip()
    text = f"[tool.ragft]\n{body}\n" if not body.startswith("[") else body + "\n"
    value = attr(load(tmp_path, text), key)
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    ("var", "text", "key", "expected"),
    [
        pytest.param("RAGFT_PIPELINE", "m:f", "pipeline", "m:f", id="pipeline"),
        pytest.param("RAGFT_SUITE", "nightly", "suite", "nightly", id="suite"),
        pytest.param("RAGFT_REPEATS", "4", "repeats", 4, id="repeats"),
        pytest.param("RAGFT_CONCURRENCY", " 16 ", "concurrency", 16, id="concurrency"),
        pytest.param("RAGFT_TIMEOUT_S", "2.5", "timeout_s", 2.5, id="timeout_s"),
        pytest.param("RAGFT_MIN_PASS_RATIO", "0.5", "min_pass_ratio", 0.5, id="min_pass_ratio"),
        pytest.param("RAGFT_HISTORY", "", "history", "", id="history-off"),
        pytest.param("RAGFT_DIAGNOSE", "static", "diagnose", "static", id="diagnose"),
        pytest.param("RAGFT_STORE_OUTPUTS", "No", "store_outputs", False, id="store_outputs"),
        pytest.param(
            "RAGFT_CASES",
            "a/*.yaml, promptfoo:p.yaml,",
            "cases",
            (CaseSource("a/*.yaml"), CaseSource("p.yaml", "promptfoo")),
            id="cases",
        ),
        pytest.param(
            "RAGFT_THRESHOLDS_BEHAVIOR", "0.5", "thresholds.behavior", 0.5, id="thresholds"
        ),
        pytest.param("RAGFT_GATE_REGRESSION", "warn", "gate.regression", "warn", id="gate"),
        pytest.param(
            "RAGFT_GATE_FINETUNE_PATHS",
            "lora/**,ft/**",
            "gate.finetune_paths",
            ("lora/**", "ft/**"),
            id="gate-array",
        ),
        pytest.param("RAGFT_REPORT_GITHUB", "events", "report.github", "events", id="report"),
        pytest.param("RAGFT_CHECKLIST_OWNER", "@ml", "checklist.owner", "@ml", id="checklist"),
        pytest.param(
            "RAGFT_CHECKLIST_OWNED_UNTIL",
            "2030-12-31",
            "checklist.owned_until",
            datetime.date(2030, 12, 31),
            id="owned_until",
        ),
    ],
)
def test_env_override(var: str, text: str, key: str, expected: Any) -> None:
    assert attr(load_settings(ROOT, None, {}, {var: text}), key) == expected


@pytest.mark.parametrize(
    ("cli", "key", "expected"),
    [
        pytest.param({"ragft_pipeline": "a:b"}, "pipeline", "a:b", id="pipeline"),
        pytest.param({"ragft_repeats": 5}, "repeats", 5, id="repeats"),
        pytest.param({"ragft_repeats": "5"}, "repeats", 5, id="repeats-text"),
        pytest.param({"ragft_concurrency": 1}, "concurrency", 1, id="concurrency"),
        pytest.param({"ragft_history": "h.db"}, "history", "h.db", id="history"),
        pytest.param({"ragft_no_history": True}, "history", "", id="no-history"),
        pytest.param(
            {"ragft_history": "h.db", "ragft_no_history": True}, "history", "", id="no-history-wins"
        ),
        pytest.param(
            {"ragft_no_history": False}, "history", ".ragft/history.sqlite", id="flag-off"
        ),
        pytest.param({"ragft_baseline_branch": "dev"}, "baseline_branch", "dev", id="branch"),
        pytest.param({"ragft_strict": True}, "gate.case_failures", "strict", id="strict"),
        pytest.param({"ragft_strict": False}, "gate.case_failures", "gate", id="strict-off"),
        pytest.param({"ragft_github": "never"}, "report.github", "never", id="github"),
        pytest.param({"ragft": True, "unrelated": 3}, "repeats", 1, id="other-dests-ignored"),
    ],
)
def test_cli_override(cli: dict[str, Any], key: str, expected: Any) -> None:
    assert attr(load_settings(ROOT, None, cli, {}), key) == expected


# --------------------------------------------------------------------------------------------
# Precedence: command line > environment > pyproject > default


@pytest.mark.parametrize(
    ("in_file", "env", "cli", "expected"),
    [
        pytest.param(False, False, False, 1, id="default"),
        pytest.param(True, False, False, 2, id="pyproject-over-default"),
        pytest.param(True, True, False, 3, id="env-over-pyproject"),
        pytest.param(False, True, False, 3, id="env-over-default"),
        pytest.param(True, True, True, 4, id="cli-over-env"),
        pytest.param(True, False, True, 4, id="cli-over-pyproject"),
    ],
)
def test_precedence_top_level(
    tmp_path: Path, in_file: bool, env: bool, cli: bool, expected: int
) -> None:
    settings = load(
        tmp_path,
        "[tool.ragft]\n" + ("repeats = 2\n" if in_file else ""),
        {"ragft_repeats": 4 if cli else None},
        **({"RAGFT_REPEATS": "3"} if env else {}),
    )
    assert settings.repeats == expected


@pytest.mark.parametrize(
    ("env", "cli", "expected"),
    [
        pytest.param(None, None, "events", id="pyproject"),
        pytest.param("always", None, "always", id="env"),
        pytest.param("always", "never", "never", id="cli"),
    ],
)
def test_precedence_nested(tmp_path: Path, env: str | None, cli: str | None, expected: str) -> None:
    settings = load(
        tmp_path,
        '[tool.ragft.report]\ngithub = "events"\nmarkdown = "m.md"\n',
        {"ragft_github": cli},
        **({"RAGFT_REPORT_GITHUB": env} if env else {}),
    )
    assert settings.report.github == expected
    assert settings.report.markdown == "m.md"  # the rest of the table stays


def test_env_override_keeps_the_rest_of_the_table(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        "[tool.ragft.thresholds]\nknowledge = 0.7\nbehavior = 0.6\n",
        RAGFT_THRESHOLDS_BEHAVIOR="0.5",
    )
    assert settings.thresholds == Thresholds(knowledge=0.7, behavior=0.5)


def test_strict_flag_over_pyproject(tmp_path: Path) -> None:
    settings = load(tmp_path, '[tool.ragft.gate]\ncase_failures = "gate"\n', {"ragft_strict": True})
    assert settings.gate.case_failures == "strict"


@pytest.mark.parametrize(
    "var",
    [
        pytest.param("RAGFT_GITHUB_TOKEN", id="token"),
        pytest.param("RAGFT_CHANGED_FILES", id="changed-files"),
        pytest.param("RAGFT_NO_SUCH_THING", id="unknown"),
        pytest.param("RAGFT_THRESHOLDS", id="a-table"),
        pytest.param("RAGFT_CHECKLIST_COST", id="a-nested-table"),
    ],
)
def test_unrelated_ragft_variables_are_ignored(var: str) -> None:
    assert load_settings(ROOT, None, {}, {var: "!!"}) == load_settings(ROOT, None, {}, {})


@pytest.mark.parametrize(
    "var",
    [
        pytest.param(v, id=v)
        for v in (
            "RAGFT_REPEATS",
            "RAGFT_STORE_OUTPUTS",
            "RAGFT_TIMEOUT_S",
            "RAGFT_PIPELINE",
            "RAGFT_CASES",
            "RAGFT_SUITE",
        )
    ],
)
def test_empty_variable_means_not_given(tmp_path: Path, var: str) -> None:
    """An unset CI input arrives as an empty variable: it must not wipe the pyproject value."""
    body = (
        '[tool.ragft]\npipeline = "bot:answer"\ncases = ["x/*.yaml"]\nsuite = "s"\n'
        "repeats = 2\nstore_outputs = false\ntimeout_s = 9\n"
    )
    assert load(tmp_path, body, **{var: " "}) == load(tmp_path, body)


def test_env_variable_names() -> None:
    names = env_variables()
    for name in (
        "RAGFT_PIPELINE",
        "RAGFT_REPEATS",
        "RAGFT_HISTORY",
        "RAGFT_CONCURRENCY",
        "RAGFT_TIMEOUT_S",
        "RAGFT_SUITE",
        "RAGFT_DIAGNOSE",
        "RAGFT_THRESHOLDS_BEHAVIOR",
        "RAGFT_GATE_REGRESSION",
        "RAGFT_REPORT_GITHUB",
        "RAGFT_CHECKLIST_OWNER",
        "RAGFT_CHECKLIST_COST_FINETUNE_MONTHLY",
    ):
        assert name in names
    assert "RAGFT_GITHUB_TOKEN" not in names
    assert len(set(names.values())) == len(names)


# --------------------------------------------------------------------------------------------
# Errors


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            "tresholds = {}",
            "pyproject.toml: [tool.ragft] has no key 'tresholds' (did you mean 'thresholds'?)",
            id="unknown-top-level",
        ),
        pytest.param(
            "[tool.ragft.thresholds]\nbehaviour = 0.8",
            "pyproject.toml: [tool.ragft.thresholds] has no key 'behaviour' "
            "(did you mean 'behavior'?)",
            id="unknown-nested",
        ),
        pytest.param(
            "[tool.ragft.checklist.cost]\nqueries = 1",
            "[tool.ragft.checklist.cost] has no key 'queries' (did you mean 'queries_per_month'?)",
            id="unknown-deeply-nested",
        ),
        pytest.param(
            "behavior = 0.8",
            "[tool.ragft] has no key 'behavior' (did you mean 'thresholds.behavior'?)",
            id="nested-key-at-top-level",
        ),
        pytest.param(
            "zzzzzz = 1", "[tool.ragft] has no key 'zzzzzz'\n", id="unknown-without-suggestion"
        ),
        pytest.param(
            'repeats = "3"',
            "tool.ragft.repeats: expected an integer, got a string ('3')",
            id="wrong-type-int",
        ),
        pytest.param(
            "repeats = 1.5",
            "tool.ragft.repeats: expected an integer, got a number (1.5)",
            id="float",
        ),
        pytest.param(
            "store_outputs = 1",
            "tool.ragft.store_outputs: expected a boolean (true or false), got an integer (1)",
            id="wrong-type-bool",
        ),
        pytest.param(
            "timeout_s = true",
            "tool.ragft.timeout_s: expected a number, got a boolean (true)",
            id="bool-is-not-a-number",
        ),
        pytest.param(
            'cases = "evals/*.yaml"',
            "tool.ragft.cases: expected an array, got a string",
            id="wrong-type-array",
        ),
        pytest.param(
            "thresholds = 0.9",
            "tool.ragft.thresholds: expected a table, got a number (0.9)",
            id="wrong-type-table",
        ),
        pytest.param(
            "pipeline = 2024-01-01",
            "tool.ragft.pipeline: expected a string, got a date (2024-01-01)",
            id="toml-date-where-string",
        ),
        pytest.param(
            "[tool.ragft.thresholds]\nbehavior = 1.5",
            "tool.ragft.thresholds.behavior: expected a number >= 0 and <= 1, got 1.5",
            id="threshold-above-1",
        ),
        pytest.param(
            "[tool.ragft.thresholds]\nknowledge = -0.1",
            "tool.ragft.thresholds.knowledge: expected a number >= 0 and <= 1, got -0.1",
            id="threshold-below-0",
        ),
        pytest.param(
            "[tool.ragft.thresholds]\nalpha = 0",
            "tool.ragft.thresholds.alpha: expected a number > 0 and < 1, got 0",
            id="alpha-0",
        ),
        pytest.param(
            "repeats = 0",
            "tool.ragft.repeats: expected an integer >= 1 and <= 1000, got 0",
            id="repeats-0",
        ),
        pytest.param(
            "concurrency = -2",
            "tool.ragft.concurrency: expected an integer >= 1 and <= 1024, got -2",
            id="concurrency-negative",
        ),
        pytest.param(
            "timeout_s = 0",
            "tool.ragft.timeout_s: expected a number > 0 and <= 86400, got 0",
            id="timeout-0",
        ),
        pytest.param(
            "min_pass_ratio = 0",
            "tool.ragft.min_pass_ratio: expected a number > 0 and <= 1, got 0",
            id="min_pass_ratio-0",
        ),
        pytest.param(
            "min_pass_ratio = 1.01",
            "tool.ragft.min_pass_ratio: expected a number > 0 and <= 1, got 1.01",
            id="min_pass_ratio-above-1",
        ),
        pytest.param(
            'pipeline = "support_bot.pipeline.answer"',
            "tool.ragft.pipeline: expected a 'module:callable' reference",
            id="pipeline-without-colon",
        ),
        pytest.param(
            'pipeline = "a:b:c"',
            "tool.ragft.pipeline: expected a 'module:callable' reference",
            id="pipeline-two-colons",
        ),
        pytest.param(
            'judge = "judge"', "tool.ragft.judge: expected a 'module:factory'", id="judge-ref"
        ),
        pytest.param(
            'diagnose = "dynamic"',
            "tool.ragft.diagnose: expected one of 'counterfactual', 'static', got a string",
            id="enum",
        ),
        pytest.param(
            '[tool.ragft.gate]\nregression = "fial"',
            "tool.ragft.gate.regression: expected one of 'fail', 'comment', 'warn', 'off', "
            "got a string ('fial') (did you mean 'fail'?)",
            id="action-misspelt",
        ),
        pytest.param(
            '[tool.ragft.gate]\ncase_failures = "all"',
            "tool.ragft.gate.case_failures: expected one of 'gate', 'strict'",
            id="case_failures",
        ),
        pytest.param(
            '[tool.ragft.report]\ngithub = "yes"',
            "tool.ragft.report.github: expected one of 'auto', 'events', 'always', 'never'",
            id="github",
        ),
        pytest.param(
            'suite = ""', "tool.ragft.suite: expected a non-empty string", id="empty-suite"
        ),
        pytest.param(
            '[tool.ragft.checklist]\nowned_until = "31/01/2028"',
            "tool.ragft.checklist.owned_until: expected a date such as 2028-01-31",
            id="owned_until-format",
        ),
        pytest.param(
            '[tool.ragft.checklist]\nowned_until = "2028-02-30"',
            "tool.ragft.checklist.owned_until: '2028-02-30' is not a calendar date",
            id="owned_until-no-such-day",
        ),
        pytest.param(
            "[tool.ragft.checklist]\nowned_until = 2028-01-31T10:00:00",
            "tool.ragft.checklist.owned_until: expected a string, got a date-time",
            id="owned_until-datetime",
        ),
        pytest.param(
            "[tool.ragft.checklist.cost]\nqueries_per_month = 1",
            "[tool.ragft.checklist.cost] is missing the required key 'finetune_upfront'",
            id="cost-incomplete",
        ),
        pytest.param(
            "[tool.ragft.checklist]\ntraining_data = [1]",
            "tool.ragft.checklist.training_data[0]: expected a string, got an integer (1)",
            id="array-item-type",
        ),
    ],
)
def test_pyproject_error(tmp_path: Path, body: str, expected: str) -> None:
    text = body if body.startswith("[") else f"[tool.ragft]\n{body}"
    message = usage_error(tmp_path, text + "\n") + "\n"
    # Every line names the file (relative to the working directory here).
    assert "pyproject.toml: " + expected.removeprefix("pyproject.toml: ") in message


def test_file_outside_cwd_is_named_in_full(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    message = usage_error(tmp_path, "[tool.ragft]\nrepeats = 0\n")
    assert message.startswith(f"{tmp_path / 'pyproject.toml'}: tool.ragft.repeats")


def test_several_problems_are_reported_at_once(tmp_path: Path) -> None:
    message = usage_error(
        tmp_path,
        '[tool.ragft]\ntresholds = 1\nrepeats = 0\npipeline = "x"\n'
        '[tool.ragft.gate]\nregression = "nope"\n',
        RAGFT_CONCURRENCY="many",
    )
    lines = message.splitlines()
    assert lines[0] == "5 problems in the ragft configuration:"
    assert any("'tresholds'" in line for line in lines)
    assert any("tool.ragft.repeats" in line for line in lines)
    assert any("tool.ragft.pipeline" in line for line in lines)
    assert any("tool.ragft.gate.regression" in line for line in lines)
    assert any("RAGFT_CONCURRENCY" in line for line in lines)


def test_no_duplicate_lines_for_missing_keys(tmp_path: Path) -> None:
    message = usage_error(tmp_path, "[tool.ragft.checklist.cost]\nper_query_saving = 1\n")
    lines = message.splitlines()[1:]
    assert len(lines) == len(set(lines)) == 5


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        pytest.param(
            {"RAGFT_REPEATS": "three"},
            "tool.ragft.repeats: expected an integer, got 'three' (from RAGFT_REPEATS)",
            id="not-an-int",
        ),
        pytest.param(
            {"RAGFT_REPEATS": "0"},
            "tool.ragft.repeats: expected an integer >= 1 and <= 1000, got 0 (from RAGFT_REPEATS)",
            id="int-out-of-range",
        ),
        pytest.param(
            {"RAGFT_TIMEOUT_S": "nan"},
            "tool.ragft.timeout_s: expected a number"
            " > 0 and <= 86400, got nan (from RAGFT_TIMEOUT_S)",
            id="nan",
        ),
        pytest.param(
            {"RAGFT_STORE_OUTPUTS": "maybe"},
            "tool.ragft.store_outputs: expected a boolean (true/false, 1/0, yes/no, on/off), "
            "got 'maybe' (from RAGFT_STORE_OUTPUTS)",
            id="not-a-bool",
        ),
        pytest.param(
            {"RAGFT_THRESHOLDS_BEHAVIOR": "85"},
            "tool.ragft.thresholds.behavior: expected a number >= 0 and <= 1, got 85 "
            "(from RAGFT_THRESHOLDS_BEHAVIOR)",
            id="nested-out-of-range",
        ),
        pytest.param(
            {"RAGFT_GATE_REGRESSION": "block"},
            "tool.ragft.gate.regression: expected one of 'fail', 'comment', 'warn', 'off', "
            "got a string ('block') (from RAGFT_GATE_REGRESSION)",
            id="bad-action",
        ),
        pytest.param(
            {"RAGFT_PIPELINE": "nope"},
            "tool.ragft.pipeline: expected a 'module:callable' reference such as "
            "'support_bot.pipeline:answer', got 'nope' (from RAGFT_PIPELINE)",
            id="bad-pipeline",
        ),
        pytest.param(
            {"RAGFT_CASES": "promptfooo:x.yaml"},
            "tool.ragft.cases[0]: unknown format prefix 'promptfooo:' (did you mean 'promptfoo:'?)",
            id="bad-case-prefix",
        ),
        pytest.param(
            {"RAGFT_CHECKLIST_OWNED_UNTIL": "soon"},
            "(from RAGFT_CHECKLIST_OWNED_UNTIL)",
            id="bad-date",
        ),
    ],
)
def test_env_error(tmp_path: Path, env: dict[str, str], expected: str) -> None:
    message = usage_error(tmp_path, "[tool.ragft]\n", **env)
    assert expected in message
    assert "pyproject.toml" not in message


@pytest.mark.parametrize(
    ("cli", "expected"),
    [
        pytest.param(
            {"ragft_repeats": 0},
            "tool.ragft.repeats: expected an integer"
            " >= 1 and <= 1000, got 0 (from --ragft-repeats)",
            id="repeats",
        ),
        pytest.param(
            {"ragft_repeats": "x"},
            "tool.ragft.repeats: expected an integer, got 'x' (from --ragft-repeats)",
            id="repeats-text",
        ),
        pytest.param(
            {"ragft_concurrency": 0},
            "tool.ragft.concurrency: expected an int"
            "eger >= 1 and <= 1024, got 0 (from --ragft-concurrency)",
            id="concurrency",
        ),
        pytest.param(
            {"ragft_pipeline": "bot.answer"},
            "tool.ragft.pipeline: expected a 'module:callable' reference such as "
            "'support_bot.pipeline:answer', got 'bot.answer' (from --ragft-pipeline)",
            id="pipeline",
        ),
        pytest.param(
            {"ragft_github": "sometimes"},
            "(from --ragft-github)",
            id="github",
        ),
        pytest.param(
            {"ragft_baseline_branch": ""},
            "tool.ragft.baseline_branch: expected a non-empty string, got '' "
            "(from --ragft-baseline-branch)",
            id="branch",
        ),
    ],
)
def test_cli_error(tmp_path: Path, cli: dict[str, Any], expected: str) -> None:
    assert expected in usage_error(tmp_path, "[tool.ragft]\n", cli)


def test_cli_fixes_a_bad_env_value_only_for_its_key(tmp_path: Path) -> None:
    settings = load(tmp_path, "[tool.ragft]\nrepeats = 0\n", {"ragft_repeats": 2})
    assert settings.repeats == 2
    message = usage_error(tmp_path, "[tool.ragft]\nrepeats = 0\n", {"ragft_concurrency": 2})
    assert message.startswith("pyproject.toml: tool.ragft.repeats")


# --------------------------------------------------------------------------------------------
# Case sources


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        pytest.param("evals/*.yaml", CaseSource("evals/*.yaml"), id="plain"),
        pytest.param(
            "openai-evals:evals/coqa.jsonl",
            CaseSource("evals/coqa.jsonl", "openai-evals"),
            id="openai-evals",
        ),
        pytest.param(
            "promptfoo:promptfooconfig.yaml",
            CaseSource("promptfooconfig.yaml", "promptfoo"),
            id="promptfoo",
        ),
        pytest.param(
            "deepeval:goldens.json", CaseSource("goldens.json", "deepeval"), id="deepeval"
        ),
        pytest.param("C:/evals/*.yaml", CaseSource("C:/evals/*.yaml"), id="drive-letter"),
        pytest.param({"path": "g.json"}, CaseSource("g.json"), id="table-plain"),
        pytest.param(
            {"path": "g.json", "format": "deepeval", "kind": "behavior"},
            CaseSource("g.json", "deepeval", "behavior"),
            id="table-full",
        ),
        pytest.param(
            {"path": "promptfoo:p.yaml", "kind": "knowledge"},
            CaseSource("p.yaml", "promptfoo", "knowledge"),
            id="table-prefix",
        ),
        pytest.param(
            {"path": "promptfoo:p.yaml", "format": "promptfoo"},
            CaseSource("p.yaml", "promptfoo"),
            id="table-prefix-agrees",
        ),
    ],
)
def test_parse_case_source(entry: Any, expected: CaseSource) -> None:
    assert parse_case_source(entry) == expected


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        pytest.param(
            "promptfo:p.yaml",
            "unknown format prefix 'promptfo:' (did you mean 'promptfoo:'?); expected one of "
            "'openai-evals:', 'promptfoo:', 'deepeval:'",
            id="misspelt-prefix",
        ),
        pytest.param("yaml:p.yaml", "unknown format prefix 'yaml:'", id="unknown-prefix"),
        pytest.param("deepeval:", "names no file after the 'deepeval:' prefix", id="no-file"),
        pytest.param(
            {"path": "promptfoo:p.yaml", "format": "deepeval"},
            "format 'deepeval' contradicts the prefix 'promptfoo:'",
            id="contradiction",
        ),
    ],
)
def test_parse_case_source_error(entry: Any, expected: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_case_source(entry)
    assert expected in str(info.value)


def test_cases_in_pyproject(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        """
        [tool.ragft]
        cases = [
            "evals/**/*.yaml",
            "openai-evals:evals/coqa.jsonl",
            {path = "promptfooconfig.yaml", format = "promptfoo", kind = "behavior"},
        ]
        """,
    )
    assert settings.cases == (
        CaseSource("evals/**/*.yaml"),
        CaseSource("evals/coqa.jsonl", "openai-evals"),
        CaseSource("promptfooconfig.yaml", "promptfoo", "behavior"),
    )


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        pytest.param(
            '"promptfo:p.yaml"',
            "pyproject.toml: tool.ragft.cases[0]: unknown format prefix 'promptfo:'",
            id="bad-prefix",
        ),
        pytest.param(
            '{path = "p.yaml", kind = "knowlege"}',
            "tool.ragft.cases[0].kind: expected one of 'knowledge', 'behavior', got a string "
            "('knowlege') (did you mean 'knowledge'?)",
            id="bad-kind",
        ),
        pytest.param(
            '{path = "p.yaml", format = "yaml"}',
            "tool.ragft.cases[0].format: expected one of 'openai-evals', 'promptfoo', 'deepeval'",
            id="bad-format",
        ),
        pytest.param(
            '{kind = "behavior"}',
            "tool.ragft.cases[0] is missing the required key 'path'",
            id="no-path",
        ),
        pytest.param(
            '{path = "p.yaml", knd = "behavior"}',
            "tool.ragft.cases[0] has no key 'knd' (did you mean 'kind'?)",
            id="unknown-key",
        ),
        pytest.param("3", "tool.ragft.cases[0]: expected a string or a table", id="wrong-type"),
        pytest.param('""', "tool.ragft.cases[0]: expected a non-empty string", id="empty"),
    ],
)
def test_case_source_error_in_pyproject(tmp_path: Path, entry: str, expected: str) -> None:
    assert expected in usage_error(tmp_path, f"[tool.ragft]\ncases = [{entry}]\n")


# --------------------------------------------------------------------------------------------
# Suite, report paths


def test_suite_defaults_to_project_name(tmp_path: Path) -> None:
    settings = load(tmp_path, '[project]\nname = "support-bot"\n[tool.ragft]\n')
    assert settings.suite == "support-bot"


def test_suite_defaults_to_rootdir_name(tmp_path: Path) -> None:
    assert load(tmp_path, "[tool.ragft]\n").suite == tmp_path.name
    assert load_settings(ROOT, None, {}, {}).suite == "project"


def test_suite_setting_beats_project_name(tmp_path: Path) -> None:
    settings = load(tmp_path, '[project]\nname = "pkg"\n[tool.ragft]\nsuite = "evals"\n')
    assert settings.suite == "evals"


@pytest.mark.parametrize(
    ("report_dir", "body", "expected"),
    [
        pytest.param(
            None, "", {"markdown": "ragft-report.md", "json": "ragft-report.json"}, id="root"
        ),
        pytest.param(
            "out",
            "",
            {"markdown": "out/ragft-report.md", "html": "out/ragft-report.html"},
            id="dir",
        ),
        pytest.param(
            None,
            'markdown = "reports/r.md"\njson = ""',
            {"markdown": "reports/r.md", "json": None},
            id="relative-and-skipped",
        ),
        pytest.param(
            "out",
            'html = ""\njson = "j/r.json"',
            {"html": None, "json": "out/r.json"},
            id="dir-and-skipped",
        ),
    ],
)
def test_report_paths(
    tmp_path: Path, report_dir: str | None, body: str, expected: dict[str, str | None]
) -> None:
    settings = load(tmp_path, f"[tool.ragft.report]\n{body}\n", {"ragft_report_dir": report_dir})
    for fmt, relative in expected.items():
        path = settings.report_path(fmt)  # type: ignore[arg-type]
        assert path == (None if relative is None else tmp_path / relative)
        assert path is None or path.is_absolute()


def test_report_dir_absolute(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    settings = load_settings(ROOT, None, {"ragft_report_dir": str(target)}, {})
    assert settings.report_dir == target
    assert settings.report_path("json") == target / "ragft-report.json"


def test_report_dir_relative_to_rootdir_not_cwd(tmp_path: Path) -> None:
    settings = load_settings(ROOT, None, {"ragft_report_dir": "out"}, {})
    assert settings.report_dir == ROOT / "out"


def test_report_path_in_pyproject_may_be_absolute(tmp_path: Path) -> None:
    target = tmp_path / "x" / "r.md"
    settings = load_settings(ROOT, {"report": {"markdown": str(target)}}, {}, {})
    assert settings.report_path("markdown") == target


# --------------------------------------------------------------------------------------------
# config_hash


def test_config_hash_is_short_hex_and_stable(tmp_path: Path) -> None:
    body = '[tool.ragft]\npipeline = "a:b"\n[tool.ragft.checklist]\nowned_until = 2028-01-31\n'
    first = config_hash(load(tmp_path, body))
    assert len(first) == 16
    int(first, 16)
    assert config_hash(load(tmp_path, body)) == first


def test_config_hash_is_pinned() -> None:
    """The hash lands in history: a change to it makes old runs look differently configured."""
    assert config_hash(Settings(rootdir=Path("/other"), suite="project")) == "10cccb771920da1b"


@pytest.mark.parametrize(
    ("table", "cli"),
    [
        pytest.param({"pipeline": "a:c"}, {}, id="pipeline"),
        pytest.param({"thresholds": {"behavior": 0.5}}, {}, id="threshold"),
        pytest.param({"repeats": 3}, {}, id="repeats"),
        pytest.param({"cases": ["other/*.yaml"]}, {}, id="cases"),
        pytest.param({"checklist": {"owned_until": "2029-01-01"}}, {}, id="owned_until"),
        pytest.param({}, {"ragft_strict": True}, id="strict"),
        pytest.param({"suite": "other"}, {}, id="suite"),
    ],
)
def test_config_hash_changes_with_what_shapes_results(
    table: dict[str, Any], cli: dict[str, Any]
) -> None:
    base = {"pipeline": "a:b"}
    before = config_hash(load_settings(ROOT, base, {}, {}))
    assert config_hash(load_settings(ROOT, {**base, **table}, cli, {})) != before


@pytest.mark.parametrize(
    ("rootdir", "table", "cli"),
    [
        pytest.param(Path("/elsewhere/project"), {}, {}, id="rootdir"),
        pytest.param(ROOT, {"report": {"markdown": "x.md", "github": "never"}}, {}, id="report"),
        pytest.param(ROOT, {}, {"ragft_report_dir": "out"}, id="report-dir"),
        pytest.param(ROOT, {}, {"ragft_no_history": True}, id="history"),
    ],
)
def test_config_hash_ignores_where_files_land(
    rootdir: Path, table: dict[str, Any], cli: dict[str, Any]
) -> None:
    base = {"pipeline": "a:b"}
    before = config_hash(load_settings(ROOT, base, {}, {}))
    assert config_hash(load_settings(rootdir, {**base, **table}, cli, {})) == before


# --------------------------------------------------------------------------------------------
# The schema


def test_schema_is_valid_draft_2020_12() -> None:
    from jsonschema import Draft202012Validator

    document = json.loads(schema_text())
    assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(document)


def _objects(node: dict[str, Any], where: str = "tool.ragft") -> list[tuple[str, dict[str, Any]]]:
    found = []
    if node.get("type") == "object" or "properties" in node:
        found.append((where, node))
    for key, sub in node.get("properties", {}).items():
        found.extend(_objects(sub, f"{where}.{key}"))
    if isinstance(node.get("items"), dict):
        found.extend(_objects(node["items"], f"{where}[]"))
    if isinstance(node.get("then"), dict):
        found.extend(_objects(node["then"], where))
    return found


def test_schema_closes_every_table() -> None:
    for where, node in _objects(schema()):
        if "properties" in node:
            # Named entries ([tool.ragft.variants]) are closed by the schema of each entry.
            extra = node.get("additionalProperties")
            assert extra is False or extra == {"$ref": "#/$defs/variant"}, where
    assert schema()["$defs"]["variant"]["additionalProperties"] is False


def test_schema_describes_every_key() -> None:
    no_default = {
        "tool.ragft.suite",  # the project's name: not a constant
        "tool.ragft.checklist.owned_until",
        "tool.ragft.checklist.cost",
    }
    for where, node in _objects(schema()):
        for key, sub in node.get("properties", {}).items():
            full = f"{where}.{key}"
            assert sub.get("description"), full
            in_cost = where == "tool.ragft.checklist.cost" and key != "per_query_saving"
            unset_is_no_limit = where == "tool.ragft.budgets"
            if full not in no_default and not (
                in_cost or unset_is_no_limit or where.endswith("[]")
            ):
                assert "default" in sub, full


def test_full_spec_example_loads(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        """
        [tool.ragft]
        pipeline = "support_bot.pipeline:answer"
        cases = ["evals/**/*.yaml"]
        suite = "support-bot"
        repeats = 1
        min_pass_ratio = 1.0
        concurrency = 8
        timeout_s = 60
        history = ".ragft/history.sqlite"
        baseline_branch = "main"
        baseline_runs = 5
        judge = ""
        diagnose = "counterfactual"
        store_outputs = true

        [tool.ragft.thresholds]
        knowledge = 0.90
        behavior = 0.85
        max_drop = 0.05
        alpha = 0.05

        [tool.ragft.checklist]
        baseline_min_runs = 3
        behavior_share = 0.6
        training_data = ["finetune/*.jsonl"]
        min_training_examples = 200
        owner = "@acme/ml-platform"
        owned_until = "2028-01-31"
        horizon_months = 12

        [tool.ragft.checklist.cost]
        queries_per_month = 200000
        value_per_fixed_failure = 0.05
        expected_fix_rate = 0.5
        per_query_saving = 0.0
        finetune_upfront = 1500
        finetune_monthly = 300

        [tool.ragft.gate]
        below_threshold = "fail"
        regression = "fail"
        finetune_ready = "comment"
        finetune_blocked = "fail"
        finetune_paths = ["finetune/**", "adapters/**"]
        case_failures = "gate"

        [tool.ragft.report]
        markdown = "ragft-report.md"
        json = "ragft-report.json"
        html = "ragft-report.html"
        github = "auto"
        """,
    )
    assert settings.checklist == ChecklistSettings(
        training_data=("finetune/*.jsonl",),
        owner="@acme/ml-platform",
        owned_until=datetime.date(2028, 1, 31),
        cost=Cost(
            queries_per_month=200000.0,
            value_per_fixed_failure=0.05,
            expected_fix_rate=0.5,
            finetune_upfront=1500.0,
            finetune_monthly=300.0,
        ),
    )
    assert settings.gate == GateSettings()
    assert settings.report == ReportSettings()
    assert settings.thresholds == Thresholds()
    assert settings.pyproject == tmp_path / "pyproject.toml"
    assert dataclasses.replace(settings, checklist=ChecklistSettings()) == Settings(
        rootdir=tmp_path,
        pyproject=tmp_path / "pyproject.toml",
        pipeline="support_bot.pipeline:answer",
        cases=(CaseSource("evals/**/*.yaml"),),
        suite="support-bot",
    )


def test_settings_are_frozen() -> None:
    settings = load_settings(ROOT, None, {}, {})
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.repeats = 2  # type: ignore[misc]


# --------------------------------------------------------------------------------------------
# Conversion of environment text (property-based)


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_convert_integer_round_trips(value: int) -> None:
    assert convert_text(f" {value} ", {"type": "integer"}) == value


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_convert_number_round_trips(value: float) -> None:
    assert convert_text(repr(value), {"type": "number"}) == value


@given(st.sampled_from(["1", "true", "yes", "on", "0", "false", "no", "off"]), st.booleans())
def test_convert_boolean_any_case(word: str, upper: bool) -> None:
    expected = word in ("1", "true", "yes", "on")
    assert convert_text(word.upper() if upper else word, {"type": "boolean"}) is expected


@given(st.lists(st.text(st.characters(blacklist_characters=',"', blacklist_categories=["Cs"]))))
def test_convert_array_splits_on_commas(items: list[str]) -> None:
    expected = [i.strip() for i in items if i.strip()]
    assert convert_text(",".join(items), {"type": "array"}) == expected


@given(st.text())
def test_convert_integer_accepts_exactly_what_int_accepts(text: str) -> None:
    try:
        expected = int(text)
    except ValueError:
        with pytest.raises(ValueError, match="an integer"):
            convert_text(text, {"type": "integer"})
    else:
        assert convert_text(text, {"type": "integer"}) == expected


@given(st.integers(min_value=1, max_value=1024))
def test_env_integer_reaches_settings(value: int) -> None:
    settings = load_settings(ROOT, {"concurrency": 3}, {}, {"RAGFT_CONCURRENCY": str(value)})
    assert settings.concurrency == value


@given(st.integers(max_value=0))
def test_env_integer_out_of_range_names_the_variable(value: int) -> None:
    with pytest.raises(pytest.UsageError, match=r"\(from RAGFT_BASELINE_RUNS\)"):
        load_settings(ROOT, None, {}, {"RAGFT_BASELINE_RUNS": str(value)})


# --------------------------------------------------------------------------------------------
# Every number finite and bounded, whatever its source


_NUMERIC_KEYS = [
    pytest.param(("timeout_s",), id="timeout_s"),
    pytest.param(("min_pass_ratio",), id="min_pass_ratio"),
    pytest.param(("thresholds", "knowledge"), id="knowledge"),
    pytest.param(("thresholds", "behavior"), id="behavior"),
    pytest.param(("thresholds", "alpha"), id="alpha"),
    pytest.param(("thresholds", "max_drop"), id="max_drop"),
    pytest.param(("checklist", "behavior_share"), id="behavior_share"),
]


def _table(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    table: dict[str, Any] = {path[-1]: value}
    for part in reversed(path[:-1]):
        table = {part: table}
    return table


@pytest.mark.parametrize("path", _NUMERIC_KEYS)
@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf], ids=["nan", "inf", "-inf"])
def test_non_finite_numbers_are_refused_from_toml(path: tuple[str, ...], value: float) -> None:
    with pytest.raises(pytest.UsageError) as info:
        load_settings(ROOT, _table(path, value), {}, {})
    message = str(info.value)
    assert f"tool.ragft.{'.'.join(path)}: expected a number" in message
    assert f"got {value:g}" in message
    assert message.count("\n") == 0  # one message per value, not one per validator


@pytest.mark.parametrize("path", _NUMERIC_KEYS)
@pytest.mark.parametrize("text", ["nan", "inf", "-Infinity"])
def test_non_finite_numbers_are_refused_from_the_environment(
    path: tuple[str, ...], text: str
) -> None:
    variable = "RAGFT_" + "_".join(p.upper() for p in path)
    with pytest.raises(pytest.UsageError, match=rf"\(from {variable}\)"):
        load_settings(ROOT, None, {}, {variable: text})


def test_non_finite_cost_figure_is_refused() -> None:
    cost = {
        "queries_per_month": math.nan,
        "value_per_fixed_failure": 1.0,
        "expected_fix_rate": 0.5,
        "finetune_upfront": 1.0,
        "finetune_monthly": math.inf,
    }
    with pytest.raises(pytest.UsageError) as info:
        load_settings(ROOT, {"checklist": {"cost": cost}}, {}, {})
    assert "2 problems" in str(info.value)
    assert "tool.ragft.checklist.cost.queries_per_month: expected a number >= 0" in str(info.value)


@pytest.mark.parametrize(
    ("key", "value", "bound"),
    [
        pytest.param("repeats", 1_000_000, "<= 1000", id="repeats"),
        pytest.param("concurrency", 10**9, "<= 1024", id="concurrency"),
        pytest.param("timeout_s", 1e300, "<= 86400", id="timeout"),
        pytest.param("baseline_runs", 2**70, "<= 1000", id="baseline-runs"),
    ],
)
def test_huge_values_are_refused_with_the_bound(key: str, value: Any, bound: str) -> None:
    with pytest.raises(pytest.UsageError, match=f"tool.ragft.{key}: expected .*{bound}"):
        load_settings(ROOT, {key: value}, {}, {})


def test_huge_cli_repeats_names_the_option() -> None:
    with pytest.raises(pytest.UsageError, match=r"<= 1000, got 1000000 \(from --ragft-repeats\)"):
        load_settings(ROOT, None, {"ragft_repeats": 1_000_000}, {})


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("1" * 30, id="30-digits"),
        pytest.param("0", id="zero"),
        pytest.param("-3", id="negative"),
        pytest.param("2147483648", id="past-int32"),
        pytest.param("12a", id="not-a-number"),
    ],
)
def test_bad_pr_number_is_refused_naming_the_variable(raw: str) -> None:
    with pytest.raises(pytest.UsageError) as info:
        load_settings(ROOT, None, {}, {"RAGFT_PR": raw})
    message = str(info.value)
    assert message.startswith("RAGFT_PR: expected a pull request number from 1 to 2147483647")
    assert "unset it" in message
    assert len(message) < 250  # a 30-digit value is shown, a huge one cut


@pytest.mark.parametrize("raw", ["12", "#12", " 7 ", "2147483647"])
def test_good_pr_numbers_are_accepted(raw: str) -> None:
    load_settings(ROOT, None, {}, {"RAGFT_PR": raw})


def test_cases_from_the_environment_as_a_json_list() -> None:
    settings = load_settings(ROOT, None, {}, {"RAGFT_CASES": '["a, b.yaml", "c/*.yaml"]'})
    assert [s.pattern for s in settings.cases] == ["a, b.yaml", "c/*.yaml"]


def test_cases_from_the_environment_as_bad_json_says_both_forms() -> None:
    with pytest.raises(pytest.UsageError, match=r"JSON list or comma-separated.*RAGFT_CASES"):
        load_settings(ROOT, None, {}, {"RAGFT_CASES": '["a", ]'})


def test_cases_from_the_environment_a_bracket_glob_stays_a_glob() -> None:
    settings = load_settings(ROOT, None, {}, {"RAGFT_CASES": "[ab]/x.yaml,c/[0-9].yaml"})
    assert [s.pattern for s in settings.cases] == ["[ab]/x.yaml", "c/[0-9].yaml"]


def test_cases_table_from_json_keeps_its_keys() -> None:
    text = '[{"path": "x/*.jsonl", "format": "openai-evals", "kind": "behavior"}]'
    settings = load_settings(ROOT, None, {}, {"RAGFT_CASES": text})
    assert settings.cases == (CaseSource("x/*.jsonl", "openai-evals", "behavior"),)


def test_unmatched_entry_is_named_with_its_fix() -> None:
    from pytest_ragft.config import require_matches, unmatched_sources

    settings = load_settings(ROOT, {"cases": ["evals/*.yaml", "evlas/*.yaml"]}, {}, {})
    found = [settings.cases[0]]
    messages = unmatched_sources(settings, found)
    assert len(messages) == 1
    assert "cases[1] 'evlas/*.yaml'" in messages[0]
    assert "matches no file" in messages[0] and "optional = true" in messages[0]
    with pytest.raises(pytest.UsageError, match="evlas"):
        require_matches(settings, found)


def test_optional_entry_may_match_nothing() -> None:
    from pytest_ragft.config import unmatched_sources

    table = {"cases": ["evals/*.yaml", {"path": "extra/*.yaml", "optional": True}]}
    settings = load_settings(ROOT, table, {}, {})
    assert settings.cases[1].optional
    assert unmatched_sources(settings, [settings.cases[0]]) == []


def test_default_globs_may_match_nothing() -> None:
    from pytest_ragft.config import unmatched_sources

    assert unmatched_sources(load_settings(ROOT, None, {}, {}), []) == []


def test_unmatched_entry_from_the_environment_names_the_variable() -> None:
    from pytest_ragft.config import unmatched_sources

    settings = load_settings(ROOT, None, {}, {"RAGFT_CASES": "nothing/*.yaml"})
    assert "(from RAGFT_CASES)" in unmatched_sources(settings, [])[0]


_VARIANTS = {
    "pipeline": "bot:answer",
    "variants": {
        "json_prompt": {"pipeline": "bot:answer", "vars": {"prompt": "v2"}, "role": "prompt"},
        "adapter": {"pipeline": "bot:tuned", "role": "finetune", "target": "behavior"},
        "rules": {"margin": 0.03},
    },
}


@pytest.mark.parametrize(
    ("cli", "active"),
    [
        pytest.param({}, (), id="none-picked"),
        pytest.param({"ragft_variant": ["adapter"]}, ("adapter",), id="one"),
        pytest.param(
            {"ragft_variants": "adapter, json_prompt"}, ("adapter", "json_prompt"), id="list"
        ),
        pytest.param({"ragft_variants": "all"}, ("json_prompt", "adapter"), id="all"),
    ],
)
def test_variants_are_configured_and_picked(
    tmp_path: Path, cli: dict[str, Any], active: tuple[str, ...]
) -> None:
    from pytest_ragft.config import VariantSettings, config_hash, load_settings

    settings = load_settings(tmp_path, _VARIANTS, cli, {})
    assert tuple(v.name for v in settings.variants.active) == active
    assert settings.variants.rules.margin == 0.03
    assert settings.variants.pipelines[0] == VariantSettings(
        "json_prompt", "bot:answer", {"prompt": "v2"}, "prompt", None
    )
    plain = load_settings(tmp_path, {"pipeline": "bot:answer"}, {}, {})
    assert config_hash(settings) == config_hash(plain)


@pytest.mark.parametrize(
    ("table", "cli", "says"),
    [
        pytest.param(
            _VARIANTS, {"ragft_variant": ["adaptor"]}, "no variant 'adaptor'", id="unknown"
        ),
        pytest.param(
            {"variants": {"x": {"pipeline": "bot:x", "role": "tune"}}},
            {},
            "tool.ragft.variants.x.role: expected one of 'prompt', 'rag', 'finetune'",
            id="bad-role",
        ),
        pytest.param(
            {"variants": {"x": {"vars": {}}}},
            {},
            "missing the required key 'pipeline'",
            id="no-pipeline",
        ),
        pytest.param(
            {"variants": {"rules": {"margin": 2}}}, {}, "margin: expected a number", id="margin"
        ),
    ],
)
def test_bad_variants_are_usage_errors(
    tmp_path: Path, table: dict[str, Any], cli: dict[str, Any], says: str
) -> None:
    from pytest_ragft.config import load_settings

    with pytest.raises(pytest.UsageError, match=None) as info:
        load_settings(tmp_path, table, cli, {})
    assert says in str(info.value)
