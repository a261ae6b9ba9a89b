"""Untrusted text (model answers, inputs, case ids, check messages) made safe to embed.

Model outputs end up in a PR comment read by people and parsed by ragft itself, so they must not
format, ping, link, forge the report marker or close the HTML the report wraps them in.
"""

from __future__ import annotations

import html
import re

# C0/C1 controls (but tab and newline), zero-width and bidi-override characters: invisible text
# can hide content from a reviewer or smuggle terminal escape sequences.
_CONTROL = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]"
)
ZWJ = "\u200d"
# GitHub links @user, @org/team, #123, GH-123: a zero-width joiner after the sigil breaks the link.
_MENTION = re.compile(r"@(?=[A-Za-z0-9])")
_REF = re.compile(r"(#|\bGH-)(?=[0-9])", re.IGNORECASE)
# Characters that format inline Markdown wherever they stand.
_MD_ALWAYS = set("\\`*[]|~")
_ELLIPSIS = "…"


def strip_control(text: str, *, newlines: bool = True) -> str:
    """Drop invisible and control characters; newlines kept (as ``\\n``) or turned into spaces."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    text = _CONTROL.sub("", text)
    if not newlines:
        text = text.replace("\n", " ")
    return text


def truncate(text: str, limit: int) -> str:
    """At most ``limit`` characters, the cut marked with an ellipsis."""
    if limit <= 0:
        return ""
    if len(text) <= limit:
        return text
    return text[: limit - 1] + _ELLIPSIS


def neutralise_refs(text: str) -> str:
    """Break @mentions and issue references so a model output cannot ping people or link issues."""
    return _REF.sub(lambda m: m.group(1) + ZWJ, _MENTION.sub("@" + ZWJ, text))


def escape_html(text: str, *, limit: int | None = None, max_lines: int | None = None) -> str:
    """Text for an HTML context (``<pre>``, ``<summary>``): no tags, comments, entities or pings.

    Markdown does not act inside an HTML block, so HTML escaping is what keeps it inert there.
    """
    text = strip_control(text)
    if max_lines is not None:
        lines = text.split("\n")
        if len(lines) > max_lines:
            text = "\n".join(lines[:max_lines]) + "\n" + _ELLIPSIS
    if limit is not None:
        text = truncate(text, limit)
    return neutralise_refs(html.escape(text, quote=True))


def escape_md(text: str, *, limit: int | None = None, block_start: bool = False) -> str:
    """One line of inline Markdown (a table cell, a list item) that renders as the literal text.

    ``block_start``: the text opens a line or a list item, where ``#``, ``-``, ``+``, ``=`` and
    ``1.`` would start a heading or a list.
    """
    text = strip_control(text, newlines=False)
    if limit is not None:
        text = truncate(text, limit)
    out: list[str] = []
    for i, ch in enumerate(text):
        after = text[i + 1] if i + 1 < len(text) else " "
        if ch == "&":
            # Only an entity-like ampersand can act; "Q&A" stays readable in a terminal.
            out.append("&amp;" if after.isalnum() or after == "#" else "&")
        elif ch == "<":
            # Only "<" before a letter, "/", "!" or "?" can open a tag or a comment.
            out.append("&lt;" if after.isalpha() or after in "/!?" else "<")
        elif ch == ">":
            out.append("&gt;")
        elif ch in _MD_ALWAYS:
            out.append("\\" + ch)
        elif ch == "_":
            # Intraword underscores never emphasise; escaping them would only add noise to ids.
            before = text[i - 1] if i > 0 else " "
            out.append("_" if before.isalnum() and after.isalnum() else "\\_")
        else:
            out.append(ch)
    result = neutralise_refs("".join(out))
    if block_start:
        if re.match(r"[#+=-]", result):
            result = "\\" + result
        result = re.sub(r"^(\d+)([.)])", r"\1\\\2", result)
    return result


def escape_terminal(text: str, *, limit: int | None = None) -> str:
    """One line for a terminal: no escape sequences or control characters."""
    text = strip_control(text, newlines=False)
    return truncate(text, limit) if limit is not None else text
