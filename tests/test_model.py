"""Case records cross processes (xdist) and land in history as plain dicts."""

from __future__ import annotations

from dataclasses import asdict

from hypothesis import given
from hypothesis import strategies as st

from pytest_ragft.model import CaseRecord, RepeatRecord

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
