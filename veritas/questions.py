"""The one check of question times, wherever they come from (`AnalysisRequest.questions`,
`Physiology.markers`, `StreamConfig.questions`, `LiveChunk.question`): a time that is not a
finite number >= 0, or an end before its start, is the caller's error, named by field, before
it reaches any analysis (audio's response latencies, physiology's comparison-question
scoring). Physiology adds its own stricter rules for its markers (signals.marker)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from veritas.analysis import InvalidInput
from veritas.v1 import common_pb2

MAX_QUESTIONS = 1000  # the most any analysis keeps (physiology's MAX_MARKERS)
MAX_LABEL = 256


def check_question(question: common_pb2.QuestionMarker, field: str) -> None:
    if question.kind not in common_pb2.QuestionMarker.Kind.values():
        raise InvalidInput(f"{field}.kind", f"unknown question kind {question.kind}")
    for name in ("start_s", "end_s"):
        value = getattr(question, name)
        if not math.isfinite(value) or value < 0:
            raise InvalidInput(f"{field}.{name}", f"must be a finite time >= 0 s, got {value:g}")
    if question.end_s < question.start_s:
        raise InvalidInput(
            f"{field}.end_s",
            f"{question.end_s:g} s is before start_s ({question.start_s:g} s)",
        )
    if len(question.label) > MAX_LABEL:
        raise InvalidInput(f"{field}.label", f"longer than {MAX_LABEL} characters")


def check_questions(questions: Sequence[common_pb2.QuestionMarker], field: str) -> None:
    if len(questions) > MAX_QUESTIONS:
        raise InvalidInput(field, f"more than {MAX_QUESTIONS} questions")
    for i, question in enumerate(questions):
        check_question(question, f"{field}[{i}]")
