"""promptfoo test files: ``prompts``, ``defaultTest`` and ``tests`` with ``vars`` and ``assert``.

The input of a test is the first prompt rendered with its vars (``{{var}}``; a prompt that renders
to a JSON list of chat messages becomes a chat input); the vars also reach the pipeline as keyword
arguments, except ``input``, which would clash with the pipeline's first argument. Assertions map
onto the built-in checks:

- ``equals`` -> ``equals``; ``contains``, ``icontains``, ``contains-all``, ``icontains-all`` ->
  ``contains`` (every string required; matching is case-insensitive anyway); ``contains-any``,
  ``icontains-any`` -> ``contains_any``; ``not-contains``, ``not-icontains`` -> ``not_contains``;
  ``regex`` -> ``regex``;
- ``is-json`` -> ``json_schema`` (its ``value`` schema, inline or ``file://``, else ``{}``);
- ``contains-json`` -> ``json_schema`` too, which is stricter: the whole answer must be the JSON,
  where promptfoo also accepts JSON embedded in prose.

A test that needs anything else (``llm-rubric``, ``javascript``, a ``transform``, list vars...)
becomes a skipped case whose reason names what is not supported, so it shows in every report.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_ragft.cases import (
    BUILTIN_CHECK_NAMES,
    CaseBuilder,
    CaseFileError,
    Problem,
    parse_json,
    parse_yaml,
)
from pytest_ragft.importers import kind_from, names, no_kind, open_file, slug, unique
from pytest_ragft.model import Case

FORMAT = "promptfoo"
SUPPORTED = (
    "equals",
    "contains",
    "icontains",
    "contains-all",
    "icontains-all",
    "contains-any",
    "icontains-any",
    "not-contains",
    "not-icontains",
    "regex",
    "is-json",
    "contains-json",
)
_CONTAINS = {"contains", "icontains", "contains-all", "icontains-all"}
_CONTAINS_ANY = {"contains-any", "icontains-any"}
_NOT_CONTAINS = {"not-contains", "not-icontains"}
_VAR = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")

Where = tuple[Any, ...]


def load(
    path: Path,
    rootdir: Path,
    *,
    kind: str | None,
    check_names: Collection[str] = BUILTIN_CHECK_NAMES,
) -> list[Case]:
    """The tests of one promptfoo config (or tests file) as cases."""
    display, text, builder = open_file(
        path,
        rootdir,
        fmt=FORMAT,
        kind=kind,
        check_names=check_names,
        where_kind="set metadata: {kind: knowledge} on the test or its defaultTest, or ",
    )
    data, builder.lines = (
        parse_json(text, display) if path.suffix == ".json" else parse_yaml(text, display)
    )
    if not isinstance(data, dict):
        message = "expected a promptfoo config: a mapping with prompts and tests"
        raise CaseFileError(display, [Problem(1, None, message)])
    tests = _tests(data, builder)
    prompt = _prompt(data.get("prompts"), builder)
    default = data.get("defaultTest", {})
    if not isinstance(default, dict):
        message = "defaultTest must be a mapping"
        if isinstance(default, str) and default.startswith("file://"):
            message = f"{default!r}: file:// references are not supported; inline it"
        builder.add(("defaultTest",), "defaultTest", message)
        default = {}
    if (
        kind is None
        and any(isinstance(t, dict) for t in tests)
        and not any(
            kind_from(t.get("metadata")) or kind_from(default.get("metadata"))
            for t in tests
            if isinstance(t, dict)
        )
    ):
        no_kind(builder, "promptfoo tests")
    stem = slug(path.stem) or "test"
    taken: set[str] = set()
    entries: list[tuple[Any, Where, str]] = []
    for index, test in enumerate(tests):
        where, label = ("tests", index), f"tests[{index}]"
        if not isinstance(test, dict):
            message = "expected a test: a mapping with vars and assert"
            if isinstance(test, str) and test.startswith("file://"):
                message = f"{test!r}: file:// test lists are not supported; inline the tests"
            builder.add(where, label, message)
            continue
        case = _case(test, default, prompt, builder, where, label)
        description = test.get("description")
        base = slug(description) if isinstance(description, str) else ""
        case["id"] = unique(base or f"{stem}-{index + 1}", taken)
        entries.append((case, where, label))
    return builder.build_all(entries, {})


def _tests(data: Mapping[str, Any], builder: CaseBuilder) -> list[Any]:
    for key in ("scenarios", "derivedMetrics"):
        if key in data:
            builder.add((key,), key, f"promptfoo {key} are not supported")
    tests = data.get("tests")
    if isinstance(tests, str):
        message = f"{tests!r}: tests from a file are not supported; inline the tests"
        builder.add(("tests",), "tests", message)
        return []
    if not isinstance(tests, list) or not tests:
        builder.add(("tests",), "tests", "expected a non-empty list of tests")
        return []
    return tests


def _prompt(prompts: Any, builder: CaseBuilder) -> str | None:
    first = prompts[0] if isinstance(prompts, list) and prompts else prompts
    if isinstance(first, dict):
        first = first.get("raw", first.get("id"))
    where = ("prompts", 0) if isinstance(prompts, list) else ("prompts",)
    if not isinstance(first, str):
        message = (
            "expected a prompt template: the first prompt, rendered with the vars, is the input"
        )
        builder.add(where, "prompts", message)
        return None
    if first.startswith("file://"):
        builder.add(where, "prompts", f"{first!r}: prompts from files are not supported; inline it")
        return None
    return first


def _case(
    test: Mapping[str, Any],
    default: Mapping[str, Any],
    prompt: str | None,
    builder: CaseBuilder,
    where: Where,
    label: str,
) -> dict[str, Any]:
    unsupported: list[str] = []
    variables: dict[str, Any] = {}
    for source, at, field in ((default, ("defaultTest",), "defaultTest"), (test, where, label)):
        values = source.get("vars", {})
        if not isinstance(values, dict):
            builder.add((*at, "vars"), f"{field}.vars", "expected a mapping of vars")
            continue
        variables.update(values)
        options = source.get("options")
        if isinstance(options, dict):
            unsupported += [f"options.{k}" for k in ("transform", "postprocess") if k in options]
    if "threshold" in test:
        unsupported.append("a test threshold (weighted scoring)")
    for name, value in variables.items():
        if isinstance(value, list):
            unsupported.append(f"list var {name!r} (one test per value)")
        elif isinstance(value, str) and value.startswith("file://"):
            unsupported.append(f"var {name!r} from a file")
    expect = _expect(test, default, builder, where, label, unsupported)
    case: dict[str, Any] = {}
    if prompt is not None:
        rendered = _render(prompt, variables)
        if "{{" in rendered or "{%" in rendered:
            unsupported.append("a prompt template beyond {{ var }} substitution")
        case["input"] = _chat(rendered)
    passed = {k: v for k, v in variables.items() if k != "input"}
    if passed:
        case["vars"] = passed
    metadata = {**_mapping(default.get("metadata")), **_mapping(test.get("metadata"))}
    declared = kind_from(test.get("metadata")) or kind_from(default.get("metadata"))
    if declared is not None:
        case["kind"] = declared
    tags = metadata.get("tags")
    if isinstance(tags, list):
        case["tags"] = [str(t) for t in tags]
    if expect:
        case["expect"] = expect
    if unsupported:
        case["skip"] = "not supported from promptfoo: " + "; ".join(unsupported)
    elif not expect:
        case["skip"] = "promptfoo test has no assertions: nothing to check"
    return case


def _expect(
    test: Mapping[str, Any],
    default: Mapping[str, Any],
    builder: CaseBuilder,
    where: Where,
    label: str,
    unsupported: list[str],
) -> dict[str, Any]:
    """The checks of a test's (and its defaultTest's) assertions."""
    found = _Asserts(builder, unsupported)
    for source, at, field in ((default, ("defaultTest",), "defaultTest"), (test, where, label)):
        asserts = source.get("assert", [])
        if not isinstance(asserts, list):
            builder.add((*at, "assert"), f"{field}.assert", "expected a list of assertions")
            continue
        for index, item in enumerate(asserts):
            spot, name = (*at, "assert", index), f"{field}.assert[{index}]"
            if not isinstance(item, dict) or not isinstance(item.get("type"), str):
                builder.add(spot, name, "expected an assertion {type, value}")
            elif item["type"] not in SUPPORTED:
                found.unknown_types.append(item["type"])
            elif "transform" in item:
                unsupported.append(f"assert {item['type']!r} with a transform")
            else:
                found.add(item["type"], item.get("value"), spot, name)
    return found.checks()


@dataclass
class _Asserts:
    """The checks gathered from one test's assertions, and what could not be mapped."""

    builder: CaseBuilder
    unsupported: list[str]
    expect: dict[str, Any] = dataclasses.field(default_factory=dict)
    contains: list[str] = dataclasses.field(default_factory=list)
    not_contains: list[str] = dataclasses.field(default_factory=list)
    unknown_types: list[str] = dataclasses.field(default_factory=list)

    def add(self, kind: str, value: Any, spot: Where, name: str) -> None:
        if kind in ("is-json", "contains-json"):
            schema = _schema(value)
            if schema is None:
                self.builder.add(spot, f"{name}.value", "expected a JSON Schema or file://path")
            elif self.expect.setdefault("json_schema", schema) != schema:
                self.unsupported.append(f"a second {kind!r} with another schema")
        elif kind in _CONTAINS_ANY:
            strings = value.split(",") if isinstance(value, str) else value
            if not isinstance(strings, list) or not all(_text(s) for s in strings):
                self.builder.add(spot, f"{name}.value", "expected a list of strings")
            elif "contains_any" in self.expect:
                self.unsupported.append(f"a second {kind!r}")
            else:
                self.expect["contains_any"] = [str(s).strip() for s in strings]
        elif kind == "equals" and isinstance(value, (dict, list)):
            self.unsupported.append("assert 'equals' with a JSON value")
        else:
            self._strings(kind, value, spot, name)

    def _strings(self, kind: str, value: Any, spot: Where, name: str) -> None:
        many = kind in ("contains-all", "icontains-all") and isinstance(value, list)
        strings = value if many else [value]
        if not all(_text(s) for s in strings):
            self.builder.add(spot, f"{name}.value", "expected a string")
            return
        texts = [str(s) for s in strings]
        if kind in _CONTAINS:
            self.contains += texts
        elif kind in _NOT_CONTAINS:
            self.not_contains += texts
        elif kind in self.expect:
            self.unsupported.append(f"a second {kind!r}")
        else:
            self.expect[kind] = texts[0]

    def checks(self) -> dict[str, Any]:
        if self.unknown_types:
            self.unsupported.insert(
                0,
                f"assert type {names(dict.fromkeys(self.unknown_types))} "
                f"(supported: {', '.join(SUPPORTED)})",
            )
        expect = dict(self.expect)
        if self.contains:
            expect["contains"] = self.contains[0] if len(self.contains) == 1 else self.contains
        if self.not_contains:
            many = len(self.not_contains) > 1
            expect["not_contains"] = self.not_contains if many else self.not_contains[0]
        return expect


def _schema(value: Any) -> dict[str, Any] | str | None:
    if value is None:
        return {}
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        if value.startswith("file://"):
            return value[len("file://") :]
        try:
            parsed = json.loads(value)
        except ValueError:
            return None
        return parsed if isinstance(parsed, dict) else None
    return None


def _text(value: Any) -> bool:
    return isinstance(value, (str, int, float)) and not isinstance(value, bool)


def _mapping(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, dict) else {}


def _render(template: str, variables: Mapping[str, Any]) -> str:
    def value(match: re.Match[str]) -> str:
        found = variables.get(match.group(1), "")
        return found if isinstance(found, str) else json.dumps(found)

    return _VAR.sub(value, template)


def _chat(text: str) -> str | list[Any]:
    """A prompt that is a JSON list of chat messages becomes a chat input."""
    if not text.lstrip().startswith("["):
        return text
    try:
        messages = json.loads(text)
    except ValueError:
        return text
    if isinstance(messages, list) and all(
        isinstance(m, dict) and "role" in m and "content" in m for m in messages
    ):
        return messages
    return text
