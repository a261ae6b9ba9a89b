"""Wall time of an eval suite: concurrency against the ideal, and per-case overhead against plain
pytest tests.

Builds throw-away projects in a temporary directory and runs ``python -m pytest`` on them in
subprocesses, timing each run with ``time.perf_counter`` (median of ``--repeat`` runs after a
discarded warm-up run). Three clocks are read for every run:

- ``wall``: the whole process, interpreter start to exit;
- ``session``: pytest's own ``N passed in X.XXs`` figure (collection, items, session finish);
- ``loop``: the ``pytest_runtestloop`` hook alone (the eval phase), with ``collect`` and
  ``finish`` (``pytest_sessionfinish``: the run's summary, history and reports) beside it, read
  by a small ``conftest.py`` that every project, plain ones included, carries.

Run: ``python bench/bench_run.py`` (``--help`` for the flags). Prints Markdown tables.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

TIMER_CONFTEST = """\
from __future__ import annotations

import json
import os
import time

import pytest

_T: dict[str, float] = {}


def _timed(name):
    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def hook(*args, **kwargs):
        start = time.perf_counter()
        try:
            return (yield)
        finally:
            _T[name] = time.perf_counter() - start

    return hook


pytest_collection = _timed("collect")
pytest_runtestloop = _timed("loop")
pytest_sessionfinish = _timed("finish")


def pytest_unconfigure(config):
    out = os.environ.get("RAGFT_BENCH_TIMINGS")
    if out:
        with open(out, "w", encoding="utf-8") as fh:
            json.dump(_T, fh)
"""

SYNC_PIPELINE = """\
import time

LATENCY = {latency!r}


def answer(input):
    if LATENCY:
        time.sleep(LATENCY)
    return "the answer is xyz"
"""

ASYNC_PIPELINE = """\
import asyncio

LATENCY = {latency!r}


async def answer(input):
    if LATENCY:
        await asyncio.sleep(LATENCY)
    return "the answer is xyz"
"""

# The calls section's pipeline: logs every call; the first two cases fail.
COUNTING_PIPELINE = """\
import time

LATENCY = {latency!r}


def answer(input):
    with open("calls.txt", "a") as log:
        log.write(input + "\\n")
    if LATENCY:
        time.sleep(LATENCY)
    if "question 0 " in input or "question 1 " in input:
        return "no"
    return "the answer is xyz"
"""

SESSION_RE = re.compile(r" in ([0-9.]+)s\b")


@dataclass
class Sample:
    wall: float
    session: float | None
    collect: float | None
    loop: float | None
    finish: float | None
    report_duration: float | None


@dataclass
class Measure:
    label: str
    n: int
    samples: list[Sample] = field(default_factory=list)

    def median(self, attr: str) -> float | None:
        values = [getattr(s, attr) for s in self.samples]
        present = [v for v in values if v is not None]
        return statistics.median(present) if present else None


def bench_env(tmp: Path, keep_env: bool) -> dict[str, str]:
    """The subprocesses' environment: a bytecode cache (in the temp dir) unless ``keep_env``.

    Without one every run recompiles pytest, its plugins and the plugin under test from source,
    which is not what a developer's machine or a CI job with a warm venv does.
    """
    env = dict(os.environ)
    for key in list(env):
        if key.startswith(("RAGFT_", "GITHUB_", "GITLAB_")) or key in ("CI", "PYTEST_ADDOPTS"):
            del env[key]
    if not keep_env:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(tmp / "pycache")
    return env


def write_ragft_project(
    root: Path,
    *,
    n: int,
    latency: float,
    concurrency: int,
    is_async: bool,
    history: bool,
    reports: bool,
) -> Path:
    root.mkdir(parents=True)
    source = ASYNC_PIPELINE if is_async else SYNC_PIPELINE
    (root / "bench_pipeline.py").write_text(source.format(latency=latency), encoding="utf-8")
    (root / "conftest.py").write_text(TIMER_CONFTEST, encoding="utf-8")
    report_dir = ".reports"
    (root / "pyproject.toml").write_text(
        "\n".join(
            [
                "[project]",
                'name = "bench-suite"',
                'version = "0"',
                "",
                "[tool.ragft]",
                'pipeline = "bench_pipeline:answer"',
                'cases = ["evals/*.yaml"]',
                f"concurrency = {concurrency}",
                "timeout_s = 60",
                f'history = "{".ragft/history.sqlite" if history else ""}"',
                "",
                "[tool.ragft.report]",
                f'json = "{report_dir}/ragft-report.json"',
                f'markdown = "{report_dir + "/ragft-report.md" if reports else ""}"',
                f'html = "{report_dir + "/ragft-report.html" if reports else ""}"',
                'github = "never"',
                "",
            ]
        ),
        encoding="utf-8",
    )
    lines = ["defaults:", "  kind: knowledge", "cases:"]
    for i in range(n):
        lines += [
            f"  - id: case-{i:05d}",
            f"    input: What is question {i} about?",
            "    expect:",
            "      contains: xyz",
        ]
    (root / "evals").mkdir()
    (root / "evals" / "cases.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root / report_dir / "ragft-report.json"


def write_plain_project(root: Path, *, n: int) -> None:
    root.mkdir(parents=True)
    (root / "pyproject.toml").write_text(
        '[project]\nname = "bench-plain"\nversion = "0"\n', encoding="utf-8"
    )
    (root / "conftest.py").write_text(TIMER_CONFTEST, encoding="utf-8")
    body = "".join(f'def test_{i:05d}():\n    assert "x" in "xyz"\n\n\n' for i in range(n))
    (root / "test_plain.py").write_text(body, encoding="utf-8")


def run_once(
    root: Path, env: dict[str, str], pytest_args: Sequence[str], report: Path | None
) -> Sample:
    timings = root / ".timings.json"
    timings.unlink(missing_ok=True)
    if report is not None:
        report.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *pytest_args]
    start = time.perf_counter()
    done = subprocess.run(
        cmd,
        cwd=root,
        env={**env, "RAGFT_BENCH_TIMINGS": str(timings)},
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(
            f"pytest failed in {root} (exit {done.returncode}):\n{done.stdout[-3000:]}\n"
            f"{done.stderr[-3000:]}"
        )
    found = SESSION_RE.findall(done.stdout)
    marks = json.loads(timings.read_text(encoding="utf-8")) if timings.exists() else {}
    duration = None
    if report is not None and report.exists():
        duration = json.loads(report.read_text(encoding="utf-8")).get("duration_s")
    return Sample(
        wall=wall,
        session=float(found[-1]) if found else None,
        collect=marks.get("collect"),
        loop=marks.get("loop"),
        finish=marks.get("finish"),
        report_duration=duration,
    )


@dataclass
class Project:
    label: str
    n: int
    root: Path
    report: Path | None
    repeat: int | None = None
    warmup: bool = True


def measure_all(
    projects: Sequence[Project], env: dict[str, str], args: argparse.Namespace
) -> list[Measure]:
    """Warm each project up once, then run them round-robin so that a load spike on the machine
    spreads over all of them rather than skewing one."""
    extra = args.pytest_args.split()
    results = [Measure(p.label, p.n) for p in projects]
    for p in projects:
        if p.warmup:
            run_once(p.root, env, extra, p.report)
    rounds = max(p.repeat or args.repeat for p in projects)
    for r in range(rounds):
        for p, m in zip(projects, results, strict=True):
            if r < (p.repeat or args.repeat):
                m.samples.append(run_once(p.root, env, extra, p.report))
    for m in results:
        print(f"  {m.label}: wall {m.median('wall'):.2f}s", file=sys.stderr, flush=True)
    return results


def fmt(value: float | None, spec: str = ".2f", unit: str = "") -> str:
    return "-" if value is None else f"{value:{spec}}{unit}"


def ratio(a: float | None, b: float | None) -> str:
    return "-" if a is None or b is None or b == 0 else f"{a / b:.2f}x"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(out)


def latency_section(tmp: Path, env: dict[str, str], args: argparse.Namespace) -> str:
    n, latency, conc = args.cases, args.latency, args.concurrency
    ideal = n * latency / conc
    serial_ideal = n * latency
    projects: list[Project] = []
    targets: list[float] = []
    specs: list[tuple[str, bool, int]] = [
        (f"sync, concurrency {conc}", False, conc),
        (f"async, concurrency {conc}", True, conc),
    ]
    if not args.skip_serial:
        specs += [("sync, concurrency 1 (serial)", False, 1)]
    for label, is_async, c in specs:
        root = tmp / f"latency-{'async' if is_async else 'sync'}-c{c}"
        report = write_ragft_project(
            root,
            n=n,
            latency=latency,
            concurrency=c,
            is_async=is_async,
            history=False,
            reports=False,
        )
        serial = c == 1
        projects.append(
            Project(
                label,
                n,
                root,
                report,
                repeat=args.serial_repeat if serial else None,
                warmup=not serial,
            )
        )
        targets.append(serial_ideal if serial else ideal)
    runs = list(zip(measure_all(projects, env, args), targets, strict=True))
    rows = []
    for m, target in runs:
        rows.append(
            [
                m.label,
                fmt(target),
                fmt(m.median("loop")),
                ratio(m.median("loop"), target),
                fmt(m.median("session")),
                ratio(m.median("session"), target),
                fmt(m.median("wall")),
                ratio(m.median("wall"), target),
            ]
        )
    head = (
        f"### Latency: {n} cases x {latency:g} s, history and Markdown/HTML reports off\n\n"
        f"Ideal = N x L / C = {ideal:.2f} s (serial: N x L = {serial_ideal:.2f} s). "
        "`loop` is the eval phase (`pytest_runtestloop`), `session` pytest's `in X.XXs`, "
        "`wall` the whole process.\n\n"
    )
    body = table(
        [
            "run",
            "ideal s",
            "loop s",
            "loop / ideal",
            "session s",
            "session / ideal",
            "wall s",
            "wall / ideal",
        ],
        rows,
    )
    tail = ""
    serial_run = next((m for m, _ in runs if "serial" in m.label), None)
    if serial_run is not None:
        conc_run = runs[0][0]
        tail = (
            f"\n\nSpeed-up of concurrency {conc} over serial (loop): "
            f"{ratio(serial_run.median('loop'), conc_run.median('loop'))} "
            f"(ideal {conc}x)."
        )
    return head + body + tail


def overhead_section(tmp: Path, env: dict[str, str], args: argparse.Namespace) -> str:
    n = args.overhead_cases
    plain_root = tmp / "plain"
    write_plain_project(plain_root, n=n)
    projects = [Project(f"plain pytest, {n} tests", n, plain_root, None)]
    variants: list[tuple[str, bool, bool]] = [
        ("ragft, history and MD/HTML off", False, False),
        ("ragft, history and MD/HTML on", True, True),
    ]
    for label, history, reports in variants:
        root = tmp / f"overhead-h{int(history)}-r{int(reports)}"
        report = write_ragft_project(
            root,
            n=n,
            latency=0.0,
            concurrency=args.concurrency,
            is_async=False,
            history=history,
            reports=reports,
        )
        projects.append(Project(f"{label}, {n} cases", n, root, report))
    results = measure_all(projects, env, args)
    plain = results[0]

    def per(m: Measure, attr: str) -> float | None:
        value = m.median(attr)
        return None if value is None else value / m.n * 1e3

    rows = []
    for m in results:
        rows.append(
            [
                m.label,
                fmt(m.median("wall")),
                fmt(m.median("collect"), ".3f"),
                fmt(m.median("loop"), ".3f"),
                fmt(m.median("finish"), ".3f"),
                fmt(per(m, "loop"), ".3f"),
                ratio(per(m, "loop"), per(plain, "loop")),
                fmt(per(m, "wall"), ".2f"),
                ratio(per(m, "wall"), per(plain, "wall")),
            ]
        )
    head = (
        f"### Per-case overhead: {n} zero-latency cases vs {n} plain tests\n\n"
        'Plain: `def test_i(): assert "x" in "xyz"` in a project without [tool.ragft]. '
        'The JSON report is always written; "on" adds the SQLite history store and the '
        "Markdown and HTML reports. `finish` is `pytest_sessionfinish` (summary, history, "
        "reports). Per-item figures in milliseconds.\n\n"
    )
    body = table(
        [
            "run",
            "wall s",
            "collect s",
            "loop s",
            "finish s",
            "loop ms/item",
            "vs plain",
            "wall ms/item",
            "vs plain",
        ],
        rows,
    )
    return head + body


def calls_section(tmp: Path, env: dict[str, str], args: argparse.Namespace) -> str:
    """Pipeline calls of runs stopped early or narrowed down: counted, not timed."""
    n, conc = args.cases, args.concurrency
    root = tmp / "calls"
    write_ragft_project(
        root,
        n=n,
        latency=args.latency,
        concurrency=conc,
        is_async=False,
        history=False,
        reports=False,
    )
    (root / "bench_pipeline.py").write_text(
        COUNTING_PIPELINE.format(latency=args.latency), encoding="utf-8"
    )
    runs: list[tuple[str, list[str], int]] = [
        ("-x", ["-x"], 1),
        ("--maxfail=2", ["--maxfail=2"], 2),
        ("-k, 2 cases", ["-k", "case-00010 or case-00020"], 2),
        ("whole run", [], n),
    ]
    rows = []
    for label, extra, ran in runs:
        log = root / "calls.txt"
        log.unlink(missing_ok=True)
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
        cmd += [*args.pytest_args.split(), *extra]
        subprocess.run(cmd, cwd=root, env=env, capture_output=True, check=False)
        calls = len(log.read_text(encoding="utf-8").splitlines()) if log.exists() else 0
        lead = conc if ran == 1 else 2 * conc
        rows.append([label, str(ran), str(calls), str(min(ran + lead, n))])
    head = (
        f"### Calls: {n} cases x {args.latency:g} s at concurrency {conc}, the first two failing"
        "\n\nThe pipeline counts its calls. The bound is the cases that ran plus the window "
        "issued ahead of them: `concurrency` calls at the first test, up to twice that later "
        "(calls that finished ahead of their tests do not count against `concurrency`).\n\n"
    )
    return head + table(["run", "cases run", "pipeline calls", "bound"], rows)


def machine() -> str:
    return (
        f"Python {platform.python_version()} on {platform.system()} {platform.machine()}, "
        f"{os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))})"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=200, help="N cases (default 200)")
    parser.add_argument(
        "--latency", type=float, default=0.05, help="L: seconds per pipeline call (default 0.05)"
    )
    parser.add_argument("--concurrency", type=int, default=8, help="C (default 8)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per measure (default 3)")
    parser.add_argument(
        "--serial-repeat", type=int, default=1, help="timed runs of the serial measure (default 1)"
    )
    parser.add_argument(
        "--overhead-cases", type=int, default=500, help="cases/tests for the overhead (default 500)"
    )
    parser.add_argument("--skip-serial", action="store_true", help="skip the concurrency-1 run")
    parser.add_argument(
        "--only",
        choices=("latency", "overhead", "calls"),
        help="run one section only",
    )
    parser.add_argument(
        "--pytest-args",
        default="",
        help='extra pytest arguments for every run, e.g. "-p no:hypothesispytest"',
    )
    parser.add_argument(
        "--keep-env",
        action="store_true",
        help="keep the inherited environment as is (e.g. PYTHONDONTWRITEBYTECODE) instead of "
        "giving the runs a bytecode cache",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary projects")
    args = parser.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="ragft-bench-run-"))
    env = bench_env(tmp, args.keep_env)
    sections: list[Callable[[Path, dict[str, str], argparse.Namespace], str]] = []
    if args.only in (None, "latency"):
        sections.append(latency_section)
    if args.only in (None, "overhead"):
        sections.append(overhead_section)
    if args.only in (None, "calls"):
        sections.append(calls_section)
    try:
        out = [
            f"## bench_run ({machine()}; median of {args.repeat} runs after a warm-up"
            f"{'; bytecode cache on' if not args.keep_env else ''})"
        ]
        for section in sections:
            out.append(section(tmp, env, args))
        print("\n\n".join(out))
    finally:
        if args.keep:
            print(f"\nprojects kept in {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
