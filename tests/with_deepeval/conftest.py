"""Fixtures of the deepeval tests: a guard that fails any network connection. The folder needs
deepeval installed and is skipped without it, so the main environment never pays for
deepeval's import or its pytest plugin.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator

import pytest
from netguard import NetworkGuard, install

if importlib.util.find_spec("deepeval") is None:
    collect_ignore_glob = ["test_*.py"]


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[NetworkGuard]:
    """Any connection (socket connect, create_connection, DNS look-up) is recorded and fails."""
    guard = NetworkGuard()
    install(guard, monkeypatch.setattr)
    yield guard
