"""The built-in checks of a case's ``expect`` mapping, and the loop that runs them.

Each check is a small pure function ``(case, result, expected) -> CheckOutcome`` whose message
says which check, what was expected and what came. Answers are model output, so they are only
ever shown through ``shorten``: quoted, escaped and cut, so they cannot break a terminal or a
report.
"""

from __future__ import annotations

import functools
import json
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeAlias

from pytest_ragft.matching import normalize
from pytest_ragft.model import Case, CheckOutcome, Result

if TYPE_CHECKING:
    import regex as regex_engine

CheckFn: TypeAlias = Callable[[Case, Result, Any], CheckOutcome | bool]

REGEX_TIMEOUT_S = 1.0
"""How long one regular-expression search may take: a pattern that backtracks
catastrophically (``^(a+)+$``) fails its check instead of holding the run for ever."""
CHECK_TIMEOUT_S = 60.0
"""How long a check that is not a plain built-in (``json_schema``, checks from the
``pytest_ragft_checks`` hook) may run before its case gets a failed check saying so."""

# Checks handled outside this registry; ``run_checks`` leaves them alone.
DEEPEVAL_CHECK = "deepeval"  # run by deepeval_checks, not from the registry
EXTERNAL_CHECKS = frozenset({DEEPEVAL_CHECK})

_CITATION = re.compile(r"\[\s*(\d+(?:\s*,\s*\d+)*)\s*\]")


def shorten(text: str, limit: int = 120) -> str:
    """``text`` quoted and escaped like ``repr``, cut to ``limit`` characters with an ellipsis
    and the total length, so untrusted output is safe to show in any message."""
    body, cut = _escape(text, limit)
    quote = '"' if "'" in text and '"' not in text else "'"
    if quote == "'":
        body = body.replace("'", "\\'")
    if cut:
        return f"{quote}{body}…{quote} ({len(text)} chars)"
    return f"{quote}{body}{quote}"


def equals(case: Case, result: Result, expected: Any) -> CheckOutcome:
    """Exact answers (labels, ids, yes/no): only surrounding white space is forgiven."""
    want = _scalar_text("equals", expected)
    answer = result.answer.strip()
    if answer == want.strip():
        return CheckOutcome("equals", True, f"equals: the answer is {shorten(want.strip())}")
    hint = ""
    if normalize(answer) == normalize(want):
        hint = " (differs only in case or white space)"
    return CheckOutcome(
        "equals",
        False,
        f"equals: expected {shorten(want.strip())}; got {shorten(answer)}{hint}",
    )


def contains(case: Case, result: Result, expected: Any) -> CheckOutcome:
    """Every required string must appear, ignoring case and white space."""
    wanted = _string_list("contains", expected)
    answer = normalize(result.answer)
    missing = [w for w in wanted if normalize(w) not in answer]
    if not missing:
        found = shorten(wanted[0]) if len(wanted) == 1 else f"all {len(wanted)} of {_list(wanted)}"
        return CheckOutcome("contains", True, f"contains: found {found}")
    detail = "" if len(wanted) == 1 else f" ({len(missing)} of {len(wanted)} missing)"
    return CheckOutcome(
        "contains",
        False,
        f"contains: expected {_list(missing)} in the answer{detail}; got {shorten(result.answer)}",
    )


def contains_any(case: Case, result: Result, expected: Any) -> CheckOutcome:
    """At least one of the accepted phrasings must appear, ignoring case and white space."""
    wanted = _string_list("contains_any", expected)
    answer = normalize(result.answer)
    for w in wanted:
        if normalize(w) in answer:
            return CheckOutcome("contains_any", True, f"contains_any: found {shorten(w)}")
    return CheckOutcome(
        "contains_any",
        False,
        f"contains_any: expected one of {_list(wanted)} in the answer; "
        f"got {shorten(result.answer)}",
    )


def not_contains(case: Case, result: Result, expected: Any) -> CheckOutcome:
    """None of the forbidden strings may appear, ignoring case and white space."""
    forbidden = _string_list("not_contains", expected)
    answer = normalize(result.answer)
    present = [f for f in forbidden if normalize(f) in answer]
    if not present:
        return CheckOutcome("not_contains", True, f"not_contains: none of {_list(forbidden)}")
    where = _around(answer, normalize(present[0]))
    return CheckOutcome(
        "not_contains",
        False,
        f"not_contains: expected no {_list(present)} in the answer; found it in {where}",
    )


def regex(case: Case, result: Result, expected: Any) -> CheckOutcome:
    """``re.search`` with the pattern as written; flags such as ``(?i)`` go in the pattern."""
    pattern = _scalar_text("regex", expected)
    try:
        match = compile_pattern(pattern).search(
            result.answer, timeout=REGEX_TIMEOUT_S, concurrent=True
        )
    except PatternError as exc:
        return CheckOutcome("regex", False, f"regex: invalid pattern {shorten(pattern)}: {exc}")
    except TimeoutError:
        return CheckOutcome("regex", False, _regex_gave_up(pattern, len(result.answer)))
    if match:
        return CheckOutcome("regex", True, f"regex: matched {shorten(match.group(0), 60)}")
    return CheckOutcome(
        "regex",
        False,
        f"regex: expected a match for {shorten(pattern)}; got {shorten(result.answer)}",
    )


@functools.lru_cache(maxsize=256)
def compile_pattern(pattern: str) -> regex_engine.Pattern[str]:
    """A pattern as the ``regex`` check runs it: the ``regex`` engine, whose searches take a
    time-out (the standard ``re`` cannot be stopped once it backtracks). Syntax as ``re``."""
    import regex as regex_engine

    if pattern == "":
        raise PatternError("an empty pattern matches every answer", None)
    try:
        return regex_engine.compile(pattern, regex_engine.VERSION0)
    except regex_engine.error as exc:
        raise PatternError(str(getattr(exc, "msg", exc)), getattr(exc, "pos", None)) from None
    except (ValueError, OverflowError, RecursionError) as exc:  # e.g. a repeat count too large
        raise PatternError(str(exc), None) from None


class PatternError(ValueError):
    """A pattern that does not compile: what is wrong, and where in the pattern."""

    def __init__(self, msg: str, pos: int | None) -> None:
        super().__init__(msg if pos is None else f"{msg} at position {pos}")
        self.msg = msg
        self.pos = pos


def _regex_gave_up(pattern: str, size: int) -> str:
    return (
        f"regex: gave up after {REGEX_TIMEOUT_S:g} s matching {shorten(pattern)} against an "
        f"answer of {size} characters: the pattern backtracks catastrophically (nested "
        "quantifiers such as (a+)+); rewrite it without nesting, or anchor it"
    )


def json_schema(case: Case, result: Result, expected: Any) -> CheckOutcome:
    """The answer must be JSON that validates: the draft comes from ``$schema`` (default
    2020-12) and ``format`` is asserted, as a user writing it expects."""
    if not isinstance(expected, Mapping):
        raise TypeError(f"json_schema expects a schema mapping, got {type(expected).__name__}")
    import jsonschema
    from jsonschema.exceptions import best_match

    text = result.answer.strip()
    try:
        instance = json.loads(text)
    except json.JSONDecodeError as exc:
        return CheckOutcome(
            "json_schema",
            False,
            f"json_schema: expected JSON; the answer does not parse ({exc.msg} at line "
            f"{exc.lineno} column {exc.colno}); got {shorten(result.answer)}",
        )
    schema = dict(expected)
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        cls.check_schema(schema)
    except jsonschema.SchemaError as exc:
        return CheckOutcome(
            "json_schema", False, f"json_schema: the schema is invalid: {_clean(exc.message)}"
        )
    validator = _bounded_patterns(cls)(schema, format_checker=cls.FORMAT_CHECKER)
    error = best_match(validator.iter_errors(instance))
    if error is None:
        return CheckOutcome("json_schema", True, "json_schema: the answer matches the schema")
    return CheckOutcome(
        "json_schema",
        False,
        f"json_schema: expected the answer to match the schema; at {error.json_path}: "
        f"{_clean(error.message)}; got {shorten(result.answer)}",
    )


@functools.cache
def _bounded_patterns(cls: Any) -> Any:
    """The validator class with ``pattern`` run by the time-limited engine: a schema's own
    pattern must not be able to hang the run either."""
    import jsonschema

    def pattern(validator: Any, wanted: Any, instance: Any, schema: Any) -> Iterator[Any]:
        if not validator.is_type(instance, "string") or not isinstance(wanted, str):
            return
        try:
            found = compile_pattern(wanted).search(
                instance, timeout=REGEX_TIMEOUT_S, concurrent=True
            )
        except TimeoutError:
            yield jsonschema.ValidationError(_regex_gave_up(wanted, len(instance)))
            return
        except PatternError:
            return  # the schema was checked when the case file was read
        if found is None:
            yield jsonschema.ValidationError(f"{instance!r} does not match {wanted!r}")

    return jsonschema.validators.extend(cls, {"pattern": pattern})  # type: ignore[no-untyped-call]


def max_chars(case: Case, result: Result, expected: Any) -> CheckOutcome:
    """Length budget in characters; surrounding white space is not counted."""
    limit = _limit("max_chars", expected)
    size = len(result.answer.strip())
    if size <= limit:
        return CheckOutcome("max_chars", True, f"max_chars: {size} <= {limit} characters")
    return CheckOutcome(
        "max_chars",
        False,
        f"max_chars: expected at most {limit} characters; got {size}: {shorten(result.answer)}",
    )


def max_words(case: Case, result: Result, expected: Any) -> CheckOutcome:
    """Length budget in words, a word being a white-space separated token."""
    limit = _limit("max_words", expected)
    size = len(result.answer.split())
    if size <= limit:
        return CheckOutcome("max_words", True, f"max_words: {size} <= {limit} words")
    return CheckOutcome(
        "max_words",
        False,
        f"max_words: expected at most {limit} words; got {size}: {shorten(result.answer)}",
    )


def cites_sources(case: Case, result: Result, expected: Any) -> CheckOutcome:
    """``true``: at least one ``[n]`` (or ``[n, m]``) marker naming a retrieved context, so
    a bracketed year beside a real citation does not fail it; ``false``: no marker at all."""
    if not isinstance(expected, bool):
        raise TypeError(f"cites_sources expects true or false, got {type(expected).__name__}")
    markers = citation_markers(result.answer)
    if not expected:
        if not markers:
            return CheckOutcome("cites_sources", True, "cites_sources: no citation marker")
        return CheckOutcome(
            "cites_sources",
            False,
            f"cites_sources: expected no citation marker; found {_markers(markers)} in "
            f"{shorten(result.answer)}",
        )
    available = len(result.contexts)
    if available == 0:
        return CheckOutcome(
            "cites_sources",
            False,
            "cites_sources: expected a citation [n] of a retrieved context, but no contexts "
            f"came back; got {shorten(result.answer)}",
        )
    wanted = f"a citation [n] with 1 <= n <= {available}"
    inside = [n for n in markers if 1 <= n <= available]
    outside = [n for n in markers if not 1 <= n <= available]
    if not markers:
        return CheckOutcome(
            "cites_sources",
            False,
            f"cites_sources: expected {wanted}; got no marker in {shorten(result.answer)}",
        )
    if not inside:
        return CheckOutcome(
            "cites_sources",
            False,
            f"cites_sources: expected {wanted}; got only {_markers(outside)}, out of range, in "
            f"{shorten(result.answer)}",
        )
    message = f"cites_sources: cites {_markers(inside)}"
    if outside:
        message += f"; {_markers(outside)} out of range"
    return CheckOutcome("cites_sources", True, message)


def _markers(numbers: list[int]) -> str:
    return ", ".join(f"[{n}]" for n in numbers)


def citation_markers(answer: str) -> list[int]:
    """The numbers of the ``[n]`` / ``[n, m]`` markers in ``answer``, in order, each once."""
    seen: dict[int, None] = {}
    for match in _CITATION.finditer(answer):
        for number in match.group(1).split(","):
            seen.setdefault(int(number), None)
    return list(seen)


BUILTIN_CHECKS: dict[str, CheckFn] = {
    "equals": equals,
    "contains": contains,
    "contains_any": contains_any,
    "not_contains": not_contains,
    "regex": regex,
    "json_schema": json_schema,
    "max_chars": max_chars,
    "max_words": max_words,
    "cites_sources": cites_sources,
}


def check_names(registry: Mapping[str, CheckFn]) -> set[str]:
    """Every name ``expect`` may use: the registry's checks and the deepeval metrics."""
    return {*registry, *EXTERNAL_CHECKS}


def run_checks(case: Case, result: Result, registry: Mapping[str, CheckFn]) -> list[CheckOutcome]:
    """One outcome per ``expect`` key, in order; a broken or unknown check fails its case
    with a message instead of crashing the run."""
    outcomes: list[CheckOutcome] = []
    for name, expected in case.expect.items():
        if name in EXTERNAL_CHECKS:
            continue
        fn = registry.get(name)
        if fn is None:
            known = ", ".join(sorted(registry))
            outcomes.append(
                CheckOutcome(name, False, f"{name}: unknown check (known checks: {known})")
            )
            continue
        value: object
        try:
            if fn is BUILTIN_CHECKS.get(name) and name not in _UNBOUNDED:
                value = fn(case, result, expected)
            else:
                value = _bounded(fn, case, result, expected)
        except _CheckTimedOut:
            message = (
                f"{name}: the check did not finish within {CHECK_TIMEOUT_S:g} s; it was "
                "abandoned (a check must not wait on the network or loop without end)"
            )
            outcomes.append(CheckOutcome(name, False, message))
            continue
        except Exception as exc:
            raised = getattr(exc, "original", exc)
            outcomes.append(
                CheckOutcome(
                    name,
                    False,
                    f"{name}: the check raised {type(raised).__name__}: {_clean(raised)}",
                )
            )
            continue
        outcomes.append(_as_outcome(name, expected, value))
    return outcomes


# Built-ins whose cost does not follow from the (capped) answer's length alone.
_UNBOUNDED = frozenset({"json_schema"})


class _CheckTimedOut(Exception):
    """A check still running at its deadline."""


def _bounded(fn: CheckFn, case: Case, result: Result, expected: Any) -> object:
    """``fn(case, result, expected)`` in a daemon thread, waited on for ``CHECK_TIMEOUT_S``:
    a stuck check costs its case a failed check, not the run."""
    box: list[tuple[bool, Any]] = []

    def target() -> None:
        try:
            box.append((True, fn(case, result, expected)))
        except BaseException as exc:  # carried to the caller, whatever it is
            box.append((False, exc))

    thread = threading.Thread(target=target, name="ragft-check", daemon=True)
    thread.start()
    thread.join(CHECK_TIMEOUT_S)
    if not box:
        raise _CheckTimedOut
    ok, value = box[0]
    if ok:
        return value
    if isinstance(value, Exception):
        raise value
    raise _Exited(value)  # SystemExit and the like end the check, never the run


class _Exited(Exception):
    def __init__(self, original: BaseException) -> None:
        super().__init__(repr(original))
        self.original = original


def hook_checks(hook: Any) -> dict[str, CheckFn]:
    """The checks every ``pytest_ragft_checks`` implementation returns, merged; anything that
    is not a mapping of names to callables is a usage error of the suite, naming the
    implementation, so a broken check never counts as a failure of the model.

    ``hook`` is ``config.hook.pytest_ragft_checks`` (each implementation is called once)."""
    import pytest

    found: dict[str, CheckFn] = {}
    for impl in reversed(hook.get_hookimpls()):  # pluggy's call order: last registered first
        where = _impl_place(impl)
        value = impl.function()
        if value is None:
            continue
        if not isinstance(value, Mapping):
            raise pytest.UsageError(
                f"pytest_ragft_checks in {where} returned {type(value).__name__}; return a "
                "mapping of check name to a function fn(case, result, expected), or None"
            )
        for name, fn in value.items():
            if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", name):
                raise pytest.UsageError(
                    f"pytest_ragft_checks in {where} returned the check name {name!r}; names "
                    "are identifiers such as starts_with, used as keys under expect"
                )
            if not callable(fn):
                raise pytest.UsageError(
                    f"pytest_ragft_checks in {where}: check {name!r} is a {type(fn).__name__}, "
                    "not a callable; map it to a function fn(case, result, expected) returning "
                    "a CheckOutcome or a bool"
                )
            found[name] = fn
    return found


def _impl_place(impl: Any) -> str:
    """Where a hook implementation lives: its file and line, else its plugin's name."""
    code = getattr(impl.function, "__code__", None)
    if code is not None:
        return f"{code.co_filename}:{code.co_firstlineno}"
    return str(impl.plugin_name)


def _as_outcome(name: str, expected: Any, value: object) -> CheckOutcome:
    if isinstance(value, CheckOutcome):
        return value
    want = _describe(expected)
    if isinstance(value, bool):
        verdict = "passed" if value else "failed"
        return CheckOutcome(name, value, f"{name}: {verdict} (expected {want})")
    return CheckOutcome(
        name,
        False,
        f"{name}: the check returned {type(value).__name__}, not a CheckOutcome or bool "
        f"(expected {want})",
    )


def _describe(expected: Any) -> str:
    if isinstance(expected, str):
        return shorten(expected)
    return _clean(repr(expected))


def _escape(text: str, limit: int) -> tuple[str, bool]:
    """``text`` with backslashes and unprintable characters escaped, at most about ``limit``
    characters long, and whether it was cut."""
    out: list[str] = []
    size = 0
    for ch in text:
        if ch == "\\":
            piece = "\\\\"
        elif ch.isprintable():
            piece = ch
        else:
            piece = repr(ch)[1:-1]
        if size + len(piece) > limit:
            return "".join(out), True
        out.append(piece)
        size += len(piece)
    return "".join(out), False


def _clean(value: object, limit: int = 200) -> str:
    body, cut = _escape(str(value), limit)
    return body + "…" if cut else body


def _list(items: Sequence[str]) -> str:
    return ", ".join(shorten(item, 60) for item in items)


def _around(normalized: str, needle: str, margin: int = 40) -> str:
    """An excerpt of the normalised answer around ``needle``, so a long answer still shows
    where the forbidden text is."""
    start = max(normalized.find(needle), 0)
    lo, hi = max(start - margin, 0), start + len(needle) + margin
    excerpt = normalized[lo:hi]
    prefix = "…" if lo > 0 else ""
    suffix = "…" if hi < len(normalized) else ""
    return f"{prefix}{shorten(excerpt, 2 * margin + len(needle))}{suffix}"


def _scalar_text(check: str, expected: Any) -> str:
    if isinstance(expected, str):
        return expected
    if isinstance(expected, int | float) and not isinstance(expected, bool):
        return str(expected)
    raise TypeError(f"{check} expects a string, got {type(expected).__name__}")


def _string_list(check: str, expected: Any) -> list[str]:
    if isinstance(expected, str):
        return [expected]
    if isinstance(expected, list | tuple) and expected:
        return [_scalar_text(check, item) for item in expected]
    raise TypeError(f"{check} expects a string or a non-empty list of strings, got {expected!r}")


def _limit(check: str, expected: Any) -> int:
    if isinstance(expected, int) and not isinstance(expected, bool) and expected >= 0:
        return expected
    raise TypeError(f"{check} expects a non-negative integer, got {expected!r}")
