"""Retrieval quality of one case, deterministic: rank measures against the case's
``gold_sources``, else the share of its facts found in what was retrieved.

Rank measures read the ``sources`` the pipeline returned, best first, with binary relevance: a
returned id is relevant when it is one of the gold ids. A position is the one the pipeline
returned, so a repeated id keeps its place in the list but counts once, at its first rank (later
copies are not relevant). ``k`` defaults to the number returned, and a ``k`` beyond the list is
the list. Pure: no pytest, files or network.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from pytest_ragft.matching import contains_any_fact
from pytest_ragft.model import Case, RepeatRecord

# The keys of a case's measures, as records, the summary and the JSON report carry them.
HIT, RECALL, MRR, NDCG, K, FACT_RECALL = "hit", "recall", "mrr", "ndcg", "k", "fact_recall"
RANK_MEASURES = (HIT, RECALL, MRR, NDCG)
MEASURES = (*RANK_MEASURES, FACT_RECALL)


def relevant_ranks(sources: Sequence[str], gold: Sequence[str], k: int | None = None) -> list[int]:
    """The 1-based ranks within the top ``k`` at which a gold id first appears."""
    wanted = set(gold)
    seen: set[str] = set()
    ranks: list[int] = []
    for rank, source in enumerate(sources[: _cut(sources, k)], start=1):
        if source in wanted and source not in seen:
            ranks.append(rank)
        seen.add(source)
    return ranks


def hit_at_k(sources: Sequence[str], gold: Sequence[str], k: int | None = None) -> float:
    """1.0 when any gold id is in the top ``k``, else 0.0."""
    return 1.0 if relevant_ranks(sources, gold, k) else 0.0


def recall_at_k(sources: Sequence[str], gold: Sequence[str], k: int | None = None) -> float:
    """The share of the distinct gold ids found in the top ``k``."""
    wanted = set(gold)
    if not wanted:
        return 0.0
    return len(relevant_ranks(sources, gold, k)) / len(wanted)


def reciprocal_rank(sources: Sequence[str], gold: Sequence[str], k: int | None = None) -> float:
    """1 / the rank of the first gold id in the top ``k``; 0.0 when none is there."""
    ranks = relevant_ranks(sources, gold, k)
    return 1.0 / ranks[0] if ranks else 0.0


def ndcg_at_k(sources: Sequence[str], gold: Sequence[str], k: int | None = None) -> float:
    """Discounted gain of the top ``k`` (1 / log2(rank + 1) per relevant rank) over the best
    the same ``k`` could hold: every gold id ranked first."""
    cut = _cut(sources, k)
    ideal = sum(_discount(rank) for rank in range(1, min(len(set(gold)), cut) + 1))
    if not ideal:
        return 0.0
    return sum(_discount(rank) for rank in relevant_ranks(sources, gold, k)) / ideal


def rank_measures(
    sources: Sequence[str], gold: Sequence[str], k: int | None = None
) -> dict[str, float]:
    """hit@k, recall@k, MRR and nDCG@k of one returned list, with the ``k`` they were cut at."""
    return {
        HIT: hit_at_k(sources, gold, k),
        RECALL: recall_at_k(sources, gold, k),
        MRR: reciprocal_rank(sources, gold, k),
        NDCG: ndcg_at_k(sources, gold, k),
        K: float(_cut(sources, k)),
    }


def fact_recall(contexts: Sequence[str], groups: Sequence[Sequence[str]]) -> float | None:
    """The share of fact groups found in any retrieved context, matched as the diagnosis
    matches them; None when the case names no facts."""
    if not groups:
        return None
    found = sum(any(contains_any_fact(c, group) for c in contexts) for group in groups)
    return found / len(groups)


def _cut(sources: Sequence[str], k: int | None) -> int:
    return len(sources) if k is None else max(0, min(k, len(sources)))


def _discount(rank: int) -> float:
    return 1.0 / math.log2(rank + 1)


def case_measures(case: Case, repeats: Sequence[RepeatRecord]) -> dict[str, float] | None:
    """A case's measures from its first repeat that retrieved: rank measures when it names
    ``gold_sources`` and the pipeline returned ``sources``, else fact recall in the contexts;
    None when there is nothing to measure."""
    if case.gold_sources:
        returned = next((r.sources for r in repeats if r.sources), None)
        return None if returned is None else rank_measures(returned, case.gold_sources)
    contexts = next((r.contexts for r in repeats if r.contexts), None)
    share = None if contexts is None else fact_recall(contexts, case.fact_groups)
    return None if share is None else {FACT_RECALL: share}
