"""The gain each fix can buy: what the gold passages showed fixing retrieval wins, and what a
fine-tune wins at best and as expected; pure, through the summary, and in a whole run of a
pipeline whose faults are known."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import Project
from records import case, summary

from pytest_ragft.gains import gains
from pytest_ragft.model import CaseRecord
from pytest_ragft.report import fmt
from pytest_ragft.report.html import render_html
from pytest_ragft.report.jsonfile import write_json
from pytest_ragft.report.markdown import render_markdown
from pytest_ragft.report.terminal import terminal_lines
from pytest_ragft.runsummary import Gains, Lift, RunSummary

COST = {
    "queries_per_month": 1000,
    "value_per_fixed_failure": 0.05,
    "expected_fix_rate": 0.4,
    "finetune_upfront": 100,
    "finetune_monthly": 10,
}


def failed(case_id: str, kind: str, diagnosis: str, counterfactual: str | None) -> CaseRecord:
    record = case(case_id, kind, "failed", diagnosis=diagnosis)
    record.counterfactual = counterfactual
    return record


def records() -> list[CaseRecord]:
    """knowledge: 8 pass, 2 knowledge failures fixed by the gold passages, 1 hybrid one that
    was not, 1 knowledge failure never re-run, 1 error; behavior: 6 pass, 3 behavior and 1
    hybrid failure."""
    found = [case(f"k{i}") for i in range(8)]
    found += [
        failed("k-gold-1", "knowledge", "knowledge", "passed"),
        failed("k-gold-2", "knowledge", "knowledge", "passed"),
        failed("k-hybrid", "knowledge", "hybrid", "failed"),
        failed("k-python", "knowledge", "knowledge", None),
        case("k-error", "knowledge", "error", diagnosis="error"),
    ]
    found += [case(f"b{i}", "behavior") for i in range(6)]
    found += [failed(f"b-fmt{i}", "behavior", "behavior", None) for i in range(3)]
    found += [failed("b-hybrid", "behavior", "hybrid", None)]
    return found


def test_the_lifts_by_hand() -> None:
    got = gains(records(), 0.4, "expected_fix_rate")
    assert got.retrieval == (
        # 8 of 13 pass; the two the gold passages fixed would make it 10 of 13
        Lift("knowledge", 8, 13, fixed=2, of=3, rate=0.615385, rate_if=0.769231),
    )
    assert got.finetune == (
        # the hybrid knowledge failure: 8/13 -> 9/13, expected 8.4/13
        Lift("knowledge", 8, 13, 1, 1, 0.615385, 0.692308, expected_rate=0.646154),
        # 6 of 10 pass; 4 behavior-bound: at best 10/10, expected 6 + 1.6 = 7.6 of 10
        Lift("behavior", 6, 10, 4, 4, 0.6, 1.0, expected_rate=0.76),
    )
    assert (got.fix_rate, got.fix_rate_from) == (0.4, "expected_fix_rate")
    assert fmt.retrieval_gain_text(got) == (
        "with the gold passages 2 of 3 knowledge failures re-run pass: fixing retrieval can "
        "lift knowledge from 61.5% to 76.9%"
    )
    assert fmt.finetune_gain_text(got) == (
        "a fine-tune (fix rate 40.0%: expected_fix_rate) can lift behavior by up to 40.0 points "
        "(60.0% -> 100.0%, 4 behavior-bound failures), expected 16.0 (to 76.0%); knowledge by "
        "up to 7.7 points (61.5% -> 69.2%, 1 behavior-bound failure), expected 3.1 (to 64.6%)"
    )


def test_without_a_fix_rate_only_the_best_case() -> None:
    got = gains(records())
    assert [lift.expected_rate for lift in got.finetune] == [None, None]
    assert got.fix_rate is None and got.fix_rate_from is None
    assert fmt.finetune_gain_text(got).startswith(
        "a fine-tune can lift behavior by up to 40.0 points (60.0% -> 100.0%, 4 behavior-bound "
        "failures); knowledge"
    )


def test_gold_passages_that_fixed_nothing_say_so() -> None:
    got = gains([case("k1"), failed("k2", "knowledge", "hybrid", "failed")])
    assert got.retrieval == (Lift("knowledge", 1, 2, 0, 1, 0.5, 0.5),)
    assert fmt.retrieval_gain_text(got) == (
        "with the gold passages 0 of 1 knowledge failure re-run pass: fixing retrieval alone "
        "would not lift knowledge (50.0%)"
    )


def test_nothing_to_say_without_failures(tmp_path: Path) -> None:
    made = summary(
        tmp_path, [case("k1"), case("b1", "behavior")], table={"checklist": {"cost": COST}}
    )
    assert made.gains == Gains()
    assert not [line for line in terminal_lines(made) if "gain:" in line]
    assert "gain:**" not in render_markdown(made)


def test_the_summary_uses_expected_fix_rate_and_every_report_shows_both(tmp_path: Path) -> None:
    made = summary(tmp_path, records(), table={"checklist": {"cost": COST}})
    assert made.gains == gains(made.cases, 0.4, "expected_fix_rate")
    lines = [line for line in terminal_lines(made) if "gain:" in line]
    assert lines == [
        "retrieval gain: " + fmt.retrieval_gain_text(made.gains),
        "fine-tune gain: " + fmt.finetune_gain_text(made.gains),
    ]
    recommendation = [
        i for i, t in enumerate(terminal_lines(made)) if t.startswith("recommendation:")
    ]
    assert terminal_lines(made)[recommendation[0] + 1] == lines[0]
    markdown = render_markdown(made)
    assert "**Retrieval gain:** with the gold passages 2 of 3 knowledge failures" in markdown
    assert "**Fine-tune gain:** a fine-tune (fix rate 40.0%: expected_fix_rate)" in markdown
    assert "(60.0% → 100.0%, 4 behavior-bound failures)" in markdown
    page = render_html(made)
    assert "<strong>Retrieval gain:</strong> with the gold passages 2 of 3" in page
    assert "<strong>Fine-tune gain:</strong> a fine-tune" in page
    write_json(made.to_json(), tmp_path / "report.json")  # in the schema
    assert RunSummary.from_json(made.to_json()).gains == made.gains


FAULTY_BOT = """
ARTICLES = {
    "repairs": "Repairs cost $20 per hour.",
    "tent": "Renting a tent costs $35 per weekend.",
    "canada": "Free shipping to Canada on orders over $150.",
    "domestic": "Free shipping on domestic orders over $75.",
    "loyalty": 'Our tiers are "Trailhead" and "Summit".',
}
PUBLISHED = ["canada", "domestic", "repairs", "loyalty"]  # the tent article is a draft

def retrieve(question):
    words = set(question.lower().replace("?", "").split())
    scores = {k: sum(w in ARTICLES[k].lower() for w in words) for k in PUBLISHED}
    ranked = sorted((k for k in PUBLISHED if scores[k]), key=lambda k: -scores[k])
    return ranked[:2] or ["repairs"]

def answer(question, format="text", contexts=None):
    if contexts is None:
        ids = retrieve(question)
        passages = [ARTICLES[i] for i in ids]
    else:
        ids, passages = [], list(contexts)
    text = passages[0]  # the model reads only the top passage
    if format == "json":
        text = '{"answer": "%s"}' % text  # no escaping: quotes in the passage break it
    else:
        text += " [1]"
    return {"answer": text, "contexts": passages, "sources": ids}
"""

CASES = """
- {id: repairs-ok, kind: knowledge, input: repairs cost, expect: {contains: "$20"}}
- {id: tiers-ok, kind: knowledge, input: loyalty tiers, expect: {contains: Trailhead}}
- id: tent-rental-price
  kind: knowledge
  input: How much does renting a tent cost?
  expect: {contains: "$35"}
  gold_contexts: ["Renting a tent costs $35 per weekend."]
- id: free-shipping
  kind: knowledge
  input: free shipping orders over
  expect: {contains: "$75"}
  gold_contexts: ["Free shipping to Canada on orders over $150.",
                  "Free shipping on domestic orders over $75."]
- id: json-repairs-ok
  kind: behavior
  input: repairs cost
  vars: {format: json}
  facts: ["$20"]
  expect: {json_schema: {type: object, required: [answer]}}
- id: json-tiers
  kind: behavior
  input: what are the loyalty tiers
  vars: {format: json}
  facts: [Trailhead, Summit]
  expect: {json_schema: {type: object, required: [answer]}}
- id: short-repairs
  kind: behavior
  input: repairs cost
  facts: ["$20"]
  expect: {max_words: 3}
"""


def test_a_whole_run_measures_both_gains(project: Project, plugin_args: list[str]) -> None:
    project.configure(thresholds={"knowledge": 0.0, "behavior": 0.0}, checklist={"cost": COST})
    project.pipeline(FAULTY_BOT)
    project.cases("cases", CASES)
    result = project.run_with(plugin_args)
    assert result.ret == 0
    report = project.report()
    diagnosed = {c["id"]: (c["counterfactual"], c["diagnosis"]) for c in report["cases"]}
    assert diagnosed == {
        "repairs-ok": (None, None),
        "tiers-ok": (None, None),
        "tent-rental-price": ("passed", "knowledge"),
        "free-shipping": ("failed", "hybrid"),
        "json-repairs-ok": (None, None),
        "json-tiers": (None, "behavior"),
        "short-repairs": (None, "behavior"),
    }
    assert report["gains"] == {
        "retrieval": [
            {
                "category": "knowledge",
                "passed": 2,
                "total": 4,
                "fixed": 1,
                "of": 2,
                "rate": 0.5,
                "rate_if": 0.75,
                "expected_rate": None,
            },
        ],
        "finetune": [
            {
                "category": "knowledge",
                "passed": 2,
                "total": 4,
                "fixed": 1,
                "of": 1,
                "rate": 0.5,
                "rate_if": 0.75,
                "expected_rate": 0.6,
            },
            {
                "category": "behavior",
                "passed": 1,
                "total": 3,
                "fixed": 2,
                "of": 2,
                "rate": 0.333333,
                "rate_if": 1.0,
                "expected_rate": 0.6,
            },
        ],
        "fix_rate": 0.4,
        "fix_rate_from": "expected_fix_rate",
    }
    result.stdout.fnmatch_lines(
        [
            "recommendation: *",
            "retrieval gain: with the gold passages 1 of 2 knowledge failures re-run pass: "
            "fixing retrieval can lift knowledge from 50.0% to 75.0%",
            "fine-tune gain: a fine-tune (fix rate 40.0%: expected_fix_rate) can lift behavior "
            "by up to 66.7 points (33.3% -> 100.0%, 2 behavior-bound failures), expected 26.7 "
            "(to 60.0%); knowledge by up to 25.0 points (50.0% -> 75.0%, 1 behavior-bound "
            "failure), expected 10.0 (to 60.0%)",
        ]
    )


@pytest.mark.parametrize("diagnose", ["static"])
def test_a_static_run_claims_no_retrieval_gain(project: Project, diagnose: str) -> None:
    project.configure(diagnose=diagnose, thresholds={"knowledge": 0.0, "behavior": 0.0})
    project.pipeline(FAULTY_BOT)
    project.cases("cases", CASES)
    result = project.run()
    assert result.ret == 0
    gained = project.report()["gains"]
    assert gained["retrieval"] == []  # nothing was re-run with its gold passages
    assert [lift["category"] for lift in gained["finetune"]] == ["knowledge", "behavior"]
    assert gained["fix_rate"] is None
    assert "retrieval gain:" not in result.stdout.str()
    result.stdout.fnmatch_lines(
        ["fine-tune gain: a fine-tune can lift behavior by up to 66.7 points*"]
    )


VARIANT_BOT = """
def answer(question, **vars):
    if question.startswith("format"):
        return question + " and far too many words for the check"
    return question

def tuned(question, **vars):
    return question if question[-1] in "02468" else answer(question)
"""


def test_a_finetune_variants_measured_fix_rate_replaces_the_expected_one(
    project: Project,
) -> None:
    project.configure(
        thresholds={"knowledge": 0, "behavior": 0},
        variants={"adapter": {"pipeline": "bot:tuned", "role": "finetune"}},
        checklist={"cost": {**COST, "expected_fix_rate": 0.9}},
    )
    project.pipeline(VARIANT_BOT)
    project.cases(
        "behavior",
        [
            {
                "id": f"format-{i}",
                "kind": "behavior",
                "input": f"format {i}",
                "expect": {"contains": f"format {i}", "max_words": 2},
            }
            for i in range(12)
        ],
    )
    result = project.run("--ragft-variant=adapter")
    assert result.ret == 0
    gained = project.report()["gains"]
    assert gained["fix_rate"] == 0.5  # 6 of the 12 fixed, not the declared 90%
    assert gained["fix_rate_from"] == "the finetune variant adapter fixed 6 of 12"
    assert gained["finetune"] == [
        {
            "category": "behavior",
            "passed": 0,
            "total": 12,
            "fixed": 12,
            "of": 12,
            "rate": 0.0,
            "rate_if": 1.0,
            "expected_rate": 0.5,
        }
    ]
    result.stdout.fnmatch_lines(
        [
            "fine-tune gain: a fine-tune (fix rate 50.0%: the finetune variant adapter fixed 6 of "
            "12) can lift behavior by up to 100.0 points (0.0% -> 100.0%, 12 behavior-bound "
            "failures), expected 50.0 (to 50.0%)"
        ]
    )
