"""Case files -> ``Case`` objects: parsed with line numbers, validated against the shipped schema.

Every problem of a file is gathered into one ``CaseFileError`` so a user fixes a file in one pass,
each problem naming its line and field (``evals/refunds.yaml:12: cases[3].kind: ...``).
"""

from __future__ import annotations

import functools
import glob
import json
import os
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Protocol, TypeVar

import jsonschema
import yaml

from pytest_ragft.checks import BUILTIN_CHECKS, check_names
from pytest_ragft.model import KINDS, Case, Kind
from pytest_ragft.wording import describe, suggest

BUILTIN_CHECK_NAMES: frozenset[str] = frozenset(check_names(BUILTIN_CHECKS))

NATIVE_SUFFIXES = (".yaml", ".yml", ".json", ".jsonl")
IMPORT_FORMATS: Mapping[str, str] = {
    "openai-evals": "openai_evals",
    "promptfoo": "promptfoo",
    "deepeval": "deepeval_goldens",
}
DEEPEVAL_HINT = 'install the extra: pip install "pytest-ragft[deepeval]"'

# A position in a parsed document: mapping keys and sequence indices from the root.
Where = tuple[Any, ...]
LineMap = dict[Where, int]


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a case file: where (line, field) and what to do about it."""

    line: int | None
    field: str | None
    message: str


class CaseFileError(Exception):
    """All problems of one case file, one line each, so the file can be fixed in one pass."""

    def __init__(self, path: str, problems: Sequence[Problem]) -> None:
        self.path = path
        unique = list(dict.fromkeys(problems))
        self.problems: list[Problem] = sorted(unique, key=lambda p: p.line or 0)
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(self._format(p) for p in self.problems)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.path, self.problems))

    def _format(self, problem: Problem) -> str:
        where = self.path if problem.line is None else f"{self.path}:{problem.line}"
        field = f" {problem.field}:" if problem.field else ""
        return f"{where}:{field} {problem.message}"


class SourceLike(Protocol):
    """What ``expand_sources`` needs of a ``[tool.ragft] cases`` entry."""

    @property
    def pattern(self) -> str: ...

    @property
    def format(self) -> str | None: ...

    @property
    def kind(self) -> str | None: ...


S = TypeVar("S", bound=SourceLike)


# --- public API -------------------------------------------------------------------------------


def schema_text() -> str:
    """The shipped case-file JSON Schema, for ``ragft schema cases`` and editors."""
    return resources.files("pytest_ragft").joinpath("schemas/cases.schema.json").read_text("utf-8")


def expand_sources(sources: Sequence[S], rootdir: Path) -> list[tuple[Path, S]]:
    """The files the ``cases`` globs match, each once (the first entry naming it wins)."""
    seen: set[Path] = set()
    found: list[tuple[Path, S]] = []
    for source in sources:
        matches = glob.glob(source.pattern, root_dir=rootdir, recursive=True)
        for match in sorted(matches):
            path = Path(os.path.normpath(os.path.join(rootdir, match)))
            if path in seen or not path.is_file():
                continue
            seen.add(path)
            found.append((path, source))
    return found


def find_duplicates(cases: Iterable[Case]) -> list[str]:
    """Ids used in more than one place in the suite, naming every place."""
    places: dict[str, list[str]] = {}
    for case in cases:
        place = f"{case.source}:{case.line}" if case.line else case.source
        if place not in places.setdefault(case.id, []):
            places[case.id].append(place)
    return [
        f"duplicate case id {case_id!r}: {_and(where)}"
        for case_id, where in places.items()
        if len(where) > 1
    ]


def check_kind(kind: str | None, display: str) -> None:
    """A default kind from a ``cases`` entry must be one of the kinds."""
    if kind is not None and kind not in KINDS:
        raise CaseFileError(
            display, [Problem(None, "kind", f"{kind!r} is not one of {_one_of(KINDS)}")]
        )


def load_native(
    path: Path,
    rootdir: Path,
    *,
    kind: str | None = None,
    check_names: Collection[str] = BUILTIN_CHECK_NAMES,
) -> list[Case]:
    """The cases of one file of pytest-ragft's own format; ``kind`` is the default kind.
    ``casefiles.load_case_file`` routes other tools' formats to their importers."""
    display = display_path(path, rootdir)
    check_kind(kind, display)
    suffix = path.suffix.lower()
    if suffix not in NATIVE_SUFFIXES:
        message = (
            f"unsupported file type {suffix or '(none)'!r}: case files are "
            f"{', '.join(NATIVE_SUFFIXES)}; name another tool's files with a format prefix "
            f"({', '.join(p + ':' for p in IMPORT_FORMATS)})"
        )
        raise CaseFileError(display, [Problem(None, None, message)])
    text = read_text(path, display)
    builder = CaseBuilder(path, rootdir, check_names=check_names, default_kind=kind)
    try:
        if suffix == ".jsonl":
            return _load_jsonl(text, builder)
        if suffix == ".json":
            data, builder.lines = parse_json(text, display)
        else:
            data, builder.lines = parse_yaml(text, display)
        return builder.build_document(data)
    except RecursionError:
        message = "nested too deeply to read: case files are a few levels of lists and mappings"
        raise CaseFileError(display, [Problem(None, None, message)]) from None


# --- parsing ----------------------------------------------------------------------------------


def display_path(path: Path, rootdir: Path) -> str:
    """A file as users see it in messages: relative to the rootdir, with forward slashes."""
    absolute = Path(os.path.abspath(path))
    try:
        return absolute.relative_to(os.path.abspath(rootdir)).as_posix()
    except ValueError:
        try:
            return Path(os.path.relpath(absolute, rootdir)).as_posix()
        except ValueError:
            return absolute.as_posix()


def read_text(path: Path, display: str) -> str:
    """The file's text, or a ``CaseFileError`` that says why it cannot be read."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise CaseFileError(display, [Problem(None, None, f"cannot read the file: {exc}")]) from exc


_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_yaml(text: str, display: str) -> tuple[Any, LineMap]:
    """The data of a YAML document and the line of every key and item in it."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}
        lines: LineMap = {(): node.start_mark.line + 1}
        duplicates: list[Problem] = []
        _check_expansion(node, display)
        _walk(node, (), lines, duplicates, set())
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        what = str(exc.problem or exc.context or "")
        if exc.problem and exc.context:
            what += f" ({exc.context}"
            started = exc.context_mark
            if started is not None and mark is not None and started.line != mark.line:
                what += f" that starts at line {started.line + 1}"
            what += ")"
        raise CaseFileError(display, [Problem(line, None, f"invalid YAML: {what}")]) from exc
    except yaml.YAMLError as exc:
        raise CaseFileError(display, [Problem(None, None, f"invalid YAML: {exc}")]) from exc
    finally:
        loader.dispose()
    if duplicates:
        raise CaseFileError(display, duplicates)
    return data, lines


def parse_json(text: str, display: str) -> tuple[Any, LineMap]:
    """JSON data; line numbers come from the YAML composer, which reads nearly all JSON."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        message = f"invalid JSON: {exc.msg} (column {exc.colno})"
        raise CaseFileError(display, [Problem(exc.lineno, None, message)]) from exc
    try:
        _, lines = parse_yaml(text, display)
    except CaseFileError as exc:
        if any(p.message.startswith("duplicate key") for p in exc.problems):
            raise
        lines = {}
    return data, lines


MAX_EXPANDED_NODES = 1_000_000
"""The most values a case file may stand for once its YAML aliases are expanded: a file of
nested anchors ("billion laughs") is refused instead of filling memory downstream."""


def _check_expansion(root: yaml.Node, display: str) -> None:
    """Count what the document expands to, each node once (so aliases cost nothing here);
    refuse a recursive alias and an expansion past ``MAX_EXPANDED_NODES``."""
    sizes: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    open_nodes: set[int] = set()
    while stack:
        node, done = stack.pop()
        key = id(node)
        children = _children(node)
        if done:
            open_nodes.discard(key)
            sizes[key] = min(1 + sum(sizes[id(c)] for c in children), MAX_EXPANDED_NODES + 1)
            continue
        if key in sizes:
            continue
        if key in open_nodes:
            line = node.start_mark.line + 1
            message = "a recursive alias (an anchor used inside itself): the data never ends"
            raise CaseFileError(display, [Problem(line, None, message + "; remove the alias")])
        open_nodes.add(key)
        stack.append((node, True))
        stack.extend((c, False) for c in children if id(c) not in sizes)
    if sizes[id(root)] > MAX_EXPANDED_NODES:
        message = (
            f"its aliases expand to more than {MAX_EXPANDED_NODES:,} values: write the "
            "repeated parts once (defaults, vars) instead of nesting anchors"
        )
        raise CaseFileError(display, [Problem(root.start_mark.line + 1, None, message)])


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _walk(
    node: yaml.Node, where: Where, lines: LineMap, problems: list[Problem], active: set[int]
) -> None:
    """Lines of every key and item, each node walked once: an alias's target keeps the
    lines of where it was written, and is not walked again at each use."""
    if id(node) in active:  # walked already (an alias)
        return
    active.add(id(node))
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag.endswith(":merge"):
                continue
            key, line = key_node.value, key_node.start_mark.line + 1
            if key in seen:
                field = _field((*where, key), "")
                message = (
                    f"duplicate key {key!r} (also on line {seen[key]}): only the last one "
                    "would count; remove one"
                )
                problems.append(Problem(line, field, message))
            seen[key] = line
            lines[(*where, key)] = line
            _walk(value_node, (*where, key), lines, problems, active)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[(*where, index)] = item.start_mark.line + 1
            _walk(item, (*where, index), lines, problems, active)


def parse_jsonl(text: str) -> tuple[list[tuple[int, Any]], list[Problem]]:
    """The records of a JSONL text with their line numbers; blank lines are skipped."""
    records: list[tuple[int, Any]] = []
    problems: list[Problem] = []
    # Only "\n" ends a record: str.splitlines would also split on U+2028, U+0085 and others,
    # which JSON allows unescaped inside strings.
    for number, line in enumerate(text.split("\n"), start=1):
        raw = line.removesuffix("\r")
        if not raw.strip():
            continue
        try:
            records.append((number, json.loads(raw)))
        except json.JSONDecodeError as exc:
            message = f"invalid JSON: {exc.msg} (column {exc.colno})"
            problems.append(Problem(number, None, message))
    return records, problems


def _load_jsonl(text: str, builder: CaseBuilder) -> list[Case]:
    records, builder.problems = parse_jsonl(text)
    entries: list[tuple[Any, Where, str]] = []
    for index, (number, data) in enumerate(records):
        builder.lines[(number,)] = number
        entries.append((data, (number,), f"cases[{index}]"))
    return builder.build_all(entries, {})


# --- validation -------------------------------------------------------------------------------


@functools.cache
def _schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(schema_text())
    return schema


@functools.cache
def _validator(definition: str) -> jsonschema.protocols.Validator:
    """A validator of one definition with its local ``$ref``s written out once: resolving them
    on every case was most of the time a large case file took to load."""
    schema = _schema()
    defs = schema["$defs"]
    inlined = _inline(defs[definition], defs, (definition,))
    return jsonschema.Draft202012Validator({"$schema": schema["$schema"], "$defs": defs, **inlined})


def _inline(node: Any, defs: Mapping[str, Any], seen: tuple[str, ...]) -> Any:
    """``node`` with each bare ``{"$ref": "#/$defs/x"}`` replaced by ``x`` (a ref back into a
    definition being inlined stays a ref)."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if len(node) == 1 and isinstance(ref, str) and ref.startswith("#/$defs/"):
            name = ref.removeprefix("#/$defs/")
            return node if name in seen else _inline(defs[name], defs, (*seen, name))
        return {key: _inline(value, defs, seen) for key, value in node.items()}
    if isinstance(node, list):
        return [_inline(value, defs, seen) for value in node]
    return node


class CaseBuilder:
    """Validates raw case mappings and makes ``Case`` objects, gathering every problem.

    The importers hand it the native case mappings they translate other tools' files into, so
    their cases get the same checks and the same ``file:line: field:`` messages.
    """

    def __init__(
        self,
        path: Path,
        rootdir: Path,
        *,
        check_names: Collection[str] = BUILTIN_CHECK_NAMES,
        default_kind: str | None = None,
        lines: LineMap | None = None,
        kind_hint: str = "set kind: knowledge or behavior on the case or in defaults",
        skipped_need_checks: bool = True,
    ) -> None:
        self.path = Path(os.path.abspath(path))
        self.rootdir = Path(os.path.abspath(rootdir))
        self.display = display_path(path, rootdir)
        self.check_names = frozenset(check_names)
        self.default_kind = default_kind
        self.lines: LineMap = dict(lines or {})
        self.kind_hint = kind_hint
        self.skipped_need_checks = skipped_need_checks
        self.problems: list[Problem] = []
        self._schemas: dict[Path, Any] = {}

    def line(self, where: Where) -> int | None:
        """The line of a position, else of the nearest enclosing one that has a line."""
        for end in range(len(where), -1, -1):
            line = self.lines.get(where[:end])
            if line is not None:
                return line
        return None

    def add(self, where: Where, field: str | None, message: str) -> None:
        self.problems.append(Problem(self.line(where), field, message))

    def fail(self) -> CaseFileError:
        return CaseFileError(self.display, self.problems)

    def build_document(self, data: Any) -> list[Case]:
        """A parsed native file: a list of cases, or ``{defaults, cases}``."""
        if data is None:
            self.add(
                (), None, "the file holds no cases: write a list of cases or {defaults, cases}"
            )
            raise self.fail()
        if isinstance(data, list):
            entries: list[tuple[Any, Where, str]]
            entries = [(case, (i,), f"cases[{i}]") for i, case in enumerate(data)]
            return self.build_all(entries, {})
        if not isinstance(data, dict):
            self.add(
                (),
                None,
                f"expected a list of cases or a mapping {{defaults, cases}}, got {describe(data)}",
            )
            raise self.fail()
        for key in data:
            if key not in ("defaults", "cases"):
                message = f"unknown top-level key {key!r}{suggest(key, ('defaults', 'cases'))}; "
                message += "the top level holds defaults and cases"
                self.add((key,), str(key), message)
        cases = data.get("cases")
        if not isinstance(cases, list):
            got = "nothing" if "cases" not in data else describe(cases)
            self.add(("cases",), "cases", f"expected a list of cases, got {got}")
            cases = []
        defaults = data.get("defaults", {})
        if defaults is None:
            defaults = {}
        if not isinstance(defaults, dict):
            message = f"expected a mapping of case fields, got {describe(defaults)}"
            self.add(("defaults",), "defaults", message)
            defaults = {}
        elif defaults:
            defaults = self.check_fields(defaults, ("defaults",), "defaults", "defaults")
        entries = [(case, ("cases", i), f"cases[{i}]") for i, case in enumerate(cases)]
        return self.build_all(entries, defaults)

    def build_all(
        self, entries: Sequence[tuple[Any, Where, str]], defaults: Mapping[str, Any]
    ) -> list[Case]:
        """Cases from raw mappings (each with its position and label); raises on any problem."""
        cases: list[Case] = []
        first_line: dict[str, tuple[int | None, str]] = {}
        for raw, where, label in entries:
            case = self.build_one(raw, where, label, defaults)
            if case is None:
                continue
            if case.id in first_line:
                line, other = first_line[case.id]
                message = f"duplicate case id {case.id!r}: also {other} on line {line}; "
                message += "ids must be unique in the suite"
                self.add((*where, "id"), f"{label}.id", message)
                continue
            first_line[case.id] = (case.line or None, label)
            cases.append(case)
        if self.problems:
            raise self.fail()
        return cases

    def build_one(
        self, raw: Any, where: Where, label: str, defaults: Mapping[str, Any]
    ) -> Case | None:
        """One case, or None after recording why it is not valid."""
        if not isinstance(raw, dict):
            self.add(
                where,
                label,
                f"expected a case (a mapping with id, kind, expect...), got {describe(raw)}",
            )
            return None
        before = len(self.problems)
        raw = self.check_fields(raw, where, label, "case")
        merged = merge_defaults(defaults, raw)
        if self.default_kind is not None:
            merged.setdefault("kind", self.default_kind)
        if "kind" not in merged:
            self.add(where, f"{label}.kind", f"missing: {self.kind_hint}")
        if "expect" not in merged and (self.skipped_need_checks or not merged.get("skip")):
            message = "missing: add at least one check under expect (e.g. contains: ...)"
            self.add(where, f"{label}.expect", message)
        if len(self.problems) > before:
            return None
        return self.make_case(merged, self.line(where) or 0)

    def check_fields(
        self, raw: dict[str, Any], where: Where, label: str, definition: str
    ) -> dict[str, Any]:
        """Schema and check validation of a case or defaults; returns it with files loaded."""
        for error in _validator(definition).iter_errors(raw):
            self._schema_error(error, where, label)
        expect = raw.get("expect")
        if isinstance(expect, dict):
            raw = dict(raw)
            raw["expect"] = self.check_expect(expect, (*where, "expect"), f"{label}.expect")
        return raw

    def check_expect(self, expect: dict[str, Any], where: Where, label: str) -> dict[str, Any]:
        """What the schema cannot say: check names, regexes, schema files, installed extras."""
        out = dict(expect)
        for name, value in expect.items():
            at, field = (*where, name), f"{label}.{name}"
            if name not in self.check_names:
                message = f"unknown check {name!r}{suggest(str(name), self.check_names)}; "
                message += f"checks: {', '.join(sorted(self.check_names))} "
                message += "(more come from the pytest_ragft_checks hook)"
                self.add(at, field, message)
            elif name == "regex" and isinstance(value, str):
                self._check_pattern(value, at, field)
            elif name == "json_schema" and isinstance(value, dict):
                self._check_schema(value, at, field, "")
            elif name == "json_schema" and isinstance(value, str) and value:
                out[name] = self._load_schema_file(value, at, field)
            elif name == "deepeval":
                from pytest_ragft import deepeval_checks

                if not deepeval_checks.deepeval_installed():
                    message = f"the deepeval check needs deepeval: {DEEPEVAL_HINT}"
                    self.add(at, field, message)
                    continue
                for problem in deepeval_checks.spec_problems(value, shape=False):
                    self.add((*at, *problem.where), field + problem.suffix, problem.message)
        return out

    def make_case(self, data: Mapping[str, Any], line: int) -> Case:
        """A ``Case`` from a valid merged mapping."""
        raw_input = data.get("input", "")
        value: str | tuple[dict[str, Any], ...]
        value = raw_input if isinstance(raw_input, str) else tuple(dict(m) for m in raw_input)
        kind: Kind = "knowledge" if data["kind"] == "knowledge" else "behavior"
        ratio = data.get("min_pass_ratio")
        return Case(
            id=data["id"],
            kind=kind,
            input=value,
            vars=dict(data.get("vars") or {}),
            expect=dict(data.get("expect") or {}),
            facts=tuple(data.get("facts", ())),
            volatile=data.get("volatile"),
            gold_contexts=tuple(data.get("gold_contexts", ())),
            gold_sources=tuple(data.get("gold_sources", ())),
            tags=tuple(data.get("tags", ())),
            repeats=data.get("repeats"),
            min_pass_ratio=None if ratio is None else float(ratio),
            skip=data.get("skip"),
            xfail=data.get("xfail"),
            source=self.display,
            line=line,
            path=self.path,
        )

    # --- helpers ---

    def _schema_error(self, error: jsonschema.ValidationError, where: Where, label: str) -> None:
        at = tuple(error.absolute_path)
        field = _field(at, label)
        instance, validator = error.instance, error.validator
        schema: Mapping[str, Any] = error.schema if isinstance(error.schema, Mapping) else {}
        value: Any = error.validator_value
        if validator in ("anyOf", "oneOf") and error.context:
            branch = _matching_branch(error)
            if branch:
                for sub in branch:
                    self._schema_error(sub, where, label)
                return
        if validator == "required":
            for name in value:
                if isinstance(instance, dict) and name not in instance:
                    self.add(where + at, _field((*at, name), label), _missing(name))
            return
        if validator == "additionalProperties" and isinstance(instance, dict):
            allowed = list(schema.get("properties", {}))
            for key in instance:
                if key not in allowed:
                    self.add(where + at + (key,), _field((*at, key), label), _unknown(key, allowed))
            return
        if validator == "enum":
            options = value
            message = f"{instance!r} is not one of {_one_of(options)}"
            if isinstance(instance, str):
                message += suggest(instance, [str(o) for o in options])
        elif validator in ("type", "anyOf", "oneOf"):
            message = f"expected {_schema_words(schema)}, got {describe(instance)}"
            if _accepts_string(schema) and _scalar(instance):
                message += " (quote it to make it a string)"
        elif validator == "pattern" and at[-1:] == ("id",):
            message = f"{instance!r} is not a valid id: use letters, digits and _ . : - only"
        elif validator == "minProperties" and at[-1:] == ("expect",):
            message = "empty: add at least one check (e.g. contains: ...)"
        elif validator in ("minItems", "minLength"):
            message = "must not be empty"
        else:
            message = error.message
        self.add(where + at, field, message)

    def _check_pattern(self, value: str, where: Where, field: str) -> None:
        from pytest_ragft.checks import PatternError, compile_pattern

        if value == "":
            message = "empty: an empty pattern matches every answer; write the pattern to find"
            self.add(where, field, message + " (as contains: '' is refused too)")
            return
        try:
            compile_pattern(value)
        except PatternError as exc:
            where_in = f" at position {exc.pos}" if exc.pos is not None else ""
            self.add(where, field, f"regex {value!r} does not compile: {exc.msg}{where_in}")

    def _check_schema(self, schema: Any, where: Where, field: str, origin: str) -> bool:
        cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
        try:
            cls.check_schema(schema)
        except jsonschema.SchemaError as exc:
            inside = "/".join(str(p) for p in exc.absolute_path)
            inside = f" at {inside}" if inside else ""
            self.add(where, field, f"{origin}not a valid JSON Schema{inside}: {exc.message}")
            return False
        return True

    def _load_schema_file(self, value: str, where: Where, field: str) -> Any:
        target = Path(os.path.normpath(self.path.parent / value))
        shown = display_path(target, self.rootdir)
        if not target.resolve().is_relative_to(self.rootdir.resolve()):
            message = f"json_schema file {value!r} is outside the rootdir ({shown}): "
            message += "keep schema files inside the project"
            self.add(where, field, message)
            return value
        if target in self._schemas:
            return self._schemas[target]
        if not target.is_file():
            message = f"json_schema file {value!r} not found (looked for {shown}; "
            message += "the path is relative to the case file)"
            self.add(where, field, message)
            return value
        try:
            text = target.read_text(encoding="utf-8-sig")
            schema = json.loads(text) if target.suffix == ".json" else yaml.safe_load(text)
        except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError) as exc:
            detail = " ".join(str(exc).split())
            self.add(where, field, f"json_schema file {shown} cannot be read: {detail}")
            return value
        if not isinstance(schema, (dict, bool)):
            message = (
                f"json_schema file {shown} must hold a JSON Schema object, got {describe(schema)}"
            )
            self.add(where, field, message)
            return value
        if not self._check_schema(schema, where, field, f"json_schema file {shown} is "):
            return value
        self._schemas[target] = schema
        return schema


def merge_defaults(defaults: Mapping[str, Any], case: Mapping[str, Any]) -> dict[str, Any]:
    """A case over its file's defaults: the case wins, vars and expect merge, tags combine."""
    merged = dict(defaults)
    for key, value in case.items():
        base = merged.get(key)
        if key in ("vars", "expect") and isinstance(base, dict) and isinstance(value, dict):
            merged[key] = {**base, **value}
        elif key == "tags" and isinstance(base, list) and isinstance(value, list):
            merged[key] = list(dict.fromkeys([*base, *value]))
        else:
            merged[key] = value
    return merged


# --- messages ---------------------------------------------------------------------------------


def _field(at: Where, label: str) -> str:
    text = label
    for part in at:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _one_of(options: Iterable[Any]) -> str:
    return ", ".join(repr(o) for o in options)


def _and(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _missing(name: str) -> str:
    if name == "id":
        return "missing: every case needs a unique id (letters, digits and _ . : -)"
    return f"missing: {name!r} is required"


def _unknown(key: Any, allowed: Sequence[str]) -> str:
    if key == "id" and "id" not in allowed:
        return "an id belongs on each case, not in defaults"
    return f"unknown field {key!r}{suggest(str(key), allowed)}; fields: {', '.join(allowed)}"


def _accepts_string(schema: Mapping[str, Any]) -> bool:
    """Whether a string would do here: then a bare number or boolean only needs quotes."""
    ref = schema.get("$ref")
    if isinstance(ref, str):
        schema = _schema()["$defs"][ref.rsplit("/", 1)[-1]]
    branches = [*schema.get("anyOf", ()), *schema.get("oneOf", ())]
    return schema.get("type") == "string" or any(
        isinstance(b, Mapping) and b.get("type") == "string" for b in branches
    )


def _scalar(value: Any) -> bool:
    return value is not None and not isinstance(value, (dict, list))


def _schema_words(schema: Mapping[str, Any], plural: bool = False) -> str:
    """A schema in words, for 'expected ..., got ...' messages."""
    ref = schema.get("$ref")
    if isinstance(ref, str):
        schema = _schema()["$defs"][ref.rsplit("/", 1)[-1]]
    for combinator in ("anyOf", "oneOf"):
        if combinator in schema:
            return " or ".join(_schema_words(s, plural) for s in schema[combinator])
    kind = schema.get("type")
    if not isinstance(kind, str):
        return "valid values" if plural else "a valid value"
    text = str(schema.get("title") or _NOUNS.get(kind, kind)) + ("s" if plural else "")
    items = schema.get("items")
    if kind == "array" and isinstance(items, Mapping):
        text += f" of {_schema_words(items, plural=True)}"
    if kind == "object" and "title" in schema and schema.get("properties"):
        text += " {" + ", ".join(schema["properties"]) + "}"
    if "minimum" in schema:
        text += f" >= {schema['minimum']}"
    if plural:
        return text
    return ("an " if text[0] in "aeiou" else "a ") + text


_NOUNS: Mapping[str, str] = {
    "string": "string",
    "integer": "integer",
    "number": "number",
    "boolean": "boolean",
    "object": "mapping",
    "array": "list",
    "null": "null",
}

_JSON_TYPES: Mapping[str, type | tuple[type, ...]] = {
    "string": str,
    "array": list,
    "object": dict,
    "boolean": bool,
    "integer": int,
    "number": (int, float),
}


def _matching_branch(error: jsonschema.ValidationError) -> list[jsonschema.ValidationError]:
    """The errors of the one anyOf branch whose type fits the value, to report them precisely."""
    branches: Any = error.validator_value
    fitting = [
        i
        for i, branch in enumerate(branches)
        if isinstance(branch, dict)
        and isinstance(error.instance, _JSON_TYPES.get(str(branch.get("type")), ()))
        and not (isinstance(error.instance, bool) and branch.get("type") != "boolean")
    ]
    if len(fitting) != 1:
        return []
    return [e for e in error.context or [] if e.relative_schema_path[0] == fitting[0]]
