"""Compose an answer from retrieved passages.

The generator is extractive: it picks the sentences of a passage that share the most words
with the question, so the example runs offline and answers the same way every time. It plays
the part a language model plays in a production bot, with the same kinds of mistakes.

House style: answers are short, polite and cite the passage they come from as ``[n]``, where
``n`` is the passage's rank among the contexts (1 = best).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from support_bot.retriever import tokenize

MAX_SENTENCES = 3
MAX_WORDS = 30  # what the stricter prompt asks for: at most this many words an answer
FALLBACK = (
    "I'm sorry, I couldn't find that in our help center. Our support team is happy to help "
    "at support@acme-outfitters.example."
)
# Openers the house style leaves out, even when an article uses them.
DROPPED_OPENERS = ("unfortunately, ", "please note that ")

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9$\"])")
JSON_TEMPLATE = '{{"answer": "{answer}", "sources": [{sources}]}}'


@dataclass(frozen=True)
class Reply:
    text: str
    used: list[int] = field(default_factory=list)  # ranks (0-based) of the passages used


def overlap(question: str, sentence: str) -> int:
    """How many of the question's distinct words the sentence contains."""
    return len(set(tokenize(question)) & set(tokenize(sentence)))


def split_passage(passage: str) -> tuple[list[str], bool]:
    """A passage's sentences, or its items when it is a bulleted list (the bool says which)."""
    lines = [line.strip() for line in passage.splitlines() if line.strip()]
    if lines and all(line.startswith("- ") for line in lines):
        return [line[2:] for line in lines], True
    return _SENTENCE_END.split(" ".join(lines)), False


def house_style(sentence: str) -> str:
    """Drop an opener the house style avoids ("Unfortunately, we cannot..." -> "We cannot...")."""
    for opener in DROPPED_OPENERS:
        if sentence.lower().startswith(opener):
            rest = sentence[len(opener) :]
            return rest[:1].upper() + rest[1:]
    return sentence


def compose(question: str, passages: list[str], *, strict: bool = False) -> Reply:
    """Answer from the best passage: the sentences closest to the question, in their order.

    Only the top-ranked passage is used, so that an answer never stitches together sentences
    from articles that disagree. ``strict`` plays a prompt that asks for a citation on every
    answer and at most ``MAX_WORDS`` words: lists are cited too, and sentences after the first
    are left out where they would pass the limit.
    """
    if not passages:
        return Reply(FALLBACK)
    units, is_list = split_passage(passages[0])
    scores = [overlap(question, unit) for unit in units]
    best = max(scores, default=0)
    if best == 0:
        return Reply(FALLBACK)
    chosen = [u for u, s in zip(units, scores, strict=True) if s * 2 >= best][:MAX_SENTENCES]
    if is_list:
        # Hours, fees and other lists read best as one line.
        return Reply("; ".join(chosen) + (". [1]" if strict else "."), used=[0])
    sentences = [house_style(sentence) for sentence in chosen]
    if strict:
        sentences = _within(sentences, MAX_WORDS - 1)  # the marker is a word too
    return Reply(f"{' '.join(sentences)} [1]", used=[0])


def _within(sentences: list[str], words: int) -> list[str]:
    """The first sentence, then each next one while the answer stays within ``words``."""
    kept = sentences[:1]
    for sentence in sentences[1:]:
        if len(" ".join([*kept, sentence]).split()) > words:
            break
        kept.append(sentence)
    return kept


def to_json(text: str, sources: list[str], *, strict: bool = False) -> str:
    """The answer as ``{"answer": ..., "sources": [...]}`` for API clients. The house template
    pastes the text in as it is (a quote in it breaks the JSON); ``strict`` plays a prompt that
    asks for valid JSON, and encodes it."""
    if strict:
        return json.dumps({"answer": text, "sources": sources})
    quoted = ", ".join(f'"{source}"' for source in sources)
    return JSON_TEMPLATE.format(answer=text, sources=quoted)
