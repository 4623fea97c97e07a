"""The contract between a modality's science and the wire.

Each modality service implements `Analyzer`: pure, synchronous code that validates and
decodes its input and turns it into feature windows. The shared servicer
(`veritas.modality_service`) runs it off the event loop, sends each window's features to
the modality's Triton model, and streams one update per window plus a final one.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from veritas.v1 import common_pb2, modality_pb2


class InvalidInput(ValueError):
    """Bad input from the caller: becomes INVALID_ARGUMENT naming the field and the problem."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


@dataclass(frozen=True)
class Event:
    """A timestamped event in the input: a blink, a micro-expression, a skin conductance
    response. Times in seconds on the input's timeline."""

    name: str
    onset_s: float
    apex_s: float
    offset_s: float
    magnitude: float = 0.0
    detail: str = ""


Span = tuple[int, int, str]  # character offsets [start, end) into the transcript, and the text


@dataclass
class Window:
    """Features measured over one span of the input (or over all of it, for the final result).

    `features` holds every measured value by name. The model reads the names its Triton
    config lists in `feature_names`; the rest are reported to the caller for explanation.
    """

    start_s: float
    end_s: float
    features: dict[str, float]
    units: dict[str, str] = field(default_factory=dict)
    baseline: dict[str, float] = field(default_factory=dict)  # same names, subject's baseline
    quality: float = 1.0  # 0..1: share of the window that could be measured
    notes: list[str] = field(default_factory=list)
    text: str | None = None  # raw text, for models with a string input (text)
    usable: bool = True  # False: nothing measurable (e.g. no face); not sent to the model
    events: list[Event] = field(default_factory=list)
    spans: dict[str, list[Span]] = field(default_factory=dict)  # feature name -> matches


class Analyzer(Protocol):
    """What one modality service implements (see services/*/analyzer.py)."""

    modality: common_pb2.Modality
    model_name: str  # the Triton model that scores this modality's windows

    def prepare(self, request: modality_pb2.ModalityRequest) -> Any:
        """Validate and decode the request's input (and baseline); raise InvalidInput."""
        ...

    def prepare_live(
        self, config: common_pb2.StreamConfig, chunks: Sequence[common_pb2.LiveChunk]
    ) -> Any:
        """Decode buffered live chunks of this modality into the same form as `prepare`."""
        ...

    def windows(self, prepared: Any, options: common_pb2.Options) -> Iterator[Window]:
        """Yield one Window per analysed span, in time order."""
        ...

    def summarize(self, prepared: Any, windows: Sequence[Window]) -> Window:
        """The whole-input Window for the final result."""
        ...
