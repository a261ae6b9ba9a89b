"""The comparison of variants with the main pipeline: verdicts, exact p-values, Holm."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from records import case, summary

from pytest_ragft.model import CaseRecord
from pytest_ragft.report.jsonfile import schema_problem
from pytest_ragft.report.terminal import terminal_lines
from pytest_ragft.runsummary import RunSummary
from pytest_ragft.stats import wilson_interval
from pytest_ragft.variants import (
    Comparison,
    Variant,
    compare,
    holm,
    paired_difference_interval,
)

Table = tuple[int, int, int, int]  # both passed, main only, variant only, neither


def _pipelines(
    tables: dict[str, Table], diagnosis: str = "behavior"
) -> tuple[list[CaseRecord], list[CaseRecord]]:
    """Main and variant records with the given 2x2 table per category."""
    main: list[CaseRecord] = []
    variant: list[CaseRecord] = []
    for kind, (both, main_only, variant_only, neither) in tables.items():
        cells = (
            [(True, True)] * both
            + [(True, False)] * main_only
            + [(False, True)] * variant_only
            + [(False, False)] * neither
        )
        for i, (m, v) in enumerate(cells):
            cid = f"{kind}-{i:03d}"
            main.append(case(cid, kind, "passed" if m else "failed", diagnosis=diagnosis))
            variant.append(case(cid, kind, "passed" if v else "failed", diagnosis=kind))
    return main, variant


def _one(tables: dict[str, Table], target: str | None = None) -> Comparison:
    main, variant = _pipelines(tables)
    return compare(main, [Variant("v2", variant, role="prompt", target=target)])


def test_a_clear_improvement_is_better_with_the_exact_p_value() -> None:
    result = _one({"behavior": (8, 1, 9, 2), "knowledge": (30, 0, 0, 10)}, target="behavior")
    behavior = result.variants[0].categories["behavior"]
    # 10 discordant cases, 9 of them fixed: P(X >= 9) for X ~ Binomial(10, 1/2).
    by_hand = (math.comb(10, 9) + math.comb(10, 10)) / 2**10
    assert by_hand == pytest.approx(11 / 1024)
    assert behavior.p_better == pytest.approx(by_hand, abs=1e-15)
    assert behavior.p_adjusted == behavior.p_better  # one variant: nothing to correct
    assert (behavior.wins, behavior.losses, behavior.shared) == (9, 1, 20)
    assert behavior.difference == pytest.approx(0.4)
    assert behavior.verdict == "better"
    assert "p = 0.0107" in behavior.detail and behavior.detail.endswith("better")
    assert result.variants[0].categories["knowledge"].verdict == "no worse"
    assert result.variants[0].replaces
    assert not result.holm and result.note == ""
    assert [c.diagnosis for c in behavior.fixed] == ["behavior"] * 9
    assert [c.diagnosis for c in behavior.broken] == ["behavior"]  # the variant's own


def test_an_equal_variant_is_no_worse_and_never_better() -> None:
    result = _one({"behavior": (30, 0, 0, 10), "knowledge": (45, 0, 0, 15)})
    for cat in result.variants[0].categories.values():
        assert cat.verdict == "no worse"
        assert cat.p_better == 1.0 and cat.difference == 0.0
        assert cat.difference_ci[0] < 0.0 < cat.difference_ci[1]
    assert not result.variants[0].replaces
    assert result.variants[0].reason == "better on no category"


def test_a_variant_that_loses_3_knowledge_cases_is_worse_on_knowledge() -> None:
    result = _one({"behavior": (5, 0, 12, 3), "knowledge": (25, 3, 0, 2)}, target="behavior")
    v2 = result.variants[0]
    assert v2.categories["behavior"].verdict == "better"
    knowledge = v2.categories["knowledge"]
    assert knowledge.verdict == "worse"
    assert [c.id for c in knowledge.broken] == ["knowledge-025", "knowledge-026", "knowledge-027"]
    assert all(c.diagnosis == "knowledge" for c in knowledge.broken)
    assert not v2.replaces and v2.reason == "knowledge: worse"


def test_two_variants_get_holms_correction() -> None:
    # Alone, 5 fixed and none broken is significant: P = 1/32 = 0.03125 < 0.05.
    alone = _one({"behavior": (10, 0, 5, 5)}).variants[0].categories["behavior"]
    assert alone.p_better == pytest.approx(1 / 32) and alone.verdict == "better"
    main, better = _pipelines({"behavior": (10, 0, 5, 5)})
    _, same = _pipelines({"behavior": (10, 0, 0, 10)})
    result = compare(main, [Variant("v2", better), Variant("same", same)])
    assert result.holm and "Holm" in result.note
    v2 = result.variants[0].categories["behavior"]
    # Holm: the smaller of 2 p-values times 2; the larger (1.0) times 1.
    assert v2.p_better == pytest.approx(1 / 32)
    assert v2.p_adjusted == pytest.approx(2 / 32)
    assert v2.verdict != "better"
    assert "Holm-adjusted p = 0.0625" in v2.detail
    assert result.variants[1].categories["behavior"].p_adjusted == 1.0


def test_too_few_cases_are_not_enough_to_tell_with_the_count_needed() -> None:
    pattern: Table = (3, 0, 0, 1)
    few = _one({"knowledge": pattern}).variants[0].categories["knowledge"]
    assert few.verdict == "not enough cases to tell"
    assert few.cases_needed > few.shared
    assert f"{few.cases_needed} shared cases needed" in few.detail
    times = math.ceil(few.cases_needed / 4)
    enough = _one({"knowledge": tuple(k * times for k in pattern)})  # type: ignore[dict-item]
    assert enough.variants[0].categories["knowledge"].verdict == "no worse"


def test_a_variant_not_better_on_its_target_does_not_replace() -> None:
    result = _one({"behavior": (20, 0, 0, 5), "knowledge": (10, 0, 8, 2)}, target="behavior")
    v2 = result.variants[0]
    assert v2.categories["knowledge"].verdict == "better"
    assert not v2.replaces and v2.reason.startswith("not better on its target behavior")


def test_skipped_and_unshared_cases_are_left_out_of_the_pairs() -> None:
    main = [case("a"), case("b", outcome="skipped"), case("c")]
    variant = [case("a", outcome="failed"), case("b"), case("d")]
    cat = compare(main, [Variant("v", variant)]).variants[0].categories["knowledge"]
    assert (cat.shared, cat.losses) == (1, 1)


def test_the_comparison_survives_its_json() -> None:
    result = _one({"behavior": (8, 1, 9, 2), "knowledge": (25, 3, 0, 2)}, target="behavior")
    assert Comparison.from_json(result.to_json()) == result
    row = result.rows[45]
    assert row.cells == {"main": "passed", "v2": "failed (knowledge)"}
    assert row.differs


@pytest.mark.parametrize(
    ("p_values", "adjusted"),
    [
        pytest.param([0.01, 0.04, 0.03], [0.03, 0.06, 0.06], id="step-down-monotone"),
        pytest.param([0.5, 0.6], [1.0, 1.0], id="capped"),
        pytest.param([0.02], [0.02], id="one"),
        pytest.param([], [], id="none"),
    ],
)
def test_holm(p_values: list[float], adjusted: list[float]) -> None:
    assert holm(p_values) == pytest.approx(adjusted)


def test_uncorrelated_pairs_give_the_square_and_add_wilson_interval() -> None:
    # phi = 0 (a*d = b*c): Newcombe's paired interval reduces to his unpaired method 10.
    both, main_only, variant_only, neither = 4, 4, 6, 6
    n = 20
    pv, pm = 10 / n, 8 / n
    l1, u1 = wilson_interval(10, n)
    l2, u2 = wilson_interval(8, n)
    low = pv - pm - math.hypot(pv - l1, u2 - pm)
    high = pv - pm + math.hypot(u1 - pv, pm - l2)
    got = paired_difference_interval(both, main_only, variant_only, neither)
    assert got == pytest.approx((low, high))


@given(st.integers(0, 30), st.integers(0, 30), st.integers(0, 30), st.integers(0, 30))
def test_the_paired_interval_holds_the_difference_and_mirrors(
    a: int, b: int, c: int, d: int
) -> None:
    n = a + b + c + d
    low, high = paired_difference_interval(a, b, c, d)
    diff = (c - b) / n if n else 0.0
    assert -1.0 <= low <= diff + 1e-12 and diff - 1e-12 <= high <= 1.0
    mirrored = paired_difference_interval(a, c, b, d)
    assert mirrored == pytest.approx((-high, -low), abs=1e-9)


def test_the_run_summary_carries_the_variants_to_json_and_the_terminal(tmp_path: Path) -> None:
    main, variant = _pipelines({"behavior": (8, 1, 9, 2), "knowledge": (30, 0, 0, 10)})
    table = {
        "variants": {"json_prompt": {"pipeline": "bot:v2", "role": "prompt", "target": "behavior"}}
    }
    made = summary(tmp_path, main, table=table, variant_records={"json_prompt": variant})
    assert made.variants is not None
    v2 = made.variants.variants[0]
    assert (v2.role, v2.target, v2.replaces) == ("prompt", "behavior", True)
    assert made.gate.verdict == summary(tmp_path, main, table=table).gate.verdict
    data = made.to_json()
    problem = schema_problem(data)
    assert problem is None, problem
    assert RunSummary.from_json(data).variants == made.variants
    lines = terminal_lines(made)
    assert (
        "variant json_prompt (prompt): behavior better (9 fixed, 1 broken), knowledge no worse"
        " (0 fixed, 0 broken); may replace main" in lines
    )
    assert "variants" not in summary(tmp_path, main).to_json()
