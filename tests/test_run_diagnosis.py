"""The plugin through pytest: the diagnosis end to end, with faults we control."""

from __future__ import annotations

import json

from conftest import Project, case_yaml

# --------------------------------------------------------------------------------------------
# The diagnosis end to end, with faults we control


FAULTY_BOT = """
import json
from pathlib import Path

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
    return [ARTICLES[k] for k in ranked][:2] or [ARTICLES["repairs"]]

def answer(question, format="text", contexts=None):
    with Path("calls.jsonl").open("a") as log:
        log.write(json.dumps({"q": question, "contexts": contexts is not None}) + "\\n")
    passages = list(contexts) if contexts is not None else retrieve(question)
    text = passages[0]  # the model only reads the top passage
    if format == "json":
        return {"answer": '{"answer": "%s"}' % text, "contexts": passages}  # no escaping, no [1]
    return {"answer": text + " [1]", "contexts": passages}
"""

DIAGNOSIS_CASES = """
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
- id: json-tiers
  kind: behavior
  input: what are the loyalty tiers
  vars: {format: json}
  facts: [Trailhead, Summit]
  expect:
    json_schema: {type: object, required: [answer]}
    cites_sources: true
- id: repairs-ok
  kind: knowledge
  input: repairs cost
  expect: {contains: "$20", cites_sources: true}
"""


def test_diagnosis_end_to_end(project: Project, plugin_args: list[str]) -> None:
    project.configure(thresholds={"knowledge": 0.0, "behavior": 0.0})
    project.pipeline(FAULTY_BOT)
    project.cases("cases", DIAGNOSIS_CASES)
    result = project.run_with(plugin_args)
    assert result.ret == 0
    cases = {c["id"]: c for c in project.report()["cases"]}
    got = {
        k: (c["outcome"], c.get("static_diagnosis"), c.get("counterfactual"), c.get("diagnosis"))
        for k, c in cases.items()
    }
    assert got == {
        "tent-rental-price": ("failed", "knowledge", "passed", "knowledge"),
        "free-shipping": ("failed", "hybrid", "failed", "hybrid"),
        "json-tiers": ("failed", "behavior", None, "behavior"),
        "repairs-ok": ("passed", None, None, None),
    }
    assert any("json_schema" in m for m in cases["json-tiers"]["messages"])
    assert any("cites_sources" in m for m in cases["json-tiers"]["messages"])
    report = project.report()
    assert report["diagnosis"] == {"knowledge": 1, "hybrid": 1, "behavior": 1, "error": 0}
    assert report["counterfactual"] == {"run": 2, "confirmed": 2, "overturned": 0}
    calls = [json.loads(line) for line in (project.path / "calls.jsonl").read_text().splitlines()]
    rerun = sorted(c["q"] for c in calls if c["contexts"])
    assert rerun == ["How much does renting a tent cost?", "free shipping orders over"]
    assert len(calls) == 6


def test_pipeline_without_contexts_keyword_is_never_given_it(project: Project) -> None:
    project.configure()
    project.pipeline(
        """
        import json

        def answer(question, **vars):
            with open("calls.jsonl", "a") as log:
                log.write(json.dumps(sorted(vars)) + "\\n")
            return {"answer": "no idea", "contexts": []}
        """
    )
    project.cases(
        "k",
        [
            case_yaml(
                "k",
                "knowledge",
                "q",
                {"contains": "$35"},
                gold_contexts=["$35"],
                vars={"lang": "en"},
            )
        ],
    )
    project.run()
    calls = (project.path / "calls.jsonl").read_text().splitlines()
    assert calls == ['["lang"]']
    case = project.report()["cases"][0]
    assert (case["counterfactual"], case["diagnosis"]) == (None, "knowledge")


# --------------------------------------------------------------------------------------------
# The evidence of each failure, end to end

SOURCED_BOT = """
PASSAGES = {
    "canada": "Free shipping to Canada on orders over $150.",
    "domestic": "Free shipping on domestic orders over $75.",
}

def answer(question, contexts=None):
    if contexts is not None:
        return {"answer": contexts[0], "contexts": contexts}
    return {"answer": PASSAGES["canada"] + " [1]", "contexts": list(PASSAGES.values()),
            "sources": ["shipping#canada", "shipping#domestic"]}
"""


def test_a_failure_carries_its_evidence_to_every_output(
    project: Project, plugin_args: list[str]
) -> None:
    project.configure(
        thresholds={"knowledge": 0.0, "behavior": 0.0},
        report={"markdown": "ragft-report.md", "html": "ragft-report.html"},
    )
    project.pipeline(SOURCED_BOT)
    project.cases(
        "k",
        [
            case_yaml(
                "free-shipping",
                "knowledge",
                "free shipping?",
                {"contains": "$75"},
                repeats=2,
                gold_contexts=["Free shipping to Canada on orders over $150.", "Over $75."],
            ),
        ],
    )
    result = project.run_with(plugin_args)
    [case] = project.report()["cases"]
    assert case["evidence"] == {
        "facts": ["$75"],
        "answer": [False],
        "contexts": [
            {
                "rank": 1,
                "source": "shipping#canada",
                "excerpt": "Free shipping to Canada on orders over $150.",
                "start": 0,
                "length": 44,
                "facts": [False],
                "hit": None,
            },
            {
                "rank": 2,
                "source": "shipping#domestic",
                "excerpt": "Free shipping on domestic orders over $75.",
                "start": 0,
                "length": 42,
                "facts": [True],
                "hit": [38, 42],
            },
        ],
        "contexts_total": 2,
        "gold": "failed",
    }
    assert case["repeats"][0]["sources"] == ["shipping#canada", "shipping#domestic"]
    assert case["min_pass_ratio"] == 1.0  # applied, so recorded
    result.stdout.fnmatch_lines(
        [
            "*  answer: lacks '$75'",
            "*  context 2 (shipping#domestic) holds '$75': Free shipping on domestic orders*$75.",
            "*  context 1 (shipping#canada) holds no fact",
            "*  gold passages: failed: the answer fails even with the gold passages in hand",
        ]
    )
    md = (project.path / "ragft-report.md").read_text()
    assert (
        "| 2 | shipping#domestic | ✅ $75 | Free shipping on domestic orders over **$75.** |" in md
    )
    assert "<mark>$75.</mark>" in (project.path / "ragft-report.html").read_text()


def test_min_pass_ratio_is_recorded_for_file_cases(project: Project) -> None:
    project.configure(min_pass_ratio=0.5)
    project.pipeline()
    project.cases(
        "c",
        [
            case_yaml("default", "knowledge", "ok"),
            case_yaml("own", "knowledge", "ok", min_pass_ratio=0.75),
            case_yaml("skipped", "knowledge", "ok", skip="not today"),
        ],
    )
    project.run()
    ratios = {c["id"]: c["min_pass_ratio"] for c in project.report()["cases"]}
    assert ratios == {"default": 0.5, "own": 0.75, "skipped": 0.5}
