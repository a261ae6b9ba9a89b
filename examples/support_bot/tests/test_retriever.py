"""An ordinary unit test: it runs with or without pytest-ragft and fails the build if it fails."""

from __future__ import annotations

from support_bot.retriever import default_retriever, tokenize


def test_search_ranks_the_paragraph_with_the_answer_first() -> None:
    hits = default_retriever().search("How much does a zipper replacement cost?")

    assert hits[0].passage.id == "repairs#2"
    assert "$25" in hits[0].passage.text
    assert [hit.score for hit in hits] == sorted((hit.score for hit in hits), reverse=True)


def test_tokenize_lowercases_and_drops_stopwords_and_plurals() -> None:
    assert tokenize("What are the Returns for Gift Cards?") == ["return", "gift", "card"]
