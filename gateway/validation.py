"""Request checks the gateway makes before any work is done.

Each problem names the field, so a caller can fix it without reading server logs. The
modality services check the content of their own inputs (decoding, sampling rates, ...).
"""

from __future__ import annotations

from veritas import batching
from veritas.analysis import InvalidInput
from veritas.modalities import ENUMS, has_input
from veritas.options import check_options
from veritas.questions import check_questions
from veritas.v1 import common_pb2, veritas_pb2

MAX_ID = 128
MAX_BATCH = 64


def check_request(request: common_pb2.AnalysisRequest, field: str = "request") -> None:
    if len(request.request_id) > MAX_ID:
        raise InvalidInput(f"{field}.request_id", f"longer than {MAX_ID} characters")
    if len(request.subject_id) > MAX_ID:
        raise InvalidInput(f"{field}.subject_id", f"longer than {MAX_ID} characters")
    check_options(request.options, f"{field}.options")
    check_questions(request.questions, f"{field}.questions")
    check_questions(request.physiology.markers, f"{field}.physiology.markers")
    if not any(has_input(request, m) for m in ENUMS):
        raise InvalidInput(
            field, "no input: give at least one of video, audio, transcript, physiology"
        )
    for i, m in enumerate(request.options.modalities):
        if not has_input(request, m):
            raise InvalidInput(
                f"{field}.options.modalities[{i}]",
                f"{common_pb2.Modality.Name(m)} requested but its input is empty",
            )


def check_batch(batch: veritas_pb2.AnalyzeBatchRequest) -> None:
    batching.check_count(len(batch.requests), MAX_BATCH)
