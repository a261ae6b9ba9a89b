"""The ``ragft`` command: set up, validate, inspect history, render and post reports."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

STARTER_CONFIG = """
[tool.ragft]
pipeline = "my_bot.pipeline:answer"   # module:callable, sync or async
cases = ["evals/**/*.yaml"]
repeats = 1
concurrency = 8
timeout_s = 60

[tool.ragft.thresholds]
knowledge = 0.90
behavior = 0.85
"""

STARTER_CASES = """\
# Editors validate this file after `ragft schema cases > evals/cases.schema.json` with:
# yaml-language-server: $schema=cases.schema.json
# Knowledge cases: the answer needs facts (RAG fixes these).
# Behavior cases: the answer needs a format, tone or policy (fine-tuning fixes these).
defaults:
  kind: knowledge
cases:
  - id: refund-window
    input: "How long do I have to return an item?"
    expect:
      contains: "30 days"
  - id: refund-window-json
    kind: behavior
    input: "How long do I have to return an item?"
    vars: {format: json}
    facts: ["30 days"]
    expect:
      json_schema: {type: object, required: [answer]}
      max_words: 60
"""


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from pytest_ragft.history.errors import HistoryError
    from pytest_ragft.report.jsonfile import ReportError

    try:
        code: int = args.func(args)
        return code
    except (CliError, HistoryError, ReportError) as exc:
        print(f"ragft {args.command}: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"ragft {args.command}: {_os_problem(exc)}", file=sys.stderr)
        return 2


class CliError(Exception):
    """A problem the user can fix, shown without a traceback."""


def _os_problem(exc: OSError) -> str:
    """An ``OSError`` as one line: the file and what went wrong with it."""
    what = exc.strerror or str(exc) or type(exc).__name__
    return f"{exc.filename}: {what}" if exc.filename else what


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ragft", description="pytest-ragft: LLM eval gate for CI (knowledge vs behavior)."
    )
    p.add_argument(
        "--rootdir",
        type=Path,
        default=None,
        help="project root with pyproject.toml (default: nearest from the cwd)",
    )
    sub = p.add_subparsers(dest="command")

    s = sub.add_parser("init", help="write a starter [tool.ragft] table and case file")
    s.set_defaults(func=cmd_init)

    s = sub.add_parser("validate", help="validate [tool.ragft] and case files (exit 1 on errors)")
    s.add_argument("paths", nargs="*", type=Path, help="case files or folders (default: cases)")
    s.add_argument(
        "--no-conftest",
        action="store_true",
        help="do not load conftest.py for checks from the pytest_ragft_checks hook",
    )
    s.set_defaults(func=cmd_validate)

    s = sub.add_parser("schema", help="print a shipped JSON Schema")
    s.add_argument(
        "which",
        choices=("config", "cases", "report"),
        help="[tool.ragft] settings, case files, or the JSON report",
    )
    s.set_defaults(func=cmd_schema)

    _add_reading_verbs(sub)

    s = sub.add_parser("comment", help="post or update the sticky PR comment or MR note")
    g = s.add_mutually_exclusive_group()
    g.add_argument("--run", dest="run_id", metavar="ID", help="a stored run (default: the latest)")
    g.add_argument("--report", type=Path, help="a JSON report (e.g. a CI artifact)")
    s.add_argument("--dry-run", action="store_true", help="print the comment, post nothing")
    s.set_defaults(func=cmd_comment)

    s = sub.add_parser("merge", help="one run from the JSON reports of sharded CI jobs")
    s.add_argument("files", nargs="+", type=Path, help="the shards' JSON reports")
    s.add_argument(
        "-o",
        "--output",
        type=Path,
        default=Path("ragft-report.json"),
        help="the merged JSON report (default: ragft-report.json)",
    )
    s.add_argument(
        "--no-history", action="store_true", help="neither compare with nor store into the history"
    )
    s.set_defaults(func=cmd_merge)

    _add_transfer_verbs(sub)
    return p


def _add_reading_verbs(sub: Any) -> None:
    """The verbs that read the history: history, trend, checklist, report."""
    s = sub.add_parser("history", help="list recent runs")
    s.add_argument(
        "--last", type=_positive, default=10, metavar="N", help="the N latest runs (default 10)"
    )
    s.add_argument("--branch", help="only runs on this branch")
    s.add_argument("--json", action="store_true", help="print the runs as JSON")
    s.set_defaults(func=cmd_history)

    from pytest_ragft.runsummary import TREND_MEASURES

    s = sub.add_parser("trend", help="pass-rate series per category, or one case; flaky cases")
    s.add_argument("--kind", choices=("knowledge", "behavior"), help="only this category")
    s.add_argument(
        "--case", dest="case_id", metavar="ID", help="the series of one case (exit 2 if unknown)"
    )
    s.add_argument(
        "--last", type=_positive, default=20, metavar="N", help="the N latest runs (default 20)"
    )
    s.add_argument(
        "--measure",
        choices=TREND_MEASURES,
        help="a retrieval or usage measure per category instead of the pass rate "
        "(e.g. recall, latency_p95_s)",
    )
    s.set_defaults(func=cmd_trend)

    s = sub.add_parser("diff", help="what changed per case between two stored runs")
    s.add_argument(
        "runs",
        nargs="*",
        metavar="RUN",
        help="RUN_A RUN_B: B against A; one RUN: it against the baseline run before it; "
        "none: the latest run against its baseline",
    )
    s.set_defaults(func=cmd_diff)

    _add_compare_verb(sub)

    s = sub.add_parser("checklist", help="the five fine-tuning answers from the latest run")
    s.set_defaults(func=cmd_checklist)

    s = sub.add_parser("report", help="render a stored run as Markdown, HTML or JSON")
    s.add_argument("--run", dest="run_id", metavar="ID", help="a run id (default: the latest)")
    s.add_argument("--format", choices=("md", "html", "json"), default="md", help="default: md")
    s.add_argument("-o", "--output", type=Path, help="write to this file (default: stdout)")
    s.set_defaults(func=cmd_report)


def _add_transfer_verbs(sub: Any) -> None:
    """The verbs that move runs in and out of the history: export, import."""
    s = sub.add_parser("export", help="write the history's runs as JSONL")
    s.add_argument("-o", "--output", type=Path, help="write to this file (default: stdout)")
    s.set_defaults(func=cmd_export)

    s = sub.add_parser("import", help="read runs from JSONL into the history")
    s.add_argument("input", help="a JSONL file written by `ragft export`, or - for stdin")
    s.set_defaults(func=cmd_import)


def _positive(text: str) -> int:
    """An argparse type: a whole number >= 1, else argparse's own error naming the option."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {value}")
    return value


def _rootdir(args: argparse.Namespace) -> Path:
    if args.rootdir is not None:
        return Path(args.rootdir).resolve()
    here = Path.cwd()
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").is_file():
            return folder
    return here


def _settings(args: argparse.Namespace, *, configured: bool = False) -> Any:
    """The project's settings; with ``configured``, a project without ``[tool.ragft]`` (and
    no ``RAGFT_HISTORY``) is an error, since its history would be nobody's."""
    import pytest

    from pytest_ragft.config import load_settings, read_pyproject

    root = _rootdir(args)
    try:
        pyproject, table = read_pyproject(root)
        if configured and table is None and not os.environ.get("RAGFT_HISTORY"):
            if pyproject is None:
                where = f"no pyproject.toml in {root} or its parents"
            else:
                where = f"{pyproject} has no [tool.ragft] table"
            raise CliError(f"{where}: run `ragft init` in the project, or pass --rootdir")
        return load_settings(root, table or {}, {}, os.environ, pyproject)
    except pytest.UsageError as exc:
        raise CliError(str(exc)) from None


def cmd_init(args: argparse.Namespace) -> int:
    root = _rootdir(args)
    pyproject = root / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8") if pyproject.exists() else ""
    if "[tool.ragft]" in text:
        print(f"{pyproject} already has [tool.ragft]; left as it is")
    else:
        with pyproject.open("a", encoding="utf-8") as fh:
            fh.write(STARTER_CONFIG)
        print(f"added [tool.ragft] to {pyproject}")
    cases = root / "evals" / "starter.yaml"
    if cases.exists():
        print(f"{cases} exists; left as it is")
    else:
        cases.parent.mkdir(parents=True, exist_ok=True)
        cases.write_text(STARTER_CASES, encoding="utf-8")
        print(f"wrote {cases}")
    print("next: set `pipeline` to your pipeline's module:callable, then run `pytest`")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from pytest_ragft.casefiles import load_case_file
    from pytest_ragft.cases import CaseFileError
    from pytest_ragft.checks import BUILTIN_CHECKS, check_names

    try:
        settings = _settings(args)
    except CliError as exc:
        print(str(exc))
        print("1 problem in [tool.ragft]")
        return 1
    root = settings.rootdir
    names = check_names(BUILTIN_CHECKS)
    if not args.no_conftest:
        hooked, problem = hook_check_names(root)
        if problem is not None:
            print(problem)
            return 1
        names |= hooked
    files = _validate_files(args.paths, settings)
    if files is None:
        return 1
    errors = 0
    seen: dict[str, str] = {}
    total = 0
    if not args.paths:
        from pytest_ragft.config import unmatched_sources

        for message in unmatched_sources(settings, [source for _, source in files]):
            print(message)
            errors += 1
    for path, source in files:
        try:
            cases = load_case_file(
                path,
                root,
                fmt=getattr(source, "format", None),
                kind=getattr(source, "kind", None),
                check_names=names,
            )
        except CaseFileError as exc:
            print(str(exc))
            errors += len(exc.problems) or 1
            continue
        for case in cases:
            where = f"{case.source}:{case.line}"
            if case.id in seen and not seen[case.id].startswith(case.source + ":"):
                print(f"{where}: duplicate case id {case.id!r}: also at {seen[case.id]}")
                errors += 1
            seen.setdefault(case.id, where)
        total += len(cases)
    if errors:
        print(f"{errors} problem(s) in {len(files)} file(s)")
        return 1
    print(f"ok: [tool.ragft] and {total} case(s) in {len(files)} file(s)")
    return 0


def _validate_files(paths: list[Path], settings: Any) -> list[tuple[Path, Any]] | None:
    """The files to validate, each with its ``cases`` entry; None after saying a path is
    missing. Without paths: the files the ``cases`` globs match."""
    from pytest_ragft.cases import expand_sources

    if not paths:
        return list(expand_sources(settings.cases, settings.rootdir))
    files: list[tuple[Path, Any]] = []
    for path in paths:
        path = path.resolve()
        if path.is_dir():
            files.extend(
                (p, None)
                for p in sorted(path.rglob("*"))
                if p.suffix in (".yaml", ".yml", ".json", ".jsonl")
                and p.is_file()
                and not _is_schema_file(p)
            )
        elif path.exists():
            files.append((path, None))
        else:
            print(f"{path}: no such file or folder", file=sys.stderr)
            return None
    by_path = {p.resolve(): s for p, s in expand_sources(settings.cases, settings.rootdir)}
    return [(p, by_path.get(p.resolve())) for p, _ in files]


def hook_check_names(root: Path) -> tuple[set[str], str | None]:
    """The names of the checks the project's ``pytest_ragft_checks`` implementations return,
    as a pytest run would see them (pytest starts in-process, loads the rootdir's conftest.py
    files and stops before collecting), or the problem that stops them being read."""
    import contextlib
    import io

    import pytest

    from pytest_ragft import hookspecs
    from pytest_ragft.checks import hook_checks

    found: dict[str, Any] = {}

    class Gather:
        def pytest_addhooks(self, pluginmanager: pytest.PytestPluginManager) -> None:
            pluginmanager.add_hookspecs(hookspecs)

        @pytest.hookimpl(tryfirst=True)
        def pytest_sessionstart(self, session: pytest.Session) -> None:
            try:
                found["names"] = set(hook_checks(session.config.hook.pytest_ragft_checks))
            except pytest.UsageError as exc:
                found["problem"] = str(exc)
            pytest.exit("checks gathered", returncode=0)

    argv = ["-p", "no:ragft", "-p", "no:cacheprovider", "-o", "addopts=", "-q"]
    output = io.StringIO()
    with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
        code = pytest.main([*argv, "--rootdir", str(root), str(root)], plugins=[Gather()])
    if "problem" in found:
        return set(), found["problem"]
    if "names" not in found:
        tail = " ".join(output.getvalue().split())[-600:]
        return set(), (
            f"conftest.py could not be loaded to read the pytest_ragft_checks hook (pytest "
            f"exit {int(code)}): {tail}; fix it, or pass --no-conftest to check with the "
            "built-in checks only"
        )
    return found["names"], None


def _is_schema_file(path: Path) -> bool:
    return path.name.endswith(".schema.json") or "schemas" in path.parts


def cmd_schema(args: argparse.Namespace) -> int:
    if args.which == "config":
        from pytest_ragft.config import schema_text
    elif args.which == "cases":
        from pytest_ragft.cases import schema_text
    else:
        from pytest_ragft.report.jsonfile import schema_text
    sys.stdout.write(schema_text())
    return 0


def _store(args: argparse.Namespace, *, create: bool = False) -> Any:
    """The settings and the history store; only verbs that write (``create``) may create or
    upgrade it, the others read it as it is."""
    from pytest_ragft.history import open_store

    settings = _settings(args, configured=True)
    if not settings.history:
        raise CliError('history is switched off (history = "" in [tool.ragft])')
    return settings, open_store(settings.history, settings.rootdir, create=create)


def cmd_history(args: argparse.Namespace) -> int:
    settings, store = _store(args)
    with store:
        rows = store.recent_runs(settings.suite, last=args.last, branch=args.branch)
    if args.json:
        print(json.dumps([r.to_dict() for r in rows], indent=2, default=str))
        return 0
    if not rows:
        print(f"no runs of suite {settings.suite!r} in {store.location}")
        return 0
    print(f"{'run':<12} {'started':<25} {'branch':<20} {'verdict':<7} knowledge  behavior")
    for r in rows:
        d = r.to_dict()
        rates = d.get("rates") or {}
        print(
            f"{d['run_id'][:12]:<12} {str(d['started_at'])[:25]:<25} "
            f"{str(d.get('branch') or '-')[:20]:<20} {d.get('verdict') or '-'!s:<7} "
            f"{_pct(rates.get('knowledge')):<10} {_pct(rates.get('behavior'))}"
        )
    return 0


def _pct(rate: Any) -> str:
    return "-" if rate is None else f"{rate * 100:.1f}%"


def cmd_trend(args: argparse.Namespace) -> int:
    settings, store = _store(args)
    with store:
        if args.case_id:
            series = store.case_series(settings.suite, args.case_id, last=args.last)
            if not series:
                raise CliError(
                    f"no results for case {args.case_id!r} in the runs of suite "
                    f"{settings.suite!r} in {store.location}: check the id "
                    "(`ragft history --json` lists the runs; ids are as in the case files)"
                )
            for point in series:
                print("  ".join(f"{k}={v}" for k, v in point.items()))
            return 0
        series = store.series(settings.suite, last=args.last)
        flaky = _flaky_now(store, settings.suite, args.last, args.kind)
    if not series:
        print(f"no runs of suite {settings.suite!r} in {store.location}")
        return 0
    kinds = [args.kind] if args.kind else ["knowledge", "behavior"]
    from pytest_ragft.report.fmt import sparkline

    for kind in kinds:
        if args.measure:
            print(_measure_line(series, kind, args.measure))
            continue
        rates = [run.get("rates", {}).get(kind) for run in series]
        shown = " ".join(_pct(r) for r in rates)
        print(f"{kind:<10} {sparkline(rates)}  {shown}")
    if flaky:
        print("flaky cases:")
        for f in flaky:
            print(f"  {f.id}  {f.rule}: {f.detail}")
    return 0


def _measure_line(series: list[dict[str, Any]], kind: str, measure: str) -> str:
    """One category's measure over the runs: a sparkline (shares on 0-1, other figures against
    their largest) and each run's figure; ``-`` where a run did not measure it."""
    from pytest_ragft.report.fmt import sparkline

    values = [run.get("measures", {}).get(kind, {}).get(measure) for run in series]
    top = max((v for v in values if v is not None), default=None)
    share = measure in ("hit", "recall", "mrr", "ndcg", "fact_recall")
    scaled = [None if v is None or not top else v if share else v / top for v in values]
    shown = " ".join(_figure(measure, v) for v in values)
    return f"{kind:<10} {measure} {sparkline(scaled)}  {shown}"


def _figure(measure: str, value: float | None) -> str:
    if value is None:
        return "-"
    if measure.endswith("_s"):
        return f"{value * 1000:.1f}ms"
    if measure == "tokens_per_case":
        return f"{value:.0f}"
    if measure == "cost_per_case":
        return f"{value:.6f}"
    return f"{value:.2f}"


def _flaky_now(store: Any, suite: str, last: int, kind: str | None) -> list[Any]:
    """The latest run's flaky cases over the ``last`` runs, of ``kind`` only when given."""
    from pytest_ragft.flaky import flaky_cases
    from pytest_ragft.runsummary import RunSummary

    report = store.get_report(None, suite)
    if report is None:
        return []
    latest = RunSummary.from_json(report)
    earlier = {
        case_id: [o for o in seen if o.run_id != latest.run_id]
        for case_id, seen in store.observations(suite, last=last).items()
    }
    cases = [c for c in latest.cases if kind is None or c.kind == kind]
    return flaky_cases(cases, earlier, run_id=latest.run_id, sha=latest.git.get("sha"))


def _latest_report(args: argparse.Namespace, run_id: str | None = None) -> dict[str, Any]:
    settings, store = _store(args)
    with store:
        report = store.get_report(run_id, settings.suite)
    if report is None and run_id:
        raise CliError(f"no run {run_id!r} in {store.location}: see `ragft history`")
    if report is None:
        raise CliError(f"no runs of suite {settings.suite!r} in {store.location}: run pytest first")
    return dict(report)


def cmd_diff(args: argparse.Namespace) -> int:
    """What changed per case between two stored runs: RUN_B against RUN_A; with one run, that
    run against the baseline run before it; with none, the latest run against its baseline."""
    from pytest_ragft.summarize import changes_between, outcomes_of

    settings, store = _store(args)
    with store:
        after_id = args.runs[-1] if args.runs else None
        after = _stored(store, settings, after_id)
        if len(args.runs) == 2:
            before = _stored(store, settings, args.runs[0])
        else:
            before = _baseline_before(store, settings, after)
    changes = changes_between(outcomes_of(before.cases), after.cases, before.run_id)
    from pytest_ragft.report import fmt

    head = f"{fmt.short_run(after.run_id)} against {fmt.short_run(before.run_id)}"
    print(f"{head}: {fmt.changes_text(changes)}")
    by_id = {c.id: c for c in after.cases}
    for name in ("newly_failing", "newly_passing", "still_failing", "new", "removed"):
        ids = getattr(changes, name)
        if ids:
            print(f"{fmt.CHANGE_LABELS[name]}:")
        for case_id in ids:
            case = by_id.get(case_id)
            diagnosis = f"  ({case.diagnosis})" if case is not None and case.diagnosis else ""
            print(f"  {case_id}{diagnosis}")
    return 0


def _add_compare_verb(sub: Any) -> None:
    s = sub.add_parser(
        "compare",
        help="RUN_B against RUN_A per category on their shared cases (paired tests), or "
        "RUN --variant NAME: one of a run's stored variants against its main pipeline",
    )
    s.add_argument(
        "runs", nargs="+", metavar="RUN", help="RUN_A (the main) and RUN_B; with --variant, RUN"
    )
    s.add_argument(
        "--variant",
        default=None,
        metavar="NAME",
        help="compare RUN's main pipeline with its variant NAME ([tool.ragft.variants.NAME])",
    )
    s.add_argument(
        "--margin",
        type=float,
        default=None,
        help="non-inferiority margin (default: [tool.ragft.variants.rules] margin, else 0.05)",
    )
    s.add_argument("--json", action="store_true", help="print the comparison as JSON")
    s.set_defaults(func=cmd_compare)


def cmd_compare(args: argparse.Namespace) -> int:
    """RUN_B as a variant of RUN_A: the same paired statistics a run's variants get."""
    from pytest_ragft import variants
    from pytest_ragft.report import fmt
    from pytest_ragft.report.comparison import comparison_lines

    wanted = 1 if args.variant is not None else 2
    if len(args.runs) != wanted:
        raise CliError(
            "compare takes two runs, `ragft compare RUN_A RUN_B`, or one run and a variant, "
            f"`ragft compare RUN --variant NAME`; got {len(args.runs)} run(s)"
        )
    settings, store = _store(args)
    with store:
        if args.variant is not None:  # both sides from the run's result rows
            main_id, main, _ = store.pipeline_records(args.runs[0])
            _, other, _ = store.pipeline_records(main_id, args.variant)
            name, head = args.variant, f"{args.variant} against the main pipeline of"
        else:
            before = _stored(store, settings, args.runs[0])
            after = _stored(store, settings, args.runs[1])
            main_id, main, other = before.run_id, before.cases, after.cases
            name = fmt.short_run(after.run_id)
            head = f"{name} against"
    margin = args.margin
    if margin is None:
        margin = settings.variants.rules.margin
    if not 0.0 < margin < 1.0:
        raise CliError(f"--margin must be between 0 and 1, got {margin}")
    # A stored variant is judged as its run judged it: its role and target from the settings.
    declared = next((v for v in settings.variants.pipelines if v.name == args.variant), None)
    role, target = (declared.role, declared.target) if declared else (None, None)
    result = variants.compare(
        main,
        [variants.Variant(name, other, role=role, target=target)],
        margin=margin,
        alpha=settings.thresholds.alpha,
    )
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
        return 0
    print(f"{head} {fmt.short_run(main_id)}")
    for line in comparison_lines(result):
        print(line)
    return 0


def _stored(store: Any, settings: Any, run_id: str | None) -> Any:
    from pytest_ragft.runsummary import RunSummary

    report = store.get_report(run_id, settings.suite)
    if report is None and run_id:
        raise CliError(f"no run {run_id!r} in {store.location}: see `ragft history`")
    if report is None:
        raise CliError(f"no runs of suite {settings.suite!r} in {store.location}: run pytest first")
    return RunSummary.from_json(report)


def _baseline_before(store: Any, settings: Any, after: Any) -> Any:
    """The latest run on the baseline branch that started before ``after``."""
    for row in store.recent_runs(settings.suite, last=200, branch=settings.baseline_branch):
        if row.run_id != after.run_id and str(row.started_at or "") <= after.started_at:
            return _stored(store, settings, row.run_id)
    raise CliError(
        f"no run on the baseline branch {settings.baseline_branch!r} before run "
        f"{after.run_id[:12]}: name the run to compare with, `ragft diff RUN_A RUN_B`"
    )


def cmd_checklist(args: argparse.Namespace) -> int:
    from pytest_ragft.runsummary import RunSummary

    summary = RunSummary.from_json(_latest_report(args))
    for item in summary.checklist:
        print(f"{item.question}. {item.title or item.key}: {item.answer.upper()}")
        print(f"   {item.evidence}")
    if summary.recommendation.summary:
        print(f"recommendation: {summary.recommendation.summary}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from pytest_ragft.runsummary import RunSummary

    report = _latest_report(args, args.run_id)
    if args.format == "md":
        from pytest_ragft.report.markdown import render_markdown

        text = render_markdown(RunSummary.from_json(report))
    elif args.format == "html":
        from pytest_ragft.report.html import render_html

        text = render_html(RunSummary.from_json(report))
    else:
        text = json.dumps(report, indent=2)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text, encoding="utf-8")
        print(f"wrote {args.output}")
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0


def cmd_comment(args: argparse.Namespace) -> int:
    from pytest_ragft import github
    from pytest_ragft.report.markdown import render_markdown
    from pytest_ragft.runsummary import RunSummary

    if args.report:
        from pytest_ragft.report.jsonfile import ReportError, load_report

        try:
            report = load_report(args.report)
        except (ReportError, OSError) as exc:
            raise CliError(str(exc)) from None
    else:
        report = _latest_report(args, args.run_id)
    summary = RunSummary.from_json(report)
    body = render_markdown(summary)
    if args.dry_run:
        sys.stdout.write(body + "\n")
        return 0
    environ = dict(os.environ)
    pr = summary.git.get("pr")
    if not environ.get("RAGFT_PR") and isinstance(pr, int):
        environ["RAGFT_PR"] = str(pr)  # the PR the report's run was for (workflow_run pattern)
    from pytest_ragft.comment import choose_forge

    if choose_forge(_settings(args).report.comment, environ) == "gitlab":
        return _comment_on_gitlab(environ, body, report["suite"])
    ctx = github.pr_context(environ)
    if ctx is None:
        raise CliError("cannot post: " + "; ".join(github.missing_context(environ, cli=True)))
    try:
        result = github.upsert_comment(ctx, body, suite=summary.suite)
    except github.GitHubError as exc:
        print(f"ragft comment: {exc}", file=sys.stderr)
        return 1
    print(f"comment {result.action}: {result.url}")
    for note in [result.note] if result.note else []:
        print(f"ragft comment: {note}", file=sys.stderr)
    return 0


def _comment_on_gitlab(environ: dict[str, str], body: str, suite: str) -> int:
    from pytest_ragft import gitlab
    from pytest_ragft.sticky import PostError

    ctx = gitlab.mr_context(environ)
    if ctx is None:
        raise CliError("cannot post: " + "; ".join(gitlab.missing_context(environ)))
    try:
        posted = gitlab.upsert_note(ctx, body, suite=suite)
    except PostError as exc:
        print(f"ragft comment: {exc}", file=sys.stderr)
        return 1
    print(f"note {posted.action}: {posted.url or f'!{ctx.mr}'}")
    for note in posted.notes:
        print(f"ragft comment: {note}", file=sys.stderr)
    return 0


def _check_mergeable(files: list[Path], reports: list[dict[str, Any]], settings: Any) -> None:
    """Shards of one suite, one configuration and one K/N matrix, none twice."""
    from pytest_ragft.config import config_hash
    from pytest_ragft.shard import ShardMismatch, check_shards

    try:
        named = [(str(path), report) for path, report in zip(files, reports, strict=True)]
        check_shards(named, config_hash=config_hash(settings))
    except ShardMismatch as exc:
        raise CliError(str(exc)) from None


def cmd_merge(args: argparse.Namespace) -> int:
    """One run of the shards' JSON reports: judged against the history and stored there, with
    every configured report written, the comment posted and the summary printed, as a
    pytest run of the whole suite would."""
    import uuid

    from pytest_ragft.finish import finish
    from pytest_ragft.merge import merge_inputs
    from pytest_ragft.report.jsonfile import write_json
    from pytest_ragft.report.terminal import terminal_lines

    reports = _load_reports(args.files)
    settings = _settings(args)
    _check_mergeable(args.files, reports, settings)
    run_id = uuid.uuid4().hex
    opened = _open_for_merge(settings, run_id, reports, args.no_history)
    store = opened.store if opened is not None else None
    try:
        inputs = merge_inputs(reports, settings, opened.context if opened else None, run_id)
    except ValueError as exc:
        if store is not None:
            store.close()
        raise CliError(str(exc)) from None
    finished = finish(inputs, environ=dict(os.environ), store=store)  # store_run closes it
    summary, sunk = finished.summary, finished.sunk
    write_json(summary.to_json(), args.output)
    for line in terminal_lines(summary):
        print(line)
    for note in sunk.notes:
        print(f"ragft merge: {note}", file=sys.stderr)
    stored = [w.removeprefix("history ") for w in sunk.written if w.startswith("history ")]
    others = [w for w in sunk.written if not w.startswith("history ")]
    print(
        f"merged {len(reports)} report(s), {len(summary.cases)} case(s): "
        f"gate {summary.gate.verdict} -> {args.output}"
        + (f", stored in {stored[0]}" if stored else "")
    )
    if others:
        print("written: " + " · ".join(others))
    return 1 if summary.gate.verdict == "fail" or sunk.failed else 0


def _load_reports(files: list[Path]) -> list[dict[str, Any]]:
    from pytest_ragft.report.jsonfile import ReportError, load_report

    try:
        return [load_report(path) for path in files]
    except (ReportError, OSError) as exc:
        raise CliError(str(exc)) from None


def _open_for_merge(
    settings: Any, run_id: str, reports: list[dict[str, Any]], no_history: bool
) -> Any:
    """The history for a merged run, with the evidence of its failures' signal; None when it
    is off. An unusable store is said, and the merge goes on without it."""
    from pytest_ragft.history.context import open_history

    if not settings.history or no_history:
        return None
    failing = sorted(
        {
            str(c.get("id"))
            for r in reports
            for c in r["cases"]
            if c.get("outcome") in ("failed", "error")
        }
    )
    opened = open_history(settings, run_id, failing)
    if opened.error is not None:
        print(f"ragft merge: history store not used: {opened.error}", file=sys.stderr)
    return opened


def cmd_export(args: argparse.Namespace) -> int:
    settings, store = _store(args)
    with store:
        if args.output:
            args.output.parent.mkdir(parents=True, exist_ok=True)
            with args.output.open("w", encoding="utf-8") as out:
                n = store.export_jsonl(out, settings.suite)
            print(f"exported {n} run(s) to {args.output}", file=sys.stderr)
        else:
            store.export_jsonl(sys.stdout, settings.suite)
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    if args.input == "-":
        return _import(args, sys.stdin, "<stdin>")
    path = Path(args.input)
    if not path.is_file():
        raise CliError(f"{path}: no such file (write one with `ragft export -o FILE`)")
    with path.open(encoding="utf-8") as inp:
        return _import(args, inp, str(path))


def _import(args: argparse.Namespace, inp: Any, name: str) -> int:
    settings, store = _store(args, create=True)
    with store:
        try:
            n, present = store.import_jsonl_counts(
                inp, store_outputs=settings.store_outputs, name=name
            )
        except UnicodeDecodeError:
            raise CliError(f"{name}: not UTF-8 text; nothing was imported") from None
    print(f"imported {n} run(s) into {store.location}, {present} already present")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
