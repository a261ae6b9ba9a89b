from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from pytest_ragft.checklist import (
    KEYS,
    MAX_PROBLEMS,
    TrainingAudit,
    add_months,
    answer_baseline,
    answer_behavior_gap,
    answer_cost,
    answer_owner,
    answer_training_data,
    matrix_cell,
    recommend,
)
from pytest_ragft.training import audit as audit_training_data

# --- shape --------------------------------------------------------------------------------------


def all_answers() -> list[dict[str, Any]]:
    return [
        answer_baseline(3, 3, 0.5, 0.85),
        answer_behavior_gap(3, 5, 0.6, 0.95, 0.9),
        answer_training_data(TrainingAudit(patterns=("a.jsonl",), valid=200), 200),
        answer_owner("@ml", date(2030, 1, 1), 12, date(2026, 1, 1)),
        answer_cost(None, 0, 10, 12),
    ]


def test_answers_carry_number_key_and_title_in_order() -> None:
    answers = all_answers()
    assert [a["key"] for a in answers] == list(KEYS)
    assert [a["question"] for a in answers] == [1, 2, 3, 4, 5]
    for a in answers:
        assert set(a) >= {"question", "key", "title", "answer", "evidence"}
        assert a["answer"] in ("yes", "no", "unknown")
        assert a["title"].endswith("?") and a["evidence"]


# --- 1. baseline --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prior_runs", "rate", "expected"),
    [
        pytest.param(2, 0.5, "no", id="one-run-short"),
        pytest.param(3, 0.5, "yes", id="exactly-min-runs"),
        pytest.param(3, 0.85, "no", id="rate-at-threshold"),
        pytest.param(3, 0.849, "yes", id="rate-just-below-threshold"),
        pytest.param(3, None, "no", id="no-behavior-cases"),
        pytest.param(0, 0.5, "no", id="no-history"),
    ],
)
def test_answer_baseline(prior_runs: int, rate: float | None, expected: str) -> None:
    assert answer_baseline(prior_runs, 3, rate, 0.85)["answer"] == expected


def test_answer_baseline_evidence_names_runs_and_rate() -> None:
    got = answer_baseline(2, 3, 0.775, 0.85)
    assert got["evidence"] == (
        "2 earlier runs on the baseline branch (3 needed); behavior pass rate 77.5% is below its "
        "85% threshold"
    )
    assert got["note"] == "2/3 runs"


# --- 2. behavior gap ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("behavior_bound", "failures", "share", "knowledge_rate", "expected"),
    [
        pytest.param(3, 5, 0.6, 0.95, "yes", id="share-exactly-at-threshold"),
        pytest.param(5, 9, 0.6, 0.95, "no", id="share-just-under"),
        pytest.param(7, 10, 0.7, 0.95, "yes", id="share-that-floats-round-badly"),
        pytest.param(5, 5, 0.6, 0.89, "no", id="knowledge-below-threshold"),
        pytest.param(5, 5, 0.6, 0.9, "yes", id="knowledge-at-threshold"),
        pytest.param(5, 5, 0.6, None, "yes", id="no-knowledge-cases"),
        pytest.param(0, 0, 0.6, 0.95, "no", id="no-failures"),
    ],
)
def test_answer_behavior_gap(
    behavior_bound: int, failures: int, share: float, knowledge_rate: float | None, expected: str
) -> None:
    assert answer_behavior_gap(behavior_bound, failures, share, knowledge_rate, 0.9)["answer"] == (
        expected
    )


def test_answer_behavior_gap_evidence() -> None:
    assert answer_behavior_gap(6, 9, 0.6, 0.92, 0.9)["evidence"] == (
        "6 of 9 diagnosed failures are behavior-bound (66.7%, at least the 60% required); "
        "knowledge pass rate 92.0% meets its 90% threshold"
    )
    assert answer_behavior_gap(0, 0, 0.6, 0.92, 0.9)["evidence"] == (
        "no diagnosed failures in this run"
    )


# --- 3. training data ---------------------------------------------------------------------------


def write_jsonl(path: Path, *lines: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines)
    path.write_text(text + "\n", encoding="utf-8")
    return path


def chat(user: str, assistant: str, system: str | None = None) -> dict[str, Any]:
    messages = [{"role": "system", "content": system}] if system else []
    messages += [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
    return {"messages": messages}


@pytest.mark.parametrize(
    ("line", "field"),
    [
        pytest.param(chat("q1", "a1", system="Be brief."), "messages", id="messages"),
        pytest.param({"prompt": "q1", "completion": "a1"}, "prompt_completion", id="prompt"),
        pytest.param({"input": "q1", "output": "a1"}, "input_output", id="input-output"),
        pytest.param(
            {"input": "q1", "output": "a1", "meta": {"source": "crm"}},
            "input_output",
            id="extra-fields-allowed",
        ),
    ],
)
def test_audit_accepts_each_format(tmp_path: Path, line: dict[str, Any], field: str) -> None:
    write_jsonl(tmp_path / "train.jsonl", line)
    audit = audit_training_data(["*.jsonl"], tmp_path, [])
    assert getattr(audit, field) == 1
    assert (audit.valid, audit.invalid, audit.lines) == (1, 0, 1)


@pytest.mark.parametrize(
    ("line", "why"),
    [
        pytest.param('{"prompt": "q", "completion": ', "invalid JSON", id="truncated-json"),
        pytest.param("not json at all", "invalid JSON", id="plain-text"),
        pytest.param("[1, 2]", "a JSON array, not an object", id="array"),
        pytest.param({"text": "q"}, "no messages, prompt/completion", id="unknown-format"),
        pytest.param({"prompt": 3, "completion": "a"}, '"prompt" is a JSON number', id="number"),
        pytest.param({"prompt": "q"}, '"completion" is missing', id="missing-completion"),
        pytest.param({"input": "q", "output": "  "}, '"output" is empty', id="empty-output"),
        pytest.param({"messages": "hi"}, '"messages" is a JSON string', id="messages-string"),
        pytest.param({"messages": ["hi"]}, "message 1 is a JSON string", id="message-string"),
        pytest.param(
            {"messages": [{"role": "user", "content": None}]},
            'message 1 "content" is a JSON null',
            id="null-content",
        ),
        pytest.param({"messages": [{"content": "q"}]}, 'message 1 has no "role" key', id="no-role"),
        pytest.param(
            {"messages": [{"role": 3, "content": "q"}]},
            'message 1 "role" is a JSON number, not a string',
            id="number-role",
        ),
        pytest.param(
            {"messages": [{"role": "user"}]}, 'message 1 has no "content" key', id="no-content"
        ),
        pytest.param(
            {"messages": [{"role": "user", "content": "q"}]},
            "no assistant message",
            id="no-assistant",
        ),
        pytest.param(
            {"messages": [{"role": "assistant", "content": "a"}]},
            "no user message",
            id="no-user",
        ),
        pytest.param(chat("q", ""), "the last assistant message is empty", id="empty-reply"),
    ],
)
def test_audit_rejects_invalid_lines_with_file_and_line(
    tmp_path: Path, line: Any, why: str
) -> None:
    write_jsonl(tmp_path / "data" / "train.jsonl", chat("ok", "fine"), line)
    audit = audit_training_data(["data/*.jsonl"], tmp_path, [])
    assert (audit.valid, audit.invalid) == (1, 1)
    assert len(audit.problems) == 1
    assert audit.problems[0].startswith("data/train.jsonl:2: ")
    assert why in audit.problems[0]


def test_audit_ignores_blank_lines(tmp_path: Path) -> None:
    (tmp_path / "t.jsonl").write_text(
        '\n{"prompt": "q", "completion": "a"}\n   \n\t\n{"prompt": "r", "completion": "b"}\n\n',
        encoding="utf-8",
    )
    audit = audit_training_data(["t.jsonl"], tmp_path, [])
    assert (audit.lines, audit.blank, audit.invalid, audit.valid) == (6, 4, 0, 2)


def test_audit_reads_a_byte_order_mark_and_crlf(tmp_path: Path) -> None:
    line = '{"prompt": "q", "completion": "a"}'
    (tmp_path / "t.jsonl").write_bytes(
        b"\xef\xbb\xbf" + line.encode() + b"\r\n" + line.replace("q", "r").encode() + b"\r\n"
    )
    audit = audit_training_data(["t.jsonl"], tmp_path, [])
    assert (audit.valid, audit.invalid) == (2, 0)


def test_audit_rejects_a_line_that_is_not_utf8(tmp_path: Path) -> None:
    (tmp_path / "t.jsonl").write_bytes(b'{"prompt": "caf\xe9", "completion": "a"}\n')
    audit = audit_training_data(["t.jsonl"], tmp_path, [])
    assert audit.invalid == 1 and audit.problems == ("t.jsonl:1: not UTF-8 text",)


def test_audit_lists_only_the_first_problems_but_counts_all(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "t.jsonl", *(["{bad"] * (MAX_PROBLEMS + 3)))
    audit = audit_training_data(["t.jsonl"], tmp_path, [])
    assert audit.invalid == MAX_PROBLEMS + 3
    assert len(audit.problems) == MAX_PROBLEMS


def test_audit_drops_duplicates_ignoring_case_and_white_space(tmp_path: Path) -> None:
    write_jsonl(
        tmp_path / "a.jsonl",
        {"prompt": "Where is my order?", "completion": "It shipped."},
        {"prompt": "where  is my ORDER?", "completion": "It   shipped."},
        {"prompt": "Where is my order?", "completion": "It is late."},
        chat("Hi", "Hello"),
    )
    write_jsonl(
        tmp_path / "b.jsonl",
        chat("HI", " hello "),
        {"input": "Where is my order?", "output": "it shipped."},
    )
    audit = audit_training_data(["*.jsonl"], tmp_path, [])
    assert audit.files == ("a.jsonl", "b.jsonl")
    assert (audit.well_formed, audit.duplicates, audit.valid) == (6, 3, 3)


def test_audit_drops_examples_whose_input_is_an_eval_input(tmp_path: Path) -> None:
    write_jsonl(
        tmp_path / "t.jsonl",
        {"prompt": "How long is the  REFUND window?", "completion": "30 days."},
        {"prompt": "how long is the refund window?", "completion": "Thirty days."},
        chat("How long is the refund window?", "30 days.", system="Be brief."),
        {
            "messages": [
                {"role": "user", "content": "How long is the refund window?"},
                {"role": "assistant", "content": "30 days."},
                {"role": "user", "content": "And for sale items?"},
                {"role": "assistant", "content": "14 days."},
            ]
        },
        {"input": "How long is the refund window for gift cards?", "output": "None."},
    )
    eval_inputs = ["How long is the refund window?", "", "Summarise order 1234"]
    audit = audit_training_data(["t.jsonl"], tmp_path, eval_inputs)
    # The last user message is the example's input: the fourth line asks about sale items.
    assert (audit.contaminated, audit.duplicates, audit.valid) == (3, 0, 2)


def test_audit_matches_each_file_once_and_reports_unmatched_patterns(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "finetune" / "v1" / "a.jsonl", chat("q", "a"))
    write_jsonl(tmp_path / "finetune" / "b.jsonl", chat("r", "b"))
    (tmp_path / "finetune" / "dir.jsonl").mkdir()
    audit = audit_training_data(
        ["finetune/**/*.jsonl", "finetune/*.jsonl", "missing/*.jsonl"], tmp_path, []
    )
    assert audit.files == ("finetune/b.jsonl", "finetune/v1/a.jsonl")
    assert audit.unmatched == ("missing/*.jsonl",)
    assert audit.valid == 2


@pytest.mark.parametrize(
    ("examples", "expected"),
    [
        pytest.param(199, "no", id="one-short"),
        pytest.param(200, "yes", id="exactly-enough"),
    ],
)
def test_answer_training_data_boundary(tmp_path: Path, examples: int, expected: str) -> None:
    write_jsonl(
        tmp_path / "t.jsonl", *({"prompt": f"q{i}", "completion": "a"} for i in range(examples))
    )
    got = answer_training_data(audit_training_data(["t.jsonl"], tmp_path, []), 200)
    assert got["answer"] == expected
    assert got["note"] == f"{examples}/200 examples"


def test_answer_training_data_evidence_gives_every_count(tmp_path: Path) -> None:
    write_jsonl(
        tmp_path / "t.jsonl",
        {"prompt": "a", "completion": "1"},
        {"prompt": "A", "completion": "1"},
        {"prompt": "eval question", "completion": "x"},
        "{oops",
        "",
        {"prompt": "b", "completion": "2"},
    )
    audit = audit_training_data(["t.jsonl"], tmp_path, ["Eval  question"])
    got = answer_training_data(audit, 200)
    assert got["answer"] == "no"
    assert got["evidence"].startswith(
        "2 valid examples (200 needed) in 1 file: 6 lines, 1 blank, 1 invalid, 1 duplicate, "
        "1 equal to an eval case's input; first invalid: t.jsonl:4: invalid JSON"
    )


def test_answer_training_data_without_patterns_says_what_to_set(tmp_path: Path) -> None:
    got = answer_training_data(audit_training_data([], tmp_path, []), 200)
    assert got["answer"] == "no"
    assert "set training_data in [tool.ragft.checklist]" in got["evidence"]


def test_answer_training_data_with_no_matching_files(tmp_path: Path) -> None:
    got = answer_training_data(audit_training_data(["finetune/*.jsonl"], tmp_path, []), 200)
    assert got["answer"] == "no"
    assert got["evidence"] == "no files match training_data (finetune/*.jsonl)"


# --- 4. owner -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        pytest.param(date(2026, 3, 5), 12, date(2027, 3, 5), id="a-year"),
        pytest.param(date(2026, 1, 31), 1, date(2026, 2, 28), id="clamped-to-month-end"),
        pytest.param(date(2024, 2, 29), 12, date(2025, 2, 28), id="leap-day"),
        pytest.param(date(2026, 11, 15), 3, date(2027, 2, 15), id="over-new-year"),
        pytest.param(date(2026, 5, 1), 0, date(2026, 5, 1), id="zero"),
    ],
)
def test_add_months(day: date, months: int, expected: date) -> None:
    assert add_months(day, months) == expected


TODAY = date(2026, 3, 5)


@pytest.mark.parametrize(
    ("owner", "owned_until", "expected", "evidence"),
    [
        pytest.param(
            "@acme/ml",
            date(2027, 3, 4),
            "no",
            "@acme/ml owns the adapter until 2027-03-04, 1 day short of the 12-month horizon "
            "(2027-03-05)",
            id="one-day-short",
        ),
        pytest.param(
            "@acme/ml",
            date(2027, 3, 5),
            "yes",
            "@acme/ml owns the adapter until 2027-03-05, which covers the 12-month horizon "
            "(2027-03-05)",
            id="exactly-at-horizon",
        ),
        pytest.param(
            "@acme/ml",
            None,
            "no",
            "@acme/ml is named but no owned_until date is set; it must reach the 12-month "
            "horizon (2027-03-05)",
            id="no-date",
        ),
        pytest.param(
            "  ",
            date(2030, 1, 1),
            "no",
            "no owner set: set owner and owned_until in [tool.ragft.checklist] to cover the "
            "12-month horizon (2027-03-05)",
            id="blank-owner",
        ),
    ],
)
def test_answer_owner(owner: str, owned_until: date | None, expected: str, evidence: str) -> None:
    got = answer_owner(owner, owned_until, 12, TODAY)
    assert (got["answer"], got["evidence"]) == (expected, evidence)


# --- 5. cost ------------------------------------------------------------------------------------


def cost_table(**overrides: float) -> dict[str, float]:
    # 1000 queries x 10% behavior-bound x 50% fixed x 2.00 = 100.00 a month of gain.
    table = {
        "queries_per_month": 1000,
        "value_per_fixed_failure": 2.0,
        "expected_fix_rate": 0.5,
        "per_query_saving": 0.0,
        "finetune_upfront": 600.0,
        "finetune_monthly": 50.0,
    }
    table.update(overrides)
    return table


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        pytest.param(cost_table(), "yes", id="break-even"),
        pytest.param(cost_table(finetune_upfront=612.0), "no", id="one-unit-over-break-even"),
        pytest.param(cost_table(finetune_monthly=49.0), "yes", id="one-unit-under"),
        pytest.param(
            cost_table(value_per_fixed_failure=0.0, per_query_saving=0.1),
            "yes",
            id="saving-alone-breaks-even",
        ),
    ],
)
def test_answer_cost_at_break_even(table: dict[str, float], expected: str) -> None:
    assert answer_cost(table, 1, 10, 12)["answer"] == expected


def test_answer_cost_evidence_gives_gain_cost_and_payback() -> None:
    got = answer_cost(cost_table(finetune_upfront=1500.0), 1, 10, 12)
    assert got["answer"] == "no"
    assert got["evidence"] == (
        "gain 100.00/month (1,000 queries x 10.0% behavior-bound failures x 50% fixed x 2.00) "
        "vs cost 175.00/month (50.00 + 1,500.00 upfront over 12 months); payback 30.0 months"
    )
    assert got["note"] == "gain 100.00 < cost 175.00 a month"  # a NO says why


def test_answer_cost_note_gives_the_payback_of_the_evidence() -> None:
    # gain 100 - monthly 50 = 50 a month; 270 upfront pays back in 5.4 months.
    got = answer_cost(cost_table(finetune_upfront=270.0), 1, 10, 12)
    assert got["evidence"].endswith("; payback 5.4 months")
    assert got["note"] == "payback 5.4 months"


def test_answer_cost_never_pays_back_when_gain_does_not_cover_monthly_cost() -> None:
    got = answer_cost(cost_table(finetune_monthly=100.0), 1, 10, 12)
    assert got["answer"] == "no"
    assert got["evidence"].endswith("payback never (the gain does not cover the monthly cost)")


def test_answer_cost_is_unknown_without_a_table() -> None:
    got = answer_cost(None, 3, 10, 12)
    assert got["answer"] == "unknown"
    assert "[tool.ragft.checklist.cost]" in got["evidence"]


@pytest.mark.parametrize(
    "table",
    [
        pytest.param(cost_table(), id="fix-value"),
        pytest.param(cost_table(per_query_saving=1.0), id="saving-would-cover-cost"),
    ],
)
def test_answer_cost_is_unknown_without_cases(table: dict[str, float]) -> None:
    got = answer_cost(table, 0, 0, 12)
    assert got["answer"] == "unknown"
    assert got["evidence"].startswith("no cases scored")
    assert got["note"] == "no cases scored"


# --- the decision matrix ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("diagnosis", "volatile", "cell"),
    [
        pytest.param("knowledge", True, "rag", id="knowledge-volatile"),
        pytest.param("knowledge", False, "pretraining", id="knowledge-stable"),
        pytest.param("behavior", False, "fine-tune", id="behavior-stable"),
        pytest.param("hybrid", False, "fine-tune", id="hybrid-stable"),
        pytest.param("behavior", True, "prompt", id="behavior-volatile"),
        pytest.param("hybrid", True, "prompt", id="hybrid-volatile"),
        pytest.param("error", False, None, id="error"),
        pytest.param(None, True, None, id="undiagnosed"),
    ],
)
def test_matrix_cell(diagnosis: str | None, volatile: bool, cell: str | None) -> None:
    assert matrix_cell(diagnosis, volatile) == cell


def answers_with_no(*questions: int) -> list[dict[str, Any]]:
    return [
        {"question": q, "key": KEYS[q - 1], "answer": "no" if q in questions else "yes"}
        for q in range(1, 6)
    ]


@pytest.mark.parametrize(
    ("failures", "cell", "counts"),
    [
        pytest.param([], None, (0, 0, 0, 0), id="nothing-failed"),
        pytest.param([("error", False)] * 3, None, (0, 0, 0, 0), id="errors-are-not-placed"),
        pytest.param(
            [("behavior", False), ("hybrid", False), ("knowledge", True)],
            "fine-tune",
            (1, 0, 2, 0),
            id="majority-fine-tune",
        ),
        pytest.param(
            [("behavior", True), ("knowledge", True)], "prompt", (1, 0, 0, 1), id="tie-prompt-rag"
        ),
        pytest.param(
            [("knowledge", True), ("hybrid", False)], "rag", (1, 0, 1, 0), id="tie-rag-fine-tune"
        ),
        pytest.param(
            [("knowledge", False), ("behavior", False)],
            "fine-tune",
            (0, 1, 1, 0),
            id="tie-fine-tune-pretraining",
        ),
        pytest.param(
            [("knowledge", False)] * 2 + [("behavior", True)],
            "pretraining",
            (0, 2, 0, 1),
            id="pretraining-leads",
        ),
    ],
)
def test_recommend_cells_and_ties(
    failures: list[tuple[str, bool]], cell: str | None, counts: tuple[int, int, int, int]
) -> None:
    got = recommend(failures, answers_with_no())
    assert got["cell"] == cell
    assert got["counts"] == dict(
        zip(("rag", "pretraining", "fine-tune", "prompt"), counts, strict=True)
    )


@pytest.mark.parametrize(
    ("no", "not_yet", "summary"),
    [
        pytest.param(
            (3,),
            [3],
            "behavior-bound, stable -> fine-tune (LoRA/QLoRA): not yet, question 3",
            id="one",
        ),
        pytest.param(
            (3, 5),
            [3, 5],
            "behavior-bound, stable -> fine-tune (LoRA/QLoRA): not yet, questions 3 and 5",
            id="two",
        ),
        pytest.param(
            (1, 3, 5),
            [1, 3, 5],
            "behavior-bound, stable -> fine-tune (LoRA/QLoRA): not yet, questions 1, 3 and 5",
            id="three",
        ),
        pytest.param(
            (),
            [],
            "behavior-bound, stable -> fine-tune (LoRA/QLoRA): all five answers yes",
            id="ready",
        ),
    ],
)
def test_recommend_fine_tune_lists_questions_not_yet_yes(
    no: tuple[int, ...], not_yet: list[int], summary: str
) -> None:
    got = recommend([("behavior", False)], answers_with_no(*no))
    assert (got["not_yet"], got["summary"]) == (not_yet, summary)
    assert "LoRA/QLoRA" in got["advice"]


def test_recommend_counts_unknown_and_missing_answers_as_not_yet() -> None:
    answers = answers_with_no()[:4]
    answers[1] = {**answers[1], "answer": "unknown"}
    assert recommend([("hybrid", False)], answers)["not_yet"] == [2, 5]


@pytest.mark.parametrize(
    ("failure", "summary", "advice"),
    [
        pytest.param(
            ("behavior", True),
            "behavior-bound, volatile -> prompt engineering + few-shot",
            "few-shot examples",
            id="prompt",
        ),
        pytest.param(("knowledge", True), "knowledge-bound, volatile -> RAG", "(RAG)", id="rag"),
        pytest.param(
            ("knowledge", False),
            "knowledge-bound, stable -> continued pretraining (rare; try RAG first)",
            "rarely worth it",
            id="pretraining",
        ),
    ],
)
def test_recommend_other_cells_have_no_questions(
    failure: tuple[str, bool], summary: str, advice: str
) -> None:
    got = recommend([failure], answers_with_no(1, 2, 3, 4, 5))
    assert (got["summary"], got["not_yet"]) == (summary, [])
    assert advice in got["advice"]
