from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from collections import Counter
from typing import Any

import pytest
from conftest import case_yaml
from hypothesis import given
from hypothesis import strategies as st

from pytest_ragft.shard import (
    Shard,
    ShardMismatch,
    assign,
    check_shards,
    keep,
    parse_shard,
    split,
)

case_ids = st.lists(st.from_regex(r"[A-Za-z0-9_.:-]{1,30}", fullmatch=True), unique=True)


# -- parsing ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("1/1", Shard(1, 1), id="one-of-one"),
        pytest.param("2/4", Shard(2, 4), id="two-of-four"),
        pytest.param(" 3 / 3 ", Shard(3, 3), id="spaces"),
        pytest.param("10/12", Shard(10, 12), id="two-digits"),
    ],
)
def test_parse_shard_reads_k_of_n(text: str, expected: Shard) -> None:
    assert parse_shard(text) == expected
    assert str(expected) == f"{expected.index}/{expected.count}"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        pytest.param("2", "is not a shard", id="no-slash"),
        pytest.param("a/b", "is not a shard", id="words"),
        pytest.param("-1/4", "is not a shard", id="negative"),
        pytest.param("1/4/2", "is not a shard", id="three-parts"),
        pytest.param("", "is not a shard", id="empty"),
        pytest.param("0/4", "shard 0 does not exist among 4", id="zero-index"),
        pytest.param("5/4", "shard 5 does not exist among 4", id="index-past-count"),
        pytest.param("0/0", "must be at least 1", id="zero-count"),
    ],
)
def test_a_bad_shard_is_a_usage_error_saying_what_to_give(text: str, says: str) -> None:
    with pytest.raises(pytest.UsageError) as caught:
        parse_shard(text, source="RAGFT_SHARD")
    message = str(caught.value)
    assert says in message
    assert f"RAGFT_SHARD={text!r}" in message
    if "is not a shard" in says or "does not exist" in says:
        assert "K/N" in message and "--ragft-shard=2/4" in message


@given(st.integers(1, 50), st.integers(0, 50))
def test_parse_shard_round_trips(count: int, offset: int) -> None:
    index = 1 + offset % count
    assert parse_shard(str(Shard(index, count))) == Shard(index, count)


# -- selection --------------------------------------------------------------------------------


def _shards_of(keys: list[str | None], count: int, costs: list[int] | None = None) -> list[int]:
    """For each item, the one shard that keeps it (fails if none or several do)."""
    flags = [keep(keys, Shard(k, count), costs) for k in range(1, count + 1)]
    owners = []
    for n in range(len(keys)):
        holding = [k + 1 for k in range(count) if flags[k][n]]
        assert len(holding) == 1, (keys[n], holding)
        owners.append(holding[0])
    return owners


@given(case_ids, st.integers(1, 9))
def test_every_case_is_in_exactly_one_shard_and_shards_are_balanced(
    ids: list[str], count: int
) -> None:
    owners = _shards_of(list(ids), count)
    sizes = Counter(owners)
    loads = [sizes.get(k, 0) for k in range(1, count + 1)]
    assert sum(loads) == len(ids)
    assert max(loads) - min(loads) <= 1


@given(case_ids, st.integers(1, 6), st.randoms(use_true_random=False))
def test_the_split_does_not_depend_on_collection_order(
    ids: list[str], count: int, rng: random.Random
) -> None:
    owner = dict(zip(ids, _shards_of(list(ids), count), strict=True))
    shuffled = list(ids)
    rng.shuffle(shuffled)
    assert dict(zip(shuffled, _shards_of(list(shuffled), count), strict=True)) == owner


@given(
    st.lists(st.tuples(st.sampled_from("abcdefgh"), st.integers(1, 5)), min_size=1),
    st.integers(1, 4),
)
def test_repeats_of_a_case_stay_together_and_costs_balance(
    entries: list[tuple[str, int]], count: int
) -> None:
    keys: list[str | None] = [k for k, _ in entries]
    costs = [c for _, c in entries]
    owners = _shards_of(keys, count, costs)
    by_case: dict[str | None, set[int]] = {}
    for key, owner in zip(keys, owners, strict=True):
        by_case.setdefault(key, set()).add(owner)
    assert all(len(shards) == 1 for shards in by_case.values())
    totals: Counter[str] = Counter()
    for key, cost in entries:
        totals[key] += cost
    loads = Counter[int]()
    for key, total in totals.items():
        loads[next(iter(by_case[key]))] += total
    spread = [loads.get(k, 0) for k in range(1, count + 1)]
    assert max(spread) - min(spread) <= max(totals.values())


def test_tests_that_are_not_eval_cases_run_in_shard_one_only() -> None:
    keys: list[str | None] = [None, "a", None, "b", "c", None]
    assert [n for n, flag in enumerate(keep(keys, Shard(1, 3))) if flag and keys[n] is None] == [
        0,
        2,
        5,
    ]
    for index in (2, 3):
        assert not any(
            f for f, k in zip(keep(keys, Shard(index, 3)), keys, strict=True) if k is None
        )


def test_one_shard_keeps_everything() -> None:
    keys: list[str | None] = ["x", None, "y", "x"]
    assert keep(keys, Shard(1, 1)) == [True, True, True, True]


def test_split_keeps_collection_order_and_returns_the_rest() -> None:
    items = [("t1", None), ("c1", "case-1"), ("c2", "case-2"), ("c1r2", "case-1"), ("t2", None)]
    kept, dropped = split(items, Shard(1, 2), lambda item: (item[1], 1))
    again, _ = split(items, Shard(2, 2), lambda item: (item[1], 1))
    assert sorted(kept + dropped) == sorted(items)
    assert kept == [i for i in items if i in kept]
    assert {i[1] for i in kept} & {i[1] for i in again} == set()
    assert ("t1", None) in kept and ("t2", None) in kept


def test_costs_must_match_keys() -> None:
    with pytest.raises(ValueError, match="2 keys but 1 costs"):
        keep(["a", "b"], Shard(1, 2), [1])
    with pytest.raises(ValueError, match="at least 1"):
        assign({"a": 1}, 0)


_PROBE = (
    "import json, sys; from pytest_ragft.shard import assign; "
    "print(json.dumps(assign({f'case-{i}': 1 + i % 3 for i in range(200)}, 4)))"
)


def test_the_split_is_the_same_in_every_process() -> None:
    """Python's ``hash()`` is salted per process: the split must not use it."""
    outputs = []
    for seed in ("0", "1", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, check=True
        )
        outputs.append(json.loads(done.stdout))
    assert outputs[0] == outputs[1] == outputs[2]
    assert outputs[0] == assign({f"case-{i}": 1 + i % 3 for i in range(200)}, 4)


# -- merge checks -----------------------------------------------------------------------------


def _report(
    *ids: str, suite: str = "bot", config: str = "cfg1", shard: tuple[int, int] | None = None
) -> dict[str, Any]:
    report: dict[str, Any] = {
        "suite": suite,
        "config_hash": config,
        "cases": [{"id": i, "nodeid": f"evals/x.yaml::{i}"} for i in ids],
    }
    if shard is not None:
        report["shard"] = Shard(*shard).to_dict()
    return report


def test_disjoint_shards_of_one_suite_and_config_merge() -> None:
    check_shards(
        [("a.json", _report("c1", shard=(1, 2))), ("b.json", _report("c2", shard=(2, 2)))],
        config_hash="cfg1",
    )
    check_shards([("a.json", _report("c1")), ("b.json", _report("c2"))])


@pytest.mark.parametrize(
    ("named", "says"),
    [
        pytest.param([], "no reports to merge", id="none"),
        pytest.param(
            [("a.json", _report("c1")), ("b.json", _report("c2", suite="other"))],
            "different suites ('bot' in a.json; 'other' in b.json)",
            id="suites",
        ),
        pytest.param(
            [("a.json", _report("c1")), ("b.json", _report("c2", config="cfg2"))],
            "different configurations (config_hash 'cfg1' in a.json; 'cfg2' in b.json)",
            id="config-hashes",
        ),
        pytest.param(
            [("a.json", _report("c1", "c2")), ("b.json", _report("c2", "c3"))],
            "case 'c2' is in both a.json and b.json: the shards overlap",
            id="overlap",
        ),
        pytest.param(
            [("a.json", _report("c1", shard=(1, 2))), ("b.json", _report("c2", shard=(1, 2)))],
            "a.json and b.json are both shard 1/2",
            id="same-shard-twice",
        ),
        pytest.param(
            [("a.json", _report("c1", shard=(1, 2))), ("b.json", _report("c2", shard=(2, 3)))],
            "different shardings (a.json: shard 1/2, b.json: shard 2/3)",
            id="different-n",
        ),
    ],
)
def test_reports_that_are_not_one_run_are_refused(
    named: list[tuple[str, dict[str, Any]]], says: str
) -> None:
    with pytest.raises(ShardMismatch) as caught:
        check_shards(named)
    assert says in str(caught.value)


def test_the_merging_configuration_must_be_the_shards_one() -> None:
    with pytest.raises(ShardMismatch, match="config_hash 'cfg1' but the configuration merging"):
        check_shards([("a.json", _report("c1"))], config_hash="cfg9")


# -- with real pytest items -------------------------------------------------------------------

PY_CASES = """
import pytest


@pytest.mark.ragft(kind="behavior", repeats=3)
def test_repeated(ragft):
    assert ragft.ask("ok").answer == "ok"


def test_plain_one():
    pass


def test_plain_two():
    pass
"""


def test_items_split_over_shards_as_the_rules_say(
    project: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.configure()
    project.pipeline()
    project.cases("many", [case_yaml(f"c{i}", "knowledge", "ok") for i in range(11)])
    project.pytester.makepyfile(test_sharded_python_cases=PY_CASES)
    seen: list[set[str]] = []
    for k in (1, 2, 3):
        monkeypatch.setenv("RAGFT_SHARD", f"{k}/3")
        result = project.run("--collect-only", "-q")
        seen.append({line for line in result.outlines if "::" in line})
    everything = set().union(*seen)
    assert len(everything) == 11 + 3 + 2 == sum(len(s) for s in seen)
    repeated = [n for n, ids in enumerate(seen) if any("test_repeated" in i for i in ids)]
    assert len(repeated) == 1
    assert sum("test_repeated" in i for i in seen[repeated[0]]) == 3
    assert {i for i in everything if "plain" in i} <= seen[0]
    file_cases = [sum("many.yaml" in i for i in ids) for ids in seen]
    cost = [n + (3 if k == repeated[0] else 0) for k, n in enumerate(file_cases)]
    assert max(cost) - min(cost) <= 3
