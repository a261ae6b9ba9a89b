"""The plugin's state in a process: one object under one ``config.stash`` key, and one under
each eval item's stash.

Every module reads and writes state here, so no module reaches into another's keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pytest_ragft.config import CaseSource, Settings
    from pytest_ragft.model import Case
    from pytest_ragft.pycases import Ragft
    from pytest_ragft.runner import Runner
    from pytest_ragft.session import RagftSession
    from pytest_ragft.shard import Shard
    from pytest_ragft.worker import Window


@dataclass
class RagftState:
    """What the plugin keeps for a configured pytest process (controller or xdist worker)."""

    settings: Settings
    sources: dict[Path, CaseSource] = field(default_factory=dict)
    session: RagftSession | None = None  # the controller's, never a worker's
    runner: Runner | None = None  # built on first use, resolving the pipeline then
    checks: dict[str, Any] | None = None  # built-in checks plus the hook's, computed once
    seen_ids: dict[str, tuple[str, int]] = field(default_factory=dict)  # id -> (file, line)
    shard: Shard | None = None  # this job's shard of the eval cases (--ragft-shard)
    window: Window | None = None  # the calls issued ahead of the tests that run next
    # The collector's thresholds found and those set for the run (full collections spaced).
    gc_thresholds: tuple[tuple[int, ...], tuple[int, ...]] | None = None


@dataclass
class ItemState:
    """What the plugin keeps for one ``@pytest.mark.ragft`` test."""

    case: Case | None = None
    marker_error: str | None = None
    fixture: Ragft | None = None


state_key: pytest.StashKey[RagftState] = pytest.StashKey()
item_key: pytest.StashKey[ItemState] = pytest.StashKey()


def get_state(config: pytest.Config) -> RagftState | None:
    """The plugin's state, or None when the plugin is inert in this run."""
    return config.stash.get(state_key, None)


def item_state(item: pytest.Item) -> ItemState:
    """The item's state, made on first use."""
    found = item.stash.get(item_key, None)
    if found is None:
        found = item.stash[item_key] = ItemState()
    return found
