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
from collections.abc import Mapping, Sequence
from dataclasses import replace

from pytest_ragft.matching import contains_any_fact
from pytest_ragft.model import Case, CaseRecord, RepeatRecord
from pytest_ragft.stats import SignTest, sign_test_drop
from pytest_ragft.wording import plural

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


def cut_record(record: CaseRecord, k: int | None) -> CaseRecord:
    """The record with its rank measures cut at ``k`` (``[tool.ragft.retrieval] k``), from
    its gold ids and the sources of its first repeat that returned any, as it was measured;
    without ``k``, gold ids (a record from an older report) or sources it is left as it is."""
    if k is None or not record.gold_sources:
        return record
    returned = next((r.sources for r in record.repeats if r.sources), None)
    if returned is None:
        return record
    return replace(record, retrieval=rank_measures(returned, record.gold_sources, k))


# A category's retrieval is judged by recall@k where its cases name gold ids, else by the
# share of facts found in the contexts.
GATED = (RECALL, FACT_RECALL)
_GATED_LABEL = {RECALL: "recall@k", FACT_RECALL: "fact recall"}


def gated_pairs(
    records: Sequence[CaseRecord], baseline: Mapping[str, Mapping[str, float]]
) -> tuple[str, list[tuple[float, float]]] | None:
    """The measure a group of cases is judged by and its (baseline, now) pairs on the cases
    both runs measured it for, cut at the same ``k``; None when they share none. Recall@k
    where any shared case has it, else fact recall."""
    for measure in GATED:
        pairs = []
        for record in records:
            now = record.retrieval or {}
            before = baseline.get(record.id, {}).get(_BASELINE_PREFIX + measure)
            cut = baseline.get(record.id, {}).get(_BASELINE_PREFIX + K)
            if measure not in now or before is None or cut != now.get(K):
                continue
            pairs.append((before, now[measure]))
        if pairs:
            return measure, pairs
    return None


# How a case's retrieval measures sit among its other per-case figures in the baseline run's
# measures (costs.case_measures): "retrieval.recall", "retrieval.k".
_BASELINE_PREFIX = "retrieval."


def baseline_keys(measures: Mapping[str, float] | None) -> dict[str, float]:
    """A record's retrieval measures under the keys the baseline's per-case measures use."""
    return {_BASELINE_PREFIX + name: value for name, value in (measures or {}).items()}


def regression_detail(
    kind: str, measure: str, pairs: Sequence[tuple[float, float]], test: SignTest
) -> str:
    """``knowledge recall@k 0.92 -> 0.75 (-0.17) on 12 shared cases, sign test 3 down, 0 up,
    9 tied, p = 0.1250``."""
    before = sum(b for b, _ in pairs) / len(pairs)
    now = sum(a for _, a in pairs) / len(pairs)
    p = "p < 0.0001" if test.p_value < 0.0001 else f"p = {test.p_value:.4f}"
    return (
        f"{kind} {_GATED_LABEL[measure]} {before:.2f} -> {now:.2f} ({now - before:+.2f}) on "
        f"{plural(len(pairs), 'shared case')}, exact sign test {test.down} down, {test.up} up, "
        f"{test.ties} tied, {p}"
    )


def regression(
    kind: str,
    records: Sequence[CaseRecord],
    baseline: Mapping[str, Mapping[str, float]],
    max_drop: float | None,
    alpha: float,
) -> str | None:
    """The detail of a ``retrieval_regression`` of category ``kind``, or None: the mean of
    its gated measure on the shared cases fell by more than ``max_drop`` (absolute; a drop
    equal to it is within it) and the exact sign test finds the fall significant at ``alpha``."""
    found = gated_pairs(records, baseline) if max_drop is not None else None
    if found is None or max_drop is None:
        return None
    measure, pairs = found
    drop = sum(b - a for b, a in pairs) / len(pairs)
    test = sign_test_drop(pairs)
    if drop <= max_drop + 1e-9 or test.p_value >= alpha:  # rounding of the means
        return None
    detail = regression_detail(kind, measure, pairs, test)
    return f"{detail}, more than max_drop {max_drop:g} at alpha {alpha:g}"
