from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_ragft.matching import (
    contains_fact,
    contains_text,
    locate_fact,
    normalize,
    normalize_loose,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("Hello World", "hello world", id="case"),
        pytest.param("  a \t\n b  ", "a b", id="whitespace"),
        pytest.param("a\u00a0\u2003b", "a b", id="unicode-spaces"),
        pytest.param("STRASSE Straße", "strasse strasse", id="casefold-sharp-s"),
        pytest.param("caf\u0065\u0301", "caf\u00e9", id="nfc"),
        pytest.param("30 days.", "30 days.", id="punctuation-kept"),
        pytest.param("", "", id="empty"),
    ],
)
def test_normalize(text: str, expected: str) -> None:
    assert normalize(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("Refunds: 30 days!", "refunds 30 days", id="punctuation"),
        pytest.param("**30 days**", "30 days", id="markdown-bold"),
        pytest.param("`_30 days_`", "30 days", id="markdown-code-italic"),
        pytest.param("1,000,000 users", "1000000 users", id="thousands"),
        pytest.param("1,000.50", "1000.5", id="thousands-decimal"),
        pytest.param("items 1,200, and 3", "items 1200 and 3", id="thousands-before-comma"),
        pytest.param("12,5", "12 5", id="decimal-comma-not-thousands"),
        pytest.param("1,2,3", "1 2 3", id="list-not-thousands"),
        pytest.param("$5.00", "$ 5", id="trailing-zeros-and-currency"),
        pytest.param("12.50", "12.5", id="decimal-trailing-zero"),
        pytest.param("0.5", "0.5", id="leading-zero-decimal-kept"),
        pytest.param("Opens 08:00.", "opens 8:00", id="time"),
        pytest.param("05", "5", id="leading-zero"),
        pytest.param("v1.2.3", "v 1.2.3", id="version"),
        pytest.param("GPT-4", "gpt 4", id="letter-digit-hyphen"),
        pytest.param("gpt4", "gpt 4", id="letter-digit-joined"),
        pytest.param("don't", "dont", id="apostrophe"),
        pytest.param("don\u2019t", "dont", id="curly-apostrophe"),
        pytest.param("5%", "5 %", id="percent-token"),
        pytest.param("\uff11\uff12 \ufb01ve", "12 five", id="nfkc"),
        pytest.param("zero\u200bwidth", "zerowidth", id="format-char"),
        pytest.param("end.Next", "end next", id="sentence-dot"),
        pytest.param("...", "", id="only-punctuation"),
    ],
)
def test_normalize_loose(text: str, expected: str) -> None:
    assert normalize_loose(text) == expected


@pytest.mark.parametrize(
    ("haystack", "needle", "expected"),
    [
        pytest.param("Refunds within 30  DAYS", "30 days", True, id="case-and-space"),
        pytest.param("Refunds within 30\ndays", "30 days", True, id="newline"),
        pytest.param("Refunds within 14 days", "30 days", False, id="absent"),
        pytest.param("30 days.", "30 days", True, id="substring"),
        pytest.param("30-days", "30 days", False, id="punctuation-matters"),
    ],
)
def test_contains_text(haystack: str, needle: str, expected: bool) -> None:
    assert contains_text(haystack, needle) is expected


@pytest.mark.parametrize(
    ("haystack", "fact", "expected"),
    [
        pytest.param("It costs 15 dollars", "5", False, id="digit-inside-number"),
        pytest.param("It costs 50 dollars", "5", False, id="digit-prefix-of-number"),
        pytest.param("It costs 5.5 dollars", "5", False, id="integer-part-of-decimal"),
        pytest.param("It costs $5.00.", "$5", True, id="currency-trailing-zeros"),
        pytest.param("(5)", "5", True, id="parenthesised"),
        pytest.param("Open from 08:00 to 17:00", "8:00", True, id="time-leading-zero"),
        pytest.param("Open from 08:00 to 17:00", "8", False, id="hour-inside-time"),
        pytest.param("We have 1,000 users", "1000 users", True, id="thousands"),
        pytest.param("Refunds within **30 days**!", "30-day", False, id="plural-differs"),
        pytest.param("Refunds within **30 days**!", "30 days", True, id="markdown"),
        pytest.param("The 30-day window", "30 day window", True, id="hyphen"),
        pytest.param("the catalogue", "cat", False, id="word-inside-word"),
        pytest.param("anything", "!!", True, id="empty-fact"),
        pytest.param("", "5", False, id="empty-haystack"),
    ],
)
def test_contains_fact(haystack: str, fact: str, expected: bool) -> None:
    assert contains_fact(haystack, fact) is expected


@given(st.text())
def test_normalize_is_idempotent(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once


@given(st.text())
def test_normalize_loose_is_idempotent(text: str) -> None:
    once = normalize_loose(text)
    assert normalize_loose(once) == once


@given(st.text())
def test_contains_text_finds_itself(text: str) -> None:
    assert contains_text(text, text)


@given(st.text())
def test_contains_fact_finds_itself(text: str) -> None:
    assert contains_fact(text, text)


@given(
    number=st.integers(min_value=0, max_value=10**9),
    before=st.from_regex(r"[1-9][0-9]{0,3}", fullmatch=True) | st.just(""),
    after=st.from_regex(r"[0-9]{1,4}", fullmatch=True) | st.just(""),
)
def test_contains_fact_does_not_match_inside_a_longer_number(
    number: int, before: str, after: str
) -> None:
    longer = f"{before}{number}{after}"
    if int(longer) == number:  # "00" is the number 0 written with a leading zero, not longer
        return
    assert not contains_fact(f"The total is {longer} today", str(number))


_WRAPPERS = st.sampled_from(["", "(", ")", ",", ".", "!", "?", '"', "*", "**", "_", "“", "”", "…"])
_SPACES = st.sampled_from([" ", "  ", "\n", "\t ", " \u00a0"])


@given(
    fact=st.text(min_size=1),
    before=st.text(),
    after=st.text(),
    left=_WRAPPERS,
    right=_WRAPPERS,
    space_left=_SPACES,
    space_right=_SPACES,
)
def test_found_fact_survives_punctuation_and_whitespace(
    fact: str, before: str, after: str, left: str, right: str, space_left: str, space_right: str
) -> None:
    answer = f"{before}{space_left}{left}{fact}{right}{space_right}{after}"
    assert contains_fact(answer, fact)


@pytest.mark.parametrize(
    ("haystack", "fact", "expected"),
    [
        pytest.param("Free on orders of $75 or more.", "$75", "$75", id="symbol-number"),
        pytest.param("It costs $750, not $75.", "$75", "$75.", id="not-inside-a-longer-number"),
        pytest.param("A 30-day window", "30 day", "30-day", id="hyphenated-word"),
        pytest.param("Open 9am to\n6pm daily", "9am to 6pm", "9am to\n6pm", id="across-a-newline"),
        pytest.param("**Trailhead** tier", "trailhead", "**Trailhead**", id="emphasis"),
        pytest.param("Refunds take 14 days.", "30 days", None, id="absent"),
        pytest.param("anything", "!!", None, id="fact-of-punctuation-only"),
    ],
)
def test_locate_fact(haystack: str, fact: str, expected: str | None) -> None:
    span = locate_fact(haystack, fact)
    assert (None if span is None else haystack[span[0] : span[1]]) == expected


_PLAIN = st.text(st.sampled_from("aB5 0.,:$%-_*\n'\u00e9\u00a0"), max_size=30)


@given(haystack=_PLAIN, fact=_PLAIN)
def test_locate_fact_agrees_with_contains_fact(haystack: str, fact: str) -> None:
    """Where a fact is placed, it is found there; where it is found, it is placed."""
    span = locate_fact(haystack, fact)
    if not normalize_loose(fact):
        assert span is None
        return
    assert (span is not None) == contains_fact(haystack, fact)
    if span is not None:
        assert contains_fact(haystack[span[0] : span[1]], fact)
