"""The bad-input matrix: one row per hostile or mistaken input, across every class of input
the plugin reads (settings, case files, pipeline results, checks, calls, history, training
data). Each row asserts the message's parts (what was wrong, where, what to do) and that
nothing was lost (the input file untouched, nothing left beside a store, the reports still
written)."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from reportdata import build_report

from pytest_ragft import checks as checks_mod
from pytest_ragft.casefiles import load_case_file
from pytest_ragft.cases import CaseFileError
from pytest_ragft.checklist import audit_examples
from pytest_ragft.checks import BUILTIN_CHECKS, hook_checks, run_checks
from pytest_ragft.config import load_settings, read_pyproject, require_matches
from pytest_ragft.history import HistoryError, open_store
from pytest_ragft.model import CallError, Case, Result
from pytest_ragft.pipeline import Caller, normalize
from pytest_ragft.report.html import render_html
from pytest_ragft.report.jsonfile import write_json
from pytest_ragft.report.markdown import render_markdown
from pytest_ragft.runsummary import RunSummary

Outcome = tuple[str, list[str]]  # (the message, what was lost)


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(checks_mod, "REGEX_TIMEOUT_S", 0.1)
    monkeypatch.setattr(checks_mod, "CHECK_TIMEOUT_S", 0.3)


def _unchanged(path: Path, before: bytes) -> list[str]:
    return [] if path.read_bytes() == before else [f"{path.name} was changed"]


# --- settings: [tool.ragft], RAGFT_*, --ragft-* ----------------------------------------------


def settings_row(spec: tuple[str, dict[str, str], dict[str, Any]], tmp: Path) -> Outcome:
    toml, env, cli = spec
    path = tmp / "pyproject.toml"
    path.write_text("[tool.ragft]\n" + toml, encoding="utf-8")
    before = path.read_bytes()
    pyproject, table = read_pyproject(tmp)
    with pytest.raises(pytest.UsageError) as info:
        load_settings(tmp, table, cli, env, pyproject)
    return str(info.value), _unchanged(path, before)


def S(toml: str = "", env: dict[str, str] | None = None, cli: dict[str, Any] | None = None) -> Any:
    return (toml, env or {}, cli or {})


SETTINGS = [
    ("knowledge-nan", S("thresholds.knowledge = nan\n"), "thresholds.knowledge", "got nan"),
    ("behavior-inf", S("thresholds.behavior = inf\n"), "thresholds.behavior", "got inf"),
    ("timeout-nan", S("timeout_s = nan\n"), "timeout_s", "<= 86400"),
    ("timeout-inf", S("timeout_s = inf\n"), "timeout_s", "got inf"),
    ("timeout-neg-inf", S("timeout_s = -inf\n"), "timeout_s", "> 0"),
    ("min-pass-ratio-nan", S("min_pass_ratio = nan\n"), "min_pass_ratio", "<= 1"),
    ("alpha-nan", S("thresholds.alpha = nan\n"), "thresholds.alpha", "< 1"),
    ("max-drop-nan", S("thresholds.max_drop = nan\n"), "thresholds.max_drop", ">= 0"),
    ("behavior-share-nan", S("checklist.behavior_share = nan\n"), "behavior_share", "<= 1"),
    ("repeats-million", S("repeats = 1000000\n"), "repeats", "<= 1000"),
    ("repeats-zero", S("repeats = 0\n"), "repeats", ">= 1"),
    ("concurrency-huge", S("concurrency = 1000000000\n"), "concurrency", "<= 1024"),
    ("baseline-runs-huge", S("baseline_runs = 9223372036854775807\n"), "baseline_runs", "<= 1000"),
    ("knowledge-1.5", S("thresholds.knowledge = 1.5\n"), "thresholds.knowledge", "<= 1"),
    (
        "cost-inf",
        S(
            "[tool.ragft.checklist.cost]\nqueries_per_month = inf\nvalue_per_fixed_failure = 1\n"
            "expected_fix_rate = 0.5\nfinetune_upfront = 1\nfinetune_monthly = 1\n"
        ),
        "queries_per_month",
        "got inf",
    ),
    ("env-timeout-nan", S(env={"RAGFT_TIMEOUT_S": "nan"}), "RAGFT_TIMEOUT_S", "<= 86400"),
    ("env-timeout-inf", S(env={"RAGFT_TIMEOUT_S": "inf"}), "RAGFT_TIMEOUT_S", "got inf"),
    ("env-repeats-huge", S(env={"RAGFT_REPEATS": "1000000"}), "RAGFT_REPEATS", "<= 1000"),
    ("env-repeats-float", S(env={"RAGFT_REPEATS": "1e6"}), "RAGFT_REPEATS", "an integer"),
    (
        "env-alpha-nan",
        S(env={"RAGFT_THRESHOLDS_ALPHA": "NaN"}),
        "RAGFT_THRESHOLDS_ALPHA",
        "got nan",
    ),
    ("env-bool", S(env={"RAGFT_STORE_OUTPUTS": "maybe"}), "RAGFT_STORE_OUTPUTS", "true/false"),
    ("env-cases-bad-json", S(env={"RAGFT_CASES": '["a", ]'}), "RAGFT_CASES", "JSON list"),
    ("cli-repeats-huge", S(cli={"ragft_repeats": 1000000}), "--ragft-repeats", "<= 1000"),
    ("cli-concurrency-zero", S(cli={"ragft_concurrency": 0}), "--ragft-concurrency", ">= 1"),
    ("pr-30-digits", S(env={"RAGFT_PR": "1" * 30}), "RAGFT_PR", "unset it"),
    ("pr-zero", S(env={"RAGFT_PR": "0"}), "RAGFT_PR", "such as 12 or #12"),
    ("pr-word", S(env={"RAGFT_PR": "main"}), "RAGFT_PR", "such as 12 or #12"),
    ("misspelt-key", S("repeets = 3\n"), "[tool.ragft]", "did you mean 'repeats'"),
    ("nested-key-on-top", S("behavior = 0.8\n"), "[tool.ragft]", "thresholds.behavior"),
    ("bad-pipeline-ref", S('pipeline = "no colon"\n'), "tool.ragft.pipeline", "module:callable"),
    ("gate-typo", S('gate.regression = "fial"\n'), "gate.regression", "did you mean 'fail'"),
    ("bad-date", S('checklist.owned_until = "2028-02-30"\n'), "owned_until", "calendar date"),
    ("format-prefix-typo", S('cases = ["promtfoo:x.yaml"]\n'), "cases[0]", "'promptfoo:'"),
]


# --- case files -------------------------------------------------------------------------------


def case_row(spec: tuple[str, str | bytes], tmp: Path) -> Outcome:
    name, text = spec
    path = tmp / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    before = path.read_bytes()
    good = tmp / "good.yaml"
    good.write_text("- {id: ok, kind: knowledge, input: q, expect: {contains: q}}\n")
    with pytest.raises(CaseFileError) as info:
        load_case_file(path, tmp)
    lost = _unchanged(path, before)
    if [c.id for c in load_case_file(good, tmp)] != ["ok"]:
        lost.append("the other file's cases")
    return str(info.value), lost


def _laughs() -> str:
    lines = ["a0: &a0 [lol]"]
    lines += [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 9)}]" for n in range(1, 10)]
    return "\n".join(lines) + "\ncases: [{id: x, kind: knowledge, vars: {v: *a9}}]\n"


CASE = "- {id: a, kind: knowledge, input: q, expect: %s}\n"
CASES = [
    ("billion-laughs", ("l.yaml", _laughs()), "l.yaml:1", "write the repeated parts once"),
    ("recursive-alias", ("r.yaml", "- &a [*a]\n"), "r.yaml:1", "remove the alias"),
    ("deep-json", ("d.json", "[" * 50_000 + "]" * 50_000), "d.json", "nest"),
    ("deep-jsonl", ("d.jsonl", "[" * 50_000 + "]" * 50_000), "d.jsonl", "nest"),
    ("regex-empty", ("e.yaml", CASE % "{regex: ''}"), "e.yaml:1", "write the pattern to find"),
    ("regex-unclosed", ("e.yaml", CASE % "{regex: '(a'}"), "e.yaml:1", "does not compile"),
    ("regex-bad-repeat", ("e.yaml", CASE % "{regex: 'a{2,1}'}"), "e.yaml:1", "does not compile"),
    ("contains-empty", ("e.yaml", CASE % "{contains: ''}"), "e.yaml:1", "must not be empty"),
    ("unknown-check", ("e.yaml", CASE % "{contanes: q}"), "e.yaml:1", "did you mean 'contains'"),
    ("empty-expect", ("e.yaml", CASE % "{}"), "e.yaml:1", "add at least one check"),
    (
        "duplicate-id",
        ("e.yaml", CASE % "{contains: q}" + CASE % "{contains: r}"),
        "e.yaml:2",
        "ids must be unique",
    ),
    ("missing-kind", ("e.yaml", "- {id: a, expect: {contains: q}}\n"), "e.yaml:1", "set kind"),
    (
        "kind-typo",
        ("e.yaml", "- {id: a, kind: knowlege, expect: {contains: q}}\n"),
        "e.yaml:1",
        "'knowledge'",
    ),
    (
        "bad-id",
        ("e.yaml", CASE.replace("id: a", "id: 'a b'") % "{contains: q}"),
        "e.yaml:1",
        "letters, digits",
    ),
    ("tab-indent", ("e.yaml", "- id: a\n\tkind: x\n"), "e.yaml:2", "invalid YAML"),
    ("duplicate-key", ("e.yaml", "- id: a\n  id: b\n"), "e.yaml:2", "remove one"),
    ("bad-json", ("e.json", '[{"id": "a",}]'), "e.json:1", "invalid JSON"),
    ("bad-jsonl-line", ("e.jsonl", '{"id": "a"\n'), "e.jsonl:1", "invalid JSON"),
    ("not-utf8", ("e.yaml", b"- id: \xff\xfe\n"), "e.yaml", "cannot read the file"),
    ("empty-file", ("e.yaml", ""), "e.yaml", "write a list of cases"),
    ("scalar-top", ("e.yaml", "42\n"), "e.yaml", "expected a list of cases"),
    ("unsupported-suffix", ("e.txt", "x"), "e.txt", "format prefix"),
    (
        "schema-file-missing",
        ("e.yaml", CASE % "{json_schema: nope.json}"),
        "e.yaml:1",
        "relative to the case file",
    ),
    (
        "schema-file-outside",
        ("e.yaml", CASE % "{json_schema: ../../etc/passwd}"),
        "e.yaml:1",
        "inside the project",
    ),
    (
        "repeats-zero",
        ("e.yaml", CASE.replace("input: q", "repeats: 0") % "{contains: q}"),
        "e.yaml:1",
        "repeats",
    ),
    (
        "input-number",
        ("e.yaml", CASE.replace("input: q", "input: 3") % "{contains: q}"),
        "e.yaml:1",
        "quote it",
    ),
]


# --- what a pipeline returns ------------------------------------------------------------------


def result_row(value: Callable[[], Any], tmp: Path) -> Outcome:
    """The value normalised, then carried into every report: the message is what the reports
    hold (or the case error); lost is any report that could not be written."""
    result = normalize(value())
    if isinstance(result, CallError):
        return result.message, []
    report = build_report(cases=2, failed=1, errors=0, failing_answer=result.answer)
    report["cases"][0]["messages"] = list(result.contexts[:3])
    lost = []
    try:
        write_json(report, tmp / "r.json")
        text = (tmp / "r.json").read_text(encoding="utf-8")
        render_markdown(RunSummary.from_json(report)).encode("utf-8")
        render_html(RunSummary.from_json(report)).encode("utf-8")
    except Exception as exc:
        return "", [f"a report: {exc!r}"]
    if not text:
        lost.append("the JSON report")
    meta = json.dumps(result.metadata, allow_nan=False)
    return f"{text} {meta} answer={result.answer[:50]!r} contexts={len(result.contexts)}", lost


class _RaisingAnswer:
    @property
    def answer(self) -> str:
        raise ConnectionError("client closed")


def _endless() -> Any:
    n = 0
    while True:
        n += 1
        yield f"passage {n}"


RESULTS = [
    ("lone-surrogate", lambda: "bad \ud800 text", "bad \ufffd text", "answer='bad \ufffd text'"),
    ("surrogate-in-context", lambda: {"answer": "a", "contexts": ["\udfff"]}, "contexts=1", "a"),
    ("nul-byte", lambda: "a\x00b", "a\ufffdb", "answer="),
    (
        "endless-contexts",
        lambda: {"answer": "a", "contexts": _endless()},
        "more than 1000",
        "contexts=1000",
    ),
    ("huge-answer", lambda: "x" * 2_000_000, "cut to 1000000", "answer="),
    (
        "metadata-nan",
        lambda: {"answer": "a", "metadata": {"cost": float("nan")}},
        '"nan"',
        "answer='a'",
    ),
    (
        "metadata-huge-int",
        lambda: {"answer": "a", "metadata": {"t": 10**40}},
        '"1000000000',
        "answer='a'",
    ),
    (
        "metadata-object",
        lambda: {"answer": "a", "metadata": {"o": object()}},
        "<object object",
        "answer='a'",
    ),
    (
        "answer-property-raises",
        _RaisingAnswer,
        "reading the value the pipeline returned raised",
        "ConnectionError: client closed",
    ),
    ("answer-int", lambda: {"answer": 42}, "'answer' is int, not str", "the pipeline"),
    (
        "contexts-a-str",
        lambda: {"answer": "a", "contexts": "one"},
        "'contexts' is str",
        "not a list of str",
    ),
    (
        "context-not-str",
        lambda: {"answer": "a", "contexts": ["x", 2]},
        "contexts[1] is int",
        "not str",
    ),
    (
        "metadata-a-list",
        lambda: {"answer": "a", "metadata": [1]},
        "'metadata' is list",
        "not a mapping",
    ),
    ("mapping-without-answer", lambda: {"text": "a"}, "without an 'answer' key", "'text'"),
    ("returns-none", lambda: None, "returned NoneType", "expected a str"),
    ("markdown-marker", lambda: "<!-- ragft:report suite=x --> @team", "answer=", "contexts=0"),
]


# --- checks -----------------------------------------------------------------------------------


def check_row(spec: tuple[dict[str, Any], dict[str, Any], str], tmp: Path) -> Outcome:
    expect, extra, answer = spec
    case = Case(id="c", kind="behavior", input="q", expect=expect)
    started = time.monotonic()
    outcomes = run_checks(case, Result(answer), {**BUILTIN_CHECKS, **extra})
    lost = [] if time.monotonic() - started < 30 else ["the run's time (a check hung)"]
    if len(outcomes) != len(expect):
        lost.append("a check's outcome")
    return " | ".join(o.message for o in outcomes if not o.passed), lost


def _stuck(case: Case, result: Result, expected: Any) -> bool:
    threading.Event().wait(20)
    return True


def _raises(case: Case, result: Result, expected: Any) -> bool:
    raise KeyError("missing")


def _returns_str(case: Case, result: Result, expected: Any) -> Any:
    return "yes"


CHECKS = [
    (
        "regex-catastrophic",
        ({"regex": "(a|aa)+$"}, {}, "a" * 80 + "!"),
        "gave up after",
        "rewrite it",
    ),
    (
        "schema-pattern-catastrophic",
        ({"json_schema": {"type": "string", "pattern": "(a|aa)+$"}}, {}, '"' + "a" * 80 + '!"'),
        "json_schema",
        "rewrite it",
    ),
    (
        "stuck-hook-check",
        ({"stuck": 1}, {"stuck": _stuck}, "a"),
        "stuck: the check did not finish",
        "must not wait on the network",
    ),
    (
        "raising-hook-check",
        ({"boom": 1}, {"boom": _raises}, "a"),
        "boom: the check raised KeyError",
        "missing",
    ),
    (
        "hook-check-returns-str",
        ({"s": 1}, {"s": _returns_str}, "a"),
        "returned str",
        "not a CheckOutcome or bool",
    ),
    (
        "schema-answer-not-json",
        ({"json_schema": {"type": "object"}}, {}, "nope"),
        "does not parse",
        "got 'nope'",
    ),
]


def hook_row(returned: Any, tmp: Path) -> Outcome:
    class Impl:
        plugin_name = "conftest"

        def __init__(self) -> None:
            self.function = lambda: returned

    class Hook:
        def get_hookimpls(self) -> list[Any]:
            return [Impl()]

    with pytest.raises(pytest.UsageError) as info:
        hook_checks(Hook())
    return str(info.value), []


HOOKS = [
    (
        "hook-non-callable",
        {"starts_with": "nope"},
        "is a str, not a callable",
        "map it to a function",
    ),
    ("hook-not-a-mapping", ["starts_with"], "returned list", "return a mapping"),
    ("hook-bad-name", {"a b": len}, "the check name 'a b'", "used as keys under expect"),
]


# --- pipeline calls ---------------------------------------------------------------------------


def call_row(spec: tuple[Callable[..., Any], float], tmp: Path) -> Outcome:
    fn, timeout = spec
    caller = Caller(fn, concurrency=2, timeout_s=timeout)
    try:
        future = caller.submit(asyncio.wait_for(_two(caller), 60))
        results = future.result(timeout=90)
    finally:
        caller.close()
    lost = [] if all(isinstance(r, CallError) for r in results) else ["an error outcome"]
    return " | ".join(r.message for r in results if isinstance(r, CallError)), lost


async def _two(caller: Caller) -> list[Result | CallError]:
    return list(await asyncio.gather(caller.call("q", {}), caller.call("q", {})))


_release = threading.Event()


def _exit0(q: str) -> str:
    os._exit(0)


async def _async_exit(q: str) -> str:
    os._exit(0)


def _sys_exit(q: str) -> str:
    raise SystemExit(0)


async def _async_blocks(q: str) -> str:
    _release.wait(20)
    return "late"


def _sync_hangs(q: str) -> str:
    _release.wait(20)
    return "late"


def _raises_value(q: str) -> str:
    raise ValueError("quota exceeded")


CALLS = [
    ("os-exit-sync", (_exit0, 5.0), "called os._exit(0)", "counted as this case's error"),
    ("os-exit-async", (_async_exit, 5.0), "called os._exit(0)", "counted as this case's error"),
    ("sys-exit", (_sys_exit, 5.0), "raised SystemExit", "test_bad_inputs.py"),
    ("async-blocks-loop", (_async_blocks, 0.5), "blocked its event loop", "await asyncio.sleep"),
    ("sync-hangs", (_sync_hangs, 0.3), "did not answer within timeout_s = 0.3 s", "timeout_s"),
    ("raises", (_raises_value, 5.0), "ValueError: quota exceeded", "test_bad_inputs.py:"),
]


# --- history ----------------------------------------------------------------------------------


def history_row(kind: str, tmp: Path) -> Outcome:
    path = tmp / "h.sqlite"
    if kind == "text-file":
        path.write_text("not a database\n" * 50)
    else:
        with open_store("h.sqlite", tmp) as store:
            store.write_run(build_report(cases=2))
        conn = sqlite3.connect(path)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        if kind == "newer-schema":
            conn.execute("UPDATE ragft_schema SET version = 99")
        elif kind == "bogus-version":
            conn.execute("UPDATE ragft_schema SET version = -4848420922992939554")
        conn.commit()
        if kind == "damaged-page":
            size = conn.execute("PRAGMA page_size").fetchone()[0]
            root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name='ragft_schema'")
            page = root.fetchone()[0]
            conn.close()
            data = bytearray(path.read_bytes())
            data[(page - 1) * size : page * size] = bytes(range(256)) * (size // 256)
            path.write_bytes(bytes(data))
        else:
            conn.close()
    before = path.read_bytes()
    with pytest.raises(HistoryError) as info:
        with open_store("h.sqlite", tmp) as store:
            store.write_run(build_report(cases=2))
    lost = _unchanged(path, before)
    lost += [p.name for p in tmp.iterdir() if ".bak-v" in p.name]
    return str(info.value), lost


HISTORY = [
    ("store-is-text", "text-file", "corrupt: SQLite's integrity_check says", "move it aside"),
    (
        "store-page-damaged",
        "damaged-page",
        "corrupt: SQLite's integrity_check says",
        "restore it from a backup",
    ),
    (
        "store-newer-schema",
        "newer-schema",
        "h.sqlite was written by a newer pytest-ragft",
        "upgrade pytest-ragft",
    ),
    (
        "store-bogus-version",
        "bogus-version",
        "which no pytest-ragft writes",
        "point `history` elsewhere",
    ),
]


# --- training data and case globs -------------------------------------------------------------


def training_row(line: str, tmp: Path) -> Outcome:
    audit = audit_examples(["t.jsonl"], [("t.jsonl", line.encode("utf-8"))], [], [])
    return "; ".join(audit.problems), [] if audit.invalid == 1 else ["the invalid line"]


TRAINING = [
    (
        "train-missing-content",
        '{"messages": [{"role": "user"}]}',
        "t.jsonl:1",
        'has no "content" key',
    ),
    ("train-missing-role", '{"messages": [{"content": "q"}]}', "t.jsonl:1", 'no "role" key'),
    (
        "train-null-content",
        '{"messages": [{"role": "user", "content": null}]}',
        "t.jsonl:1",
        "JSON null",
    ),
    ("train-bad-json", '{"prompt": ', "t.jsonl:1", "invalid JSON"),
    ("train-no-fields", '{"x": 1}', "t.jsonl:1", "prompt/completion"),
]


def glob_row(cases: list[Any], tmp: Path) -> Outcome:
    settings = load_settings(tmp, {"cases": cases}, {}, {})
    with pytest.raises(pytest.UsageError) as info:
        require_matches(settings, [])
    return str(info.value), []


GLOBS = [
    ("glob-typo", ["evlas/*.yaml"], "cases[0] 'evlas/*.yaml'", "optional = true"),
    (
        "glob-table-typo",
        [{"path": "x/*.yml", "kind": "behavior"}],
        "matches no file",
        "fix the glob",
    ),
]


# --- the matrix -------------------------------------------------------------------------------

RUNNERS: dict[str, Callable[[Any, Path], Outcome]] = {
    "settings": settings_row,
    "case-file": case_row,
    "result": result_row,
    "check": check_row,
    "hook": hook_row,
    "call": call_row,
    "history": history_row,
    "training": training_row,
    "glob": glob_row,
}
TABLES = {
    "settings": SETTINGS,
    "case-file": CASES,
    "result": RESULTS,
    "check": CHECKS,
    "hook": HOOKS,
    "call": CALLS,
    "history": HISTORY,
    "training": TRAINING,
    "glob": GLOBS,
}
MATRIX = [
    pytest.param(kind, spec, where, todo, id=f"{kind}:{row_id}")
    for kind, rows in TABLES.items()
    for row_id, spec, where, todo in rows
]


def test_the_matrix_is_large_enough() -> None:
    assert len(MATRIX) >= 80


@pytest.mark.parametrize(("kind", "spec", "what_where", "todo"), MATRIX)
def test_bad_input(kind: str, spec: Any, what_where: str, todo: str, tmp_path: Path) -> None:
    try:
        message, lost = RUNNERS[kind](spec, tmp_path)
    finally:
        _release.set()
        _release.clear()
    assert what_where in message, message
    assert todo in message, message
    assert "Traceback" not in message
    assert lost == []
