"""Benchmark of the history store: writes and queries at 10,000 runs x 200 cases, on SQLite and
on PostgreSQL.

Run: python bench/bench_history.py [--runs 10000] [--cases 200] [--backend sqlite postgresql]
Prints a Markdown table per backend: write time per run and baseline / trend / flaky query
times (median, p95), and the store's size.

The store is filled in batches (many runs per transaction, rows made once per template report
and reused with a new run id, time and branch), which is what lets 10,000 runs be loaded in
minutes; the timed writes afterwards go through ``HistoryStore.write_run`` one run at a time,
exactly as a pytest session writes its run.
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from pytest_ragft.history import engine as engines
from pytest_ragft.history import open_store
from pytest_ragft.history.rows import RunRows, run_rows
from pytest_ragft.history.store import HistoryStore

WORDS = "refund order shipping policy days account invoice support answer customer".split()
PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SUITE = "bench-bot"
TEMPLATES = 24
BATCH = 200


def make_report(n: int, cases: int, rng: random.Random) -> dict[str, Any]:
    """A run report shaped like the plugin's, with realistic answer and message sizes."""
    started = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(hours=n)
    records = []
    counts = {"knowledge": [0, 0, 0], "behavior": [0, 0, 0]}
    for i in range(cases):
        kind = "knowledge" if i % 2 else "behavior"
        outcome = "passed" if rng.random() < 0.85 else "failed"
        counts[kind][0 if outcome == "passed" else 1] += 1
        answer = " ".join(rng.choice(WORDS) for _ in range(rng.randint(20, 120)))
        messages = (
            [] if outcome == "passed" else [f"contains: expected '30 days', got {answer[:80]!r}"]
        )
        records.append(
            {
                "id": f"case-{i:03d}",
                "nodeid": f"evals/suite.yaml::case-{i:03d}",
                "kind": kind,
                "outcome": outcome,
                "pass_ratio": 1.0 if outcome == "passed" else 0.0,
                "tags": ["faq", kind],
                "volatile": i % 5 == 0,
                "source": "evals/suite.yaml",
                "input": f"question number {i}",
                "facts": ["30 days"],
                "messages": messages,
                "static_diagnosis": None if outcome == "passed" else "hybrid",
                "counterfactual": None,
                "diagnosis": None if outcome == "passed" else "hybrid",
                "python": False,
                "skip_reason": None,
                "repeats": [
                    {
                        "repeat": 0,
                        "outcome": outcome,
                        "messages": messages,
                        "answer": answer,
                        "contexts": [],
                        "latency_s": rng.uniform(0.2, 2.0),
                        "error": None,
                        "scores": {},
                    }
                ],
            }
        )
    categories = {
        kind: {
            "passed": p,
            "failed": f,
            "error": e,
            "total": p + f + e,
            "rate": p / (p + f + e),
            "ci": None,
            "threshold": 0.9,
            "baseline": None,
        }
        for kind, (p, f, e) in counts.items()
    }
    return {
        "schema_version": 1,
        "suite": SUITE,
        "run_id": f"run-{n:05d}",
        "started_at": started.isoformat(),
        "finished_at": (started + timedelta(minutes=3)).isoformat(),
        "plugin_version": "0.1.0",
        "pipeline": "bot:answer",
        "config_hash": "c0ffee",
        "git": {"sha": f"{n:040x}", "branch": branch_of(n), "pr": None},
        "ci": {"provider": "github", "run_url": None},
        "gate": {"verdict": "pass", "events": []},
        "categories": categories,
        "diagnosis": {"knowledge": 0, "hybrid": 0, "behavior": 0, "error": 0},
        "checklist": [],
        "recommendation": {"cell": None, "counts": {}, "not_yet": []},
        "cases": records,
    }


def branch_of(n: int) -> str:
    """Two runs in three on main, the rest on 40 feature branches."""
    return "main" if n % 3 else f"feature-{n % 40}"


def rows_for(n: int, template: RunRows) -> RunRows:
    started = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(hours=n)
    run = {
        **template.run,
        "run_id": f"run-{n:05d}",
        "started_at": started,
        "finished_at": started + timedelta(minutes=3),
        "git_sha": f"{n:040x}",
        "branch": branch_of(n),
    }
    return dataclasses.replace(template, run=run)


def fill(store: HistoryStore, runs: int, cases: int, rng: random.Random) -> float:
    """Load ``runs`` runs in batches; returns the seconds it took."""
    templates = [run_rows(make_report(n, cases, rng), store_outputs=True) for n in range(TEMPLATES)]
    start = time.perf_counter()
    for first in range(0, runs, BATCH):
        last = min(first + BATCH, runs)
        batch = [rows_for(n, templates[n % TEMPLATES]) for n in range(first, last)]

        def work(conn: sa.Connection, batch: Sequence[RunRows] = batch) -> None:
            for rows in batch:
                store._insert(conn, rows, skip_existing=False)

        engines.run(store._engine, store._target, work, write=True)
    return time.perf_counter() - start


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    fn()  # warm: the first call pays for compiling the statement
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return times


def stats(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


@contextmanager
def target(backend: str, folder: Path) -> Iterator[str]:
    """A fresh store location: a SQLite file, or a PostgreSQL schema dropped afterwards."""
    if backend == "sqlite":
        yield str(folder / "history.sqlite")
        return
    schema = f"ragft_bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_SERVER)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{PG_SERVER}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


def size_of(store: HistoryStore, folder: Path, backend: str) -> float:
    if backend == "sqlite":
        return sum(p.stat().st_size for p in folder.glob("history.sqlite*")) / 1e6
    with store._engine.connect() as conn:
        names = ("ragft_runs", "ragft_categories", "ragft_results")
        total = sum(
            int(conn.execute(sa.text("SELECT pg_total_relation_size(:t)"), {"t": t}).scalar_one())
            for t in names
        )
    return total / 1e6


def queries(store: HistoryStore, runs: int) -> dict[str, Callable[[], object]]:
    from pytest_ragft.history import context

    last = f"run-{runs - 1:05d}"
    return {
        "baseline (5 runs, main)": lambda: store.baseline(SUITE, "main", 5),
        "baseline excl. current": lambda: store.baseline(SUITE, "main", 5, exclude_run_id=last),
        "count_runs (main)": lambda: store.count_runs(SUITE, "main"),
        "series (last 10)": lambda: store.series(SUITE, last=10),
        "recent_runs (last 10)": lambda: store.recent_runs(SUITE, last=10),
        "case_series (last 20)": lambda: store.case_series(SUITE, "case-042"),
        "flaky_cases (last 10)": lambda: store.flaky_cases(SUITE, last=10),
        "get_report (latest)": lambda: store.get_report(suite=SUITE),
        "a session's whole read": lambda: context.read_context(
            store, SUITE, "main", 5, exclude_run_id=last
        ),
    }


def bench(backend: str, args: argparse.Namespace) -> str:
    folder = Path(tempfile.mkdtemp(prefix="ragft-bench-"))
    rng = random.Random(1)
    with target(backend, folder) as where, open_store(where, folder) as store:
        filled = fill(store, args.runs, args.cases, rng)
        writes = []
        for n in range(args.runs, args.runs + args.writes):
            report = make_report(n, args.cases, rng)
            start = time.perf_counter()
            store.write_run(report)
            writes.append((time.perf_counter() - start) * 1000)
        total = args.runs + args.writes
        results = {name: timed(fn, args.repeat) for name, fn in queries(store, total).items()}
        size = size_of(store, folder, backend)
    lines = [
        f"#### {backend}: {total:,} runs x {args.cases} cases "
        f"(filled in {filled:.0f} s; {size:,.0f} MB, {size * 1e3 / total:.0f} kB per run)",
        "",
        "| operation | median ms | p95 ms | target |",
        "|---|---|---|---|",
        row("write_run (one run, 200 cases)", writes, 100.0),
    ]
    lines += [row(name, times, 50.0) for name, times in results.items()]
    return "\n".join(lines) + "\n"


def row(name: str, times: list[float], limit: float) -> str:
    median, p95 = stats(times)
    verdict = "met" if p95 < limit else ("median met" if median < limit else "**missed**")
    return f"| {name} | {median:.2f} | {p95:.2f} | < {limit:.0f} ms: {verdict} |"


def main(argv: Sequence[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--writes", type=int, default=30, help="timed write_run calls (30)")
    parser.add_argument("--repeat", type=int, default=30, help="timed calls per query (30)")
    parser.add_argument(
        "--backend", nargs="+", default=["sqlite", "postgresql"], choices=["sqlite", "postgresql"]
    )
    args = parser.parse_args(argv)
    text = "\n".join(bench(backend, args) for backend in args.backend)
    print(text)
    return text


if __name__ == "__main__":
    main()
