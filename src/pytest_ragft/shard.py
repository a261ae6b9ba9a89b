"""Sharded CI jobs: which eval cases ``--ragft-shard=K/N`` keeps, and whether the JSON reports
of the shards may be merged into one run.

Pure functions over case ids and report dicts: no pytest items, files or network, so the
selection is tested directly and ``ragft merge`` can use the checks without a session.

Selection rules:

- the unit is the case id: every repeat of a Python case (``test_x[r1]``, ``test_x[r2]``...)
  carries the same id, so they land in the same shard;
- the assignment depends only on the set of (case id, cost) pairs, never on collection order,
  ``PYTHONHASHSEED`` or the machine: every job of a matrix collects the same suite and so
  computes the same split, and each case is in exactly one shard;
- shards are balanced by cost (a case's pipeline calls: its repeats), largest first onto the
  least loaded shard, so the most and least loaded shards differ by at most one case's cost;
- tests that are not eval cases run in shard 1 only: they run once across the matrix, as in an
  unsharded run, and their failures are counted once when the shards are merged.
"""

from __future__ import annotations

import hashlib
import heapq
import re
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest

T = TypeVar("T")

_SPEC = re.compile(r"\s*(\d+)\s*/\s*(\d+)\s*")
_USAGE = "give it as K/N with 1 <= K <= N, e.g. --ragft-shard=2/4 for the second of four jobs"


@dataclass(frozen=True, order=True)
class Shard:
    """Shard ``index`` (1-based) of ``count``."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def to_dict(self) -> dict[str, int]:
        """How a JSON report records the shard it ran (``{"index": K, "count": N}``)."""
        return {"index": self.index, "count": self.count}


def parse_shard(text: str, source: str = "--ragft-shard") -> Shard:
    """``"K/N"`` as a ``Shard``; anything else is a ``pytest.UsageError`` naming ``source``."""
    match = _SPEC.fullmatch(text)
    if match is None:
        raise pytest.UsageError(f"{source}={text!r} is not a shard: {_USAGE}")
    index, count = int(match[1]), int(match[2])
    if count < 1:
        raise pytest.UsageError(f"{source}={text!r}: the number of shards must be at least 1")
    if not 1 <= index <= count:
        raise pytest.UsageError(
            f"{source}={text!r}: shard {index} does not exist among {count} "
            f"(shards are numbered 1 to {count}); {_USAGE}"
        )
    return Shard(index, count)


def _rank(key: str) -> bytes:
    """A digest of the case id: the same in every process and on every machine (``hash()`` is
    salted per process)."""
    return hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest()


def assign(costs: Mapping[str, int], count: int) -> dict[str, int]:
    """The shard (1-based) of each case id, from each case's cost (its pipeline calls).

    Cases are taken most costly first (ties broken by a digest of the id, so the order the
    mapping was built in does not matter) and each goes to the least loaded shard, the lower
    number on a tie.
    """
    if count < 1:
        raise ValueError(f"the number of shards must be at least 1, got {count}")
    loads = [(0, index) for index in range(1, count + 1)]
    placed: dict[str, int] = {}
    for key in sorted(costs, key=lambda k: (-max(costs[k], 1), _rank(k), k)):
        load, index = heapq.heappop(loads)
        placed[key] = index
        heapq.heappush(loads, (load + max(costs[key], 1), index))
    return placed


def keep(
    keys: Sequence[str | None], shard: Shard, costs: Sequence[int] | None = None
) -> list[bool]:
    """Which of the collected items shard ``shard`` runs, in the items' order.

    ``keys[i]`` is item i's case id (None for a test that is not an eval case), ``costs[i]`` its
    pipeline calls (default 1); the items of one case id add their costs up and stay together.
    """
    if costs is not None and len(costs) != len(keys):
        raise ValueError(f"{len(keys)} keys but {len(costs)} costs")
    totals: dict[str, int] = {}
    for n, key in enumerate(keys):
        if key is not None:
            totals[key] = totals.get(key, 0) + (costs[n] if costs is not None else 1)
    placed = assign(totals, shard.count)
    return [shard.index == 1 if key is None else placed[key] == shard.index for key in keys]


def split(
    items: Sequence[T], shard: Shard, key_of: Callable[[T], tuple[str | None, int]]
) -> tuple[list[T], list[T]]:
    """``items`` as (kept, deselected) for ``shard``; ``key_of(item)`` gives its case id (None:
    not an eval case) and its cost. Kept items stay in their collection order."""
    keyed = [key_of(item) for item in items]
    flags = keep([k for k, _ in keyed], shard, [c for _, c in keyed])
    kept = [item for item, flag in zip(items, flags, strict=True) if flag]
    dropped = [item for item, flag in zip(items, flags, strict=True) if not flag]
    return kept, dropped


# -- merging the shards' reports ----------------------------------------------------------------


class ShardMismatch(ValueError):
    """The reports cannot be one run: the message says which reports and what to do."""


def _groups(
    named: Sequence[tuple[str, Mapping[str, Any]]], field: str
) -> dict[Hashable, list[str]]:
    found: dict[Hashable, list[str]] = {}
    for name, report in named:
        found.setdefault(report.get(field), []).append(name)
    return found


def _listing(groups: Mapping[Hashable, list[str]]) -> str:
    return "; ".join(f"{value!r} in {', '.join(names)}" for value, names in groups.items())


def _check_shard_fields(named: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
    """Reports that name their shard: one count, each index once."""
    shards: dict[str, Shard] = {}
    for name, report in named:
        found = report.get("shard")
        if isinstance(found, Mapping):
            shards[name] = Shard(int(found["index"]), int(found["count"]))
    if len({s.count for s in shards.values()}) > 1:
        raise ShardMismatch(
            "the reports come from different shardings ("
            + ", ".join(f"{name}: shard {s}" for name, s in shards.items())
            + "): merge the reports of one matrix, all run with the same N in --ragft-shard=K/N"
        )
    by_index: dict[int, str] = {}
    for name, shard in shards.items():
        if shard.index in by_index:
            raise ShardMismatch(
                f"{by_index[shard.index]} and {name} are both shard {shard}: "
                "each shard's report may be merged once (a re-run job leaves two: keep one)"
            )
        by_index[shard.index] = name


def check_shards(
    named: Sequence[tuple[str, Mapping[str, Any]]], *, config_hash: str | None = None
) -> None:
    """Refuse reports that cannot be merged into one run, naming the reports and the fix.

    ``named`` pairs each report with how to call it (its file name). The reports must be of one
    suite and one configuration (``config_hash``, also equal to the merging configuration's when
    given), must not share a case, and, where they record their shard, must be distinct shards
    of one N.
    """
    if not named:
        raise ShardMismatch("no reports to merge: give the JSON report of every shard")
    suites = _groups(named, "suite")
    if len(suites) > 1:
        raise ShardMismatch(
            f"the reports are of different suites ({_listing(suites)}): merge the shards of "
            "one suite at a time"
        )
    hashes = _groups(named, "config_hash")
    if len(hashes) > 1:
        raise ShardMismatch(
            f"the reports were run with different configurations (config_hash {_listing(hashes)}):"
            " every shard must run the same [tool.ragft] settings, pipeline and options; "
            "re-run the odd ones out"
        )
    found = next(iter(hashes))
    if config_hash is not None and found is not None and found != config_hash:
        raise ShardMismatch(
            f"the reports were run with config_hash {found!r} but the configuration merging them "
            f"has {config_hash!r}: run `ragft merge` in the same checkout and with the same "
            "RAGFT_* variables as the shards"
        )
    _check_shard_fields(named)
    owner: dict[str, str] = {}
    for name, report in named:
        for case in report.get("cases") or []:
            key = str(case.get("id"))
            if key in owner:
                raise ShardMismatch(
                    f"case {key!r} is in both {owner[key]} and {name}: the shards overlap; "
                    "give each shard's report once, all from one --ragft-shard=K/N matrix"
                )
            owner[key] = name
