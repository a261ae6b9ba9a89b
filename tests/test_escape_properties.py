"""Escaping as properties, over any text a model may return: the neutralising steps are
idempotent, and what the escapers give can neither open a tag or comment, nor forge the
report's marker, nor ping anyone, nor lose the text it stands for."""

from __future__ import annotations

import html
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_ragft.report.escape import (
    ZWJ,
    escape_html,
    escape_md,
    neutralise_refs,
    strip_control,
)
from pytest_ragft.report.markdown import MARKER_PREFIX

# Text a hostile answer would use, mixed with anything at all.
_PIECES = st.sampled_from(
    [
        "@octocat",
        "#12",
        "GH-3",
        "<!--",
        "-->",
        "<b>",
        "</details>",
        MARKER_PREFIX,
        "&amp;",
        "`",
        "*",
        "_",
        "[x](javascript:alert(1))",
        "\u202e",
        "\x1b[2J",
        "\n",
        "|",
        "\\",
    ]
)
TEXT = st.lists(st.one_of(_PIECES, st.text(max_size=8)), max_size=12).map("".join)

_ACTIVE_MENTION = re.compile(r"(?<![\w`])@(?!\u200d)[A-Za-z0-9]")


@settings(max_examples=300)
@given(TEXT)
def test_neutralising_is_idempotent(text: str) -> None:
    once = neutralise_refs(strip_control(text))
    assert neutralise_refs(strip_control(once)) == once


@settings(max_examples=300)
@given(TEXT)
def test_html_escaping_leaves_no_markup_and_keeps_the_text(text: str) -> None:
    escaped = escape_html(text)
    assert "<" not in escaped and ">" not in escaped
    assert MARKER_PREFIX not in escaped
    assert not _ACTIVE_MENTION.search(escaped)
    # Read back, it is the text itself, only with controls dropped and pings broken.
    assert html.unescape(escaped).replace(ZWJ, "") == strip_control(text).replace(ZWJ, "")


@settings(max_examples=300)
@given(TEXT)
def test_markdown_escaping_cannot_open_a_tag_forge_the_marker_or_ping(text: str) -> None:
    escaped = escape_md(text, block_start=True)
    assert "\n" not in escaped
    assert MARKER_PREFIX not in escaped and "<!--" not in escaped
    assert not re.search(r"<[A-Za-z/!?]", escaped)
    assert not _ACTIVE_MENTION.search(escaped)
