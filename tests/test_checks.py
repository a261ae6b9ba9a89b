from __future__ import annotations

from typing import Any

import pytest

from pytest_ragft import checks as checks_mod
from pytest_ragft.checks import (
    BUILTIN_CHECKS,
    CheckFn,
    citation_markers,
    hook_checks,
    run_checks,
    shorten,
)
from pytest_ragft.model import Case, CheckOutcome, Result

LONG = "Refunds are accepted within 14 days of delivery. " * 5


def make_case(expect: dict[str, Any]) -> Case:
    return Case(id="c1", kind="knowledge", input="q", expect=expect)


def check(name: str, answer: str, expected: Any, contexts: tuple[str, ...] = ()) -> CheckOutcome:
    case = make_case({name: expected})
    outcome = BUILTIN_CHECKS[name](case, Result(answer=answer, contexts=contexts), expected)
    assert isinstance(outcome, CheckOutcome)
    assert outcome.check == name
    assert outcome.message.startswith(f"{name}: ")
    return outcome


@pytest.mark.parametrize(
    ("name", "answer", "expected", "passed", "fragments"),
    [
        # equals
        pytest.param("equals", "  yes\n", "yes", True, ["'yes'"], id="equals-strips"),
        pytest.param(
            "equals",
            "Yes",
            "yes",
            False,
            ["expected 'yes'", "got 'Yes'", "case"],
            id="equals-case-sensitive",
        ),
        pytest.param(
            "equals", "no", "yes", False, ["expected 'yes'", "got 'no'"], id="equals-different"
        ),
        pytest.param("equals", "42", 42, True, ["'42'"], id="equals-number"),
        # contains
        pytest.param(
            "contains",
            "Refunds within 30  DAYS.",
            "30 days",
            True,
            ["found '30 days'"],
            id="contains-string-case-space",
        ),
        pytest.param(
            "contains",
            "within 30\n days",
            ["30 days", "within"],
            True,
            ["all 2"],
            id="contains-list-all",
        ),
        pytest.param(
            "contains",
            "within 30 days",
            ["30 days", "receipt"],
            False,
            ["expected 'receipt' in the answer", "1 of 2 missing", "got 'within 30"],
            id="contains-list-one-missing",
        ),
        pytest.param(
            "contains",
            LONG,
            "30 days",
            False,
            ["expected '30 days' in the answer", "…'", f"({len(LONG)} chars)"],
            id="contains-long-answer-shortened",
        ),
        pytest.param("contains", "CAFÉ OPEN", "café", True, ["found"], id="contains-unicode-case"),
        pytest.param(
            "contains", "cafe\u0301 open", "café", True, ["found"], id="contains-unicode-decomposed"
        ),
        # contains_any
        pytest.param(
            "contains_any",
            "It takes a month",
            ["30 days", "a month"],
            True,
            ["found 'a month'"],
            id="contains-any-second",
        ),
        pytest.param(
            "contains_any",
            "It takes two weeks",
            ["30 days", "A MONTH"],
            False,
            ["expected one of '30 days', 'A MONTH'", "got 'It takes two weeks'"],
            id="contains-any-none",
        ),
        pytest.param(
            "contains_any", "It takes 30 days", "30 DAYS", True, ["found"], id="contains-any-string"
        ),
        # not_contains
        pytest.param(
            "not_contains",
            "Here you go",
            ["as an ai", "sorry"],
            True,
            ["none of"],
            id="not-contains-clean",
        ),
        pytest.param(
            "not_contains",
            "Sorry,  As an AI I cannot",
            ["as an ai", "refund"],
            False,
            ["expected no 'as an ai'", "found it in", "as an ai i cannot"],
            id="not-contains-list-hit",
        ),
        pytest.param(
            "not_contains",
            "x " * 200 + "SORRY" + " y" * 200,
            "sorry",
            False,
            ["found it in …'", "sorry"],
            id="not-contains-excerpt-around-hit",
        ),
        # regex
        pytest.param(
            "regex", "Order #1234 shipped", r"#\d{4}", True, ["matched '#1234'"], id="regex-match"
        ),
        pytest.param(
            "regex",
            "Order shipped",
            r"#\d{4}",
            False,
            ["expected a match for '#\\\\d{4}'", "got 'Order shipped'"],
            id="regex-no-match",
        ),
        pytest.param(
            "regex", "ORDER", r"order", False, ["expected a match"], id="regex-case-sensitive"
        ),
        pytest.param(
            "regex", "ORDER", r"(?i)order", True, ["matched 'ORDER'"], id="regex-inline-flag"
        ),
        pytest.param(
            "regex",
            "x",
            r"(unclosed",
            False,
            ["invalid pattern", "missing )"],
            id="regex-invalid-pattern",
        ),
        # max_chars / max_words
        pytest.param("max_chars", "hello\n", 5, True, ["5 <= 5"], id="max-chars-at-limit"),
        pytest.param(
            "max_chars",
            "hello!",
            5,
            False,
            ["expected at most 5 characters", "got 6", "'hello!'"],
            id="max-chars-over",
        ),
        pytest.param("max_words", "one  two\nthree", 3, True, ["3 <= 3"], id="max-words-at-limit"),
        pytest.param(
            "max_words",
            "one two three four",
            3,
            False,
            ["expected at most 3 words", "got 4"],
            id="max-words-over",
        ),
    ],
)
def test_builtin_check(
    name: str, answer: str, expected: Any, passed: bool, fragments: list[str]
) -> None:
    outcome = check(name, answer, expected)
    assert outcome.passed is passed, outcome.message
    for fragment in fragments:
        assert fragment in outcome.message


SCHEMA = {
    "type": "object",
    "properties": {
        "status": {"enum": ["shipped", "pending"]},
        "items": {"type": "array", "items": {"type": "object", "required": ["sku"]}},
    },
    "required": ["status"],
}


@pytest.mark.parametrize(
    ("answer", "schema", "passed", "fragments"),
    [
        pytest.param(
            '\n {"status": "shipped", "items": [{"sku": "a"}]}\n',
            SCHEMA,
            True,
            ["matches the schema"],
            id="valid",
        ),
        pytest.param(
            "Sure! Here is the JSON: {",
            SCHEMA,
            False,
            ["expected JSON", "does not parse", "line 1 column 1", "got 'Sure!"],
            id="not-json",
        ),
        pytest.param(
            '{"status": "lost"}',
            SCHEMA,
            False,
            ["at $.status:", "'lost' is not one of"],
            id="enum-violation",
        ),
        pytest.param(
            '{"status": "shipped", "items": [{"sku": "a"}, {}]}',
            SCHEMA,
            False,
            ["at $.items[1]:", "'sku' is a required property"],
            id="nested-path",
        ),
        pytest.param(
            '{"items": []}',
            SCHEMA,
            False,
            ["at $:", "'status' is a required"],
            id="missing-required",
        ),
        pytest.param(
            "[1]",
            {
                "$schema": "http://json-schema.org/draft-07/schema#",
                "type": "array",
                "items": [{"type": "string"}],
            },
            False,
            ["at $[0]:", "1 is not of type 'string'"],
            id="draft-07-tuple-items",
        ),
        pytest.param(
            '"not an email"',
            {"type": "string", "format": "email"},
            False,
            ["is not a 'email'"],
            id="format-asserted",
        ),
        pytest.param(
            "1", {"type": "nonsense"}, False, ["the schema is invalid"], id="invalid-schema"
        ),
    ],
)
def test_json_schema(
    answer: str, schema: dict[str, Any], passed: bool, fragments: list[str]
) -> None:
    outcome = check("json_schema", answer, schema)
    assert outcome.passed is passed, outcome.message
    for fragment in fragments:
        assert fragment in outcome.message


def test_json_schema_long_instance_is_shortened() -> None:
    answer = '{"status": "' + "\x1b[2J" + "x" * 5000 + '"}'
    outcome = check("json_schema", answer, SCHEMA)
    assert not outcome.passed
    assert "\x1b" not in outcome.message
    assert len(outcome.message) < 600


CONTEXTS = ("passage one", "passage two", "passage three")


@pytest.mark.parametrize(
    ("answer", "expected", "contexts", "passed", "fragments"),
    [
        pytest.param(
            "Refunds take 30 days [2].", True, CONTEXTS, True, ["cites [2]"], id="in-range"
        ),
        pytest.param(
            "See [1][3] and [1, 2].",
            True,
            CONTEXTS,
            True,
            ["cites [1], [3], [2]"],
            id="several-and-list-form",
        ),
        pytest.param(
            "Refunds take 30 days [4].",
            True,
            CONTEXTS,
            False,
            ["1 <= n <= 3", "got only [4], out of range"],
            id="out-of-range",
        ),
        pytest.param(
            "See [0] and [5].",
            True,
            CONTEXTS,
            False,
            ["got only [0], [5], out of range"],
            id="zero-and-above-out-of-range",
        ),
        pytest.param(
            "See [0] and [2].",
            True,
            CONTEXTS,
            True,
            ["cites [2]", "[0] out of range"],
            id="one-in-range-suffices",
        ),
        pytest.param(
            "Released in [2024] per [1].",
            True,
            ("passage one",),
            True,
            ["cites [1]", "[2024] out of range"],
            id="bracketed-year-beside-citation",
        ),
        pytest.param(
            "Refunds take 30 days.", True, CONTEXTS, False, ["got no marker"], id="no-marker"
        ),
        pytest.param(
            "Refunds take 30 days [1].",
            True,
            (),
            False,
            ["no contexts came back"],
            id="no-contexts",
        ),
        pytest.param(
            "Refunds take 30 days.",
            False,
            CONTEXTS,
            True,
            ["no citation marker"],
            id="false-without-marker",
        ),
        pytest.param(
            "Refunds take 30 days [1].",
            False,
            CONTEXTS,
            False,
            ["expected no citation marker", "found [1]"],
            id="false-with-marker",
        ),
    ],
)
def test_cites_sources(
    answer: str, expected: bool, contexts: tuple[str, ...], passed: bool, fragments: list[str]
) -> None:
    outcome = check("cites_sources", answer, expected, contexts)
    assert outcome.passed is passed, outcome.message
    for fragment in fragments:
        assert fragment in outcome.message


def test_cites_sources_needs_contexts_not_sources() -> None:
    result = Result(answer="as shown [2]", sources=("doc-a", "doc-b"))
    outcome = BUILTIN_CHECKS["cites_sources"](make_case({}), result, True)
    assert isinstance(outcome, CheckOutcome)
    assert not outcome.passed
    assert "no contexts came back" in outcome.message


@pytest.mark.parametrize(
    ("answer", "markers"),
    [
        pytest.param("no markers", [], id="none"),
        pytest.param("a [1] b [12] c [1]", [1, 12], id="deduplicated"),
        pytest.param("a [ 3 , 4 ]", [3, 4], id="list-with-spaces"),
        pytest.param("a [x] [1a] [-1]", [], id="not-markers"),
    ],
)
def test_citation_markers(answer: str, markers: list[int]) -> None:
    assert citation_markers(answer) == markers


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        pytest.param("short", 120, "'short'", id="short"),
        pytest.param("a\nb\x1b[31m", 120, "'a\\nb\\x1b[31m'", id="control-chars-escaped"),
        pytest.param("abcdef", 3, "'abc…' (6 chars)", id="cut"),
        pytest.param("don't", 120, '"don\'t"', id="apostrophe"),
        pytest.param('it\'s "x"', 120, "'it\\'s \"x\"'", id="both-quotes"),
        pytest.param("a\\b", 120, "'a\\\\b'", id="backslash"),
        pytest.param("\u202eevil", 120, "'\\u202eevil'", id="bidi-override"),
    ],
)
def test_shorten(text: str, limit: int, expected: str) -> None:
    assert shorten(text, limit) == expected


def test_shorten_bounds_escaped_length() -> None:
    assert len(shorten("\x00" * 1000, 120)) < 150


def test_registry_has_the_builtin_checks_and_not_deepeval() -> None:
    assert set(BUILTIN_CHECKS) == {
        "equals",
        "contains",
        "contains_any",
        "not_contains",
        "regex",
        "json_schema",
        "max_chars",
        "max_words",
        "cites_sources",
    }


def test_run_checks_in_order_and_skips_deepeval() -> None:
    case = make_case(
        {"max_words": 10, "deepeval": {"metric": "x"}, "contains": "30 days", "regex": "nope"}
    )
    outcomes = run_checks(case, Result(answer="within 30 days"), BUILTIN_CHECKS)
    assert [(o.check, o.passed) for o in outcomes] == [
        ("max_words", True),
        ("contains", True),
        ("regex", False),
    ]


def _always(value: object) -> CheckFn:
    def fn(case: Case, result: Result, expected: Any) -> Any:
        return value

    return fn


def _raises(case: Case, result: Result, expected: Any) -> bool:
    raise ValueError("bad\nthing")


def _own_outcome(case: Case, result: Result, expected: Any) -> CheckOutcome:
    return CheckOutcome("polite", True, "polite: said please", score=0.9)


@pytest.mark.parametrize(
    ("fn", "passed", "fragments"),
    [
        pytest.param(_always(True), True, ["polite: passed (expected 'please')"], id="bool-true"),
        pytest.param(
            _always(False), False, ["polite: failed (expected 'please')"], id="bool-false"
        ),
        pytest.param(
            _raises, False, ["polite: the check raised ValueError: bad\\nthing"], id="raises"
        ),
        pytest.param(
            _always(None),
            False,
            ["returned NoneType, not a CheckOutcome or bool"],
            id="returns-none",
        ),
        pytest.param(_own_outcome, True, ["polite: said please"], id="own-outcome"),
    ],
)
def test_custom_check(fn: CheckFn, passed: bool, fragments: list[str]) -> None:
    registry = {**BUILTIN_CHECKS, "polite": fn}
    [outcome] = run_checks(make_case({"polite": "please"}), Result(answer="hi"), registry)
    assert outcome.check == "polite"
    assert outcome.passed is passed
    for fragment in fragments:
        assert fragment in outcome.message


def test_custom_outcome_keeps_its_score() -> None:
    registry = {"polite": _own_outcome}
    [outcome] = run_checks(make_case({"polite": "please"}), Result(answer="hi"), registry)
    assert outcome.score == 0.9


def test_unknown_check() -> None:
    [outcome] = run_checks(make_case({"contians": "x"}), Result(answer="x"), BUILTIN_CHECKS)
    assert not outcome.passed
    assert outcome.message.startswith("contians: unknown check")
    assert "contains" in outcome.message


@pytest.mark.parametrize(
    ("name", "expected", "fragment"),
    [
        pytest.param("contains", [], "contains: the check raised TypeError", id="contains-empty"),
        pytest.param("contains", {"a": 1}, "non-empty list", id="contains-mapping"),
        pytest.param("max_chars", "ten", "non-negative integer", id="max-chars-string"),
        pytest.param("max_words", True, "non-negative integer", id="max-words-bool"),
        pytest.param("cites_sources", "yes", "true or false", id="cites-sources-string"),
        pytest.param("json_schema", "schema.json", "schema mapping", id="json-schema-path"),
        pytest.param("equals", ["a"], "equals expects a string", id="equals-list"),
    ],
)
def test_bad_expected_value_fails_the_check(name: str, expected: Any, fragment: str) -> None:
    [outcome] = run_checks(make_case({name: expected}), Result(answer="x"), BUILTIN_CHECKS)
    assert not outcome.passed
    assert fragment in outcome.message


# --- bounds: catastrophic patterns, stuck checks, broken hook checks -------------------------


@pytest.mark.parametrize(
    "pattern",
    [
        pytest.param(r"(a|aa)+$", id="alternation"),
        pytest.param(r"^(a|a?)+$", id="optional-alternation"),
        pytest.param(r"^(a+)+$", id="nested-plus"),
        pytest.param(r"^(\w+\s?)*$", id="words"),
    ],
)
def test_catastrophic_regex_is_bounded(monkeypatch: pytest.MonkeyPatch, pattern: str) -> None:
    monkeypatch.setattr(checks_mod, "REGEX_TIMEOUT_S", 0.2)
    outcome = check("regex", "a" * 41 + "!", pattern)
    assert not outcome.passed  # whether it gave up or the engine saw through it, no match
    if "gave up" in outcome.message:
        assert "backtracks catastrophically" in outcome.message
        assert "rewrite it" in outcome.message


def test_regex_gives_up_and_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(checks_mod, "REGEX_TIMEOUT_S", 0.05)
    outcome = check("regex", "a" * 60 + "!", r"(a|aa)+$")
    assert not outcome.passed
    assert outcome.message.startswith("regex: gave up after 0.05 s matching '(a|aa)+$'")
    assert "an answer of 61 characters" in outcome.message


def test_json_schema_pattern_is_bounded_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(checks_mod, "REGEX_TIMEOUT_S", 0.05)
    schema = {"type": "string", "pattern": "(a|aa)+$"}
    outcome = check("json_schema", '"' + "a" * 60 + '!"', schema)
    assert not outcome.passed
    assert "gave up after 0.05 s" in outcome.message


def test_json_schema_pattern_still_matches() -> None:
    schema = {"type": "object", "properties": {"id": {"type": "string", "pattern": "^A[0-9]+$"}}}
    assert check("json_schema", '{"id": "A12"}', schema).passed
    failed = check("json_schema", '{"id": "B12"}', schema)
    assert "'B12' does not match '^A[0-9]+$'" in failed.message


def test_a_stuck_hook_check_is_abandoned(monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    monkeypatch.setattr(checks_mod, "CHECK_TIMEOUT_S", 0.1)
    release = threading.Event()

    def stuck(case: Case, result: Result, expected: Any) -> bool:
        release.wait(30)
        return True

    case = make_case({"stuck": 1, "contains": "x"})
    outcomes = run_checks(case, Result("x"), {**BUILTIN_CHECKS, "stuck": stuck})
    release.set()
    assert [o.passed for o in outcomes] == [False, True]
    assert outcomes[0].message.startswith("stuck: the check did not finish within 0.1 s")


def test_a_hook_check_that_exits_is_a_failed_check() -> None:
    def exits(case: Case, result: Result, expected: Any) -> bool:
        raise SystemExit(3)

    outcome = run_checks(make_case({"exits": 1}), Result("x"), {"exits": exits})[0]
    assert outcome.message == "exits: the check raised SystemExit: 3"


class _Impl:
    def __init__(self, function: Any, name: str = "conftest") -> None:
        self.function = function
        self.plugin_name = name


class _Hook:
    def __init__(self, *impls: _Impl) -> None:
        self.impls = list(impls)

    def get_hookimpls(self) -> list[_Impl]:
        return self.impls


def _good(case: Case, result: Result, expected: Any) -> bool:
    return True


@pytest.mark.parametrize(
    ("returned", "words"),
    [
        pytest.param(
            {"starts_with": "nope"}, "check 'starts_with' is a str, not a callable", id="string"
        ),
        pytest.param({"n": None}, "check 'n' is a NoneType, not a callable", id="none"),
        pytest.param(["starts_with"], "returned list; return a mapping", id="list"),
        pytest.param({"has space": _good}, "the check name 'has space'", id="bad-name"),
        pytest.param({3: _good}, "the check name 3", id="int-name"),
    ],
)
def test_broken_hook_checks_are_usage_errors(returned: Any, words: str) -> None:
    def pytest_ragft_checks() -> Any:
        return returned

    with pytest.raises(pytest.UsageError) as info:
        hook_checks(_Hook(_Impl(pytest_ragft_checks)))
    message = str(info.value)
    assert words in message
    assert f"{__file__}:" in message  # where the implementation is


def test_hook_checks_merge_in_call_order() -> None:
    def first() -> Any:
        return {"a": _good}

    def second() -> Any:
        return None

    assert hook_checks(_Hook(_Impl(first), _Impl(second))) == {"a": _good}
