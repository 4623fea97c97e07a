"""Response latency to the questions of a live stream, from bounded state.

The same measure as `features.response_latencies` (the offline path): per question, the time
from its end to the first speech frame after it, looked for until the next question starts or
MAX_RESPONSE_S has passed. Live, a question is kept only until that is decided: its answer's
first speech frame has been analysed, or its search span has passed without speech (or the
stream ended). The speech decisions it is read from are the session's short frame history,
so a marker may arrive a little after its question ended (up to that history's length).

Markers are expected in time order (a question is marked as it is asked): a latency already
decided is not revised by a marker that arrives later for a question that came between.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from services.audio.features import FRAME_S, MAX_RESPONSE_S
from veritas.analysis import Event, InvalidInput

MAX_PENDING = 1000  # questions waiting for their answer at once (a guard against floods)
MAX_EVENTS = 500  # response events kept for the whole-input result (the latest ones)
_RECENT = 64  # decided questions remembered as "the next question" for pending ones


class ResponseTracker:
    def __init__(self) -> None:
        self.pending: list[tuple[float, float]] = []  # (start_s, end_s), sorted
        self.recent: deque[tuple[float, float]] = deque(maxlen=_RECENT)
        self.answered = 0
        self.latency_sum = 0.0
        self.latency_max = 0.0
        self.unanswered = 0
        self.outside = 0  # the answer span is not in the recording
        self.too_late = 0  # the marker came after the speech history it needs was gone
        self.events: deque[Event] = deque(maxlen=MAX_EVENTS)
        self.dropped_events = 0

    def add(self, start_s: float, end_s: float, field: str) -> None:
        for name, value in (("start_s", start_s), ("end_s", end_s)):
            if not math.isfinite(value):
                raise InvalidInput(f"{field}.{name}", f"must be a finite time, got {value}")
        if end_s < start_s:
            raise InvalidInput(f"{field}.end_s", f"{end_s:g} is before start_s {start_s:g}")
        if len(self.pending) >= MAX_PENDING:
            raise InvalidInput(
                field, f"more than {MAX_PENDING} questions are waiting for their answers"
            )
        self.pending.append((start_s, end_s))
        self.pending.sort()

    def _next_start(self, i: int) -> float:
        """When the question after pending[i] starts (sorted order, as the offline path)."""
        question = self.pending[i]
        later = [q[0] for q in self.recent if q > question]
        if i + 1 < len(self.pending):
            later.append(self.pending[i + 1][0])
        return min(later, default=math.inf)

    def update(
        self,
        offset_s: float,
        speech: np.ndarray,
        first_frame: int,
        duration_s: float | None = None,
    ) -> list[Event]:
        """Decide what the final speech decisions allow. `speech` holds frames
        [first_frame, first_frame + len(speech)) of the stream, which starts at `offset_s`
        on the shared timeline; `duration_s` is given once the stream has ended. Returns
        the events of the questions answered now."""
        found: list[Event] = []
        final = first_frame + len(speech)
        keep: list[tuple[float, float]] = []
        for i, question in enumerate(self.pending):
            _, end = question
            until = min(self._next_start(i), end + MAX_RESPONSE_S)
            first, last = end - offset_s, until - offset_s
            lo = int(math.ceil(first / FRAME_S))
            hi = int(math.floor(last / FRAME_S))
            if first < 0 or (duration_s is not None and first >= duration_s):
                self.outside += 1
            elif lo < first_frame:
                self.too_late += 1
            else:
                spoken = np.flatnonzero(speech[lo - first_frame : max(0, hi - first_frame)])
                if spoken.size:
                    latency = float((lo + spoken[0]) * FRAME_S - first)
                    self._answer(end, latency, found)
                elif duration_s is not None or final >= hi:
                    self.unanswered += 1
                else:
                    keep.append(question)
                    continue
            self.recent.append(question)
        self.pending = keep
        return found

    def _answer(self, end: float, latency: float, found: list[Event]) -> None:
        self.answered += 1
        self.latency_sum += latency
        self.latency_max = max(self.latency_max, latency)
        event = Event("response", end, end + latency, end + latency, latency, "response latency")
        if len(self.events) == self.events.maxlen:
            self.dropped_events += 1
        self.events.append(event)
        found.append(event)

    def features(self) -> dict[str, float]:
        out = {"response_count": float(self.answered)}
        if self.answered:
            out["response_latency_mean_s"] = self.latency_sum / self.answered
            out["response_latency_max_s"] = self.latency_max
        return out

    def notes(self) -> list[str]:
        notes = []
        decided = self.answered + self.unanswered
        if self.unanswered:
            notes.append(f"no speech after {self.unanswered} of {decided} questions")
        if self.outside:
            notes.append(f"{self.outside} question(s) end outside this recording")
        if self.too_late:
            notes.append(
                f"{self.too_late} question marker(s) arrived too long after the question "
                "ended to find its answer: not measured"
            )
        if self.dropped_events:
            notes.append(
                f"only the last {MAX_EVENTS} response events are listed "
                f"({self.dropped_events} earlier ones are in the statistics)"
            )
        return notes

    @property
    def asked(self) -> bool:
        return bool(self.answered or self.unanswered or self.outside or self.too_late)
