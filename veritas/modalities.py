"""The one table of modalities: adding a modality or renaming a model starts here.

Each row says how a modality appears everywhere else: its service's name (ports,
addresses, the CLI), its enum in the contracts, the `AnalysisRequest` and `Baseline` field
that carries its input, the `ModalityInput` field it travels in to its service, the
`LiveChunk` payload that streams it and the payload field that places it on the shared
timeline, whether its live stream takes question markers, and the Triton model that scores
it. The rest of the house reads this table rather than spelling the list again; what a
request carries for a modality (`has_input`) is defined here too, once for the gateway
(which rejects a request with no input) and fusion (which skips a modality with none).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from veritas.v1 import common_pb2


def has_media(media: common_pb2.Media) -> bool:
    return media.WhichOneof("source") is not None


def has_transcript(transcript: common_pb2.Transcript) -> bool:
    return bool(transcript.text.strip() or transcript.segments)


def has_physiology(physiology: common_pb2.Physiology) -> bool:
    return bool(physiology.channels or physiology.heart_rate)


# ModalityInput field -> whether a message of that field's type carries any input.
HAS_INPUT: dict[str, Callable[[Any], bool]] = {
    "media": has_media,
    "transcript": has_transcript,
    "physiology": has_physiology,
}


@dataclass(frozen=True)
class Modality:
    name: str  # the service's name: "vision" (ports, VERITAS_<NAME>_ADDR, the CLI)
    enum: common_pb2.Modality  # common_pb2.VISION
    request_field: str  # AnalysisRequest / Baseline field with its input: "video"
    input_field: str  # ModalityInput field it travels in to its service: "media"
    chunk_kind: str  # LiveChunk payload that streams it: "video_frame"
    chunk_time: str  # that payload's field placing it on the shared timeline (s)
    questions: bool  # whether its live stream takes the question markers as they come
    model: str  # the Triton model that scores it (models/repository/<model>)

    @property
    def media(self) -> bool:
        """Input that may be named by URI (fusion fetches it, within the allow-list)."""
        return self.input_field == "media"

    def has_input(self, message: common_pb2.AnalysisRequest | common_pb2.Baseline) -> bool:
        """Whether an AnalysisRequest or Baseline carries input for this modality."""
        return HAS_INPUT[self.input_field](getattr(message, self.request_field))


MODALITIES: tuple[Modality, ...] = (
    Modality(
        name="vision",
        enum=common_pb2.VISION,
        request_field="video",
        input_field="media",
        chunk_kind="video_frame",
        chunk_time="timestamp_s",
        questions=False,
        model="vision_behaviour",
    ),
    Modality(
        name="audio",
        enum=common_pb2.AUDIO,
        request_field="audio",
        input_field="media",
        chunk_kind="audio_chunk",
        chunk_time="timestamp_s",
        questions=True,  # response latency
        model="audio_cues",
    ),
    Modality(
        name="text",
        enum=common_pb2.TEXT,
        request_field="transcript",
        input_field="transcript",
        chunk_kind="transcript_segment",
        chunk_time="start_s",
        questions=False,
        model="text_deception",
    ),
    Modality(
        name="physiology",
        enum=common_pb2.PHYSIOLOGY,
        request_field="physiology",
        input_field="physiology",
        chunk_kind="physio_samples",
        chunk_time="start_s",
        questions=True,  # the comparison question test
        model="physiology_cues",
    ),
)

NAMES: tuple[str, ...] = tuple(m.name for m in MODALITIES)
ENUMS: tuple[common_pb2.Modality, ...] = tuple(m.enum for m in MODALITIES)
BY_NAME: dict[str, Modality] = {m.name: m for m in MODALITIES}
BY_ENUM: dict[int, Modality] = {int(m.enum): m for m in MODALITIES}
BY_CHUNK: dict[str, Modality] = {m.chunk_kind: m for m in MODALITIES}


def name_of(modality: int) -> str:
    """A modality's name ("vision") from its enum; one outside the table by its enum name."""
    row = BY_ENUM.get(modality)
    return row.name if row is not None else common_pb2.Modality.Name(modality).lower()


def has_input(request: common_pb2.AnalysisRequest, modality: int) -> bool:
    """Whether `request` carries input for `modality` (an enum value)."""
    return BY_ENUM[modality].has_input(request)


def chunk_time(chunk: common_pb2.LiveChunk) -> float:
    """Where a live chunk sits on the shared timeline (seconds); questions by their start."""
    kind = chunk.WhichOneof("payload")
    if kind in BY_CHUNK:
        return float(getattr(getattr(chunk, kind), BY_CHUNK[kind].chunk_time))
    if kind == "question":
        return float(chunk.question.start_s)
    return 0.0
