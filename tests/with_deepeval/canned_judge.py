"""A deepeval judge that never calls a model: it answers each metric prompt with canned JSON.

Each deepeval metric asks its judge for JSON of one pydantic schema per step; the schema it
passes tells the step apart, so the answers below follow the schemas of GEval,
FaithfulnessMetric and ContextualRecallMetric. The file is copied as is into the pytester
projects, so it imports nothing from the tests.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from deepeval.models import DeepEvalBaseLLM


class CannedJudge(DeepEvalBaseLLM):  # type: ignore[misc]
    """``geval_score`` is on GEval's 0-10 scale, or the score of the first ``geval_scores``
    key found in the prompt; ``verdicts`` gives one yes/no per claim (FaithfulnessMetric) or per
    expected-output sentence (ContextualRecallMetric)."""

    def __init__(
        self,
        *,
        geval_score: float = 8,
        geval_scores: Mapping[str, float] | None = None,
        verdicts: Sequence[str] = ("yes", "yes"),
        reason: str = "canned reason",
    ) -> None:
        self.geval_score = geval_score
        self.geval_scores = dict(geval_scores or {})
        self.verdicts = list(verdicts)
        self.reason = reason
        self.calls: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        super().__init__("canned-judge")

    def load_model(self, *args: Any, **kwargs: Any) -> CannedJudge:
        return self

    def get_model_name(self, *args: Any, **kwargs: Any) -> str:
        return "canned-judge"

    def generate(self, prompt: str, schema: Any = None, **kwargs: Any) -> str:
        if schema is None:
            raise ValueError("the canned judge answers only prompts that name a schema")
        key = f"{schema.__module__.split('.')[-2]}.{schema.__name__}"
        with self._lock:
            self.calls.append((key, prompt))
        answer = self.answer(key)
        if key == "g_eval.ReasonScore":
            found = [score for word, score in self.geval_scores.items() if word in prompt]
            answer["score"] = found[0] if found else self.geval_score
        return json.dumps(answer)

    async def a_generate(self, prompt: str, schema: Any = None, **kwargs: Any) -> str:
        return self.generate(prompt, schema=schema, **kwargs)

    def answer(self, key: str) -> dict[str, Any]:
        verdicts = [
            {"verdict": v, "reason": f"verdict {i}: {v}"} for i, v in enumerate(self.verdicts)
        ]
        answers: dict[str, dict[str, Any]] = {
            "g_eval.Steps": {"steps": ["Check the tone.", "Check it is polite."]},
            "g_eval.ReasonScore": {"score": self.geval_score, "reason": self.reason},
            "faithfulness.Truths": {"truths": ["Refunds are accepted within 30 days."]},
            "faithfulness.Claims": {"claims": [f"claim {i}" for i in range(len(verdicts))]},
            "faithfulness.Verdicts": {"verdicts": verdicts},
            "faithfulness.FaithfulnessScoreReason": {"reason": self.reason},
            "contextual_recall.Verdicts": {"verdicts": verdicts},
            "contextual_recall.ContextualRecallScoreReason": {"reason": self.reason},
        }
        if key not in answers:
            raise ValueError(f"no canned answer for the schema {key}")
        return answers[key]


def make_judge() -> CannedJudge:
    return CannedJudge()
