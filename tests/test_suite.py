"""The suite-level rules that do not depend on pytest."""

from __future__ import annotations

import pytest

from pytest_ragft.suite import nothing_evaluated


@pytest.mark.parametrize(
    ("outcomes", "blocked"),
    [
        pytest.param(["skipped", "skipped"], True, id="all-skipped"),
        pytest.param(["skipped"], True, id="one-skipped"),
        pytest.param(["skipped", "passed"], False, id="one-ran"),
        pytest.param(["error"], False, id="an-error-was-measured"),
        pytest.param(["failed", "skipped"], False, id="a-failure"),
        pytest.param([], False, id="no-eval-cases"),
    ],
)
def test_nothing_evaluated(outcomes: list[str], blocked: bool) -> None:
    reason = nothing_evaluated(outcomes)
    assert (reason is not None) == blocked
    if reason is not None:
        assert f"all {len(outcomes)} eval case(s) were skipped" in reason
        assert "remove the skip" in reason
