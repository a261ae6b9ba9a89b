"""Retrieve help-center passages with BM25.

Each Markdown file in ``docs/`` is an article with a small front matter block. Articles whose
``status`` is not ``published`` are left out of the index. Every paragraph is one passage; its
article's title is indexed with it, so a passage is found by the topic it belongs to as well
as by its own words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from rank_bm25 import BM25Okapi

DOCS_DIR = Path(__file__).resolve().parent.parent / "docs"

STOPWORDS = frozenset(
    """a an and are as at be by can do does for from how i if in is it its me my of on or our
    so that the their them there this to was we what when where which who why will with you
    your""".split()
)

_TOKEN = re.compile(r"[a-z0-9$]+(?:\.[0-9]+)?")


def tokenize(text: str) -> list[str]:
    """Lowercase words without stopwords, with a plural ``s`` dropped ("returns" -> "return")."""
    tokens = []
    for token in _TOKEN.findall(text.lower()):
        if token in STOPWORDS:
            continue
        if len(token) > 3 and token.endswith("s") and not token.endswith("ss"):
            token = token[:-1]
        tokens.append(token)
    return tokens


@dataclass(frozen=True)
class Passage:
    id: str  # "<article file stem>#<paragraph number>", e.g. "refunds#2"
    title: str
    text: str


@dataclass(frozen=True)
class Hit:
    passage: Passage
    score: float


def parse_article(path: Path) -> tuple[dict[str, str], str]:
    """Split an article into its front matter (``key: value`` lines) and its Markdown body."""
    text = path.read_text(encoding="utf-8")
    meta: dict[str, str] = {}
    if text.startswith("---\n"):
        header, _, text = text[4:].partition("\n---\n")
        for line in header.splitlines():
            key, _, value = line.partition(":")
            meta[key.strip()] = value.strip()
    return meta, text


def load_passages(docs_dir: Path = DOCS_DIR) -> list[Passage]:
    """The paragraphs of every published article, headings left out."""
    passages = []
    for path in sorted(docs_dir.glob("*.md")):
        meta, body = parse_article(path)
        if meta.get("status") != "published":
            continue
        title = meta.get("title", path.stem)
        paragraphs = [p.strip() for p in body.split("\n\n")]
        paragraphs = [p for p in paragraphs if p and not p.startswith("#")]
        for number, paragraph in enumerate(paragraphs, start=1):
            passages.append(Passage(f"{path.stem}#{number}", title, paragraph))
    return passages


class Retriever:
    """A BM25 index over passages; the scores are BM25Okapi's, higher is better."""

    def __init__(self, passages: list[Passage]) -> None:
        self.passages = passages
        self._bm25 = BM25Okapi([tokenize(f"{p.title}\n{p.text}") for p in passages])

    def search(self, query: str, k: int = 3) -> list[Hit]:
        """The ``k`` best passages for ``query``, best first."""
        scores = self._bm25.get_scores(tokenize(query))
        ranked = sorted(range(len(scores)), key=lambda i: scores[i], reverse=True)
        return [Hit(self.passages[i], float(scores[i])) for i in ranked[:k]]


@lru_cache(maxsize=1)
def default_retriever() -> Retriever:
    """The index over ``docs/``, built on first use and kept for the life of the process."""
    return Retriever(load_passages())
