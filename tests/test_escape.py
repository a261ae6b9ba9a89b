"""Untrusted text made safe for Markdown, HTML and the terminal."""

from __future__ import annotations

import pytest

from pytest_ragft.report.escape import ZWJ, escape_html, escape_md, escape_terminal, strip_control


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("refund_window-2", "refund_window-2", id="intraword-underscore"),
        pytest.param("_em_ *b* ~s~", "\\_em\\_ \\*b\\* \\~s\\~", id="emphasis"),
        pytest.param("a | b", "a \\| b", id="pipe"),
        pytest.param("`x`", "\\`x\\`", id="backtick"),
        pytest.param("[a](b)", "\\[a\\](b)", id="link"),
        pytest.param("<b>x</b> 3 < 4", "&lt;b&gt;x&lt;/b&gt; 3 < 4", id="tags"),
        pytest.param("<!-- c -->", "&lt;!-- c --&gt;", id="comment"),
        pytest.param("Q&A &amp;", "Q&amp;A &amp;amp;", id="ampersand"),
        pytest.param("@user #12", f"@{ZWJ}user #{ZWJ}12", id="pings"),
        pytest.param("line\none\r\ntwo", "line one two", id="newlines"),
        pytest.param("a\x1b[0mb\x00\u202e", "a\\[0mb", id="controls"),
    ],
)
def test_escape_md(text: str, expected: str) -> None:
    assert escape_md(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("# h", "\\# h", id="heading"),
        pytest.param("- x", "\\- x", id="bullet"),
        pytest.param("+ x", "\\+ x", id="plus"),
        pytest.param("12. x", "12\\. x", id="ordered"),
        pytest.param("3) x", "3\\) x", id="ordered-paren"),
        pytest.param("plain", "plain", id="plain"),
    ],
)
def test_escape_md_at_block_start(text: str, expected: str) -> None:
    assert escape_md(text, block_start=True) == expected


def test_escape_html_keeps_lines_and_caps() -> None:
    text = "\n".join(f"line {i} <x> @me" for i in range(30))
    out = escape_html(text, limit=200, max_lines=5)
    assert out.count("\n") == 5 and len(out) <= 250
    assert "<" not in out and f"@{ZWJ}me" in out


def test_escape_md_limit_cuts_before_escaping() -> None:
    assert escape_md("a" * 10 + "<b>", limit=5) == "aaaa…"
    assert strip_control("a\tb") == "a b"


@pytest.mark.parametrize(
    ("text", "newlines", "expected"),
    [
        pytest.param("a\x1b[31mb\x07", True, "a[31mb", id="escape-and-bell"),
        pytest.param("a\u202eb\u200bc\ufeff", True, "abc", id="bidi-and-zero-width"),
        pytest.param("a\r\nb\rc", True, "a\nb\nc", id="newlines-kept"),
        pytest.param("a\nb", False, "a b", id="newlines-flattened"),
    ],
)
def test_strip_control(text: str, newlines: bool, expected: str) -> None:
    assert strip_control(text, newlines=newlines) == expected


def test_escape_terminal_is_one_clean_line() -> None:
    assert escape_terminal("a\x1b[2J\nb" + "c" * 10, limit=6) == "a[2J …"
