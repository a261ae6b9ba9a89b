"""The effective settings of a run: ``[tool.ragft]``, ``RAGFT_*`` and ``--ragft-*`` merged,
validated against the shipped JSON Schema and frozen into one ``Settings``.

A bad value stops the run with a ``pytest.UsageError`` that names where it came from (the pyproject
file, the environment variable or the option), the full key, what was expected and what came.
Only ``tomllib`` is imported at start-up: ``read_pyproject`` decides whether the plugin activates.
"""

from __future__ import annotations

import datetime
import json
import math
import os
import re
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

import pytest

from pytest_ragft.wording import describe, suggest

Action = Literal["fail", "comment", "warn", "off"]
CaseFailures = Literal["gate", "strict"]
GitHubMode = Literal["auto", "events", "always", "never"]
CommentProvider = Literal["auto", "github", "gitlab"]
DiagnoseMode = Literal["counterfactual", "static"]
CaseFormat = Literal["openai-evals", "promptfoo", "deepeval"]
ReportFormat = Literal["markdown", "json", "html"]
KnowledgeCell = Literal["rag", "pretraining"]
BehaviorCell = Literal["fine-tune", "prompt"]

ACTIONS: tuple[Action, ...] = ("fail", "comment", "warn", "off")
CASE_FORMATS: tuple[CaseFormat, ...] = ("openai-evals", "promptfoo", "deepeval")
DEFAULT_CASE_GLOBS: tuple[str, ...] = (
    "evals/**/*.yaml",
    "evals/**/*.yml",
    "evals/**/*.json",
    "evals/**/*.jsonl",
)
SCHEMA_RESOURCE = "schemas/config.schema.json"

KeyPath = tuple[str | int, ...]  # a key path inside [tool.ragft], e.g. ("thresholds", "behavior")


@dataclass(frozen=True)
class Thresholds:
    """Minimum pass rate per category and the limits of the regression test."""

    knowledge: float = 0.90
    behavior: float = 0.85
    max_drop: float = 0.05
    alpha: float = 0.05


@dataclass(frozen=True, kw_only=True)
class Cost:
    """Question 5's figures; absent as a whole means the answer is "unknown"."""

    queries_per_month: float
    value_per_fixed_failure: float
    expected_fix_rate: float
    per_query_saving: float = 0.0
    finetune_upfront: float
    finetune_monthly: float


@dataclass(frozen=True)
class ChecklistSettings:
    """What the five fine-tuning-readiness questions compare against."""

    baseline_min_runs: int = 3
    behavior_share: float = 0.6
    training_data: tuple[str, ...] = ()
    min_training_examples: int = 200
    owner: str = ""
    owned_until: datetime.date | None = None
    horizon_months: int = 12
    cost: Cost | None = None


@dataclass(frozen=True)
class GateSettings:
    """The action taken on each gate event, and whether a failed case alone fails the run."""

    below_threshold: Action = "fail"
    regression: Action = "fail"
    finetune_ready: Action = "comment"
    finetune_blocked: Action = "fail"
    over_budget: Action = "fail"
    cost_regression: Action = "fail"
    retrieval_regression: Action = "fail"
    variant_better: Action = "comment"
    variant_worse: Action = "warn"
    finetune_paths: tuple[str, ...] = ("finetune/**", "adapters/**")
    case_failures: CaseFailures = "gate"


@dataclass(frozen=True)
class BudgetSettings:
    """Limits on latency, tokens and cost per case (None: no limit), and the largest relative
    rise of each against the baseline on the cases both runs share."""

    latency_p95_s: float | None = None
    cost_per_case: float | None = None
    tokens_per_case: float | None = None
    max_increase: float | None = None


@dataclass(frozen=True)
class RetrievalSettings:
    """``[tool.ragft.retrieval]``: the cut ``k`` of the rank measures (None: every source the
    pipeline returned) and the largest allowed drop of a category's retrieval against the
    baseline (5 points by default, like a pass rate's ``thresholds.max_drop``)."""

    k: int | None = None
    max_drop: float | None = 0.05


@dataclass(frozen=True)
class MatrixSettings:
    """Where a failure goes in the decision matrix when its case has no ``volatile`` and its
    history gives no evidence: knowledge to RAG (continued pretraining is the rare exception
    and must be declared), behavior-bound to fine-tune."""

    knowledge: KnowledgeCell = "rag"
    behavior: BehaviorCell = "fine-tune"


@dataclass(frozen=True)
class ReportSettings:
    """Report file names as configured ("" skips one) and the PR comment mode."""

    markdown: str = "ragft-report.md"
    json: str = "ragft-report.json"
    html: str = "ragft-report.html"
    github: GitHubMode = "auto"
    # Where the sticky comment goes; ``github`` above says when, on either forge.
    comment: CommentProvider = "auto"

    def path(self, fmt: ReportFormat, base: Path) -> Path | None:
        """The report's absolute path under ``base``, or None when it is not to be written."""
        name: str = getattr(self, fmt)
        if not name:
            return None
        return (base / Path(name).expanduser()).absolute()


@dataclass(frozen=True)
class VariantSettings:
    """One named pipeline compared with the main one: its ``vars`` are merged into every
    case's, ``role`` says what it changes and ``target`` the category it should improve."""

    name: str
    pipeline: str
    vars: Mapping[str, Any] = field(default_factory=dict)
    role: Literal["prompt", "rag", "finetune"] | None = None
    target: Literal["knowledge", "behavior"] | None = None


@dataclass(frozen=True)
class VariantRules:
    """How variants are judged: ``margin`` is the non-inferiority margin."""

    margin: float = 0.05


@dataclass(frozen=True)
class VariantsSettings:
    """``[tool.ragft.variants]``: the configured variants, those picked for this run, and the
    non-inferiority margin they are judged by."""

    pipelines: tuple[VariantSettings, ...] = ()
    selected: tuple[str, ...] = ()
    rules: VariantRules = field(default_factory=VariantRules)

    @property
    def active(self) -> tuple[VariantSettings, ...]:
        """The picked variants, in the order they were picked."""
        by_name = {v.name: v for v in self.pipelines}
        return tuple(by_name[n] for n in self.selected if n in by_name)


@dataclass(frozen=True)
class CaseSource:
    """One entry of ``cases``: a glob, the other tool's format it is in, and a default kind."""

    pattern: str
    format: CaseFormat | None = None
    kind: Literal["knowledge", "behavior"] | None = None
    optional: bool = False


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Everything configurable about a run, after precedence and validation."""

    rootdir: Path
    pyproject: Path | None = None
    pipeline: str = ""
    cases: tuple[CaseSource, ...] = tuple(CaseSource(g) for g in DEFAULT_CASE_GLOBS)
    suite: str = ""
    repeats: int = 1
    min_pass_ratio: float = 1.0
    concurrency: int = 8
    timeout_s: float = 60.0
    history: str = ".ragft/history.sqlite"
    baseline_branch: str = "main"
    baseline_runs: int = 5
    judge: str = ""
    rejudge: bool = False  # bypass reading the judge cache (fresh results are still written)
    diagnose: DiagnoseMode = "counterfactual"
    store_outputs: bool = True
    # A run from a dirty work tree, or with ``pipeline`` set on the command line or in the
    # environment, is left out of the baseline unless allowed here.
    baseline_dirty: bool = False
    baseline_overridden: bool = False
    thresholds: Thresholds = field(default_factory=Thresholds)
    checklist: ChecklistSettings = field(default_factory=ChecklistSettings)
    gate: GateSettings = field(default_factory=GateSettings)
    report: ReportSettings = field(default_factory=ReportSettings)
    matrix: MatrixSettings = field(default_factory=MatrixSettings)
    budgets: BudgetSettings = field(default_factory=BudgetSettings)
    retrieval: RetrievalSettings = field(default_factory=RetrievalSettings)
    variants: VariantsSettings = field(default_factory=VariantsSettings)
    report_dir: Path | None = None
    # The settings given on the command line or in the environment, by key, with where.
    overrides: tuple[tuple[str, str], ...] = ()
    cases_origin: str = "[tool.ragft] cases in pyproject.toml"

    def report_path(self, fmt: ReportFormat) -> Path | None:
        """The absolute path of one report, or None when it is switched off with "".

        Configured paths are relative to the rootdir; ``--ragft-report-dir`` puts every report
        straight into that folder under its file name (a CI shard's reports in one place)."""
        if self.report_dir is None:
            return self.report.path(fmt, self.rootdir)
        path = self.report.path(fmt, self.rootdir)
        return None if path is None else self.report_dir / path.name


# --------------------------------------------------------------------------------------------
# Reading pyproject.toml

_RAGFT_TABLE = re.compile(r"^\s*\[\s*tool\s*\.\s*ragft\b", re.MULTILINE)


def read_pyproject(rootdir: Path) -> tuple[Path | None, dict[str, Any] | None]:
    """The rootdir's pyproject.toml and its ``[tool.ragft]`` table (None when absent).

    Cheap on purpose: it decides whether the plugin activates. A file that is not valid TOML is
    only an error when it looks like it configures ragft; otherwise it is someone else's problem.
    """
    path = rootdir / "pyproject.toml"
    if not path.is_file():
        return None, None
    try:
        text = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return path, None  # pytest reads this file too and reports what is wrong with it
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        if _RAGFT_TABLE.search(text):
            raise pytest.UsageError(f"{_display(path)}: not valid TOML: {exc}") from None
        return path, None
    tool = data.get("tool")
    if not isinstance(tool, dict) or "ragft" not in tool:
        return path, None
    table = tool["ragft"]
    if not isinstance(table, dict):
        raise pytest.UsageError(
            f"{_display(path)}: tool.ragft: expected a table, got {describe(table, toml=True)}"
        )
    return path, table


def _project_name(pyproject: Path | None) -> str | None:
    if pyproject is None:
        return None
    try:
        data = tomllib.loads(pyproject.read_bytes().decode("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    project = data.get("project")
    name = project.get("name") if isinstance(project, dict) else None
    return name if isinstance(name, str) and name else None


# --------------------------------------------------------------------------------------------
# The schema


def schema_text() -> str:
    """The shipped JSON Schema of ``[tool.ragft]``, as ``ragft schema config`` prints it."""
    from importlib.resources import files

    return files("pytest_ragft").joinpath(SCHEMA_RESOURCE).read_text(encoding="utf-8")


@cache
def schema() -> dict[str, Any]:
    """The parsed schema; read once per process."""
    loaded: dict[str, Any] = json.loads(schema_text())
    return loaded


def _resolve(node: Mapping[str, Any]) -> Mapping[str, Any]:
    """Follow a local ``$ref`` (the schema only uses ``#/$defs/...``)."""
    ref = node.get("$ref")
    if not isinstance(ref, str):
        return node
    target: Mapping[str, Any] = schema()
    for part in ref.removeprefix("#/").split("/"):
        target = target[part]
    return {**target, **{k: v for k, v in node.items() if k != "$ref"}}


def _leaves(
    node: Mapping[str, Any], prefix: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], Mapping[str, Any]]]:
    for key, sub in node.get("properties", {}).items():
        sub = _resolve(sub)
        if sub.get("type") == "object":
            yield from _leaves(sub, (*prefix, key))
        else:
            yield (*prefix, key), sub


@cache
def env_variables() -> dict[str, tuple[str, ...]]:
    """Every settable ``RAGFT_*`` variable and the key path it sets, derived from the schema."""
    return {"RAGFT_" + "_".join(p.upper() for p in path): path for path, _ in _leaves(schema())}


def _subschema(path: tuple[str, ...]) -> Mapping[str, Any]:
    node: Mapping[str, Any] = schema()
    for part in path:
        node = _resolve(node["properties"][part])
    return node


# --------------------------------------------------------------------------------------------
# Problems and how they are worded


class _Problems:
    """Collects every problem so one run reports them all, each with where it came from."""

    def __init__(self, pyproject: Path | None, origins: Mapping[KeyPath, str]) -> None:
        self.file = _display(pyproject) if pyproject is not None else "pyproject.toml"
        self.origins = origins
        self.lines: list[str] = []
        self.refused: set[KeyPath] = set()  # already reported; the schema's errors there are noise

    def add(self, path: KeyPath, message: str) -> None:
        origin = self._origin(path)
        line = f"{self.file}: {message}" if origin is None else f"{message} (from {origin})"
        if line not in self.lines:
            self.lines.append(line)

    def _origin(self, path: KeyPath) -> str | None:
        for length in range(len(path), 0, -1):
            origin = self.origins.get(path[:length])
            if origin is not None:
                return origin
        return None

    def raise_if_any(self) -> None:
        if len(self.lines) == 1:
            raise pytest.UsageError(self.lines[0])
        if self.lines:
            body = "\n".join(f"  {line}" for line in self.lines)
            raise pytest.UsageError(
                f"{len(self.lines)} problems in the ragft configuration:\n{body}"
            )


def _display(path: Path) -> str:
    """A path as the user typed it: relative to the working directory when under it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _key(path: KeyPath) -> str:
    text = "tool.ragft"
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


def _short(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


_TYPE_WORDS = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean (true or false)",
    "array": "an array",
    "object": "a table",
}

_PATTERN_WORDS = {
    "pipeline": "a 'module:callable' reference such as 'support_bot.pipeline:answer'",
    "judge": "a 'module:factory' reference such as 'my_evals.judge:make_judge'",
    "owned_until": "a date such as 2028-01-31 or '2028-01-31'",
}


def _bounds(schema_node: Mapping[str, Any]) -> str:
    parts = []
    if "minimum" in schema_node:
        parts.append(f">= {_short(schema_node['minimum'])}")
    if "exclusiveMinimum" in schema_node:
        parts.append(f"> {_short(schema_node['exclusiveMinimum'])}")
    if "maximum" in schema_node:
        parts.append(f"<= {_short(schema_node['maximum'])}")
    if "exclusiveMaximum" in schema_node:
        parts.append(f"< {_short(schema_node['exclusiveMaximum'])}")
    kind = "an integer" if schema_node.get("type") == "integer" else "a number"
    return f"{kind} {' and '.join(parts)}"


def _table(path: KeyPath) -> str:
    """A table's name as TOML writes its header; an inline table in an array by its index."""
    return f"[{_key(path)}]" if not path or isinstance(path[-1], str) else _key(path)


def _unknown_key(path: KeyPath, key: str, valid: Iterable[str]) -> str:
    table = _table(path)
    hint = suggest(key, valid)
    if not hint and not path:
        # A nested key written at the top level, e.g. `behavior = 0.8` instead of thresholds.
        nested = [".".join(p) for p, _ in _leaves(schema()) if len(p) > 1 and p[-1] == key]
        hint = f" (did you mean {nested[0]!r}?)" if nested else ""
    return f"{table} has no key {key!r}{hint}"


def _schema_problems(instance: Mapping[str, Any], problems: _Problems) -> None:
    """Validate against the shipped schema and word each error for a person."""
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(schema())
    errors = sorted(validator.iter_errors(instance), key=lambda e: [str(p) for p in e.path])
    for error in errors:
        path: KeyPath = tuple(error.absolute_path)
        if path in problems.refused:
            continue
        node = error.schema if isinstance(error.schema, Mapping) else {}
        value = error.instance
        key = _key(path)
        if error.validator == "additionalProperties":
            valid = node.get("properties", {})
            for extra in sorted(k for k in value if k not in valid):
                problems.add(path, _unknown_key(path, extra, valid))
        elif error.validator == "required":
            for name in (k for k in error.validator_value if k not in value):
                problems.add(path, f"{_table(path)} is missing the required key {name!r}")
        elif error.validator == "type":
            wanted = error.validator_value
            words = [wanted] if isinstance(wanted, str) else list(wanted)
            expected = " or ".join(_TYPE_WORDS.get(w, w) for w in words)
            problems.add(path, f"{key}: expected {expected}, got {describe(value, toml=True)}")
        elif error.validator == "enum":
            options = ", ".join(repr(o) for o in error.validator_value)
            choices = [str(o) for o in error.validator_value]
            tail = suggest(value, choices) if isinstance(value, str) else ""
            got = describe(value, toml=True)
            problems.add(path, f"{key}: expected one of {options}, got {got}{tail}")
        elif error.validator in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
            problems.add(path, f"{key}: expected {_bounds(node)}, got {_short(value)}")
        elif error.validator == "pattern":
            last = next((p for p in reversed(path) if isinstance(p, str)), "")
            expected = _PATTERN_WORDS.get(last, f"text matching {error.validator_value}")
            problems.add(path, f"{key}: expected {expected}, got {_short(value)}")
        elif error.validator == "minLength":
            problems.add(path, f"{key}: expected a non-empty string, got ''")
        else:
            problems.add(path, f"{key}: {error.message}")


def _number_problems(merged: dict[str, Any], problems: _Problems) -> None:
    """NaN and infinity pass every JSON Schema bound (each comparison is false), so they are
    refused here, for TOML, environment and command line alike; the schema's own words on them
    are left out (one message per value)."""
    for path, node in _leaves(schema()):
        if node.get("type") not in ("number", "integer"):
            continue
        parent: Any = merged
        for part in path[:-1]:
            parent = parent.get(part) if isinstance(parent, dict) else None
        if not isinstance(parent, dict):
            continue
        value = parent.get(path[-1])
        if isinstance(value, float) and not math.isfinite(value):
            problems.add(path, f"{_key(path)}: expected {_bounds(node)}, got {_short(value)}")
            problems.refused.add(path)


PR_MAX = 2**31 - 1  # GitHub's issue numbers are 32-bit; the store keeps them as integers


def _environment_problems(environ: Mapping[str, str], problems: _Problems) -> None:
    """Variables outside ``[tool.ragft]`` that a run relies on, judged before anything uses
    them: a PR number that no store or API can hold would lose the run at its end."""
    raw = environ.get("RAGFT_PR", "").strip()
    if not raw:
        return
    match = re.fullmatch(r"#?([0-9]{1,12})", raw)
    number = int(match.group(1)) if match else 0
    if not 1 <= number <= PR_MAX:
        shown = raw if len(raw) <= 40 else raw[:40] + "..."
        problems.lines.append(
            f"RAGFT_PR: expected a pull request number from 1 to {PR_MAX} (such as 12 or #12), "
            f"got {shown!r}: set it to the PR's number, or unset it"
        )


# --------------------------------------------------------------------------------------------
# Environment variables and command-line options

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})

# dest -> (key path, option name). Flags are handled separately below.
_CLI_VALUES: dict[str, tuple[tuple[str, ...], str]] = {
    "ragft_pipeline": (("pipeline",), "--ragft-pipeline"),
    "ragft_repeats": (("repeats",), "--ragft-repeats"),
    "ragft_concurrency": (("concurrency",), "--ragft-concurrency"),
    "ragft_history": (("history",), "--ragft-history"),
    "ragft_baseline_branch": (("baseline_branch",), "--ragft-baseline-branch"),
    "ragft_github": (("report", "github"), "--ragft-github"),
}


class _BadText(ValueError):
    """Text that does not convert to the type a setting needs; the message says what was needed."""


def convert_text(text: str, node: Mapping[str, Any]) -> Any:
    """Turn an environment variable's text into the type the schema gives its key.

    Integers, numbers and booleans are parsed; arrays are a JSON list or comma-separated (blank
    items dropped); anything else stays text. Whether a number is finite and in bounds is
    judged later, in the one path every source's values go through (``_number_problems``).
    """
    kind = node.get("type")
    stripped = text.strip()
    if kind == "integer":
        try:
            return int(text)  # int and float take their own white space, and only theirs
        except ValueError:
            raise _BadText("an integer") from None
    if kind == "number":
        try:
            return float(text)  # nan and inf are judged with every other source's numbers
        except ValueError:
            raise _BadText("a number") from None
    if kind == "boolean":
        lowered = stripped.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise _BadText("a boolean (true/false, 1/0, yes/no, on/off)")
    if kind == "array":
        if stripped.startswith(("[", "{")) and stripped.endswith(("]", "}")):
            listed = _json_list(stripped)
            if listed is not None:
                return listed
        return [item.strip() for item in text.split(",") if item.strip()]
    return text


def _json_list(text: str) -> list[Any] | None:
    """``RAGFT_CASES='["a", "b"]'``: a JSON list, as a CI matrix writes it. None when the text
    is no JSON at all (a glob such as ``[ab]*.yaml``): it is then split on commas."""
    try:
        value = json.loads(text)
    except ValueError as exc:
        if '"' not in text:
            return None
        wanted = f"a JSON list or comma-separated items (the JSON is invalid: {exc})"
        raise _BadText(wanted) from None
    if not isinstance(value, list):
        raise _BadText("a JSON list or comma-separated items")
    return value


def _overrides(
    cli: Mapping[str, Any], environ: Mapping[str, str]
) -> tuple[list[tuple[tuple[str, ...], Any, str]], dict[KeyPath, str], list[str]]:
    """The values set by environment and command line, in the order they apply (later wins),
    where each came from, and the values that could not be converted."""
    found: list[tuple[tuple[str, ...], Any, str]] = []
    bad: list[str] = []
    names = env_variables()
    for name in sorted(set(environ) & set(names)):
        path = names[name]
        node = _subschema(path)
        text = environ[name]
        if not text.strip() and path != ("history",):
            continue  # an empty variable (an unset CI input) means "not given"; history="" is off
        try:
            found.append((path, convert_text(text, node), name))
        except _BadText as exc:
            bad.append(f"{_key(path)}: expected {exc}, got {text!r} (from {name})")
    for dest, (path, option) in _CLI_VALUES.items():
        value = cli.get(dest)
        if value is None:
            continue
        if isinstance(value, str) and _subschema(path).get("type") in ("integer", "number"):
            try:
                value = convert_text(value, _subschema(path))
            except _BadText as exc:
                bad.append(f"{_key(path)}: expected {exc}, got {value!r} (from {option})")
                continue
        found.append((path, value, option))
    if cli.get("ragft_no_history"):
        found.append((("history",), "", "--ragft-no-history"))
    if cli.get("ragft_strict"):
        found.append((("gate", "case_failures"), "strict", "--ragft-strict"))
    if cli.get("ragft_rejudge"):
        found.append((("rejudge",), True, "--ragft-rejudge"))
    origins: dict[KeyPath, str] = {path: origin for path, _, origin in found}
    return found, origins, bad


# --------------------------------------------------------------------------------------------
# Loading


# The keys load_settings reads into their own Settings fields.
_TABLES = (
    "cases",
    "suite",
    "thresholds",
    "checklist",
    "gate",
    "report",
    "matrix",
    "budgets",
    "variants",
    "retrieval",
)


def load_settings(
    rootdir: Path,
    table: Mapping[str, Any] | None,
    cli: Mapping[str, Any],
    environ: Mapping[str, str],
    pyproject: Path | None = None,
) -> Settings:
    """The run's settings: command line over environment over pyproject over defaults.

    Raises ``pytest.UsageError`` listing every problem, each naming its source and key.
    """
    rootdir = Path(rootdir).absolute()
    found, origins, bad = _overrides(cli, environ)
    problems = _Problems(pyproject, origins)
    problems.lines.extend(bad)

    merged = _plain(dict(table or {}))
    for path, value, _ in found:
        _assign(merged, path, value)
    _number_problems(merged, problems)
    _environment_problems(environ, problems)
    _schema_problems(merged, problems)
    sources = _case_sources(merged.get("cases"), problems)
    checklist_table = merged.get("checklist")
    owned = checklist_table.get("owned_until") if isinstance(checklist_table, dict) else None
    owned_until = _owned_until(owned, problems)
    report_dir = _report_dir(rootdir, cli.get("ragft_report_dir"))
    variants = _variants(merged.pop("variants", None), cli, problems)
    problems.raise_if_any()

    suite = merged.get("suite") or _project_name(pyproject) or rootdir.name
    checklist = dict(merged.get("checklist", {}))
    cost = checklist.pop("cost", None)
    checklist.pop("owned_until", None)
    gate = dict(merged.get("gate", {}))
    top = {k: v for k, v in merged.items() if k not in _TABLES}
    return Settings(
        rootdir=rootdir,
        pyproject=pyproject,
        cases=sources,
        suite=suite,
        thresholds=Thresholds(**_floats(merged.get("thresholds", {}))),
        checklist=ChecklistSettings(
            **_tuples(_floats(checklist, ("behavior_share",))),
            owned_until=owned_until,
            cost=Cost(**_floats(cost)) if cost is not None else None,
        ),
        gate=GateSettings(**_tuples(gate)),
        report=ReportSettings(**merged.get("report", {})),
        matrix=MatrixSettings(**merged.get("matrix", {})),
        budgets=BudgetSettings(**_floats(merged.get("budgets", {}))),
        retrieval=RetrievalSettings(**_floats(merged.get("retrieval", {}), ("max_drop",))),
        variants=variants,
        report_dir=report_dir,
        cases_origin=_cases_origin(origins, pyproject),
        overrides=tuple(
            sorted((".".join(map(str, path)), origin) for path, origin in origins.items())
        ),
        **_floats(top, ("min_pass_ratio", "timeout_s")),
    )


def _variants(table: Any, cli: Mapping[str, Any], problems: _Problems) -> VariantsSettings:
    """The configured variants and those ``--ragft-variant`` / ``--ragft-variants`` pick
    (``all``: every one); a picked name that is not configured is a problem."""
    table = table if isinstance(table, dict) else {}
    rules = table.get("rules") if isinstance(table.get("rules"), dict) else {}
    pipelines = tuple(
        VariantSettings(
            name=name,
            pipeline=str(v.get("pipeline", "")),
            vars=dict(v.get("vars") or {}),
            role=v.get("role"),
            target=v.get("target"),
        )
        for name, v in table.items()
        if name != "rules" and isinstance(v, dict)
    )
    names = [v.name for v in pipelines]
    picked: list[str] = list(cli.get("ragft_variant") or ())
    picked += [n.strip() for n in str(cli.get("ragft_variants") or "").split(",") if n.strip()]
    if "all" in picked:
        picked = names
    for name in picked:
        if name not in names:
            known = ", ".join(repr(n) for n in names) or "none"
            problems.lines.append(
                f"--ragft-variant: no variant {name!r} in [tool.ragft.variants] "
                f"(configured: {known}){suggest(name, names)}"
            )
    margin = rules.get("margin", 0.05)
    return VariantsSettings(
        pipelines=pipelines,
        selected=tuple(dict.fromkeys(picked)),
        rules=VariantRules(float(margin) if isinstance(margin, int | float) else 0.05),
    )


def _plain(value: Any) -> Any:
    """A copy of the TOML value that the schema can judge: dates at owned_until become text."""
    if isinstance(value, dict):
        copied = {k: _plain(v) for k, v in value.items()}
        checklist = copied.get("checklist")
        if isinstance(checklist, dict):
            owned = checklist.get("owned_until")
            if isinstance(owned, datetime.date) and not isinstance(owned, datetime.datetime):
                checklist["owned_until"] = owned.isoformat()
        return copied
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _assign(merged: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node = merged
    for part in path[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            if child is not None:
                return  # the file's own value is wrong and is reported as such
            child = node[part] = {}
        node = child
    node[path[-1]] = value


def _floats(values: Mapping[str, Any], keys: Iterable[str] | None = None) -> dict[str, Any]:
    """TOML integers where the setting is a number (``timeout_s = 60``) become floats."""
    chosen = set(values) if keys is None else set(keys)
    return {
        k: float(v) if k in chosen and isinstance(v, int) and not isinstance(v, bool) else v
        for k, v in values.items()
    }


def _tuples(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}


_PREFIX = re.compile(r"^(?P<prefix>[A-Za-z][A-Za-z0-9_-]+):(?P<rest>.*)$")


def parse_case_source(entry: str | Mapping[str, Any]) -> CaseSource:
    """One ``cases`` entry as a ``CaseSource``; raises ValueError saying what is wrong."""
    if isinstance(entry, str):
        pattern, fmt = _split_prefix(entry)
        return CaseSource(pattern, fmt)
    pattern, fmt = _split_prefix(str(entry["path"]))
    given = entry.get("format")
    if given is not None and fmt is not None and given != fmt:
        raise ValueError(f"format {given!r} contradicts the prefix {fmt + ':'!r} of the path")
    kind = entry.get("kind")
    return CaseSource(pattern, given or fmt, kind, bool(entry.get("optional", False)))


def _split_prefix(text: str) -> tuple[str, CaseFormat | None]:
    match = _PREFIX.match(text)
    if match is None:
        return text, None
    prefix, rest = match["prefix"], match["rest"]
    for known in CASE_FORMATS:
        if prefix == known:
            if not rest:
                raise ValueError(f"{text!r} names no file after the {prefix + ':'!r} prefix")
            return rest, known
    tail = suggest(prefix + ":", [f + ":" for f in CASE_FORMATS])
    options = ", ".join(f"'{f}:'" for f in CASE_FORMATS)
    raise ValueError(f"unknown format prefix {prefix + ':'!r}{tail}; expected one of {options}")


def _case_sources(entries: Any, problems: _Problems) -> tuple[CaseSource, ...]:
    if entries is None:
        return tuple(CaseSource(g) for g in DEFAULT_CASE_GLOBS)
    if not isinstance(entries, list):
        return ()  # a wrong type, already reported by the schema
    sources = []
    for index, entry in enumerate(entries):
        path: KeyPath = ("cases", index)
        if isinstance(entry, dict) and not (entry.get("path") and isinstance(entry["path"], str)):
            continue  # already reported by the schema
        if not isinstance(entry, str | dict):
            continue
        try:
            sources.append(parse_case_source(entry))
        except ValueError as exc:
            problems.add(path, f"{_key(path)}: {exc}")
    return tuple(sources)


def _cases_origin(origins: Mapping[KeyPath, str], pyproject: Path | None) -> str:
    given = origins.get(("cases",))
    if given is not None:
        return given
    return f"[tool.ragft] cases in {_display(pyproject) if pyproject else 'pyproject.toml'}"


def unmatched_sources(settings: Settings, matched: Iterable[CaseSource]) -> list[str]:
    """One message for each ``cases`` entry that matches no file and is not ``optional``:
    a typo in a glob would otherwise shrink the suite while the gate still gives a verdict."""
    if tuple(s.pattern for s in settings.cases) == DEFAULT_CASE_GLOBS:
        return []  # `cases` not set: a project of Python cases only is fine
    found = set(matched)
    messages = []
    for index, source in enumerate(settings.cases):
        if source in found or source.optional:
            continue
        messages.append(
            f"cases[{index}] {source.pattern!r} (from {settings.cases_origin}) matches no file "
            f"under {settings.rootdir}: fix the glob (it is relative to the rootdir), remove "
            f"the entry, or write it as {{path = {json.dumps(source.pattern)}, optional = true}} "
            "to allow it to match nothing"
        )
    return messages


def require_matches(settings: Settings, matched: Iterable[CaseSource]) -> None:
    """``unmatched_sources`` as a usage error (exit 4), every entry named at once."""
    messages = unmatched_sources(settings, matched)
    if len(messages) == 1:
        raise pytest.UsageError(messages[0])
    if messages:
        body = "\n".join(f"  {m}" for m in messages)
        raise pytest.UsageError(f"{len(messages)} cases entries match no file:\n{body}")


def _owned_until(value: Any, problems: _Problems) -> datetime.date | None:
    if not isinstance(value, str) or not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        return None  # absent, or a wrong shape already reported by the schema
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        path: KeyPath = ("checklist", "owned_until")
        problems.add(path, f"{_key(path)}: {value!r} is not a calendar date")
        return None


def _report_dir(rootdir: Path, value: Any) -> Path | None:
    if value is None or value == "":
        return None
    return (rootdir / Path(os.fspath(value)).expanduser()).absolute()


# --------------------------------------------------------------------------------------------
# Identity of a configuration

# Where files land, which runs form the baseline and how failures are placed in the matrix do
# not change a run's results.
_NOT_HASHED = (
    "rootdir",
    "pyproject",
    "report",
    "report_dir",
    "history",
    "rejudge",  # a judged result is the same whether read from the cache or judged again
    "baseline_dirty",
    "baseline_overridden",
    "matrix",
    "budgets",  # limits the results are judged by, not what shapes them
    "variants",  # the main pipeline's results do not depend on the variants beside it
    "cases_origin",
    "overrides",
)


_GATE_ADDED = (
    "over_budget",
    "cost_regression",
    "variant_better",
    "variant_worse",
    "retrieval_regression",
)


def config_hash(settings: Settings) -> str:
    """A short, stable digest of what shapes a run's results, so history can tell configs apart.

    Where files land (rootdir, reports, the history store) does not change results: left out.
    """
    import hashlib

    data = {k: v for k, v in asdict(settings).items() if k not in _NOT_HASHED}
    # Gate events added since hashes were first stored count only when set away from their
    # default, so an unchanged configuration keeps its hash across an upgrade.
    for name in _GATE_ADDED:
        if data["gate"][name] == getattr(GateSettings, name):
            del data["gate"][name]
    if data["retrieval"] == asdict(RetrievalSettings()):
        del data["retrieval"]  # the same rule for a table added since
    # Whether an entry may match nothing does not change what the matched files hold.
    data["cases"] = [{k: v for k, v in c.items() if k != "optional"} for c in data["cases"]]
    text = json.dumps(data, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
