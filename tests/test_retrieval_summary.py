"""``[tool.ragft.retrieval] k`` through the summary, and each category's means with their
95% intervals, from real records, in the JSON report as its schema allows."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from conftest import Project, case_yaml
from records import case, summary

from pytest_ragft import stats
from pytest_ragft.costs import case_measures as baseline_measures
from pytest_ragft.model import CaseRecord, RepeatRecord
from pytest_ragft.report.jsonfile import write_json
from pytest_ragft.runsummary import RunSummary

D2, D3 = 1 / math.log2(3), 1 / math.log2(4)  # the discounts of ranks 2 and 3


def ranked(
    case_id: str, sources: list[str], gold: list[str], kind: str = "knowledge"
) -> CaseRecord:
    """A record as make_record leaves it: measured at every source returned."""
    from pytest_ragft.retrieval import rank_measures

    record = case(case_id, kind)
    record.repeats = [RepeatRecord(repeat=1, outcome="passed", sources=sources)]
    record.gold_sources = list(gold)
    record.retrieval = rank_measures(sources, gold)
    return record


def test_k_cuts_every_case_and_the_category(tmp_path: Path) -> None:
    records = [
        ranked("first", ["g", "x", "y", "z"], ["g"]),  # rank 1
        ranked("third", ["x", "y", "g", "z"], ["g"]),  # rank 3: outside k = 2
        ranked("two-golds", ["a", "x", "b"], ["a", "b"]),  # b at rank 3: outside
        ranked("short", ["x"], ["g"]),  # k beyond the list: the list
    ]
    made = summary(tmp_path, records, table={"retrieval": {"k": 2}})
    by_id = {c.id: c.retrieval for c in made.cases}
    assert by_id["first"] == {"hit": 1.0, "recall": 1.0, "mrr": 1.0, "ndcg": 1.0, "k": 2.0}
    assert by_id["third"] == {"hit": 0.0, "recall": 0.0, "mrr": 0.0, "ndcg": 0.0, "k": 2.0}
    # IDCG@2 with two golds: 1 + 1/log2(3); DCG@2: 1
    assert by_id["two-golds"] == pytest.approx(
        {"hit": 1.0, "recall": 0.5, "mrr": 1.0, "ndcg": 1 / (1 + D2), "k": 2.0}
    )
    assert by_id["short"] == {"hit": 0.0, "recall": 0.0, "mrr": 0.0, "ndcg": 0.0, "k": 1.0}
    knowledge = made.retrieval["knowledge"]
    assert knowledge.k is None  # "short" was cut at 1: the lengths differ
    assert (knowledge.hit, knowledge.recall, knowledge.mrr) == (0.5, 0.375, 0.5)
    write_json(made.to_json(), tmp_path / "report.json")  # raises when it breaks the schema
    assert RunSummary.from_json(made.to_json()) == made


def test_without_k_every_source_returned_counts(tmp_path: Path) -> None:
    records = [ranked("third", ["x", "y", "g", "z"], ["g"])]
    made = summary(tmp_path, records)
    assert made.cases[0].retrieval == pytest.approx(
        {"hit": 1.0, "recall": 1.0, "mrr": 1 / 3, "ndcg": D3, "k": 4.0}
    )
    assert made.retrieval["knowledge"].k == 4


def test_a_record_from_a_report_without_gold_ids_keeps_its_measures(tmp_path: Path) -> None:
    record = ranked("old", ["x", "g"], ["g"])
    record.gold_sources = []
    made = summary(tmp_path, [record], table={"retrieval": {"k": 1}})
    assert made.cases[0].retrieval == {"hit": 1.0, "recall": 1.0, "mrr": 0.5, "ndcg": D2, "k": 2.0}


def test_intervals_of_each_mean(tmp_path: Path) -> None:
    records = [ranked(f"hit{i}", ["g", "x"], ["g"]) for i in range(7)]
    records += [ranked(f"second{i}", ["x", "g"], ["g"]) for i in range(2)]
    records += [ranked("miss", ["x", "y"], ["g"])]
    fact = [case(f"f{i}", "behavior") for i in range(4)]
    for record, share in zip(fact, (1.0, 1.0, 0.5, 0.0), strict=True):
        record.retrieval = {"fact_recall": share}
    made = summary(tmp_path, records + fact)
    knowledge, behavior = made.retrieval["knowledge"], made.retrieval["behavior"]
    # 9 hits of 10: Wilson, z = 1.96
    assert knowledge.hit == 0.9
    assert knowledge.hit_ci == (0.5958, 0.9821)
    # MRR: seven 1.0, two 0.5, one 0.0; mean 0.8, s = 0.3496, t(0.975, 9) = 2.2622
    s = math.sqrt((7 * 0.2**2 + 2 * 0.3**2 + 0.8**2) / 9)
    half = 2.262157 * s / math.sqrt(10)
    assert 0.8 + half > 1.0  # clipped: no mean of [0, 1] measures lies above 1
    assert knowledge.mrr_ci == (round(0.8 - half, 4), 1.0) == (0.5499, 1.0)
    # every recall is 1 but one: t-interval; fact recall 1, 1, 0.5, 0 with t(0.975, 3) = 3.1824
    s = math.sqrt((0.375**2 * 2 + 0.125**2 + 0.625**2) / 3)
    low = 0.625 - 3.182446 * s / 2
    assert behavior.fact_recall == 0.625
    assert behavior.fact_recall_ci == (round(max(0.0, low), 4), 1.0)
    write_json(made.to_json(), tmp_path / "report.json")
    assert RunSummary.from_json(made.to_json()) == made


def test_equal_scores_do_not_claim_certainty(tmp_path: Path) -> None:
    records = [ranked(f"c{i}", ["g"], ["g"]) for i in range(6)]
    knowledge = summary(tmp_path, records).retrieval["knowledge"]
    # every measure 1.0: the t-interval would be the point [1, 1]; Wilson's 6 of 6 stands in
    wilson = tuple(round(v, 4) for v in stats.wilson_interval(6, 6))
    assert wilson == (0.6097, 1.0)
    assert (
        knowledge.hit_ci == knowledge.recall_ci == knowledge.mrr_ci == knowledge.ndcg_ci == wilson
    )


def test_the_baseline_keeps_each_cases_retrieval_beside_its_spending() -> None:
    record = ranked("c", ["x", "g"], ["g"])
    record.repeats[0].latency_s = 0.5
    found = baseline_measures([record])["c"]
    assert found["latency_s"] == 0.5
    assert found["retrieval.recall"] == 1.0 and found["retrieval.k"] == 2.0


def test_the_html_shows_a_retrieval_table_with_each_interval(tmp_path: Path) -> None:
    import html as html_lib

    from pytest_ragft.report.escape import escape_md
    from pytest_ragft.report.html import render_html
    from pytest_ragft.report.markdown import render_markdown

    records = [ranked(f"hit{i}", ["g", "x"], ["g"]) for i in range(9)]
    records += [ranked("miss", ["x", "y"], ["g"])]
    fact = case("f", "behavior")
    fact.retrieval = {"fact_recall": 0.5}
    made = summary(tmp_path, [*records, fact])
    page = html_lib.unescape(render_html(made))
    section = page[page.index('<section id="retrieval">') :]
    section = section[: section.index("</section>")]
    knowledge = section[section.index('<th scope="row">knowledge</th>') :].split("</tr>")[0]
    # 10 cases cut at 2; hit 0.90 [0.60, 0.98] (Wilson 9 of 10); no fact-recall cases
    assert '<td class="num">10</td><td class="num">2</td>' in knowledge
    assert "0.90<br>" in knowledge and "[0.60, 0.98]" in knowledge
    assert knowledge.endswith('<td class="num">0</td><td>-</td>')
    behavior = section[section.index('<th scope="row">behavior</th>') :].split("</tr>")[0]
    assert behavior.count("<td>-</td>") == 4  # no rank measures
    assert "0.50<br>" in behavior and "[0.05, 0.95]" in behavior  # one case: Wilson, 0.5 of 1
    shown = "hit@2 0.90 [0.60, 0.98] · recall@2 0.90 [0.67, 1.00]"  # Wilson, then t
    assert "- knowledge: " + escape_md(shown) in render_markdown(made)


def test_k_from_the_environment_reaches_every_report(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.configure(thresholds={"knowledge": 0.0, "behavior": 0.0}, retrieval={"k": 3})
    project.pipeline(
        """
        def answer(question):
            return {"answer": "ok", "contexts": ["a", "b", "c"], "sources": ["x", "y", "g"]}
        """
    )
    project.cases("k", [case_yaml("c", "knowledge", "q", {"contains": "ok"}, gold_sources=["g"])])
    monkeypatch.setenv("RAGFT_RETRIEVAL_K", "2")  # over pyproject's 3
    result = project.run()
    assert result.ret == 0
    report = project.report()
    assert report["cases"][0]["gold_sources"] == ["g"]
    assert report["cases"][0]["retrieval"] == {
        "hit": 0.0,
        "recall": 0.0,
        "mrr": 0.0,
        "ndcg": 0.0,
        "k": 2.0,
    }
    assert report["retrieval"]["knowledge"]["k"] == 2
    result.stdout.fnmatch_lines(["retrieval: knowledge hit@2 0.00 [[]0.00, 0.79[]] *"])
