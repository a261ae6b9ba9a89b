"""The ``deepeval`` check of a case's ``expect``: deepeval metrics scored by a judge model.

deepeval is an optional extra and a heavy import, so nothing here imports it at module level:
it is imported on first use, only when a case asks for a metric, after ``ensure_env`` has
switched off its telemetry and its ``.env`` loading (unless the user set them).
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import inspect
import json
import os
import threading
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pytest_ragft.checks import shorten
from pytest_ragft.model import Case, CheckOutcome, Result
from pytest_ragft.wording import describe, suggest

if TYPE_CHECKING:
    from pytest_ragft.history.judgecache import Judged

ENV_DEFAULTS: Mapping[str, str] = {
    "DEEPEVAL_TELEMETRY_OPT_OUT": "1",
    "DEEPEVAL_DISABLE_DOTENV": "1",
}

# Keys of a metric spec that ragft reads itself rather than passing to the metric.
SPEC_KEYS = ("metric", "name")
# Constructor arguments ragft sets and a case cannot: metrics run synchronously in the
# runner's worker threads, and the template hook takes a class, not data.
RESERVED_ARGS = frozenset({"self", "async_mode", "evaluation_template"})
GEVAL = "GEval"
DEFAULT_GEVAL_PARAMS = ("input", "actual_output")
REASON_CHARS = 160


class JudgeError(Exception):
    """The ``judge`` setting names something that cannot be imported, called or used."""


@dataclass(frozen=True)
class SpecProblem:
    """One thing wrong in ``expect.deepeval``: the list index, the key (if any), the message."""

    index: int | None
    key: str | None
    message: str

    @property
    def where(self) -> tuple[int | str, ...]:
        """The position below ``expect.deepeval``: (), (index,) or (index, key)."""
        if self.index is None:
            return ()
        return (self.index,) if self.key is None else (self.index, self.key)

    @property
    def suffix(self) -> str:
        """The position as a field label suffix: ``""``, ``"[1]"`` or ``"[1].criteria"``."""
        if self.index is None:
            return ""
        return f"[{self.index}]" if self.key is None else f"[{self.index}].{self.key}"

    def __str__(self) -> str:
        return f"deepeval{self.suffix}: {self.message}"


def ensure_env(environ: MutableMapping[str, str] = os.environ) -> None:
    """Switch deepeval's telemetry and ``.env`` loading off, unless the user chose already."""
    for key, value in ENV_DEFAULTS.items():
        environ.setdefault(key, value)


def deepeval_installed() -> bool:
    """Whether deepeval can be imported, found without importing it (over a second)."""
    return importlib.util.find_spec("deepeval") is not None


_import_lock = threading.Lock()


def _deepeval(module: str) -> Any:
    """``deepeval.<module>``, imported with the environment set first."""
    with _import_lock:
        ensure_env()
        return importlib.import_module(f"deepeval.{module}")


# --- validation ---------------------------------------------------------------------------


def validate_specs(specs: Any) -> list[str]:
    """Everything wrong in an ``expect.deepeval`` value, as messages (empty when it is fine).

    The shape is checked without deepeval; metric names and arguments need it installed and
    are checked only when the shape is right.
    """
    return [str(p) for p in spec_problems(specs)]


def spec_problems(specs: Any, *, shape: bool = True) -> list[SpecProblem]:
    """Like ``validate_specs``, with the list index and key of each problem kept apart.

    ``shape=False`` leaves the shape (a list of ``{metric, threshold?}`` mappings) to a caller
    that validated it already: a malformed value then gives no problems here.
    """
    problems = _shape_problems(specs)
    if problems or not deepeval_installed():
        return problems if shape else []
    offered = metric_classes()
    seen: dict[str, int] = {}
    for index, spec in enumerate(specs):
        cls_name = resolve_metric_name(spec["metric"], offered)
        if cls_name is None:
            problems.append(SpecProblem(index, "metric", _unknown_metric(spec["metric"], offered)))
            continue
        accepted = accepted_args(offered[cls_name])
        for key in spec:
            if key in SPEC_KEYS or key == "threshold":
                continue
            if accepted is not None and key not in accepted:
                problems.append(SpecProblem(index, key, _unknown_arg(key, cls_name, accepted)))
        if cls_name == GEVAL:
            problems.extend(_geval_problems(index, spec))
        label = check_label(spec, cls_name)
        if label in seen:
            message = (
                f"a second metric named {label!r} (also deepeval[{seen[label]}]); "
                "give one of them its own name, e.g. name: faithfulness_strict"
            )
            problems.append(SpecProblem(index, "name", message))
        else:
            seen[label] = index
    return problems


def _shape_problems(specs: Any) -> list[SpecProblem]:
    if not isinstance(specs, list) or not specs:
        got = "an empty list" if isinstance(specs, list) else describe(specs)
        return [
            SpecProblem(
                None,
                None,
                "expected a list of metrics such as [{metric: FaithfulnessMetric, "
                f"threshold: 0.7}}], got {got}",
            )
        ]
    problems: list[SpecProblem] = []
    for index, spec in enumerate(specs):
        if not isinstance(spec, dict):
            message = f"expected a metric {{metric: ClassName, ...}}, got {describe(spec)}"
            problems.append(SpecProblem(index, None, message))
            continue
        metric = spec.get("metric")
        if metric is None:
            message = "missing: name the deepeval metric class, e.g. metric: FaithfulnessMetric"
            problems.append(SpecProblem(index, "metric", message))
        elif not isinstance(metric, str) or not metric.strip():
            message = f"expected a metric class name, got {describe(metric)}"
            problems.append(SpecProblem(index, "metric", message))
        if "threshold" in spec:
            t = spec["threshold"]
            if isinstance(t, bool) or not isinstance(t, int | float) or not 0 <= t <= 1:
                message = f"expected a number from 0 to 1, got {describe(t)}"
                problems.append(SpecProblem(index, "threshold", message))
        if "name" in spec and (not isinstance(spec["name"], str) or not spec["name"].strip()):
            message = f"expected a non-empty string, got {describe(spec['name'])}"
            problems.append(SpecProblem(index, "name", message))
        for key in spec:
            if not isinstance(key, str):
                message = f"argument names are strings, got {describe(key)}"
                problems.append(SpecProblem(index, None, message))
    return problems


def _geval_problems(index: int, spec: Mapping[str, Any]) -> list[SpecProblem]:
    problems: list[SpecProblem] = []
    if "name" not in spec:
        message = "missing: GEval needs a name, e.g. name: tone (it names the check)"
        problems.append(SpecProblem(index, "name", message))
    criteria, steps = spec.get("criteria"), spec.get("evaluation_steps")
    if criteria is None and steps is None:
        message = (
            "missing: GEval needs criteria (a sentence saying what a good answer does) "
            "or evaluation_steps (a list of them)"
        )
        problems.append(SpecProblem(index, "criteria", message))
    if criteria is not None and (not isinstance(criteria, str) or not criteria.strip()):
        message = f"expected a non-empty string, got {describe(criteria)}"
        problems.append(SpecProblem(index, "criteria", message))
    if steps is not None and (
        not isinstance(steps, list) or not steps or not all(isinstance(s, str) for s in steps)
    ):
        message = f"expected a non-empty list of strings, got {_listed(steps)}"
        problems.append(SpecProblem(index, "evaluation_steps", message))
    params = spec.get("evaluation_params")
    if params is not None:
        known = [p.value for p in _params_enum()]
        if not isinstance(params, list) or not params:
            message = f"expected a non-empty list of test case fields, got {describe(params)}"
            problems.append(SpecProblem(index, "evaluation_params", message))
        else:
            for p in params:
                if _param(p) is None:
                    message = f"unknown test case field {p!r}{suggest(p, known)}; "
                    message += f"fields: {', '.join(known)}"
                    problems.append(SpecProblem(index, "evaluation_params", message))
    return problems


@functools.cache
def metric_classes() -> dict[str, Any]:
    """The single-turn metric classes ``deepeval.metrics`` exports, by class name."""
    metrics = _deepeval("metrics")
    base = metrics.BaseMetric
    names = getattr(metrics, "__all__", None) or dir(metrics)
    found: dict[str, Any] = {}
    for name in names:
        obj = getattr(metrics, name, None)
        if inspect.isclass(obj) and issubclass(obj, base) and obj is not base:
            found[name] = obj
    return found


def resolve_metric_name(name: str, offered: Mapping[str, Any]) -> str | None:
    """The class a spec names: ``FaithfulnessMetric``, or ``Faithfulness`` for short."""
    if name in offered:
        return name
    if f"{name}Metric" in offered:
        return f"{name}Metric"
    return None


def accepted_args(cls: Any) -> list[str] | None:
    """The keyword arguments a case may give the metric; None when it takes any."""
    params = _init_params(cls)
    if params is None:
        return None
    return [p for p in params if p not in RESERVED_ARGS and not p.startswith("_")]


def _init_params(cls: Any) -> list[str] | None:
    """The keyword parameters of a class's ``__init__``; None when it takes ``**kwargs``."""
    try:
        params = inspect.signature(cls.__init__).parameters.values()
    except (TypeError, ValueError):
        return None
    names: list[str] = []
    for p in params:
        if p.kind is inspect.Parameter.VAR_KEYWORD:
            return None
        if p.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.POSITIONAL_ONLY):
            continue
        names.append(p.name)
    return names


def check_label(spec: Mapping[str, Any], cls_name: str) -> str:
    """The check's name: the spec's ``name``, else the class name without ``Metric``."""
    name = spec.get("name")
    if isinstance(name, str) and name.strip():
        return name.strip()
    return cls_name.removesuffix("Metric") or cls_name


def _unknown_metric(name: str, offered: Mapping[str, Any]) -> str:
    options = sorted(offered)
    return (
        f"unknown deepeval metric {name!r}{suggest(name, options)}; "
        f"deepeval offers: {', '.join(options)}"
    )


def _unknown_arg(key: str, cls_name: str, accepted: Sequence[str]) -> str:
    options = sorted({*accepted, "threshold", "name"})
    return (
        f"unknown argument {key!r} for {cls_name}{suggest(key, options)}; "
        f"{cls_name} accepts: {', '.join(options)}"
    )


# --- the judge -----------------------------------------------------------------------------


def load_judge(judge_ref: str, rootdir: Path) -> Any:
    """Call the ``module:factory`` of the ``judge`` setting; its result must be a
    deepeval ``DeepEvalBaseLLM``. Raises ``JudgeError`` naming the setting."""
    from pytest_ragft.pipeline import PipelineUsageError, resolve

    _check_ref_form(judge_ref)
    ensure_env()
    try:
        factory = resolve(judge_ref, rootdir, what="judge")
    except PipelineUsageError as exc:
        raise JudgeError(str(exc)) from None
    try:
        judge = factory()
    except Exception as exc:
        raise JudgeError(
            f"judge {judge_ref!r}: calling it raised {type(exc).__name__}: {exc}"
        ) from None
    base = _deepeval("models").DeepEvalBaseLLM
    if not isinstance(judge, base):
        raise JudgeError(
            f"judge {judge_ref!r} returned {describe(judge)}, not a deepeval model: the factory "
            "must return an instance of a deepeval.models.DeepEvalBaseLLM subclass"
        )
    return judge


def _check_ref_form(judge_ref: str) -> None:
    module, sep, attr = judge_ref.partition(":")
    if not sep or not module or not attr:
        raise JudgeError(
            f"judge {judge_ref!r} is not of the form 'module:factory' "
            '(e.g. judge = "evals.judge:make_judge" in [tool.ragft])'
        )


# --- running metrics -----------------------------------------------------------------------


def make_checker(
    judge_ref: str, rootdir: Path, *, history: str = "", rejudge: bool = False
) -> Callable[[Case, Result], list[CheckOutcome]]:
    """The runner's ``extra_checks``: scores a case's ``expect.deepeval`` metrics.

    Nothing is imported until a case with metrics is checked, so building it costs nothing.
    A malformed ``judge`` value raises ``JudgeError`` here; one that cannot be loaded fails
    every metric with the reason. With a ``history`` store, results are cached there (read
    unless ``rejudge``); without one every metric is judged.
    """
    if judge_ref:
        _check_ref_form(judge_ref)
    return DeepevalChecker(judge_ref, rootdir, history=history, rejudge=rejudge)


class DeepevalChecker:
    """Scores metrics; callable from several worker threads at once."""

    def __init__(
        self, judge_ref: str, rootdir: Path, *, history: str = "", rejudge: bool = False
    ) -> None:
        from pytest_ragft.history.judgecache import JudgeCache

        self.judge_ref = judge_ref
        self.rootdir = rootdir
        self.cache = JudgeCache(history, rootdir, read=not rejudge)
        self._lock = threading.Lock()
        self._judge: Any = None
        self._judge_error: str | None = None
        self._judge_loaded = False
        # Idle metric objects by spec: a metric keeps its score on itself, so one object
        # serves one measurement at a time.
        self._pool: dict[str, list[Any]] = {}

    def __call__(self, case: Case, result: Result) -> list[CheckOutcome]:
        specs: Any = case.expect.get("deepeval")
        problems = validate_specs(specs)
        if problems:
            return [CheckOutcome("deepeval", False, f"deepeval: {'; '.join(problems)}")]
        test_case: Any = None
        outcomes: list[CheckOutcome] = []
        offered = metric_classes()
        for spec in specs:
            label = check_label(spec, resolve_metric_name(spec["metric"], offered) or "")
            try:
                if test_case is None:
                    test_case = to_test_case(case, result)
                metric = self._acquire(spec)
            except JudgeError as exc:
                outcomes.append(_failed(label, str(exc)))
                continue
            except Exception as exc:
                outcomes.append(_failed(label, f"could not be set up: {_exc(exc)}"))
                continue
            try:
                outcomes.append(self._judged(metric, test_case, label, spec))
            finally:
                self._release(spec, metric)
        return outcomes

    def _judged(
        self, metric: Any, test_case: Any, label: str, spec: Mapping[str, Any]
    ) -> CheckOutcome:
        """The cached result of this question when there is one, else the judge's, cached."""
        key = judge_key(spec, model_name(metric), read_fields(metric, test_case))
        cached = self.cache.get(key)
        if cached is not None:
            return verdict(label, cached, "cached")
        outcome, judged = measured(metric, test_case, label, spec)
        if judged is not None:
            self.cache.put(key, judged)
        return outcome

    def judge(self) -> Any:
        """The judge model (None: deepeval's default), loaded once."""
        with self._lock:
            if not self._judge_loaded:
                self._judge_loaded = True
                if self.judge_ref:
                    try:
                        self._judge = load_judge(self.judge_ref, self.rootdir)
                    except JudgeError as exc:
                        self._judge_error = str(exc)
            if self._judge_error is not None:
                raise JudgeError(self._judge_error)
            return self._judge

    def _acquire(self, spec: Mapping[str, Any]) -> Any:
        key = _spec_key(spec)
        with self._lock:
            idle = self._pool.get(key)
            if idle:
                return idle.pop()
        return build_metric(spec, self.judge())

    def _release(self, spec: Mapping[str, Any], metric: Any) -> None:
        with self._lock:
            self._pool.setdefault(_spec_key(spec), []).append(metric)


def build_metric(spec: Mapping[str, Any], judge: Any = None) -> Any:
    """A metric object from a valid spec, set to run synchronously and quietly."""
    offered = metric_classes()
    cls_name = resolve_metric_name(spec["metric"], offered)
    if cls_name is None:
        raise ValueError(_unknown_metric(spec["metric"], offered))
    cls = offered[cls_name]
    params = _init_params(cls)
    kwargs: dict[str, Any] = {k: v for k, v in spec.items() if k not in SPEC_KEYS}
    if cls_name == GEVAL:
        kwargs["name"] = check_label(spec, cls_name)
        kwargs["evaluation_params"] = [
            _param(p) for p in spec.get("evaluation_params") or DEFAULT_GEVAL_PARAMS
        ]
        if spec.get("rubric"):
            rubric_cls = _deepeval("metrics.g_eval.utils").Rubric
            kwargs["rubric"] = [
                r if not isinstance(r, Mapping) else rubric_cls(**r) for r in spec["rubric"]
            ]
    elif "name" in spec and (params is None or "name" in params):
        kwargs["name"] = spec["name"]
    if judge is not None and "model" not in kwargs:
        kwargs["model"] = judge
    if params is None or "async_mode" in params:
        kwargs["async_mode"] = False
    if params is None or "verbose_mode" in params:
        kwargs.setdefault("verbose_mode", False)
    return cls(**kwargs)


def measure(metric: Any, test_case: Any, label: str, spec: Mapping[str, Any]) -> CheckOutcome:
    """Score one metric; any exception becomes a failed outcome that names it."""
    return measured(metric, test_case, label, spec)[0]


def measured(
    metric: Any, test_case: Any, label: str, spec: Mapping[str, Any]
) -> tuple[CheckOutcome, Judged | None]:
    """``measure``, with what was judged (None when the metric raised: nothing to keep)."""
    from pytest_ragft.history.judgecache import Judged

    try:
        kwargs: dict[str, Any] = {}
        try:
            if "_show_indicator" in inspect.signature(metric.measure).parameters:
                kwargs["_show_indicator"] = False
        except (TypeError, ValueError):
            pass
        metric.error = None
        metric.measure(test_case, **kwargs)
        score = _score(getattr(metric, "score", None))
        if score is None:
            raise ValueError("the metric gave no score")
        threshold = _score(getattr(metric, "threshold", None))
        if threshold is None:
            threshold = _score(spec.get("threshold"))
        success = metric.is_successful()
    except Exception as exc:
        return replace(_failed(label, f"raised {_exc(exc)}"), judged="called"), None
    reason = getattr(metric, "reason", None)
    judged = Judged(
        metric=label,
        model=model_name(metric),
        score=score,
        success=None if success is None else bool(success),
        threshold=threshold,
        reason=None if reason is None else str(reason),
    )
    return verdict(label, judged, "called"), judged


def verdict(label: str, judged: Judged, how: Literal["called", "cached"]) -> CheckOutcome:
    """The check's outcome and message from what a metric judged, now or earlier."""
    score, threshold, success = judged.score, judged.threshold, judged.success
    passed = bool(success) if success is not None else threshold is None or score >= threshold
    if threshold is None:
        said = f"score {score:.2f}"
    else:
        said = f"score {score:.2f} {'>=' if score >= threshold else '<'} threshold"
        said += f" {threshold:.2f}"
    if not passed and threshold is not None and score >= threshold:
        said += " (the metric judged it failed)"
    message = f"deepeval {label}: {said}"
    if judged.reason:
        message += f": {shorten(judged.reason, REASON_CHARS)}"
    return CheckOutcome(f"deepeval:{label}", passed, message, score, judged=how)


def model_name(metric: Any) -> str | None:
    """The judge model's name as the metric holds it (deepeval sets ``evaluation_model``)."""
    name = getattr(metric, "evaluation_model", None)
    if name is None:
        model = getattr(metric, "model", None)
        getter = getattr(model, "get_model_name", None)
        name = getter() if callable(getter) else None
    return None if name is None else str(name)


def read_fields(metric: Any, test_case: Any) -> dict[str, Any]:
    """The test case fields the metric reads: GEval's ``evaluation_params``, another metric's
    ``_required_params``; every field when the metric does not say."""
    params = getattr(metric, "evaluation_params", None) or getattr(metric, "_required_params", None)
    names = [getattr(p, "value", str(p)) for p in params] if params else list(CASE_FIELDS)
    return {name: getattr(test_case, name, None) for name in sorted(set(names))}


CASE_FIELDS = ("input", "actual_output", "expected_output", "retrieval_context", "context")


def judge_key(spec: Mapping[str, Any], model: str | None, fields: Mapping[str, Any]) -> str:
    """The digest a judged result is cached under: the metric spec (its name, settings and
    threshold), the judge model's name and the case fields the metric reads."""
    import hashlib

    text = json.dumps(
        {"spec": spec, "model": model, "fields": fields},
        sort_keys=True,
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def to_test_case(case: Case, result: Result) -> Any:
    """The deepeval ``LLMTestCase`` of a case and one pipeline result."""
    llm_test_case = _deepeval("test_case").LLMTestCase
    return llm_test_case(
        input=case.input_text,
        actual_output=result.answer,
        expected_output=expected_output(case),
        retrieval_context=list(result.contexts) or None,
        context=list(case.gold_contexts) or None,
        tags=list(case.tags) or None,
    )


def expected_output(case: Case) -> str | None:
    """What a right answer holds: the first fact, else the ``contains`` or ``equals`` text."""
    if case.facts:
        return case.facts[0]
    contains = case.expect.get("contains")
    if isinstance(contains, str):
        return contains
    if isinstance(contains, list) and contains:
        return str(contains[0])
    equals = case.expect.get("equals")
    if isinstance(equals, str | int | float) and not isinstance(equals, bool):
        return str(equals)
    return None


# --- helpers -------------------------------------------------------------------------------


def _params_enum() -> Any:
    module = _deepeval("test_case")
    enum = getattr(module, "SingleTurnParams", None)
    return enum if enum is not None else module.LLMTestCaseParams


def _param(value: Any) -> Any:
    """A test case field (``actual_output``, ``ACTUAL_OUTPUT``) as deepeval's enum member."""
    if not isinstance(value, str):
        return None
    enum = _params_enum()
    wanted = value.strip().lower()
    for member in enum:
        if member.value == wanted or member.name.lower() == wanted:
            return member
    return None


def _spec_key(spec: Mapping[str, Any]) -> str:
    return json.dumps(spec, sort_keys=True, default=str)


def _failed(label: str, what: str) -> CheckOutcome:
    return CheckOutcome(f"deepeval:{label}", False, f"deepeval {label}: {what}")


def _exc(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    if len(first) > 300:
        first = first[:300] + "…"
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def _score(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _listed(value: Any) -> str:
    """``describe`` of a value that should be a list of strings, naming the first stray item."""
    if isinstance(value, list):
        for index, item in enumerate(value):
            if not isinstance(item, str):
                return f"a list whose item [{index}] is {describe(item)}"
    return describe(value)
