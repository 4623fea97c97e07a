"""The contract between a modality's science and the wire.

Each modality service implements `Analyzer`: pure, synchronous code that validates and
decodes its input and turns it into feature windows. The shared servicer
(`veritas.modality_service`) runs it off the event loop, sends each window's features to
the modality's Triton model, and streams one update per window plus a final one.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

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
    coverage: Coverage | None = None  # live: what share of the received input was analysed
    level: int = 0  # live: the Quality it was measured at (0: the servicer's current level)


@dataclass
class Coverage:
    """Live input behind one window: chunks received, analysed, and skipped to keep up."""

    received: int = 0
    analysed: int = 0
    skipped: int = 0

    def add(self, other: Coverage) -> None:
        self.received += other.received
        self.analysed += other.analysed
        self.skipped += other.skipped


# What an analyzer's `prepare` makes of a request and hands back to its `windows` and
# `summarize`: each analyzer's own type (PreparedAudio, PreparedText, ...), checked end to end.
Prepared = TypeVar("Prepared")


class Analyzer(Protocol[Prepared]):
    """What one modality service implements (see services/*/analyzer.py), generic over what
    its `prepare` returns: `AudioAnalyzer` is an `Analyzer[PreparedAudio]`."""

    modality: common_pb2.Modality
    model_name: str  # the Triton model that scores this modality's windows

    def prepare(self, request: modality_pb2.ModalityRequest) -> Prepared:
        """Validate and decode the request's input (and baseline); raise InvalidInput."""
        ...

    def windows(self, prepared: Prepared, options: common_pb2.Options) -> Iterator[Window]:
        """Yield one Window per analysed span, in time order."""
        ...

    def summarize(self, prepared: Prepared, windows: Sequence[Window]) -> Window:
        """The whole-input Window for the final result."""
        ...

    def open_live(self, config: common_pb2.StreamConfig) -> LiveSession:
        """Per-stream state for AnalyzeLive (validates the config and measures the baseline)."""
        ...


class LiveSession(Protocol):
    """One live stream's state in one modality service: bounded, fed once per chunk.

    The servicer (veritas.live) calls these from one worker thread at a time, in order:
    `add` or `skip` for every chunk of this modality as it arrives (a chunk is decoded and
    measured once, here), `close_until` after each batch to collect the windows that have
    ended, and `finish` at the end of the input. Whatever refers to the start of the
    recording (baselines, the whole-input result) is kept as running summaries, so memory
    does not grow with the stream's length. Every window the stream spans is returned once,
    in time order, with its `coverage`, including windows with nothing analysed (they say why).
    """

    window_s: float  # the window length this stream is analysed in
    thinnable: bool  # True when chunks may be skipped evenly to keep up (video frames)

    def max_rate_hz(self, quality: int) -> float:
        """Chunks per second of stream time worth analysing at this quality (thinnable only)."""
        ...

    def set_quality(self, quality: int) -> None:
        """Analyse from now on at this level (common_pb2.QUALITY_LOW/MEDIUM/HIGH)."""
        ...

    def add(self, chunk: common_pb2.LiveChunk) -> None:
        """Decode and measure one chunk; raise InvalidInput naming the field."""
        ...

    def skip(self, chunk: common_pb2.LiveChunk) -> None:
        """Count a chunk that arrived but is not analysed (skipped evenly to keep up)."""
        ...

    def add_question(self, question: common_pb2.QuestionMarker) -> None:
        """A question asked during the stream (audio: response latency; physiology: CQT)."""
        ...

    def close_until(self, t_s: float) -> list[Window]:
        """The windows that end at or before `t_s` (stream time) not returned yet."""
        ...

    def finish(self) -> tuple[list[Window], Window]:
        """At the end of the input: the windows not returned yet, and the whole-input Window."""
        ...
