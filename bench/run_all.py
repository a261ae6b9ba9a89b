"""Every benchmark of bench/README.md in one command; rewrites the README's results section.

Run: python bench/run_all.py [--quick] [--no-write]

- scale: a 5,000-case suite, pipeline of 20 ms at concurrency 32, end to end; the same suite
  against an instant pipeline (the fixed cost); plain pytest with 5,000 trivial tests; the peak
  memory (max RSS) of each process;
- xdist: no xdist, ``-n 1`` and ``-n 2`` for a CPU-light suite (instant pipeline) and an
  I/O-bound one (20 ms calls);
- history: ``bench_history.py`` at 10,000 runs x 200 cases on SQLite and PostgreSQL;
- start-up: ``bench_startup.py``, the plugin inert (no ``[tool.ragft]``);
- variants: ``bench_variants.py``, 200 cases x (1 + 2 variants) at 50 ms, concurrency 16.

The results go between the ``<!-- run_all -->`` markers of bench/README.md (``--no-write``
prints them only). ``--quick`` shrinks every measure (for trying the script, not for figures).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_run  # noqa: E402

README = HERE / "README.md"
BEGIN, END = "<!-- run_all: begin -->", "<!-- run_all: end -->"
SESSION_RE = re.compile(r" in ([0-9.]+)s\b")


@dataclass
class Timed:
    wall: float
    session: float | None
    max_rss_mb: float


def run_pytest(root: Path, env: dict[str, str], extra: Sequence[str] = ()) -> Timed:
    """One ``python -m pytest`` in ``root``: wall time, pytest's own time, and the process's
    peak memory (its own max RSS, from ``wait4``, not the largest of all children so far)."""
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *extra]
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"pytest failed in {root} (exit {proc.returncode}):\n{out[-3000:]}")
    found = SESSION_RE.findall(out)
    return Timed(wall, float(found[-1]) if found else None, usage.ru_maxrss / 1024)


def measure(
    projects: dict[str, tuple[Path, list[str]]], env: dict[str, str], repeat: int
) -> dict[str, list[Timed]]:
    """A warm-up run of each, then ``repeat`` rounds run round-robin, so a load spike on the
    shared machine spreads over all of them."""
    for root, extra in projects.values():
        run_pytest(root, env, extra)
    timings: dict[str, list[Timed]] = {label: [] for label in projects}
    for _ in range(repeat):
        for label, (root, extra) in projects.items():
            timings[label].append(run_pytest(root, env, extra))
            print(f"  {label}: {timings[label][-1].wall:.2f}s", file=sys.stderr, flush=True)
    return timings


def med(values: Sequence[Timed], attr: str) -> float:
    present = [getattr(v, attr) for v in values if getattr(v, attr) is not None]
    return statistics.median(present) if present else float("nan")


def project(tmp: Path, name: str, *, n: int, latency: float, concurrency: int) -> Path:
    root = tmp / name
    bench_run.write_ragft_project(
        root,
        n=n,
        latency=latency,
        concurrency=concurrency,
        is_async=False,
        history=False,
        reports=False,
    )
    return root


def scale_section(tmp: Path, env: dict[str, str], args: argparse.Namespace) -> str:
    n, latency, conc = args.cases, 0.02, 32
    ideal = n * latency / conc
    slow = project(tmp, "scale-20ms", n=n, latency=latency, concurrency=conc)
    instant = project(tmp, "scale-instant", n=n, latency=0.0, concurrency=conc)
    plain = tmp / "scale-plain"
    bench_run.write_plain_project(plain, n=n)
    labels = {
        f"ragft, {n:,} cases x 20 ms, concurrency 32": (slow, []),
        f"ragft, {n:,} cases, instant pipeline": (instant, []),
        f"plain pytest, {n:,} trivial tests": (plain, []),
    }
    timings = measure(labels, env, args.repeat)
    rows = [
        [
            label,
            f"{med(t, 'wall'):.2f}",
            f"{med(t, 'session'):.2f}",
            f"{max(x.max_rss_mb for x in t):.0f}",
        ]
        for label, t in timings.items()
    ]
    slow_t, instant_t, plain_t = (timings[label] for label in labels)
    budget = 1.3 * ideal + med(instant_t, "wall")
    fixed_ratio = med(instant_t, "wall") / med(plain_t, "wall")
    verdicts = [
        f"- ideal N x L / C = {n:,} x 20 ms / 32 = **{ideal:.2f} s**; target for the 20 ms run: "
        f"1.3 x ideal + the instant run = {budget:.2f} s wall; measured "
        f"**{med(slow_t, 'wall'):.2f} s**: {'met' if med(slow_t, 'wall') <= budget else 'MISSED'}"
        f" (20 ms run minus instant run: {med(slow_t, 'wall') - med(instant_t, 'wall'):.2f} s "
        f"= {(med(slow_t, 'wall') - med(instant_t, 'wall')) / ideal:.2f}x ideal).",
        f"- fixed cost: the instant run takes **{fixed_ratio:.2f}x** plain pytest's wall time "
        f"(target at most 2x): {'met' if fixed_ratio <= 2 else 'MISSED'}.",
        f"- peak memory (max RSS) of the {n:,}-case 20 ms run: "
        f"**{max(x.max_rss_mb for x in slow_t):.0f} MB**.",
    ]
    return (
        f"### Scale: {n:,} cases (median of {args.repeat} runs after a warm-up; history and "
        "Markdown/HTML off, JSON report on)\n\n"
        + bench_run.table(["run", "wall s", "pytest s", "max RSS MB"], rows)
        + "\n\n"
        + "\n".join(verdicts)
    )


def xdist_section(tmp: Path, env: dict[str, str], args: argparse.Namespace) -> str:
    n = args.xdist_cases
    suites = {
        "CPU-light (instant pipeline)": project(tmp, "x-cpu", n=n, latency=0.0, concurrency=8),
        "I/O-bound (20 ms calls, concurrency 8)": project(
            tmp, "x-io", n=n, latency=0.02, concurrency=8
        ),
    }
    modes = {"no xdist": [], "-n 1": ["-n", "1"], "-n 2": ["-n", "2"]}
    projects = {
        f"{suite}, {mode}": (root, extra)
        for suite, root in suites.items()
        for mode, extra in modes.items()
    }
    timings = measure(projects, env, args.repeat)
    rows = []
    for suite in suites:
        base = med(timings[f"{suite}, no xdist"], "wall")
        for mode in modes:
            t = timings[f"{suite}, {mode}"]
            rows.append([suite, mode, f"{med(t, 'wall'):.2f}", f"{med(t, 'wall') / base:.2f}x"])
    return (
        f"### xdist: {n:,} cases (median of {args.repeat} runs after a warm-up)\n\n"
        + bench_run.table(["suite", "mode", "wall s", "vs no xdist"], rows)
    )


def script_section(script: str, argv: Sequence[str], env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, str(HERE / script), *argv],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{script} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    text = done.stdout.strip()
    # The scripts' own "##" headings sit one level under this section's.
    return re.sub(r"^(#+) ", lambda m: "#" + m[1] + " ", text, flags=re.MULTILINE)


def load_line() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.1f} / {five:.1f} / {fifteen:.1f} (1 / 5 / 15 min)"


def write_readme(body: str) -> None:
    text = README.read_text(encoding="utf-8")
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
    else:
        head, tail = text.rstrip() + "\n\n", "\n"
    README.write_text(f"{head}{BEGIN}\n{body}\n{END}{tail}", encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=5000, help="scale suite size (5000)")
    parser.add_argument("--xdist-cases", type=int, default=1000, help="xdist suite size (1000)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per measure (3)")
    parser.add_argument("--history-runs", type=int, default=10_000, help="runs in the store")
    parser.add_argument("--startup-runs", type=int, default=10, help="start-up runs (10)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, to try the script")
    parser.add_argument("--no-write", action="store_true", help="print, leave README.md alone")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=("scale", "xdist", "history", "startup", "variants"),
        default=None,
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.cases, args.xdist_cases, args.repeat = 300, 100, 1
        args.history_runs, args.startup_runs = 200, 2
    only = set(args.only or ("scale", "xdist", "history", "startup", "variants"))
    tmp = Path(tempfile.mkdtemp(prefix="ragft-bench-all-"))
    env = bench_run.bench_env(tmp, keep_env=False)
    started = datetime.now(UTC)
    parts = [
        f"## Results of `python bench/run_all.py` ({started:%Y-%m-%d %H:%M} UTC)\n\n"
        f"{bench_run.machine()}. **A shared 2-core machine**: other jobs ran during the "
        f"measurement ({load_line()} at the start), so absolute times are inflated and noisy; "
        "runs that are compared were interleaved round-robin, so their ratios are the "
        "meaningful figures."
    ]
    try:
        if "scale" in only:
            parts.append(scale_section(tmp, env, args))
        if "xdist" in only:
            parts.append(xdist_section(tmp, env, args))
        if "history" in only:
            runs = str(args.history_runs)
            parts.append(
                "### History store\n\n" + script_section("bench_history.py", ["--runs", runs], env)
            )
        if "startup" in only:
            parts.append(
                script_section("bench_startup.py", ["--runs", str(args.startup_runs)], env)
            )
        if "variants" in only:
            variants = ["--repeat", str(args.repeat), "--target", "inf"]  # the figures, not a gate
            parts.append("### Variants\n\n" + script_section("bench_variants.py", variants, env))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    minutes = (datetime.now(UTC) - started).total_seconds() / 60
    parts.append(f"({load_line()} at the end; {minutes:.0f} minutes in all.)")
    body = "\n\n".join(parts)
    print(body)
    if not args.no_write:
        write_readme(body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
