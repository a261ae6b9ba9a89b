"""Text normalisation shared by the checks and the diagnosis.

Two strengths: ``normalize`` for ``contains``-like checks (case and white space only, so what a
user writes is what is matched), and ``normalize_loose`` for facts, which must be found in an
answer or a passage however either of them happens to be punctuated or formatted.

``normalize_loose`` rules, applied in order:

- Unicode NFKC and casefold (full-width digits, ligatures and ``ß`` compare equal to their plain
  forms).
- Thousands separators go: ``1,000,000`` -> ``1000000`` (only groups of exactly three digits, so
  ``12,5`` and lists like ``1,2,3`` are left to the punctuation rule).
- Punctuation becomes a space, except ``.`` and ``:`` between two digits (``12.5``, ``08:00``,
  ``1.2.3``). Apostrophes are dropped instead (``don't`` -> ``dont``); ``%`` and currency, math
  and other symbols become tokens of their own (``$5`` -> ``$ 5``) since they carry meaning.
  Markdown emphasis (``**``, ``_``, backticks) therefore disappears. Format characters such as
  zero-width spaces are dropped.
- Letters and digits are split apart: ``GPT-4``, ``gpt4`` and ``GPT 4`` all read ``gpt 4``.
- Numbers are written one way: leading zeros go from the first group (``05`` -> ``5``,
  ``08:00`` -> ``8:00``, ``007`` -> ``7``, ``0.5`` stays); a number with a single ``.`` is a
  decimal and loses trailing zeros (``5.00`` -> ``5``, ``12.50`` -> ``12.5``; a version such as
  ``3.10`` reads ``3.1`` on both sides too). A minus sign written as a hyphen is punctuation.
- White space collapsed to single spaces, stripped.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

_THOUSANDS = re.compile(r"(?<!\d)(?<!\d[.,])\d{1,3}(?:,\d{3})+(?!\d|,\d)")
_LETTER_DIGIT = re.compile(r"(?<=\d)(?=[^\W\d_])|(?<=[^\W\d_])(?=\d)")
_NUMBER = re.compile(r"\d+(?:[.:]\d+)*")
_APOSTROPHES = frozenset("'\u2018\u2019\u02bc\u2032`")
_SYMBOL_PUNCTUATION = frozenset("%\u2030\u2031#&@")
_IN_NUMBER = frozenset(".:")
_WORD = re.compile(r"\S+")


def normalize(text: str) -> str:
    """Case-insensitive, white-space-insensitive form of ``text`` for ``contains``-like checks.

    Canonical composition (NFC) is applied as well, so an ``é`` typed as ``e`` plus an accent
    matches the precomposed one; nothing else about the text changes.
    """
    folded = unicodedata.normalize("NFC", unicodedata.normalize("NFC", text).casefold())
    return " ".join(folded.split())


def normalize_loose(text: str) -> str:
    """Form of ``text`` in which a fact is found however it is punctuated (rules in the module
    docstring)."""
    text = unicodedata.normalize("NFKC", text)
    text = unicodedata.normalize("NFKC", text.casefold())
    text = _THOUSANDS.sub(lambda m: m.group(0).replace(",", ""), text)
    text = _strip_punctuation(text)
    text = _LETTER_DIGIT.sub(" ", text)
    text = _NUMBER.sub(lambda m: _canonical_number(m.group(0)), text)
    return " ".join(text.split())


def contains_text(haystack: str, needle: str) -> bool:
    """Whether ``needle`` appears in ``haystack``, ignoring case and white space."""
    return normalize(needle) in normalize(haystack)


def contains_fact(haystack: str, fact: str) -> bool:
    """Whether ``fact`` appears in ``haystack`` as whole tokens, loosely normalised.

    Token boundaries keep ``5`` from matching ``15`` or ``5.5``. A fact that normalises to
    nothing (only punctuation) is trivially contained, as the empty string is in any string.
    """
    needle = normalize_loose(fact)
    if not needle:
        return True
    return f" {needle} " in f" {normalize_loose(haystack)} "


def contains_any_fact(haystack: str, group: Sequence[str]) -> bool:
    """Whether any fact of ``group`` (a fact and the strings that may stand for it) appears in
    ``haystack``: how the diagnosis and the retrieval measures find a fact group."""
    return any(contains_fact(haystack, option) for option in group)


def locate_fact(haystack: str, fact: str) -> tuple[int, int] | None:
    """Where ``fact`` stands in ``haystack``: the span of the whole words its loosely normalised
    tokens match, so a report can show the passage around it; None when it is not there (or
    normalises to nothing, which stands nowhere in particular).

    Each word is normalised on its own, which reads a text as ``normalize_loose`` does save for
    exotic compatibility characters; a caller that must agree with ``contains_fact`` asks it and
    uses this only to place the window.
    """
    needle = normalize_loose(fact).split()
    if not needle:
        return None
    tokens: list[tuple[str, int, int]] = []
    for match in _WORD.finditer(haystack):
        tokens.extend((t, match.start(), match.end()) for t in normalize_loose(match[0]).split())
    width = len(needle)
    for i in range(len(tokens) - width + 1):
        if all(tokens[i + j][0] == needle[j] for j in range(width)):
            return tokens[i][1], tokens[i + width - 1][2]
    return None


def _strip_punctuation(text: str) -> str:
    out: list[str] = []
    last = len(text) - 1
    for i, ch in enumerate(text):
        category = unicodedata.category(ch)
        if ch in _APOSTROPHES or category == "Cf":
            continue
        if ch in _IN_NUMBER and 0 < i < last and text[i - 1].isdigit() and text[i + 1].isdigit():
            out.append(ch)
        elif ch in _SYMBOL_PUNCTUATION or category in ("Sc", "Sm", "So"):
            out.append(f" {ch} ")
        elif category[0] == "P" or category in ("Sk", "Cc"):
            out.append(" ")
        else:
            out.append(ch)
    return "".join(out)


def _canonical_number(number: str) -> str:
    head, sep, rest = _split_first(number)
    head = head.lstrip("0") or "0"
    if sep == "." and rest.isdigit():
        fraction = rest.rstrip("0")
        return f"{head}.{fraction}" if fraction else head
    return head + sep + rest


def _split_first(number: str) -> tuple[str, str, str]:
    for i, ch in enumerate(number):
        if ch in _IN_NUMBER:
            return number[:i], ch, number[i + 1 :]
    return number, "", ""
