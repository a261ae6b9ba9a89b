"""A bounded fuzz run of the case-file and settings parsers, with hypothesis at scale.

Each target gets ``--examples`` generated inputs (default 20,000) within ``--seconds`` (default
60 s each). A target passes when every input either loads or raises the parser's own error
(``CaseFileError``, ``pytest.UsageError``) and no input takes longer than ``--slow`` seconds:
anything else (another exception, a hang, a crash of the interpreter) is a finding, printed
with the input that caused it. Prints a Markdown table; exits 1 on any finding.

    python bench/fuzz_parsers.py
    python bench/fuzz_parsers.py --examples 100000 --seconds 300
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from pytest_ragft.casefiles import load_case_file
from pytest_ragft.cases import CaseFileError
from pytest_ragft.config import convert_text, env_variables, load_settings

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=30)
    | st.sampled_from(["knowledge", "behavior", "contains", "regex", "(a+)+$", "", "*", "&a"])
)
FIELDS = ["id", "kind", "input", "expect", "vars", "facts", "defaults", "cases"]
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), inner, max_size=6)
    ),
    max_leaves=30,
)
YAML_TOKENS = st.sampled_from(
    [
        "- ",
        ": ",
        "&a ",
        "*a ",
        "<<: ",
        "{",
        "}",
        "[",
        "]",
        "\n",
        "  ",
        "id",
        "kind",
        "cases",
        "expect",
        "contains",
        "'",
        '"',
        "!!python/object",
        "%YAML 1.1\n",
        "---\n",
        "? ",
        "|",
        ">",
    ]
)


def yaml_text() -> st.SearchStrategy[str]:
    """Texts near YAML: dumped values with aliases mixed in, and token soup."""
    dumped = VALUES.map(lambda v: yaml.safe_dump(v, default_flow_style=None))
    soup = st.lists(YAML_TOKENS | st.text(max_size=5), max_size=40).map("".join)
    return dumped | soup | st.text(max_size=200)


def json_text() -> st.SearchStrategy[str]:
    return VALUES.map(lambda v: json.dumps(v)) | st.text(max_size=200)


def settings_input() -> st.SearchStrategy[tuple[dict[str, Any], dict[str, str]]]:
    table = st.dictionaries(
        st.sampled_from(sorted({p[0] for p in env_variables().values()})), VALUES, max_size=6
    )
    env = st.dictionaries(
        st.sampled_from(sorted(env_variables())), st.text(max_size=30), max_size=4
    )
    return st.tuples(table, env)


class _OutOfTime(BaseException):
    """Ends a target's run at its time budget (hypothesis lets a BaseException through)."""


def run_target(name: str, strategy: Any, check: Callable[[Any], None], args: Any) -> dict[str, Any]:
    stats = {"target": name, "inputs": 0, "slowest_s": 0.0, "findings": []}
    deadline = time.monotonic() + args.seconds

    @settings(
        max_examples=args.examples,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        print_blob=False,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def fuzz(value: Any) -> None:
        if time.monotonic() > deadline:
            raise _OutOfTime
        stats["inputs"] += 1
        started = time.perf_counter()
        try:
            check(value)
        except Exception as exc:
            stats["findings"].append(f"{type(exc).__name__}: {exc} <- {value!r:.300}")
        took = time.perf_counter() - started
        stats["slowest_s"] = max(stats["slowest_s"], took)
        if took > args.slow:
            stats["findings"].append(f"took {took:.1f}s <- {value!r:.300}")

    started = time.monotonic()
    try:
        fuzz()
    except _OutOfTime:
        pass
    stats["seconds"] = time.monotonic() - started
    return stats


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=20_000, help="inputs per target")
    parser.add_argument("--seconds", type=float, default=60.0, help="time budget per target")
    parser.add_argument("--slow", type=float, default=5.0, help="one input slower is a finding")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="ragft-fuzz-"))

    def case_file(suffix: str) -> Callable[[str], None]:
        def check(text: str) -> None:
            path = folder / f"cases{suffix}"
            path.write_text(text, encoding="utf-8", errors="surrogatepass")
            try:
                load_case_file(path, folder)
            except CaseFileError:
                pass

        return check

    def settings_check(value: tuple[dict[str, Any], dict[str, str]]) -> None:
        table, env = value
        try:
            load_settings(folder, table, {}, env)
        except pytest.UsageError:
            pass

    def env_text(value: tuple[str, str]) -> None:
        name, text = value
        try:
            convert_text(text, {"type": name})
        except ValueError:
            pass

    targets = [
        ("case file .yaml", yaml_text(), case_file(".yaml")),
        ("case file .json", json_text(), case_file(".json")),
        ("case file .jsonl", st.lists(json_text(), max_size=5).map("\n".join), case_file(".jsonl")),
        ("settings (table + env)", settings_input(), settings_check),
        (
            "env value conversion",
            st.tuples(
                st.sampled_from(["integer", "number", "boolean", "array", "string"]),
                st.text(max_size=40),
            ),
            env_text,
        ),
    ]
    results = [run_target(name, strategy, check, args) for name, strategy, check in targets]
    print("| target | inputs | seconds | slowest input | findings |")
    print("|---|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r['target']} | {r['inputs']:,} | {r['seconds']:.0f} | "
            f"{r['slowest_s'] * 1000:.0f} ms | {len(r['findings'])} |"
        )
    findings = [f for r in results for f in r["findings"]]
    for finding in findings[:20]:
        print(f"- {finding}", file=sys.stderr)
    return 1 if findings else 0


if __name__ == "__main__":
    raise SystemExit(main())
