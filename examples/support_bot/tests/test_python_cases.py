"""Eval cases written in Python, for checks that a YAML case cannot express.

The ``ragft`` marker makes a test an eval case of its kind; the ``ragft`` fixture calls the
pipeline configured in pyproject.toml and keeps the result for the diagnosis.
"""

from __future__ import annotations

import json

import pytest


@pytest.mark.ragft(kind="behavior", facts=["30 days"], tags=["json", "refunds"])
def test_refund_answer_is_json(ragft) -> None:
    result = ragft.ask("How long do I have to return an item?", format="json")
    assert json.loads(result.answer)["answer"]


@pytest.mark.ragft(kind="knowledge", facts=["never expire"], tags=["gift-cards"])
def test_gift_cards_never_expire(ragft) -> None:
    result = ragft.ask("Do gift cards expire?")
    assert "never expire" in result.answer.lower()
    assert result.sources[0].startswith("gift-cards#")
