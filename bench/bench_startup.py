"""Start-up cost of the installed plugin on a pytest run WITHOUT ``[tool.ragft]``.

- ``python -m pytest -q`` on a project of one trivial test, plugin enabled vs ``-p no:ragft``,
  interleaved, median of ``--runs`` each (after warm-up runs);
- the modules the plugin leaves in ``sys.modules`` after such a run, and
  ``python -X importtime -c "import pytest_ragft.plugin"`` summarised, with a check that none of
  the heavy optional dependencies (yaml, jsonschema, sqlalchemy, httpx, deepeval) is imported;
- when deepeval is installed in the interpreter under test: its own pytest plugin loaded vs
  ``-p no:deepeval``.

Run: ``python bench/bench_startup.py`` (``--python`` to measure another interpreter's venv).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

HEAVY = ("yaml", "jsonschema", "sqlalchemy", "httpx", "deepeval")

# A plugin module loaded with ``-p``: writes the names in sys.modules at the end of the run.
MODULES_PLUGIN = """\
import json
import os
import sys


def pytest_unconfigure(config):
    with open(os.environ["BENCH_MODULES_OUT"], "w", encoding="utf-8") as fh:
        json.dump(sorted(sys.modules), fh)
"""


def bench_env(tmp: Path, keep_env: bool) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("RAGFT_", "GITHUB_")) and k != "PYTEST_ADDOPTS"
    }
    if not keep_env:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(tmp / "pycache")
    return env


def write_project(root: Path) -> None:
    root.mkdir(parents=True)
    (root / "pyproject.toml").write_text(
        '[project]\nname = "bench-startup"\nversion = "0"\n\n[tool.pytest.ini_options]\n'
        'testpaths = ["tests"]\n',
        encoding="utf-8",
    )
    (root / "tests").mkdir()
    (root / "tests" / "test_one.py").write_text(
        'def test_one():\n    assert "x" in "xyz"\n', encoding="utf-8"
    )


def run(python: str, root: Path, env: dict[str, str], extra: Sequence[str]) -> float:
    cmd = [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", *extra]
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return elapsed


def compare(
    python: str,
    root: Path,
    env: dict[str, str],
    variants: dict[str, list[str]],
    runs: int,
    warmup: int,
) -> dict[str, list[float]]:
    """Interleaved runs of each variant; the first ``warmup`` rounds are discarded."""
    times: dict[str, list[float]] = {name: [] for name in variants}
    for r in range(warmup + runs):
        for name, extra in variants.items():
            t = run(python, root, env, extra)
            if r >= warmup:
                times[name].append(t)
    return times


def modules_after_run(
    python: str, root: Path, env: dict[str, str], extra: Sequence[str]
) -> set[str]:
    out = root / "modules.json"
    env = {**env, "BENCH_MODULES_OUT": str(out), "PYTHONPATH": str(root / "probe")}
    run(python, root, env, ["-p", "bench_modules_probe", *extra])
    return set(json.loads(out.read_text(encoding="utf-8")))


def importtime(python: str, env: dict[str, str]) -> tuple[list[tuple[str, int, int]], set[str]]:
    """``-X importtime`` of the plugin after ``import pytest``: (module, self us, cumulative us)
    for what the plugin import adds, and the top-level packages it pulls in."""
    code = "import pytest, sys; before = set(sys.modules); import pytest_ragft.plugin"
    cmd = [python, "-X", "importtime", "-c", code + "; print(sorted(set(sys.modules) - before))"]
    for _ in range(2):  # the first run may fill the bytecode cache; the second is timed
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    added = set(json.loads(done.stdout.strip().replace("'", '"')))
    rows: list[tuple[str, int, int]] = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        parts = [p.strip() for p in line.split(":", 1)[1].split("|")]
        if len(parts) != 3 or not parts[0].isdigit():
            continue
        name = parts[2].strip()
        if name in added:
            rows.append((name, int(parts[0]), int(parts[1])))
    return rows, added


def has_module(python: str, env: dict[str, str], name: str) -> bool:
    code = f"import importlib.util, sys; sys.exit(importlib.util.find_spec({name!r}) is None)"
    return subprocess.run([python, "-c", code], env=env, check=False).returncode == 0


def stats_row(name: str, values: list[float], base: list[float]) -> list[str]:
    med, base_med = statistics.median(values), statistics.median(base)
    return [
        name,
        f"{med * 1e3:.0f}",
        f"{min(values) * 1e3:.0f}",
        f"{(med - base_med) * 1e3:+.0f}",
        f"{med / base_med:.3f}x",
    ]


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="timed runs per variant (15)")
    parser.add_argument("--warmup", type=int, default=2, help="discarded rounds first (2)")
    parser.add_argument(
        "--python", default=sys.executable, help="interpreter of the venv under test"
    )
    parser.add_argument(
        "--keep-env",
        action="store_true",
        help="keep the inherited environment (e.g. PYTHONDONTWRITEBYTECODE) instead of giving "
        "the runs a bytecode cache",
    )
    args = parser.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="ragft-bench-startup-"))
    try:
        env = bench_env(tmp, args.keep_env)
        root = tmp / "project"
        write_project(root)
        (root / "probe").mkdir()
        (root / "probe" / "bench_modules_probe.py").write_text(MODULES_PLUGIN, encoding="utf-8")
        py = args.python
        version = subprocess.run(
            [py, "-c", "import platform; print(platform.python_version())"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        out = [
            f"## bench_startup (Python {version} on {platform.system()} {platform.machine()}, "
            f"nproc {len(os.sched_getaffinity(0))}; {args.runs} interleaved runs each, "
            f"after {args.warmup} warm-up rounds"
            f"{'; bytecode cache on' if not args.keep_env else ''})"
        ]

        print("  pytest runs with and without the plugin...", file=sys.stderr, flush=True)
        variants = {"plugin enabled": [], "-p no:ragft": ["-p", "no:ragft"]}
        times = compare(py, root, env, variants, args.runs, args.warmup)
        base = times["-p no:ragft"]
        out.append(
            "### `python -m pytest -q`, one trivial test, no [tool.ragft]\n\n"
            + table(
                ["variant", "median ms", "min ms", "vs no:ragft ms", "ratio"],
                [stats_row(name, values, base) for name, values in times.items()],
            )
        )

        with_plugin = modules_after_run(py, root, env, [])
        without = modules_after_run(py, root, env, ["-p", "no:ragft"])
        extra_mods = sorted(with_plugin - without)
        heavy_in_run = sorted(m for m in with_plugin if m.split(".")[0] in HEAVY)
        rows, added = importtime(py, env)
        heavy_in_import = sorted(m for m in added if m.split(".")[0] in HEAVY)
        top = sorted({m.split(".")[0] for m in added})
        total = next((cum for name, _, cum in rows if name == "pytest_ragft.plugin"), None)
        rows.sort(key=lambda r: -r[1])
        out.append(
            "### What the plugin imports\n\n"
            f"- Modules in `sys.modules` after the run above that `-p no:ragft` does not have "
            f"({len(extra_mods)}): {', '.join(f'`{m}`' for m in extra_mods) or 'none'}.\n"
            f"- `import pytest_ragft.plugin` after `import pytest`: "
            f"{'-' if total is None else f'{total / 1e3:.1f} ms'} cumulative "
            f"(`-X importtime`), {len(added)} new modules from the packages "
            f"{', '.join(f'`{t}`' for t in top)}.\n"
            f"- Heavy dependencies ({', '.join(HEAVY)}) imported: "
            f"{', '.join(heavy_in_run + heavy_in_import) or 'none'} "
            f"({'FAIL' if heavy_in_run or heavy_in_import else 'OK'}).\n\n"
            + table(
                ["module", "self ms", "cumulative ms"],
                [[n, f"{s / 1e3:.2f}", f"{c / 1e3:.2f}"] for n, s, c in rows[:12]],
            )
        )

        if has_module(py, env, "deepeval"):
            print("  pytest runs with and without deepeval's plugin...", file=sys.stderr)
            dv = {
                "deepeval plugin loaded": [],
                "-p no:deepeval": ["-p", "no:deepeval"],
            }
            dtimes = compare(py, root, env, dv, args.runs, args.warmup)
            out.append(
                "### deepeval's own pytest plugin, same project\n\n"
                + table(
                    ["variant", "median ms", "min ms", "vs no:deepeval ms", "ratio"],
                    [stats_row(n, v, dtimes["-p no:deepeval"]) for n, v in dtimes.items()],
                )
            )
        else:
            out.append(
                f"### deepeval\n\ndeepeval is not installed for {py}: its plugin's cost was not "
                "measured (run again with `--python` pointing at a venv that has it)."
            )
        print("\n\n".join(out))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
