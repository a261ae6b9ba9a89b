from __future__ import annotations

import importlib.util
import json
import pickle
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_ragft import deepeval_checks
from pytest_ragft.casefiles import load_case_file
from pytest_ragft.cases import (
    BUILTIN_CHECK_NAMES,
    CaseFileError,
    Problem,
    expand_sources,
    find_duplicates,
    schema_text,
)
from pytest_ragft.model import Case


def write(root: Path, name: str, text: str) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if text.startswith("\n"):  # an indented triple-quoted block
        text = textwrap.dedent(text)[1:]
    path.write_text(text, encoding="utf-8")
    return path


def load(root: Path, name: str, text: str, **kwargs: Any) -> list[Case]:
    return load_case_file(write(root, name, text), root, **kwargs)


def errors(root: Path, name: str, text: str, **kwargs: Any) -> list[str]:
    with pytest.raises(CaseFileError) as info:
        load(root, name, text, **kwargs)
    assert info.value.path == name
    return str(info.value).splitlines()


DEEPEVAL_PROBE = deepeval_checks.deepeval_installed


@pytest.fixture(autouse=True)
def deepeval_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    # Whether deepeval is installed must not decide these tests' outcome.
    monkeypatch.setattr(deepeval_checks, "deepeval_installed", lambda: False)


SIMPLE = [
    {
        "id": "refund-window",
        "kind": "knowledge",
        "input": "How long?",
        "expect": {"contains": "30"},
    },
    {"id": "tone", "kind": "behavior", "input": "Hi", "expect": {"max_words": 5}},
]


@pytest.mark.parametrize(
    ("name", "text", "lines"),
    [
        pytest.param(
            "evals/a.yaml",
            """
            - id: refund-window
              kind: knowledge
              input: How long?
              expect: {contains: "30"}
            - id: tone
              kind: behavior
              input: Hi
              expect:
                max_words: 5
            """,
            [1, 5],
            id="yaml",
        ),
        pytest.param("evals/a.yml", yaml.safe_dump(SIMPLE), [1, 6], id="yml"),
        pytest.param("evals/a.json", json.dumps(SIMPLE, indent=2), [2, 10], id="json"),
        pytest.param("evals/a.json", json.dumps(SIMPLE), [1, 1], id="json-one-line"),
        pytest.param(
            "evals/a.jsonl",
            "  \n" + json.dumps(SIMPLE[0]) + "\n\n   \n" + json.dumps(SIMPLE[1]) + "\n\n",
            [2, 5],
            id="jsonl-blank-lines",
        ),
        pytest.param(
            "evals/a.yaml",
            """
            cases:
              - id: refund-window
                kind: knowledge
                input: How long?
                expect: {contains: "30"}
              - {id: tone, kind: behavior, input: Hi, expect: {max_words: 5}}
            """,
            [2, 6],
            id="yaml-cases-key",
        ),
    ],
)
def test_formats(tmp_path: Path, name: str, text: str, lines: list[int]) -> None:
    loaded = load(tmp_path, name, text)
    assert [c.id for c in loaded] == ["refund-window", "tone"]
    assert [c.line for c in loaded] == lines
    first = loaded[0]
    assert first.kind == "knowledge"
    assert first.input == "How long?"
    assert first.expect == {"contains": "30"}
    assert first.source == name
    assert first.path == tmp_path / name
    assert loaded[1].expect == {"max_words": 5}


def test_all_fields(tmp_path: Path) -> None:
    (case,) = load(
        tmp_path,
        "a.yaml",
        """
        - id: "order:1234.v2_x-y"
          kind: behavior
          input:
            - {role: system, content: Be terse.}
            - {role: user, content: Summarise order 1234}
          vars: {customer: 7, lang: en}
          expect: {regex: '^\\{', cites_sources: true}
          facts: [shipped]
          volatile: true
          gold_contexts: [Order 1234 shipped.]
          gold_sources: ["orders#1", "orders#3"]
          tags: [json, orders]
          repeats: 3
          min_pass_ratio: 1
          skip: not yet
          xfail: known bug
        """,
    )
    assert case == Case(
        id="order:1234.v2_x-y",
        kind="behavior",
        input=(
            {"role": "system", "content": "Be terse."},
            {"role": "user", "content": "Summarise order 1234"},
        ),
        vars={"customer": 7, "lang": "en"},
        expect={"regex": "^\\{", "cites_sources": True},
        facts=("shipped",),
        volatile=True,
        gold_contexts=("Order 1234 shipped.",),
        gold_sources=("orders#1", "orders#3"),
        tags=("json", "orders"),
        repeats=3,
        min_pass_ratio=1.0,
        skip="not yet",
        xfail="known bug",
        source="a.yaml",
        line=1,
        path=tmp_path / "a.yaml",
    )
    assert isinstance(case.min_pass_ratio, float)
    assert case.input_text == "Summarise order 1234"


def test_defaults_merge(tmp_path: Path) -> None:
    first, second = load(
        tmp_path,
        "a.yaml",
        """
        defaults:
          kind: knowledge
          vars: {lang: en, tier: gold}
          expect: {max_words: 50, not_contains: sorry}
          tags: [policy, refunds]
          volatile: true
        cases:
          - id: one
            expect: {contains: 30 days}
          - id: two
            kind: behavior
            vars: {tier: silver}
            expect: {max_words: 10}
            tags: [refunds, tone]
            volatile: false
        """,
    )
    assert first.kind == "knowledge"
    assert first.vars == {"lang": "en", "tier": "gold"}
    assert first.expect == {"max_words": 50, "not_contains": "sorry", "contains": "30 days"}
    assert first.tags == ("policy", "refunds")
    assert first.volatile is True
    assert second.kind == "behavior"
    assert second.vars == {"lang": "en", "tier": "silver"}
    assert second.expect == {"max_words": 10, "not_contains": "sorry"}
    assert second.tags == ("policy", "refunds", "tone")
    assert second.volatile is False


@pytest.mark.parametrize(
    ("defaults", "argument", "expected"),
    [
        pytest.param("# no defaults", "behavior", "behavior", id="argument-fills-in"),
        pytest.param("defaults: {kind: knowledge}", "behavior", "knowledge", id="defaults-win"),
        pytest.param("# no defaults", None, None, id="neither"),
    ],
)
def test_kind_argument(
    tmp_path: Path, defaults: str, argument: str | None, expected: str | None
) -> None:
    text = f"{defaults}\ncases:\n  - id: a\n    expect: {{contains: x}}\n"
    if expected is None:
        with pytest.raises(CaseFileError, match=r"a\.yaml:3: cases\[0\]\.kind: missing"):
            load(tmp_path, "a.yaml", text, kind=argument)
    else:
        assert [c.kind for c in load(tmp_path, "a.yaml", text, kind=argument)] == [expected]


def test_case_kind_beats_argument(tmp_path: Path) -> None:
    text = "- {id: a, kind: behavior, expect: {contains: x}}\n"
    assert load(tmp_path, "a.yaml", text, kind="knowledge")[0].kind == "behavior"


def test_bad_kind_argument(tmp_path: Path) -> None:
    text = "- {id: a, expect: {contains: x}}\n"
    assert errors(tmp_path, "a.yaml", text, kind="behaviour") == [
        "a.yaml: kind: 'behaviour' is not one of 'knowledge', 'behavior'"
    ]


VALID = "  kind: knowledge\n  expect: {contains: x}\n"


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        pytest.param(
            "e/a.yaml",
            "- id: a\n  kind: knowledge\n  expect: [\n- id: b\n",
            [
                "e/a.yaml:4: invalid YAML: did not find expected node content"
                " (while parsing a flow node)"
            ],
            id="yaml-syntax",
        ),
        pytest.param(
            "e/a.yaml",
            "- id: a\n\tkind: knowledge\n",
            ["e/a.yaml:2: invalid YAML:"],
            id="yaml-tab",
        ),
        pytest.param(
            "e/a.json",
            '[\n  {"id": "a",\n   "kind": "knowledge" "x": 1}\n]\n',
            ["e/a.json:3: invalid JSON: Expecting ',' delimiter (column 24)"],
            id="json-syntax",
        ),
        pytest.param(
            "e/a.jsonl",
            '{"id": "a", "kind": "knowledge", "expect": {"contains": "x"}}\n\n{"id": "b",\n'
            '{"id": "c", "kind": "knowledge", "expect": {"containz": "x"}}\n',
            [
                "e/a.jsonl:3: invalid JSON: Expecting property name enclosed in double quotes",
                "e/a.jsonl:4: cases[1].expect.containz: unknown check 'containz'"
                " (did you mean 'contains'?)",
            ],
            id="jsonl-bad-line",
        ),
        pytest.param("e/a.yaml", "", ["e/a.yaml: the file holds no cases"], id="empty"),
        pytest.param(
            "e/a.yaml",
            "just text\n",
            ["e/a.yaml:1: expected a list of cases or a mapping {defaults, cases}, got a string"],
            id="not-a-list",
        ),
        pytest.param(
            "e/a.yaml",
            "default: {kind: knowledge}\ncases: []\n",
            ["e/a.yaml:1: default: unknown top-level key 'default' (did you mean 'defaults'?)"],
            id="unknown-top-level-key",
        ),
        pytest.param(
            "e/a.yaml",
            "defaults: {kind: knowledge}\ncases: {id: a}\n",
            ["e/a.yaml:2: cases: expected a list of cases, got a mapping"],
            id="cases-not-a-list",
        ),
        pytest.param(
            "e/a.yaml",
            "- id: ok\n" + VALID + "- kind: knowledge\n  expect: {contains: x}\n",
            ["e/a.yaml:4: cases[1].id: missing: every case needs a unique id"],
            id="missing-id",
        ),
        pytest.param(
            "e/a.yaml",
            "- id: refund window\n" + VALID,
            [
                "e/a.yaml:1: cases[0].id: 'refund window' is not a valid id:"
                " use letters, digits and _ . : - only"
            ],
            id="bad-id",
        ),
        pytest.param(
            "e/a.yaml",
            "- id: 2024-01-01\n" + VALID,
            [
                "e/a.yaml:1: cases[0].id: expected a string, got a date (2024-01-01)"
                " (quote it to make it a string)"
            ],
            id="id-not-a-string",
        ),
        pytest.param(
            "e/a.yaml",
            "- id: a\n  expect: {contains: x}\n",
            [
                "e/a.yaml:1: cases[0].kind: missing: set kind: knowledge or behavior on the case"
                " or in defaults"
            ],
            id="missing-kind",
        ),
        pytest.param(
            "e/a.yaml",
            "- id: a\n  expect: {contains: x}\n"
            "- id: b\n  kind: behaviour\n  expect: {contains: x}\n",
            [
                "e/a.yaml:1: cases[0].kind: missing:",
                "e/a.yaml:4: cases[1].kind: 'behaviour' is not one of 'knowledge', 'behavior'"
                " (did you mean 'behavior'?)",
            ],
            id="bad-kind",
        ),
        pytest.param(
            "e/a.yaml",
            "- id: a\n  kind: knowledge\n",
            ["e/a.yaml:1: cases[0].expect: missing: add at least one check under expect"],
            id="no-expect",
        ),
        pytest.param(
            "e/a.yaml",
            "- id: a\n  kind: knowledge\n  expect: {}\n",
            ["e/a.yaml:3: cases[0].expect: empty: add at least one check"],
            id="empty-expect",
        ),
        pytest.param(
            "e/a.yaml",
            "- id: a\n  kind: knowledge\n  expect:\n    contains: x\n    containz: y\n",
            [
                "e/a.yaml:5: cases[0].expect.containz: unknown check 'containz'"
                " (did you mean 'contains'?); checks: cites_sources, contains,"
            ],
            id="unknown-check",
        ),
        pytest.param(
            "e/a.yaml",
            "- id: a\n  kind: knowledge\n  tag: [x]\n  expect: {contains: x}\n",
            ["e/a.yaml:3: cases[0].tag: unknown field 'tag' (did you mean 'tags'?); fields: id,"],
            id="unknown-field",
        ),
        pytest.param(
            "e/a.yaml",
            """
            - id: a
              kind: knowledge
              expect:
                contains: [x, 3]
                contains_any: x
                max_chars: -1
                max_words: 1.5
                cites_sources: "yes"
                equals: [x]
                deepeval: [{threshold: 0.5}]
              repeats: 0
              min_pass_ratio: 0
              volatile: maybe
            """,
            [
                "e/a.yaml:4: cases[0].expect.contains[1]: expected a string, got an integer (3)",
                "e/a.yaml:5: cases[0].expect.contains_any: expected a list of strings,"
                " got a string ('x')",
                "e/a.yaml:6: cases[0].expect.max_chars: -1 is less than the minimum of 0",
                "e/a.yaml:7: cases[0].expect.max_words: expected an integer >= 0,"
                " got a number (1.5)",
                "e/a.yaml:8: cases[0].expect.cites_sources: expected a boolean,"
                " got a string ('yes')",
                "e/a.yaml:9: cases[0].expect.equals: expected a string, got a list",
                "e/a.yaml:10: cases[0].expect.deepeval[0].metric: missing",
                "e/a.yaml:10: cases[0].expect.deepeval: the deepeval check needs deepeval",
                "e/a.yaml:11: cases[0].repeats: 0 is less than the minimum of 1",
                "e/a.yaml:12: cases[0].min_pass_ratio: 0 is less than or equal to the minimum of 0",
                "e/a.yaml:13: cases[0].volatile: expected a boolean, got a string ('maybe')",
            ],
            id="bad-check-values",
        ),
        pytest.param(
            "e/a.yaml",
            "- id: a\n  kind: behavior\n  input: [{role: user}, hi]\n  expect: {contains: x}\n",
            [
                "e/a.yaml:3: cases[0].input[0].content: missing: 'content' is required",
                "e/a.yaml:3: cases[0].input[1]: expected a chat message {role, content},"
                " got a string ('hi')",
            ],
            id="bad-chat-input",
        ),
        pytest.param(
            "e/a.yaml",
            "- id: a\n  kind: behavior\n  expect:\n    regex: '(unclosed'\n",
            [
                "e/a.yaml:4: cases[0].expect.regex: regex '(unclosed' does not compile:"
                " missing ) at position 9"
            ],
            id="bad-regex",
        ),
        pytest.param(
            "e/a.yaml",
            "- id: a\n  kind: behavior\n  expect:\n    json_schema: ../../outside.json\n",
            [
                "e/a.yaml:4: cases[0].expect.json_schema: json_schema file '../../outside.json'"
                " is outside the rootdir"
            ],
            id="json-schema-outside-root",
        ),
        pytest.param(
            "e/a.yaml",
            "- id: a\n  kind: behavior\n  expect:\n    json_schema: nope.json\n",
            [
                "e/a.yaml:4: cases[0].expect.json_schema: json_schema file 'nope.json' not found"
                " (looked for e/nope.json; the path is relative to the case file)"
            ],
            id="json-schema-missing",
        ),
        pytest.param(
            "e/a.yaml",
            "- id: a\n  kind: behavior\n  expect:\n    json_schema: {type: 12}\n",
            ["e/a.yaml:4: cases[0].expect.json_schema: not a valid JSON Schema at type: 12 is"],
            id="json-schema-inline-invalid",
        ),
        pytest.param(
            "e/a.yaml",
            "- id: a\n  kind: behavior\n  expect:\n    json_schema: schemas/bad.json\n",
            [
                "e/a.yaml:4: cases[0].expect.json_schema: json_schema file e/schemas/bad.json is"
                " not a valid JSON Schema at required: 'status' is not of type 'array'"
            ],
            id="json-schema-file-invalid",
        ),
        pytest.param(
            "e/a.yaml",
            "- id: a\n  kind: behavior\n  expect:\n    json_schema: schemas/broken.yaml\n",
            [
                "e/a.yaml:4: cases[0].expect.json_schema: json_schema file e/schemas/broken.yaml"
                " cannot be read:"
            ],
            id="json-schema-file-unparsable",
        ),
        pytest.param(
            "e/a.yaml",
            "- id: a\n" + VALID + "- id: b\n" + VALID + "- id: a\n" + VALID,
            [
                "e/a.yaml:7: cases[2].id: duplicate case id 'a': also cases[0] on line 1;"
                " ids must be unique in the suite"
            ],
            id="duplicate-id",
        ),
        pytest.param(
            "e/a.yaml",
            "- id: a\n  kind: knowledge\n  expect: {contains: x}\n  kind: behavior\n",
            [
                "e/a.yaml:4: [0].kind: duplicate key 'kind' (also on line 2): only the last one"
                " would count; remove one"
            ],
            id="duplicate-key",
        ),
        pytest.param(
            "e/a.yaml",
            "defaults: {id: x, kind: knowlege, expect: {contain: x}}\ncases: [{id: a}]\n",
            [
                "e/a.yaml:1: defaults.id: an id belongs on each case, not in defaults",
                "e/a.yaml:1: defaults.kind: 'knowlege' is not one of 'knowledge', 'behavior'"
                " (did you mean 'knowledge'?)",
                "e/a.yaml:1: defaults.expect.contain: unknown check 'contain'"
                " (did you mean 'contains'?)",
            ],
            id="bad-defaults",
        ),
        pytest.param(
            "e/a.yaml",
            "- id: a\n  kind: behavior\n  expect:\n    deepeval: [{metric: AnswerRelevancy}]\n",
            [
                "e/a.yaml:4: cases[0].expect.deepeval: the deepeval check needs deepeval:"
                ' install the extra: pip install "pytest-ragft[deepeval]"'
            ],
            id="deepeval-not-installed",
        ),
        pytest.param(
            "e/a.txt",
            "- id: a\n",
            ["e/a.txt: unsupported file type '.txt': case files are .yaml, .yml, .json, .jsonl"],
            id="unsupported-suffix",
        ),
    ],
)
def test_errors(tmp_path: Path, name: str, text: str, expected: list[str]) -> None:
    write(tmp_path, "e/schemas/bad.json", '{"type": "object", "required": "status"}')
    write(tmp_path, "e/schemas/broken.yaml", "type: [object\n")
    lines = errors(tmp_path, name, text)
    assert len(lines) == len(expected), lines
    for line, start in zip(lines, expected, strict=True):
        assert line.startswith(start), (line, start)


def test_every_problem_in_one_error(tmp_path: Path) -> None:
    with pytest.raises(CaseFileError) as info:
        load(
            tmp_path,
            "a.yaml",
            """
            - id: one
              kind: knowlege
              expect: {contains: x}
            - id: two
              kind: knowledge
              expect: {containz: x}
            - id: three
              kind: knowledge
            """,
        )
    assert [(p.line, p.field) for p in info.value.problems] == [
        (2, "cases[0].kind"),
        (6, "cases[1].expect.containz"),
        (7, "cases[2].expect"),
    ]
    assert all(isinstance(p, Problem) and p.message for p in info.value.problems)


def test_error_survives_pickling() -> None:
    error = CaseFileError(
        "e/a.yaml", [Problem(3, "cases[0].kind", "bad"), Problem(None, None, "x")]
    )
    copy = pickle.loads(pickle.dumps(error))
    assert copy.path == "e/a.yaml"
    assert copy.problems == error.problems
    assert str(copy) == "e/a.yaml: x\ne/a.yaml:3: cases[0].kind: bad"


def test_deepeval_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # With deepeval there, the specs go to its validation (here a stand-in that finds nothing).
    seen: list[Any] = []
    monkeypatch.setattr(deepeval_checks, "deepeval_installed", lambda: True)
    monkeypatch.setattr(
        deepeval_checks, "spec_problems", lambda specs, shape: seen.append(specs) or []
    )
    text = "- id: a\n  kind: behavior\n  expect:\n    deepeval: [{metric: GEval, name: tone}]\n"
    (case,) = load(tmp_path, "a.yaml", text)
    assert case.expect == {"deepeval": [{"metric": "GEval", "name": "tone"}]}
    assert seen == [[{"metric": "GEval", "name": "tone"}]]


def test_deepeval_probe_is_find_spec(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []

    def fake_find_spec(name: str) -> None:
        seen.append(name)

    monkeypatch.setattr(importlib.util, "find_spec", fake_find_spec)
    assert DEEPEVAL_PROBE() is False
    assert seen == ["deepeval"]


@pytest.mark.parametrize(
    ("schema_name", "schema_text_", "reference"),
    [
        pytest.param(
            "e/schemas/order.json",
            '{"type": "object", "required": ["status"]}',
            "schemas/order.json",
            id="json-beside",
        ),
        pytest.param(
            "shared/order.yaml",
            "type: object\nrequired: [status]\n",
            "../shared/order.yaml",
            id="yaml-elsewhere-in-root",
        ),
    ],
)
def test_json_schema_file_is_loaded(
    tmp_path: Path, schema_name: str, schema_text_: str, reference: str
) -> None:
    write(tmp_path, schema_name, schema_text_)
    text = f"- id: a\n  kind: behavior\n  expect:\n    json_schema: {reference}\n"
    (case,) = load(tmp_path, "e/a.yaml", text)
    assert case.expect["json_schema"] == {"type": "object", "required": ["status"]}


def test_inline_json_schema_kept(tmp_path: Path) -> None:
    text = "- id: a\n  kind: behavior\n  expect:\n    json_schema: {type: object}\n"
    assert load(tmp_path, "a.yaml", text)[0].expect == {"json_schema": {"type": "object"}}


def test_json_schema_in_defaults(tmp_path: Path) -> None:
    write(tmp_path, "e/order.json", '{"type": "object"}')
    text = "defaults:\n  expect: {json_schema: order.json}\ncases:\n  - {id: a, kind: behavior}\n"
    assert load(tmp_path, "e/a.yaml", text)[0].expect == {"json_schema": {"type": "object"}}


def test_custom_check_names(tmp_path: Path) -> None:
    text = "- id: a\n  kind: behavior\n  expect: {polite: {min: 0.5}}\n"
    names = BUILTIN_CHECK_NAMES | {"polite"}
    (case,) = load(tmp_path, "a.yaml", text, check_names=names)
    assert case.expect == {"polite": {"min": 0.5}}
    with pytest.raises(CaseFileError, match="unknown check 'polite'"):
        load(tmp_path, "a.yaml", text)


def test_json_falls_back_when_yaml_cannot_read_it(tmp_path: Path) -> None:
    # Keys over 1024 characters are valid JSON but not YAML: the cases load, without key lines.
    long_key = "k" * 1100
    text = '[{"id": "a", "kind": "knowledge",\n "vars": {"%s": 1}, "expect": {"contains": "x"}}]'
    text %= long_key
    (case,) = load(tmp_path, "a.json", text)
    assert case.expect == {"contains": "x"}
    assert case.vars == {long_key: 1}
    with pytest.raises(CaseFileError, match=r"^a\.json: cases\[0\]\.expect\.contains: expected"):
        load(tmp_path, "a.json", text.replace('"x"', "3"))


def test_yaml_anchors_and_merge_keys(tmp_path: Path) -> None:
    text = """
    - &base
      id: a
      kind: knowledge
      expect: {contains: x}
    - <<: *base
      id: b
    """
    assert [c.id for c in load(tmp_path, "a.yaml", text)] == ["a", "b"]


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        pytest.param("openai-eval", "did you mean 'openai-evals'?", id="misspelt"),
        pytest.param("csv", "formats: openai-evals, promptfoo, deepeval", id="unknown"),
    ],
)
def test_unknown_format(tmp_path: Path, fmt: str, expected: str) -> None:
    with pytest.raises(
        CaseFileError, match=f"^a.yaml: format: unknown case file format .*{expected}"
    ):
        load(tmp_path, "a.yaml", "[]", fmt=fmt)


def test_find_duplicates() -> None:
    cases = [
        Case(id="refund-window", kind="knowledge", source="evals/a.yaml", line=3),
        Case(id="tone", kind="behavior", source="evals/a.yaml", line=8),
        Case(id="refund-window", kind="knowledge", source="evals/b.yaml", line=10),
        Case(id="refund-window", kind="knowledge", source="evals/c.jsonl", line=1),
        Case(id="other", kind="knowledge", source="evals/c.jsonl", line=2),
    ]
    assert find_duplicates(cases) == [
        "duplicate case id 'refund-window': evals/a.yaml:3, evals/b.yaml:10 and evals/c.jsonl:1"
    ]
    assert find_duplicates(cases[:2]) == []


def test_find_duplicates_across_loaded_files(tmp_path: Path) -> None:
    first = load(tmp_path, "evals/a.yaml", "- id: x\n" + VALID)
    second = load(tmp_path, "evals/b.yaml", "- id: y\n" + VALID + "- id: x\n" + VALID)
    assert find_duplicates(first + second) == [
        "duplicate case id 'x': evals/a.yaml:1 and evals/b.yaml:4"
    ]


@dataclass(frozen=True)
class Source:
    pattern: str
    format: str | None = None
    kind: str | None = None


def test_expand_sources(tmp_path: Path) -> None:
    for name in ("evals/b.yaml", "evals/a.yaml", "evals/deep/c.yaml", "evals/x.json", "other.yaml"):
        write(tmp_path, name, "[]")
    (tmp_path / "evals" / "dir.yaml").mkdir()
    recursive = Source("evals/**/*.yaml")
    again = Source("evals/a.yaml", kind="knowledge")
    missing = Source("nothing/*.yaml")
    imported = Source("evals/*.json", format="deepeval")
    found = expand_sources([recursive, again, missing, imported], tmp_path)
    assert [(p.relative_to(tmp_path).as_posix(), s) for p, s in found] == [
        ("evals/a.yaml", recursive),
        ("evals/b.yaml", recursive),
        ("evals/deep/c.yaml", recursive),
        ("evals/x.json", imported),
    ]
    assert all(p.is_absolute() for p, _ in found)
    assert expand_sources([missing], tmp_path) == []


def test_expand_sources_absolute_pattern(tmp_path: Path) -> None:
    write(tmp_path, "evals/a.yaml", "[]")
    found = expand_sources([Source(str(tmp_path / "evals" / "*.yaml"))], tmp_path / "evals")
    assert [p for p, _ in found] == [tmp_path / "evals" / "a.yaml"]


def test_shipped_schema_agrees_with_the_loader(tmp_path: Path) -> None:
    schema = json.loads(schema_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    good: Any = {
        "defaults": {"kind": "knowledge", "tags": ["x"]},
        "cases": [{"id": "a", "expect": {"contains": ["x", "y"]}, "input": "q"}],
    }
    assert list(validator.iter_errors(good)) == []
    assert load(tmp_path, "a.json", json.dumps(good))[0].id == "a"
    listed: Any = [{"id": "a", "expect": {"contains": "x"}}]
    assert [e.validator for e in validator.iter_errors(listed)] == ["oneOf"]
    listed[0]["kind"] = "behavior"
    assert list(validator.iter_errors(listed)) == []
    listed[0]["colour"] = "red"
    assert list(validator.iter_errors(listed)) != []


IDS = st.from_regex(r"[A-Za-z0-9_.:-]+", fullmatch=True)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    ids=st.lists(IDS, min_size=1, max_size=4, unique=True),
    suffix=st.sampled_from(["yaml", "json", "jsonl"]),
)
def test_any_valid_id_round_trips(tmp_path: Path, ids: list[str], suffix: str) -> None:
    raw = [{"id": i, "kind": "behavior", "expect": {"contains": "x"}} for i in ids]
    if suffix == "yaml":
        text = yaml.safe_dump(raw)
    elif suffix == "json":
        text = json.dumps(raw, indent=1)
    else:
        text = "\n".join(json.dumps(r) for r in raw)
    loaded = load_case_file(write(tmp_path, f"a.{suffix}", text), tmp_path)
    assert [c.id for c in loaded] == ids


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    text=st.text(alphabet=st.sampled_from(list("-:{}[]#&*!|>'\"%@` \n\tabid0.,?<=")), max_size=80)
)
def test_any_text_loads_or_raises_case_file_error(tmp_path: Path, text: str) -> None:
    for suffix in ("yaml", "json", "jsonl"):
        path = tmp_path / f"fuzz.{suffix}"
        path.write_text(text, encoding="utf-8")
        try:
            loaded = load_case_file(path, tmp_path)
        except CaseFileError as exc:
            assert exc.problems
            assert str(exc).startswith(f"fuzz.{suffix}")
        else:
            assert all(isinstance(c, Case) for c in loaded)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.sampled_from(["", "x", "(", "a.json"]),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["role", "content", "metric", "x"]), inner, max_size=3)
    ),
    max_leaves=6,
)
FIELDS = [
    "id",
    "kind",
    "input",
    "vars",
    "expect",
    "facts",
    "tags",
    "repeats",
    "min_pass_ratio",
    "skip",
    "colour",
]
CHECKS = [*sorted(BUILTIN_CHECK_NAMES), "containz"]


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    data=st.lists(
        st.dictionaries(
            st.sampled_from(FIELDS),
            JSON_VALUES | st.dictionaries(st.sampled_from(CHECKS), JSON_VALUES, max_size=3),
            max_size=6,
        ),
        max_size=3,
    )
)
def test_any_case_shapes_load_or_raise_case_file_error(tmp_path: Path, data: list[Any]) -> None:
    path = write(tmp_path, "e/fuzz.yaml", yaml.safe_dump(data))
    try:
        loaded = load_case_file(path, tmp_path)
    except CaseFileError as exc:
        assert all(p.line is not None for p in exc.problems)
    else:
        assert len(loaded) == len(data)


# --- hostile YAML: aliases, recursion, depth -----------------------------------------------


def _laughs(levels: int, width: int = 9) -> str:
    lines = ["a0: &a0 [lol]"]
    for n in range(1, levels + 1):
        refs = ", ".join(f"*a{n - 1}" for _ in range(width))
        lines.append(f"a{n}: &a{n} [{refs}]")
    lines.append(
        f"cases: [{{id: x, kind: knowledge, input: q, vars: {{v: *a{levels}}}, "
        "expect: {contains: q}}]"
    )
    return "\n".join(lines) + "\n"


def _load_in_subprocess(path: Path, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """Load a case file in a child process, so a regression shows as a time-out, not a hang."""
    code = (
        "import sys; from pathlib import Path; from pytest_ragft.cases import *\n"
        "from pytest_ragft.casefiles import load_case_file\n"
        "try:\n"
        f"    load_case_file(Path({str(path)!r}), Path({str(path.parent)!r}))\n"
        "except CaseFileError as exc:\n"
        "    print(exc)\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout
    )


def test_billion_laughs_is_refused_without_expanding(tmp_path: Path) -> None:
    path = tmp_path / "laughs.yaml"
    path.write_text(_laughs(9), encoding="utf-8")
    done = _load_in_subprocess(path)
    assert done.returncode == 0, done.stderr
    assert "laughs.yaml:1: its aliases expand to more than 1,000,000 values" in done.stdout
    assert "write the repeated parts once" in done.stdout


def test_a_few_aliases_are_fine_and_keep_their_lines(tmp_path: Path) -> None:
    path = tmp_path / "few.yaml"
    path.write_text(
        "- &base {id: one, kind: knowledge, input: q, expect: {contains: q}}\n"
        "- {<<: *base, id: two}\n",
        encoding="utf-8",
    )
    cases = load_case_file(path, tmp_path)
    assert [(c.id, c.line) for c in cases] == [("one", 1), ("two", 2)]


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("- &a [*a]\n", id="list-in-itself"),
        pytest.param(
            "- &m {id: x, kind: knowledge, vars: {self: *m}, expect: {contains: q}}\n",
            id="mapping-in-itself",
        ),
    ],
)
def test_recursive_alias_is_refused(tmp_path: Path, text: str) -> None:
    path = tmp_path / "loop.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CaseFileError) as info:
        load_case_file(path, tmp_path)
    assert "loop.yaml:1: a recursive alias" in str(info.value)
    assert "remove the alias" in str(info.value)


@pytest.mark.parametrize(
    ("name", "text", "said"),
    [
        pytest.param("deep.json", "[" * 100_000 + "]" * 100_000, "nest", id="json"),
        pytest.param("deep.yaml", "[" * 100_000 + "]" * 100_000, "nest", id="yaml-flow"),
        pytest.param("deep.jsonl", "[" * 100_000 + "]" * 100_000 + "\n", "nest", id="jsonl"),
        pytest.param("mid.yaml", "- " * 990 + "x\n", "expected a case", id="yaml-block-990"),
        pytest.param("mid.json", "[" * 990 + "]" * 990, "expected a case", id="json-990"),
    ],
)
def test_deep_nesting_is_a_case_file_error(tmp_path: Path, name: str, text: str, said: str) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    done = _load_in_subprocess(path)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.startswith(f"{name}:")
    assert said in done.stdout


def test_empty_regex_is_refused_like_empty_contains(tmp_path: Path) -> None:
    path = tmp_path / "e.yaml"
    path.write_text("- {id: a, kind: behavior, expect: {regex: ''}}\n", encoding="utf-8")
    with pytest.raises(CaseFileError) as info:
        load_case_file(path, tmp_path)
    assert str(info.value) == (
        "e.yaml:1: cases[0].expect.regex: empty: an empty pattern matches every answer; write "
        "the pattern to find (as contains: '' is refused too)"
    )


def test_gold_sources_must_be_strings(tmp_path: Path) -> None:
    text = '[{"id": "a", "kind": "knowledge", "expect": {"contains": "x"}, "gold_sources": "a#1"}]'
    with pytest.raises(
        CaseFileError, match=r"^a\.json:1: cases\[0\]\.gold_sources: expected a list of strings"
    ):
        load(tmp_path, "a.json", text)
    (case,) = load(tmp_path, "a.json", text.replace('"a#1"', '["a#1"]'))
    assert case.gold_sources == ("a#1",)
