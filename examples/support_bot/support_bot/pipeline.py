"""The bot's entry point: retrieve, compose, format.

``answer`` is what the eval suite calls (``[tool.ragft] pipeline`` in pyproject.toml). Passing
``contexts`` skips retrieval and answers from the passages given, which lets the eval check
whether a failure comes from retrieval or from the generator.
"""

from __future__ import annotations

from typing import Any, Literal

from support_bot.generator import compose, to_json
from support_bot.retriever import default_retriever, tokenize

TOP_K = 3
# What a call costs, in dollars per 1,000 tokens (reported as metadata "cost").
PRICE_PER_1K = {"prompt": 0.0005, "completion": 0.0015}

PROMPTS = ("house", "json_citations")

Message = dict[str, str]


def answer(
    question: str | list[Message],
    format: Literal["text", "json"] = "text",
    contexts: list[str] | None = None,
    prompt: Literal["house", "json_citations"] = "house",
) -> dict[str, Any]:
    """Answer a customer's question.

    ``question`` is a string or a chat transcript (the last user message is answered).
    ``format="json"`` returns the answer as a JSON document. ``contexts`` replaces retrieval
    with the passages given, best first. ``prompt="json_citations"`` is the stricter prompt
    (valid JSON, a citation on every answer, at most 30 words) that the ``json_prompt``
    variant of pyproject.toml compares with the house prompt.
    """
    if not isinstance(question, str):
        question = _last_user_message(question)
    if format not in ("text", "json"):
        raise ValueError(f"format must be 'text' or 'json', not {format!r}")
    if prompt not in PROMPTS:
        raise ValueError(f"prompt must be one of {', '.join(PROMPTS)}, not {prompt!r}")
    strict = prompt == "json_citations"

    if contexts is None:
        hits = default_retriever().search(question, k=TOP_K)
        passages = [hit.passage.text for hit in hits]
        sources = [hit.passage.id for hit in hits]
        scores = [round(hit.score, 3) for hit in hits]
    else:
        passages = list(contexts)
        sources = [f"context-{rank}" for rank in range(1, len(passages) + 1)]
        scores = []

    reply = compose(question, passages, strict=strict)
    text = reply.text
    if format == "json":
        text = to_json(text, [sources[rank] for rank in reply.used], strict=strict)

    prompt_tokens = len(tokenize(question)) + sum(len(p.split()) for p in passages)
    completion_tokens = len(text.split())
    cost = (
        prompt_tokens * PRICE_PER_1K["prompt"] + completion_tokens * PRICE_PER_1K["completion"]
    ) / 1000
    return {
        "answer": text,
        "contexts": passages,
        "sources": sources,
        "metadata": {
            "model": "acme-extractive-1",
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "cost": round(cost, 8),
            "retrieval_scores": scores,
        },
    }


def _last_user_message(messages: list[Message]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            return message.get("content", "")
    raise ValueError("the conversation has no user message")
