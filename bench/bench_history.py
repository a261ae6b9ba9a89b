"""Benchmark of the history store: 1,000 runs x 200 cases in one SQLite file.

Run: python bench/bench_history.py [--runs 1000] [--cases 200] [--dir DIR]
Prints write time per run (median, p95), baseline / trend / flaky query times and file size.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pytest_ragft.history import open_store

WORDS = "refund order shipping policy days account invoice support answer customer".split()


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
        "suite": "bench-bot",
        "run_id": f"run-{n:05d}",
        "started_at": started.isoformat(),
        "finished_at": (started + timedelta(minutes=3)).isoformat(),
        "plugin_version": "0.1.0",
        "pipeline": "bot:answer",
        "config_hash": "c0ffee",
        "git": {"sha": f"{n:040x}", "branch": "main" if n % 3 else "feature", "pr": None},
        "ci": {"provider": "github", "run_url": None},
        "gate": {"verdict": "pass", "events": []},
        "categories": categories,
        "diagnosis": {"knowledge": 0, "hybrid": 0, "behavior": 0, "error": 0},
        "checklist": [],
        "recommendation": {"cell": None, "counts": {}, "not_yet": []},
        "cases": records,
    }


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return times


def summary(times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"median {statistics.median(ordered):7.2f} ms   p95 {p95:7.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    folder = args.dir or Path(tempfile.mkdtemp(prefix="ragft-bench-"))
    path = folder / "history.sqlite"
    rng = random.Random(1)

    writes: list[float] = []
    with open_store(str(path), folder) as store:
        for n in range(args.runs):
            report = make_report(n, args.cases, rng)
            start = time.perf_counter()
            store.write_run(report)
            writes.append((time.perf_counter() - start) * 1000)

        queries = {
            "baseline (5 runs, main)": lambda: store.baseline("bench-bot", "main", 5),
            "baseline excl. current": lambda: store.baseline(
                "bench-bot", "main", 5, exclude_run_id=f"run-{args.runs - 1:05d}"
            ),
            "count_runs (main)": lambda: store.count_runs("bench-bot", "main"),
            "series (last 10)": lambda: store.series("bench-bot", last=10),
            "recent_runs (last 10)": lambda: store.recent_runs("bench-bot", last=10),
            "case_series (last 20)": lambda: store.case_series("bench-bot", "case-042"),
            "flaky_cases (last 10)": lambda: store.flaky_cases("bench-bot", last=10),
            "get_report (latest)": lambda: store.get_report(suite="bench-bot"),
        }
        results = {name: timed(fn, 50) for name, fn in queries.items()}

    size = sum(p.stat().st_size for p in folder.glob("history.sqlite*"))
    print(f"store: {path} ({args.runs} runs x {args.cases} cases)")
    print(f"write_run                 {summary(writes)}")
    for name, times in results.items():
        print(f"{name:<25} {summary(times)}")
    print(
        f"file size                 {size / 1e6:.1f} MB ({size / args.runs / 1e3:.0f} kB per run)"
    )


if __name__ == "__main__":
    main()
