"""The one check of question times (veritas.questions)."""

from __future__ import annotations

import math

import pytest

from veritas.analysis import InvalidInput
from veritas.questions import MAX_QUESTIONS, check_questions
from veritas.v1 import common_pb2 as pb


def q(start: float, end: float, kind: int = pb.QuestionMarker.RELEVANT) -> pb.QuestionMarker:
    return pb.QuestionMarker(kind=kind, start_s=start, end_s=end)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "markers, field",
    [
        ([q(math.nan, 1)], "questions[0].start_s"),
        ([q(0, math.inf)], "questions[0].end_s"),
        ([q(-1, 1)], "questions[0].start_s"),
        ([q(0, 1), q(5, 2)], "questions[1].end_s"),
        ([q(0, 1, kind=9)], "questions[0].kind"),
        ([q(i, i + 1) for i in range(MAX_QUESTIONS + 1)], "questions"),
    ],
)
def test_bad_times_name_the_field(markers: list[pb.QuestionMarker], field: str) -> None:
    with pytest.raises(InvalidInput) as info:
        check_questions(markers, "questions")
    assert info.value.field == field


def test_good_times_pass() -> None:
    check_questions([q(0, 0), q(1.5, 4), q(10, 12, kind=pb.QuestionMarker.KIND_UNSPECIFIED)], "q")
