"""Case records cross processes (xdist) and land in history as plain dicts."""

from __future__ import annotations

from dataclasses import asdict

from hypothesis import given
from hypothesis import strategies as st

from pytest_ragft.model import GOLD, CaseRecord, ContextEvidence, Evidence, RepeatRecord
from pytest_ragft.retrieval import MEASURES, K

text = st.text(max_size=20)
repeats = st.builds(
    RepeatRecord,
    repeat=st.integers(1, 5),
    outcome=st.sampled_from(["passed", "failed", "error", "skipped"]),
    messages=st.lists(text, max_size=3),
    answer=st.none() | text,
    contexts=st.lists(text, max_size=3),
    latency_s=st.floats(0, 10),
    error=st.none() | text,
    scores=st.dictionaries(text, st.floats(0, 1), max_size=2),
    sources=st.lists(text, max_size=3),
)
contexts = st.builds(
    ContextEvidence,
    rank=st.integers(1, 10),
    source=st.none() | text,
    excerpt=text,
    start=st.integers(0, 100),
    length=st.integers(0, 200),
    facts=st.lists(st.booleans(), max_size=3),
    hit=st.none() | st.lists(st.integers(0, 20), min_size=2, max_size=2),
)
evidence = st.builds(
    Evidence,
    facts=st.lists(text, max_size=3),
    answer=st.lists(st.booleans(), max_size=3),
    contexts=st.lists(contexts, max_size=3),
    contexts_total=st.integers(0, 10),
    gold=st.none() | st.sampled_from(GOLD),
)
records = st.builds(
    CaseRecord,
    id=text,
    nodeid=text,
    kind=st.sampled_from(["knowledge", "behavior"]),
    outcome=st.sampled_from(["passed", "failed", "error", "skipped"]),
    pass_ratio=st.none() | st.floats(0, 1),
    tags=st.lists(text, max_size=3),
    facts=st.lists(text, max_size=3),
    messages=st.lists(text, max_size=3),
    repeats=st.lists(repeats, max_size=3),
    diagnosis=st.none() | st.sampled_from(["knowledge", "hybrid", "behavior", "error"]),
    min_pass_ratio=st.none() | st.floats(0, 1),
    evidence=st.none() | evidence,
    retrieval=st.none()
    | st.dictionaries(st.sampled_from((*MEASURES, K)), st.floats(0, 1), min_size=1),
)


@given(records)
def test_to_dict_is_asdict_and_round_trips(record: CaseRecord) -> None:
    data = record.to_dict()
    assert data == asdict(record)
    assert CaseRecord.from_dict(data) == record


@given(records)
def test_to_dict_shares_no_list_with_the_record(record: CaseRecord) -> None:
    data = record.to_dict()
    data["tags"].append("changed")
    for repeat in data["repeats"]:
        repeat["messages"].append("changed")
    assert "changed" not in record.tags
    assert all("changed" not in r.messages for r in record.repeats)


@given(records)
def test_to_dict_shares_no_evidence_list_with_the_record(record: CaseRecord) -> None:
    data = record.to_dict()
    if data["evidence"] is None:
        return
    data["evidence"]["facts"].append("changed")
    for context in data["evidence"]["contexts"]:
        context["facts"].append(True)
    assert record.evidence is not None and "changed" not in record.evidence.facts
    assert all(
        len(c.facts) == len(d["facts"]) - 1
        for c, d in zip(record.evidence.contexts, data["evidence"]["contexts"], strict=True)
    )


def test_a_record_from_before_evidence_and_sources_still_reads() -> None:
    old = {
        "id": "c",
        "nodeid": "evals/k.yaml::c",
        "kind": "knowledge",
        "outcome": "failed",
        "pass_ratio": 0.0,
        "repeats": [{"repeat": 1, "outcome": "failed", "answer": "a", "contexts": ["x"]}],
        "diagnosis": "knowledge",
    }
    record = CaseRecord.from_dict(old)
    assert record.evidence is None
    assert record.repeats[0].sources == []
    assert record.to_dict()["evidence"] is None
    assert record.retrieval is None


def test_retrieval_measures_read_back_as_numbers_only() -> None:
    data = CaseRecord(id="c", nodeid="c", kind="knowledge", outcome="passed", pass_ratio=1.0)
    raw = {**data.to_dict(), "retrieval": {"hit": 1, "mrr": "0.5", "ndcg": True, "k": 3}}
    assert CaseRecord.from_dict(raw).retrieval == {"hit": 1.0, "k": 3.0}
    assert CaseRecord.from_dict({**raw, "retrieval": {"mrr": "x"}}).retrieval is None
