from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_ragft import deepeval_checks
from pytest_ragft.casefiles import load_case_file
from pytest_ragft.cases import CaseFileError
from pytest_ragft.importers import slug, unique
from pytest_ragft.importers.promptfoo import SUPPORTED
from pytest_ragft.model import Case, valid_case_id

DATA = Path(__file__).parent / "data" / "importers"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    shutil.copytree(DATA, tmp_path, dirs_exist_ok=True)
    return tmp_path


def write(root: Path, name: str, text: str) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if text.startswith("\n"):  # an indented triple-quoted block
        text = textwrap.dedent(text)[1:]
    path.write_text(text, encoding="utf-8")
    return path


def load(root: Path, name: str, fmt: str, kind: str | None = None) -> list[Case]:
    return load_case_file(root / name, root, fmt=fmt, kind=kind)


def error_lines(root: Path, name: str, fmt: str, kind: str | None = None) -> list[str]:
    with pytest.raises(CaseFileError) as info:
        load(root, name, fmt, kind)
    return str(info.value).splitlines()


# --- openai/evals -----------------------------------------------------------------------------


def test_openai_evals_registry_samples(root: Path) -> None:
    loaded = load(root, "openai-evals/rock-climbing/samples.jsonl", "openai-evals", "knowledge")
    assert [c.id for c in loaded] == [f"rock-climbing-{n}" for n in range(1, 9)]
    first = loaded[0]
    assert first.kind == "knowledge"
    assert first.expect == {"contains_any": ["crimp"]}
    assert isinstance(first.input, tuple)
    assert [m["role"] for m in first.input] == ["system", "user"]
    assert first.input_text.startswith("The name actually comes from")
    assert (first.source, first.line) == ("openai-evals/rock-climbing/samples.jsonl", 1)
    assert first.effective_facts == ()


def test_openai_evals_folder_names_the_ids(root: Path) -> None:
    loaded = load(
        root, "openai-evals/japanese_prime_minister/samples.jsonl", "openai-evals", "behavior"
    )
    assert len(loaded) == 15
    assert loaded[-1].id == "japanese_prime_minister-15"
    assert loaded[-1].expect == {"contains_any": ["東條英機"]}
    assert {c.kind for c in loaded} == {"behavior"}


def test_openai_evals_shapes(tmp_path: Path) -> None:
    lines = [
        {"input": "What is 2+2?", "ideal": ["4", "four"]},
        {"input": [{"role": "user", "content": "Rate this"}]},
        {"input": "Capital of France?", "ideal": "Paris", "extra": 1},
    ]
    text = "  \n" + "\n\n".join(json.dumps(line) for line in lines) + "\n"
    write(tmp_path, "evals/arith.jsonl", text)
    first, second, third = load(tmp_path, "evals/arith.jsonl", "openai-evals", "knowledge")
    assert (first.id, first.line, first.input) == ("arith-2", 2, "What is 2+2?")
    assert first.expect == {"contains_any": ["4", "four"]}
    assert second.skip is not None and "no 'ideal'" in second.skip
    assert second.expect == {}
    assert (third.id, third.expect) == ("arith-6", {"contains_any": ["Paris"]})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            '{"input": "a", "ideal": "b"}\n{"input": "a", "ideal": \n',
            ["e.jsonl:2: invalid JSON: Expecting value (column 25)"],
            id="bad-json",
        ),
        pytest.param(
            '{"ideal": "b"}\n',
            ["e.jsonl:1: samples[0].input: missing: a sample needs an input"],
            id="no-input",
        ),
        pytest.param(
            '{"input": "a", "ideal": 4}\n{"input": "a", "ideal": []}\n',
            [
                "e.jsonl:1: samples[0].ideal: expected a string or a non-empty list of strings",
                "e.jsonl:2: samples[1].ideal: expected a string or a non-empty list of strings",
            ],
            id="bad-ideal",
        ),
        pytest.param(
            '[1, 2]\n{"input": [{"role": "user"}], "ideal": "x"}\n',
            [
                "e.jsonl:1: samples[0]: expected a sample {input, ideal}",
                "e.jsonl:2: samples[1].input[0].content: missing: 'content' is required",
            ],
            id="bad-sample",
        ),
    ],
)
def test_openai_evals_errors(tmp_path: Path, text: str, expected: list[str]) -> None:
    write(tmp_path, "e.jsonl", text)
    assert error_lines(tmp_path, "e.jsonl", "openai-evals", "knowledge") == expected


def test_openai_evals_need_a_kind(root: Path) -> None:
    assert error_lines(root, "openai-evals/rock-climbing/samples.jsonl", "openai-evals") == [
        "openai-evals/rock-climbing/samples.jsonl: kind: openai/evals samples carry no kind:"
        " set kind on its cases entry in [tool.ragft], e.g. cases = [{path ="
        ' "openai-evals/rock-climbing/samples.jsonl", format = "openai-evals",'
        ' kind = "knowledge"}]'
    ]


# --- promptfoo --------------------------------------------------------------------------------


def test_promptfoo_getting_started(root: Path) -> None:
    name = "promptfoo/getting-started/promptfooconfig.yaml"
    first, second = load(root, name, "promptfoo", "behavior")
    assert (first.id, first.line, first.kind) == ("promptfooconfig-1", 18, "behavior")
    assert first.input == "Convert this English to French: Hello world"
    assert first.vars == {"language": "French"}
    assert first.expect == {"contains": "Bonjour le monde"}
    assert (second.id, second.line) == ("promptfooconfig-2", 24)
    assert second.input == "Convert this English to Spanish: Where is the library?"
    assert second.expect == {"contains": "Dónde está la biblioteca"}
    assert first.skip is None and second.skip is None


def promptfoo(root: Path, asserts: str, extra: str = "") -> Case:
    text = "prompts: ['Q: {{q}}']\ntests:\n  - vars: {q: x}\n    metadata: {kind: behavior}\n"
    text += "    assert:\n" + textwrap.indent(textwrap.dedent(asserts).strip(), "      ") + "\n"
    write(root, "pf.yaml", text + extra)
    (case,) = load(root, "pf.yaml", "promptfoo")
    return case


@pytest.mark.parametrize(
    ("asserts", "expect"),
    [
        pytest.param("- {type: equals, value: Paris}", {"equals": "Paris"}, id="equals"),
        pytest.param("- {type: equals, value: 42}", {"equals": "42"}, id="equals-number"),
        pytest.param(
            "- {type: contains, value: a}\n- {type: icontains, value: B}",
            {"contains": ["a", "B"]},
            id="contains-icontains",
        ),
        pytest.param(
            "- {type: contains-all, value: [a, b]}", {"contains": ["a", "b"]}, id="contains-all"
        ),
        pytest.param(
            "- {type: contains-any, value: [a, b]}", {"contains_any": ["a", "b"]}, id="any-list"
        ),
        pytest.param(
            "- {type: icontains-any, value: 'a, b'}",
            {"contains_any": ["a", "b"]},
            id="any-comma-string",
        ),
        pytest.param(
            "- {type: not-contains, value: sorry}\n- {type: not-icontains, value: AI}",
            {"not_contains": ["sorry", "AI"]},
            id="not-contains",
        ),
        pytest.param("- {type: regex, value: '^\\d+$'}", {"regex": "^\\d+$"}, id="regex"),
        pytest.param("- {type: is-json}", {"json_schema": {}}, id="is-json"),
        pytest.param(
            "- type: is-json\n  value: {type: object, required: [a]}",
            {"json_schema": {"type": "object", "required": ["a"]}},
            id="is-json-schema",
        ),
        pytest.param(
            '- {type: contains-json, value: \'{"type": "array"}\'}',
            {"json_schema": {"type": "array"}},
            id="contains-json-string-schema",
        ),
        pytest.param(
            "- {type: is-json, value: 'file://schemas/a.yaml'}",
            {"json_schema": {"type": "object"}},
            id="is-json-file",
        ),
        pytest.param(
            "- {type: contains, value: a, weight: 2, metric: m}", {"contains": "a"}, id="weight"
        ),
    ],
)
def test_promptfoo_assert_mapping(tmp_path: Path, asserts: str, expect: dict[str, Any]) -> None:
    write(tmp_path, "schemas/a.yaml", "type: object\n")
    case = promptfoo(tmp_path, asserts)
    assert case.skip is None
    assert case.expect == expect


@pytest.mark.parametrize(
    ("asserts", "reason"),
    [
        pytest.param(
            "- {type: contains, value: a}\n- {type: llm-rubric, value: polite}\n"
            "- {type: javascript, value: 'output.length < 9'}",
            "assert type 'llm-rubric', 'javascript' (supported: " + ", ".join(SUPPORTED) + ")",
            id="unsupported-types",
        ),
        pytest.param(
            "- {type: contains, value: a, transform: output.trim()}",
            "assert 'contains' with a transform",
            id="transform",
        ),
        pytest.param(
            "- {type: equals, value: {a: 1}}", "assert 'equals' with a JSON value", id="equals-json"
        ),
        pytest.param(
            "- {type: regex, value: a}\n- {type: regex, value: b}",
            "a second 'regex'",
            id="two-regexes",
        ),
    ],
)
def test_promptfoo_unsupported_asserts_skip_the_case(
    tmp_path: Path, asserts: str, reason: str
) -> None:
    case = promptfoo(tmp_path, asserts)
    assert case.skip == f"not supported from promptfoo: {reason}"


def test_promptfoo_defaults_ids_and_kinds(tmp_path: Path) -> None:
    write(
        tmp_path,
        "pf.yaml",
        """
        prompts:
          - raw: 'Answer in {{ lang }}: {{question}}'
          - 'ignored second prompt {{question}}'
        defaultTest:
          vars: {lang: English}
          metadata: {kind: knowledge}
          assert:
            - {type: not-contains, value: As an AI}
        tests:
          - description: Refund window (EU)!
            vars: {question: How long?, input: raw}
            assert: [{type: contains, value: 30 days}]
          - description: Refund window (EU)!
            vars: {question: Tone?, lang: French}
            metadata: {tags: [tone, behavior]}
          - vars: {question: Hi}
            metadata: {kind: behavior, tags: [greeting]}
            assert: [{type: icontains, value: hello}]
        """,
    )
    first, second, third = load(tmp_path, "pf.yaml", "promptfoo")
    assert [c.id for c in (first, second, third)] == [
        "Refund-window-EU",
        "Refund-window-EU-2",
        "pf-3",
    ]
    assert first.input == "Answer in English: How long?"
    assert first.vars == {"lang": "English", "question": "How long?"}
    assert first.expect == {"contains": "30 days", "not_contains": "As an AI"}
    assert first.kind == "knowledge"
    assert (second.kind, second.tags) == ("behavior", ("tone", "behavior"))
    assert second.input == "Answer in French: Tone?"
    assert second.expect == {"not_contains": "As an AI"}
    assert (third.kind, third.tags) == ("behavior", ("greeting",))
    assert [c.line for c in (first, second, third)] == [10, 13, 16]


@pytest.mark.parametrize(
    ("test", "skip"),
    [
        pytest.param(
            "vars: {q: [a, b]}\n    assert: [{type: contains, value: a}]",
            "not supported from promptfoo: list var 'q' (one test per value)",
            id="list-var",
        ),
        pytest.param(
            "vars: {q: 'file://q.txt'}\n    assert: [{type: contains, value: a}]",
            "not supported from promptfoo: var 'q' from a file",
            id="file-var",
        ),
        pytest.param(
            "vars: {q: a}\n    threshold: 0.5\n    assert: [{type: contains, value: a}]",
            "not supported from promptfoo: a test threshold (weighted scoring)",
            id="threshold",
        ),
        pytest.param(
            "vars: {q: a}\n    options: {transform: output.trim()}\n"
            "    assert: [{type: contains, value: a}]",
            "not supported from promptfoo: options.transform",
            id="options-transform",
        ),
        pytest.param(
            "vars: {q: a}", "promptfoo test has no assertions: nothing to check", id="no-asserts"
        ),
    ],
)
def test_promptfoo_unsupported_tests_skip(tmp_path: Path, test: str, skip: str) -> None:
    write(tmp_path, "pf.yaml", f"prompts: ['Q: {{{{q}}}}']\ntests:\n  - {test}\n")
    (case,) = load(tmp_path, "pf.yaml", "promptfoo", "knowledge")
    assert case.skip == skip


def test_promptfoo_template_beyond_vars_skips(tmp_path: Path) -> None:
    text = "prompts: ['Q: {{ q | upper }}']\n"
    text += "tests: [{vars: {q: a}, assert: [{type: equals, value: A}]}]\n"
    write(tmp_path, "pf.yaml", text)
    (case,) = load(tmp_path, "pf.yaml", "promptfoo", "knowledge")
    assert case.skip == (
        "not supported from promptfoo: a prompt template beyond {{ var }} substitution"
    )


def test_promptfoo_chat_prompt(tmp_path: Path) -> None:
    prompt = json.dumps(
        [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "{{q}}"}]
    )
    write(
        tmp_path,
        "pf.json",
        json.dumps(
            {
                "prompts": [prompt],
                "tests": [{"vars": {"q": "Hi"}, "assert": [{"type": "contains", "value": "hi"}]}],
            }
        ),
    )
    (case,) = load(tmp_path, "pf.json", "promptfoo", "behavior")
    assert case.input == (
        {"role": "system", "content": "Be terse."},
        {"role": "user", "content": "Hi"},
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "prompts: [q]\ntests: file://tests/*.yaml\n",
            [
                "pf.yaml:2: tests: 'file://tests/*.yaml': tests from a file are not supported;"
                " inline the tests"
            ],
            id="tests-file",
        ),
        pytest.param(
            "prompts: [q]\ntests:\n  - file://more.yaml\n",
            [
                "pf.yaml:3: tests[0]: 'file://more.yaml': file:// test lists are not supported;"
                " inline the tests"
            ],
            id="tests-file-entry",
        ),
        pytest.param(
            "prompts: [file://prompt.txt]\ntests: [{assert: [{type: contains, value: a}]}]\n",
            [
                "pf.yaml: kind: promptfoo tests carry no kind:",
                "pf.yaml:1: prompts: 'file://prompt.txt': prompts from files are not supported;"
                " inline it",
            ],
            id="prompt-file",
        ),
        pytest.param(
            "prompts: [q]\ndefaultTest: file://default.yaml\ntests: [{vars: {}}]\n",
            [
                "pf.yaml: kind: promptfoo tests carry no kind:",
                "pf.yaml:2: defaultTest: 'file://default.yaml': file:// references are not"
                " supported; inline it",
            ],
            id="default-test-file",
        ),
        pytest.param(
            "prompts: [q]\ntests:\n  - vars: {}\n    assert:\n      - {type: regex, value: '(a'}\n"
            "      - {value: x}\n      - {type: contains, value: {a: 1}}\n",
            [
                "pf.yaml: kind: promptfoo tests carry no kind:",
                "pf.yaml:3: tests[0].expect.regex: regex '(a' does not compile: missing )"
                " at position 2",
                "pf.yaml:6: tests[0].assert[1]: expected an assertion {type, value}",
                "pf.yaml:7: tests[0].assert[2].value: expected a string",
            ],
            id="bad-asserts",
        ),
        pytest.param(
            "prompts: [q]\ntests:\n  - {metadata: {kind: behavior}}\n  - {vars: {}}\n",
            [
                "pf.yaml:4: tests[1].kind: missing: set metadata: {kind: knowledge} on the test"
                " or its defaultTest, or set kind on its cases entry in [tool.ragft], e.g. cases"
                ' = [{path = "pf.yaml", format = "promptfoo", kind = "knowledge"}]'
            ],
            id="one-test-without-kind",
        ),
        pytest.param(
            "prompts: [q]\ntests:\n  - {metadata: {kind: behaviour}}\n",
            [
                "pf.yaml:3: tests[0].kind: 'behaviour' is not one of 'knowledge', 'behavior'"
                " (did you mean 'behavior'?)"
            ],
            id="bad-kind",
        ),
        pytest.param(
            "- just a list\n", ["pf.yaml:1: expected a promptfoo config: a mapping"], id="list"
        ),
        pytest.param(
            "prompts: [q]\nscenarios: []\ntests: [{metadata: {kind: behavior}}]\n",
            ["pf.yaml:2: scenarios: promptfoo scenarios are not supported"],
            id="scenarios",
        ),
    ],
)
def test_promptfoo_errors(tmp_path: Path, text: str, expected: list[str]) -> None:
    write(tmp_path, "pf.yaml", text)
    lines = error_lines(tmp_path, "pf.yaml", "promptfoo")
    assert len(lines) == len(expected), lines
    for line, start in zip(lines, expected, strict=True):
        assert line.startswith(start), (line, start)


def test_promptfoo_needs_a_kind(root: Path) -> None:
    name = "promptfoo/getting-started/promptfooconfig.yaml"
    assert error_lines(root, name, "promptfoo") == [
        f"{name}: kind: promptfoo tests carry no kind: set metadata: {{kind: knowledge}} on the"
        f" test or its defaultTest, or set kind on its cases entry in [tool.ragft], e.g. cases ="
        f' [{{path = "{name}", format = "promptfoo", kind = "knowledge"}}]'
    ]


# --- deepeval ---------------------------------------------------------------------------------


LONG = "expected_output is a reference answer of 20 words, too long to match literally"


def test_deepeval_json_goldens(root: Path) -> None:
    refund, summary, checked, tools = load(root, "deepeval/goldens.json", "deepeval")
    assert (refund.id, refund.line, refund.kind) == ("goldens-2", 2, "knowledge")
    assert refund.input == "How many days do I have to return an item?"
    assert refund.expect == {"contains": "30 days"}
    assert refund.effective_facts == ("30 days",)
    assert refund.gold_contexts == (
        "Items can be returned within 30 days of delivery.",
        "Refunds go to the original payment method.",
    )
    assert refund.skip is None
    assert (summary.id, summary.kind, summary.tags) == ("order-summary", "behavior", ("json",))
    assert summary.skip is not None and summary.skip.startswith(LONG)
    assert (checked.id, checked.kind) == ("order-summary-2", "behavior")
    assert checked.expect == {"json_schema": {"type": "object", "required": ["status"]}}
    assert checked.facts == ("shipped",)
    assert checked.skip is None
    assert tools.skip == "not supported from deepeval: expected_tools"


def test_deepeval_jsonl_goldens(root: Path) -> None:
    refund, summary = load(root, "deepeval/goldens.jsonl", "deepeval")
    assert (refund.id, refund.line) == ("goldens-1", 1)
    assert len(refund.gold_contexts) == 2
    assert refund.expect == {"contains": "30 days"}
    assert (summary.id, summary.line) == ("order-summary", 2)


@pytest.mark.parametrize(
    ("golden", "kind", "expected"),
    [
        pytest.param({"expected_output": "Paris"}, "knowledge", ("knowledge", None), id="argument"),
        pytest.param(
            {"expected_output": "Paris", "additional_metadata": {"kind": "behavior"}},
            "knowledge",
            ("behavior", None),
            id="metadata-wins",
        ),
        pytest.param(
            {"additional_metadata": {"kind": "knowledge"}},
            None,
            ("knowledge", "the golden has no expected_output"),
            id="no-expected-output",
        ),
        pytest.param(
            {"scenario": "a refund", "turns": [], "additional_metadata": {"kind": "behavior"}},
            None,
            ("behavior", "not supported from deepeval: conversational goldens (scenario, turns)"),
            id="conversational",
        ),
    ],
)
def test_deepeval_golden_shapes(
    tmp_path: Path, golden: dict[str, Any], kind: str | None, expected: tuple[str, str | None]
) -> None:
    write(tmp_path, "g.json", json.dumps([{"input": "Capital of France?", **golden}]))
    (case,) = load(tmp_path, "g.json", "deepeval", kind)
    assert case.kind == expected[0]
    if expected[1] is None:
        assert case.skip is None
    else:
        assert case.skip is not None and case.skip.startswith(expected[1])


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        pytest.param(
            "g.json",
            '{"input": "a"}',
            ["g.json:1: expected a list of goldens, as EvaluationDataset.save_as writes them"],
            id="not-a-list",
        ),
        pytest.param(
            "g.json",
            '[\n  {"input": "a", "expected_output": "b",'
            ' "additional_metadata": {"kind": "knowledge"}},\n'
            '  {"expected_output": "b"},\n  3\n]',
            [
                "g.json:3: goldens[1].input: missing: a golden needs an input string",
                "g.json:4: goldens[2]: expected a golden: a mapping with input, expected_output...",
            ],
            id="bad-goldens",
        ),
        pytest.param(
            "g.jsonl",
            '{"input": "a", "additional_metadata": {"kind": "knowledge"}}\n{"input": \n',
            ["g.jsonl:2: invalid JSON: Expecting value"],
            id="bad-jsonl",
        ),
        pytest.param(
            "g.json",
            '[{"input": "a", "expected_output": "b"}]',
            ["g.json: kind: the goldens carry no kind: set additional_metadata: {kind: knowledge}"],
            id="no-kind",
        ),
        pytest.param(
            "g.json",
            '[{"input": "a",'
            ' "additional_metadata": {"kind": "knowledge", "expect": {"containz": "b"}}}]',
            ["g.json:1: goldens[0].expect.containz: unknown check 'containz' (did you mean"],
            id="bad-metadata-expect",
        ),
    ],
)
def test_deepeval_errors(tmp_path: Path, name: str, text: str, expected: list[str]) -> None:
    write(tmp_path, name, text)
    lines = error_lines(tmp_path, name, "deepeval")
    assert len(lines) == len(expected), lines
    for line, start in zip(lines, expected, strict=True):
        assert line.startswith(start), (line, start)


def test_deepeval_metric_in_metadata_needs_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(deepeval_checks, "deepeval_installed", lambda: False)
    metadata = {"kind": "behavior", "expect": {"deepeval": [{"metric": "AnswerRelevancy"}]}}
    write(tmp_path, "g.json", json.dumps([{"input": "a", "additional_metadata": metadata}]))
    with pytest.raises(CaseFileError, match=r'pip install "pytest-ragft\[deepeval\]"'):
        load(tmp_path, "g.json", "deepeval")


# --- helpers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("Refund window (EU)!", "Refund-window-EU", id="punctuation"),
        pytest.param("  a.b:c_d-e  ", "a.b:c_d-e", id="kept"),
        pytest.param("¿Dónde?", "D-nde", id="non-ascii"),
        pytest.param("!!!", "", id="nothing-left"),
    ],
)
def test_slug(text: str, expected: str) -> None:
    assert slug(text) == expected


def test_unique() -> None:
    taken: set[str] = set()
    assert [unique(x, taken) for x in ("a", "a", "b", "a")] == ["a", "a-2", "b", "a-3"]


@given(st.text(max_size=120))
def test_slug_is_a_valid_id_or_empty(text: str) -> None:
    result = slug(text)
    assert result == "" or valid_case_id(result)
    assert len(result) <= 80
