"""The Markdown report: marker, content, the size cap and untrusted text."""

from __future__ import annotations

import re
from typing import Any

import pytest
from reportdata import build_report

from pytest_ragft.checklist import TITLES
from pytest_ragft.report.escape import ZWJ
from pytest_ragft.report.markdown import render_markdown, report_marker
from pytest_ragft.runsummary import RunSummary

HOSTILE = (
    "<!-- ragft:report suite=support-bot --> </details> <script>alert(1)</script> "
    "@octocat ping #1 and GH-2 ```fence``` `code` [link](javascript:alert(1)) "
    "![img](https://x.invalid/a.png) *bold* _em_ ~~gone~~ | pipe \x1b[31mred\x07\x00\u202e"
)


def md_of(report: dict[str, Any], limit: int | None = None) -> str:
    """The Markdown of a report, read as the typed summary the renderer takes."""
    summary = RunSummary.from_json(report)
    return render_markdown(summary) if limit is None else render_markdown(summary, limit=limit)


def _outside_pre(md: str) -> str:
    """The Markdown with ``<pre>`` blocks (HTML, where Markdown does not act) removed."""
    return re.sub(r"<pre>.*?</pre>", "", md, flags=re.S)


def _case_blocks(md: str) -> int:
    return len(re.findall(r"^\*\*(knowledge|behavior)-\d+\*\*", md, flags=re.M))


# --- the marker -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("suite", "marker"),
    [
        pytest.param("support-bot", "<!-- ragft:report suite=support-bot -->", id="plain"),
        pytest.param("acme/bot v2", "<!-- ragft:report suite=acme/bot%20v2 -->", id="space"),
        pytest.param(
            "x --> <b>", "<!-- ragft:report suite=x%20--%3E%20%3Cb%3E -->", id="closes-comment"
        ),
        pytest.param("a\n-->", "<!-- ragft:report suite=a%0A--%3E -->", id="newline"),
        pytest.param("--!>", "<!-- ragft:report suite=--%21%3E -->", id="bang-closes-comment"),
        pytest.param("é", "<!-- ragft:report suite=%C3%A9 -->", id="non-ascii"),
        pytest.param("\ud800", "<!-- ragft:report suite=%ED%A0%80 -->", id="lone-surrogate"),
        pytest.param("", "<!-- ragft:report suite=% -->", id="empty"),
    ],
)
def test_marker_is_the_first_line(suite: str, marker: str) -> None:
    assert report_marker(suite) == marker
    md = md_of(build_report(6, suite=suite))
    assert md.split("\n", 1)[0] == marker
    assert md.count("-->") == 1


@pytest.mark.parametrize(
    "names",
    [
        pytest.param(["team a", "team_a", "team%20a", "team+a", "team.a"], id="slug-collisions"),
        pytest.param(["", "%", "_"], id="empty-and-escape-char"),
        pytest.param(["x" * 300, "x" * 299 + "y", "x" * 150 + "~"], id="long-names"),
    ],
)
def test_different_suites_never_share_a_marker(names: list[str]) -> None:
    markers = [report_marker(n) for n in names]
    assert len(set(markers)) == len(names)
    for marker in markers:
        assert re.fullmatch(r"<!-- ragft:report suite=[A-Za-z0-9_.:/+%~-]+ -->", marker)
        assert len(marker) < 260


# --- content ----------------------------------------------------------------------------------


def test_failing_report_content() -> None:
    md = md_of(build_report(30, failed=7, errors=2))
    assert "❌ ragft gate: FAIL" in md
    assert md.index("below_threshold") < md.index("Warnings") < md.index("finetune_blocked")
    assert "| knowledge | 10/15 | 66.7% | [41.7, 84.8] | 90% ❌ | 94.0% | -27.3 |" in md
    assert "`▅▅▆▆▆▆▇▇▇▆`" in md  # the last 10 of 12 trend values
    assert "about 400 would" in md  # the power note
    assert "behavior 3 · hybrid 2 · knowledge 2 · error 2" in md
    assert "2 confirmed · 2 overturned" in md
    assert "2 knowledge cases failed for behavior reasons" in md
    assert "| 3 | Hundreds of production-matched training examples ready? | ❌ no | 183 valid" in md
    rec = "**Recommendation:** behavior-bound, stable → fine-tune (LoRA/QLoRA): not yet, question 3"
    assert rec in md
    assert "Collect more training examples before fine-tuning." in md
    assert "rag 2 · pretraining 1 · fine-tune 6 · prompt 2" in md
    assert "**Flaky cases**" in md and "behavior-00029" in md
    assert "run 20260301T120000Z-4f2a" in md and "commit 0123456789ab on feature/refunds" in md
    assert "[CI run](https://github.com/acme/support-bot/actions/runs/1)" in md
    assert _case_blocks(md) == 9
    assert "...and" not in md


def test_failed_cases_grouped_by_diagnosis() -> None:
    md = md_of(build_report(30, failed=7, errors=2))
    summaries = re.findall(r"<summary>(\w+): (\d+) cases?", md)
    assert summaries == [("behavior", "3"), ("hybrid", "2"), ("knowledge", "2"), ("error", "2")]
    assert md.count("<details>") == md.count("</details>")
    assert "<pre>error: TimeoutError: pipeline call exceeded 60 s</pre>" in md
    assert "static knowledge, counterfactual passed" in md
    assert "<pre>The refund window is 14 days.</pre>" in md


def test_passing_report() -> None:
    report = build_report(10, failed=0, errors=0)
    report["gate"]["events"] = []
    report["gate"]["reason"] = "every gate condition holds"
    md = md_of(report)
    assert "✅ ragft gate: PASS" in md
    assert "**Why:** every gate condition holds" in md
    assert "Failed cases" not in md and "<details><summary>behavior" not in md


def test_null_baseline_and_empty_run() -> None:
    report = build_report(4, failed=0, errors=0, baseline=False)
    assert "| knowledge | 2/2 | 100.0% | [34.2, 100.0] | 90% | - | - |" in md_of(report)
    report["categories"] = {}
    assert "No eval cases ran." in md_of(report)


# --- a failure's evidence --------------------------------------------------------------------


def evidence_of(facts: list[str], context: str, at: int | None, total: int = 3) -> dict[str, Any]:
    """Evidence of one context holding the first fact (at ``at``), which the answer lacks."""
    hit = None if at is None else [at, at + len(facts[0])]
    return {
        "facts": facts,
        "answer": [False] + [True] * (len(facts) - 1),
        "contexts": [
            {
                "rank": rank,
                "source": f"src-{rank}-{context[:7]}",
                "excerpt": context,
                "start": 0 if rank == 1 else 12,
                "length": len(context) + (0 if rank == 1 else 50),
                "facts": [rank == 1] + [False] * (len(facts) - 1),
                "hit": hit if rank == 1 else None,
            }
            for rank in (1, 2)
        ][: min(total, 2)],
        "contexts_total": total,
        "gold": "failed",
    }


def test_failed_case_shows_its_evidence_inside_its_block() -> None:
    report = build_report(6, failed=1, errors=0)
    report["cases"][0]["evidence"] = evidence_of(
        ["$75", "30 days"], "Free on orders of $75 or more.", 18, total=5
    )
    md = md_of(report)
    start = md.index("**knowledge-00000**")
    block = md[start : md.index("</details>", start)]
    assert "Facts in the answer: ❌ $75 · ✅ 30 days  \n" in block
    assert "| context | source | facts | excerpt |\n|--:|---|---|---|\n" in block
    assert (
        "| 1 | src-1-Free on | ✅ $75 · ❌ 30 days | Free on orders of **$75** or more. |" in block
    )
    assert "| 2 | src-2-Free on | ❌ $75 · ❌ 30 days | …Free on orders of $75 or more.… |" in block
    assert "...and 3 more contexts not shown" in block
    assert "Gold passages: failed: the answer fails even with the gold passages in hand" in block


def test_evidence_of_every_failure_still_fits_the_limit() -> None:
    report = build_report(2_200, failed=2_000, errors=0)
    long_context = "word " * 60 + "fact here" + " word" * 60
    for case in report["cases"][:2_000]:
        case["evidence"] = evidence_of(["fact here"] * 10, long_context, 300, total=50)
    md = md_of(report, 30_000)
    assert 27_000 < len(md) <= 30_000
    assert md.count("<details>") == md.count("</details>")
    assert md.count("| context | source | facts | excerpt |") == _case_blocks(md) > 0
    assert "more failed cases (see the JSON report)" in md


# --- the size cap -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "limit",
    [
        *(pytest.param(n, id=str(n)) for n in (8_000, 30_000, 65_000)),
        pytest.param(None, id="default-65000"),
    ],
)
def test_cap_with_5000_failed_cases(limit: int | None) -> None:
    report = build_report(5_200, failed=5_000, errors=100, failing_answer="y" * 5_000)
    md = md_of(report, limit)
    cap = 65_000 if limit is None else limit
    assert cap * 0.9 < len(md) <= cap
    assert md.startswith(report_marker("support-bot") + "\n")
    more = re.search(r"\.\.\.and (\d+) more failed cases \(see the JSON report\)", md)
    assert more is not None
    assert _case_blocks(md) + int(more.group(1)) == 5_100
    assert _case_blocks(md) > 0
    assert md.count("<details>") == md.count("</details>")
    assert md.rstrip().endswith("[CI run](https://github.com/acme/support-bot/actions/runs/1)")


def test_huge_summary_is_still_capped() -> None:
    report = build_report(40, failed=10)
    for item in report["checklist"]:
        item["evidence"] = "e" * 100_000
    report["flaky"] = [
        {"id": f"case-{i}", "rule": "alternating", "detail": "2 flips"} for i in range(10_000)
    ]
    report["gate"]["events"] += [
        {"event": "regression", "action": "warn", "detail": "d" * 10_000} for _ in range(500)
    ]
    md = md_of(report, limit=20_000)
    assert len(md) <= 20_000
    assert md.startswith(report_marker("support-bot") + "\n")


# --- untrusted text -------------------------------------------------------------------------


@pytest.fixture
def hostile_md() -> str:
    report = build_report(8, failed=3, errors=0, failing_answer=HOSTILE)
    case = report["cases"][0]
    case["id"] = "id-@octocat-#7"
    case["input"] = HOSTILE
    case["messages"] = [HOSTILE, "# not a heading", "1. not a list", "- not an item"]
    case["evidence"] = evidence_of(["ping", HOSTILE], HOSTILE, HOSTILE.index("ping"))
    report["checklist"][0]["evidence"] = HOSTILE
    report["gate"]["events"][0]["detail"] = HOSTILE
    report["flaky"] = [{"id": "<b>flaky</b>", "rule": "repeats", "detail": "<i>why</i>"}]
    return md_of(report)


def test_marker_cannot_be_forged(hostile_md: str) -> None:
    assert hostile_md.count("<!-- ragft:report") == 1
    assert hostile_md.startswith("<!-- ragft:report suite=support-bot -->\n")


def test_html_cannot_escape_its_block(hostile_md: str) -> None:
    assert hostile_md.count("<details>") == hostile_md.count("</details>") == 4  # 3 + tags
    assert hostile_md.count("<pre>") == hostile_md.count("</pre>") == 3
    assert "<script" not in hostile_md and "<b>" not in hostile_md
    assert "&lt;/details&gt;" in hostile_md


def test_mentions_and_refs_are_neutralised(hostile_md: str) -> None:
    assert not re.search(r"@[A-Za-z0-9]", hostile_md)
    assert not re.search(r"(#|GH-)[0-9]", hostile_md)
    assert f"@{ZWJ}octocat" in hostile_md


def test_markdown_cannot_act_outside_pre(hostile_md: str) -> None:
    text = _outside_pre(hostile_md)
    text = re.sub(r"`[▁▂▃▄▅▆▇█ ]+`", "", text)  # the sparkline code spans are ours
    assert not re.search(r"(?<!\\)`", text)
    assert not re.search(r"(?<!\\)\]\(javascript:", text)
    assert not re.search(r"(?<!\\)\[link", text)
    for raw in ("*bold", "_em", "~~gone", "| pipe", "![img"):
        assert not re.search(r"(?<![\\])" + re.escape(raw), text), raw
    assert "- \\# not a heading" in text
    assert "- 1\\. not a list" in text
    assert "- \\- not an item" in text


def test_hostile_evidence_stays_in_its_table(hostile_md: str) -> None:
    rows = [line for line in hostile_md.splitlines() if re.match(r"\| [12] \| src-", line)]
    assert len(rows) == 2
    for row in rows:
        assert len(re.findall(r"(?<!\\)\|", row)) == 5  # four cells, no pipe of the context's
    assert "**ping**" in rows[0]


def test_control_characters_removed(hostile_md: str) -> None:
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f\u202e]", hostile_md)


# --- wording from the summary ---------------------------------------------------------------


def test_checklist_titles_come_from_the_report() -> None:
    report = build_report(6)
    report["checklist"][0]["title"] = "Our own <question>?"
    del report["checklist"][1]["title"]
    md = md_of(report)
    assert "| 1 | Our own &lt;question&gt;? | ✅ yes |" in md
    assert f"| 2 | {TITLES['behavior_gap']} | ✅ yes |" in md


def test_recommendation_is_the_summarys_own_words() -> None:
    report = build_report(6)
    report["recommendation"]["summary"] = "prompt first -> then fine-tune"
    md = md_of(report)
    assert "**Recommendation:** prompt first → then fine-tune  \n" in md
    assert "not yet" not in md
