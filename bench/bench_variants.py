"""Wall time of the eval phase with variants: every case is called by the main pipeline and by
each picked variant, all through the same concurrency slots, so the ideal is
``cases x (1 + variants) x latency / concurrency``.

Builds a throw-away project of ``--cases`` file cases (``bench_run.write_ragft_project``) with
``--variants`` variant pipelines as slow as the main one, runs ``python -m pytest`` on it in a
subprocess with and without ``--ragft-variants``, and reads the ``pytest_runtestloop`` hook's
time (the eval phase) from ``bench_run``'s timing conftest: the median of ``--repeat`` runs
after a discarded warm-up run. Exits 1 when the phase with variants is over ``--target``
times its ideal.

Run: ``python bench/bench_variants.py`` (``--help`` for the flags). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_run  # noqa: E402

VARIANT = """

def variant_{n}(input, **vars):
    if LATENCY:
        time.sleep(LATENCY)
    return "the answer is xyz"
"""


def write_project(root: Path, args: argparse.Namespace) -> tuple[Path, list[str]]:
    """The suite and its variants; returns the JSON report's path and the variants' names."""
    report = bench_run.write_ragft_project(
        root,
        n=args.cases,
        latency=args.latency,
        concurrency=args.concurrency,
        is_async=False,
        history=False,
        reports=False,
    )
    names = [f"v{n}" for n in range(1, args.variants + 1)]
    with (root / "bench_pipeline.py").open("a", encoding="utf-8") as fh:
        fh.writelines(VARIANT.format(n=n) for n in range(1, args.variants + 1))
    with (root / "pyproject.toml").open("a", encoding="utf-8") as fh:
        for n, name in enumerate(names, start=1):
            fh.write(f'\n[tool.ragft.variants.{name}]\npipeline = "bench_pipeline:variant_{n}"\n')
    return report, names


def eval_phase(root: Path, env: dict[str, str], extra: list[str], repeat: int) -> list[float]:
    """The eval phase's seconds of ``repeat`` runs, after one warm-up run."""
    bench_run.run_once(root, env, extra, None)
    loops = [bench_run.run_once(root, env, extra, None).loop for _ in range(repeat)]
    return [loop for loop in loops if loop is not None]


def measure(args: argparse.Namespace) -> tuple[str, float]:
    """The Markdown table and the ratio of the phase with variants to its ideal."""
    with tempfile.TemporaryDirectory(prefix="ragft-bench-variants-") as tmp:
        env = bench_run.bench_env(Path(tmp), keep_env=False)
        root = Path(tmp) / "suite"
        _, names = write_project(root, args)
        picked = ["--ragft-variants=" + ",".join(names)]
        rows = []
        ratio = 0.0
        for label, extra, pipelines in (
            ("main pipeline only", [], 1),
            (f"main + {len(names)} variants", picked, 1 + len(names)),
        ):
            loops = eval_phase(root, env, extra, args.repeat)
            median = statistics.median(loops)
            ideal = args.cases * pipelines * args.latency / args.concurrency
            ratio = median / ideal
            rows.append(
                [
                    label,
                    f"{args.cases * pipelines:,}",
                    f"{ideal:.3f} s",
                    f"{median:.3f} s",
                    f"{ratio:.2f}x",
                    ", ".join(f"{v:.3f}" for v in loops),
                ]
            )
    header = ["run", "calls", "ideal", "eval phase (median)", "vs ideal", "runs (s)"]
    return bench_run.table(header, rows), ratio


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--variants", type=int, default=2)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per call")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--target", type=float, default=1.3, help="allowed ratio to the ideal")
    args = parser.parse_args(argv)
    text, ratio = measure(args)
    print(
        f"{args.cases} cases x (1 + {args.variants} variants), {args.latency * 1000:g} ms per "
        f"call, concurrency {args.concurrency}; median of {args.repeat} runs\n"
    )
    print(text)
    if ratio > args.target:
        print(f"\nover target: {ratio:.2f}x the ideal > {args.target:g}x", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
