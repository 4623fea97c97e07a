"""Live text: transcript segments measured once as they arrive, windows by time, bounded.

Each `TranscriptSegment` is validated (analyzer.check_segment: times, control characters)
and measured ONCE when it arrives: its cue matches per category, its word count and its
distinct words (features.measure, features.tokenize). Windows group segments by time as the
offline timed path does (TextAnalyzer._timed_groups): a segment starting `window_s` or more
after its group's first segment (default 30 s, Options.window_s) closes the group, which is
returned then as one window; a silence has no window, as offline. A window's features come
from its segments' measurements:

- category rates and word_count: sums of the segments' counts (a rate per 100 words is a
  ratio of counts);
- type_token_ratio: the union of the segments' distinct words over their word count;
- flesch_reading_ease and sentiment_compound are not sums of counts (textstat's syllable and
  sentence rules and VADER's text-wide rules), so they are computed once per window from the
  window's text, as offline;
- language: checked on the window's text; a window too short to tell takes the verdict of
  the last window that could tell (offline: of the whole transcript, unknown in a stream).

A match that would span two segments (a phrase, a passive "was | taken", a run of number
words split between them) is not found, where offline joins a window's segments first:
segments end at phrase boundaries in practice, and the agreement test measures it.

The whole-input result keeps the transcript's text, because the text model reads the words
themselves (n-grams): that text is bounded by the service's limit (MAX_CHARS, 100,000
characters, about 15,000 words: a long interview), and a segment that would take the stream
beyond it is refused with InvalidInput naming `transcript_segment.text`. Its rates and
word_count are running sums of the segments' counts and its type-token ratio a running
vocabulary (a set of distinct words, bounded by the text); readability, sentiment and the
language check are computed once at the end from the kept text, for the reasons above.
Everything else held is the open window's segments.

Segments must come in order of start_s (offline sorts them; a stream cannot re-open a
window it has returned). Quality levels change nothing: measuring a segment takes
milliseconds, and the model reads every rate and the text at every level.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from services.text import features as tf
from services.text.analyzer import DEFAULT_WINDOW_S, Segment, TextAnalyzer, check_segment
from services.text.language import LanguageCheck
from veritas.analysis import Coverage, InvalidInput, Span, Window
from veritas.v1 import common_pb2


@dataclass(frozen=True)
class Measured:
    """One segment as it arrived: where its text sits in the transcript, and its cues."""

    segment: Segment
    offset: int  # of its text in the transcript (segments joined with single spaces)
    cues: tf.TextCues
    vocabulary: frozenset[str]


class TextLiveSession:
    """`veritas.analysis.LiveSession` for transcript segments (see the module docstring)."""

    thinnable = False

    def __init__(self, analyzer: TextAnalyzer, config: common_pb2.StreamConfig) -> None:
        w = config.options.window_s
        if not math.isfinite(w) or w < 0:
            raise InvalidInput("config.options.window_s", "must be a finite number >= 0")
        self.analyzer = analyzer
        self.window_s = w if w > 0 else DEFAULT_WINDOW_S
        self.baseline: dict[str, float] = {}
        if config.HasField("baseline"):
            self.baseline = analyzer._baseline(
                config.baseline.transcript, "config.baseline.transcript"
            )
        self.quality: int = common_pb2.QUALITY_HIGH
        self.group: list[Measured] = []  # the open window
        self.group_coverage = Coverage()
        self.ready: list[Window] = []  # closed, not returned yet
        self.last_start = -math.inf
        self.language: LanguageCheck | None = None  # the last window that could tell
        # The whole input: its text (bounded by max_chars) and running counts.
        self.parts: list[str] = []
        self.chars = 0  # len(" ".join(parts))
        self.words = 0
        self.matches: dict[str, list[tf.Match]] = {}  # offsets into the transcript
        self.vocabulary: set[str] = set()
        self.start_s = math.inf
        self.end_s = 0.0
        self.coverage = Coverage()

    # ------------------------------------------------------------------ protocol

    def max_rate_hz(self, quality: int) -> float:
        return 0.0

    def set_quality(self, quality: int) -> None:
        """Recorded only: every level measures the same (see the module docstring)."""
        self.quality = quality

    def add(self, chunk: common_pb2.LiveChunk) -> None:
        segment = self._check(chunk)
        if segment.start_s >= self._group_end():
            self._close_group()
        self.group_coverage.received += 1
        self.group_coverage.analysed += 1
        if segment.text:
            self.group.append(self._measure(segment))

    def skip(self, chunk: common_pb2.LiveChunk) -> None:
        """Count a segment that is not analysed (never called: text is not thinnable)."""
        self._check(chunk)
        self.group_coverage.received += 1
        self.group_coverage.skipped += 1

    def add_question(self, question: common_pb2.QuestionMarker) -> None:
        """Questions do not change text analysis."""

    def close_until(self, t_s: float) -> list[Window]:
        """The windows closed by the segments so far (a group closes when a segment starts
        `window_s` after its first one, or once the stream has passed that time)."""
        if t_s >= self._group_end():
            self._close_group()
        out, self.ready = self.ready, []
        return out

    def finish(self) -> tuple[list[Window], Window]:
        self._close_group()
        rest, self.ready = self.ready, []
        if not self.parts:
            raise InvalidInput(
                "transcript_segment.text", "empty: no segment of the stream had any text"
            )
        return rest, self._whole()

    # ------------------------------------------------------------------ segments

    def _check(self, chunk: common_pb2.LiveChunk) -> Segment:
        if chunk.WhichOneof("payload") != "transcript_segment":
            raise InvalidInput("transcript_segment", "expected a transcript segment")
        segment = check_segment(chunk.transcript_segment, "transcript_segment")
        if segment.start_s < self.last_start:
            raise InvalidInput(
                "transcript_segment.start_s",
                f"out of order: starts at {segment.start_s:g} s, before the previous segment "
                f"({self.last_start:g} s); send segments in time order",
            )
        self.last_start = segment.start_s
        return segment

    def _measure(self, segment: Segment) -> Measured:
        """Measure a segment once and add it to the whole input's running counts."""
        offset = self.chars + 1 if self.parts else 0
        total = offset + len(segment.text)
        if total > self.analyzer.max_chars:
            raise InvalidInput(
                "transcript_segment.text",
                f"the transcript would be too long ({total} characters; at most "
                f"{self.analyzer.max_chars}, which the whole-input result reads at once)",
            )
        cues = tf.measure(segment.text)
        vocabulary = frozenset(t.text for t in tf.tokenize(segment.text))
        self.parts.append(segment.text)
        self.chars = total
        self.words += cues.word_count
        self.vocabulary |= vocabulary
        for category, found in cues.matches.items():
            self.matches.setdefault(category, []).extend(
                tf.Match(m.phrase, m.start + offset, m.end + offset) for m in found
            )
        self.start_s = min(self.start_s, segment.start_s)
        self.end_s = max(self.end_s, segment.end_s)
        return Measured(segment, offset, cues, vocabulary)

    # ------------------------------------------------------------------ windows

    def _group_end(self) -> float:
        return self.group[0].segment.start_s + self.window_s if self.group else math.inf

    def _close_group(self) -> None:
        if not self.group:
            return  # empty segments only: counted in the next window (or the total)
        window = self._window(self.group)
        window.coverage = self.group_coverage
        self.coverage.add(self.group_coverage)
        self.ready.append(window)
        self.group, self.group_coverage = [], Coverage()

    def _window(self, group: list[Measured]) -> Window:
        """A window from its segments' measurements (see the module docstring)."""
        text = " ".join(m.segment.text for m in group)
        matches: dict[str, list[tf.Match]] = {}
        spans: dict[str, list[Span]] = {}
        local = 0
        words = 0
        vocabulary: set[str] = set()
        for m in group:
            for category, found in m.cues.matches.items():
                bucket = matches.setdefault(category, [])
                for hit in found:
                    bucket.append(tf.Match(hit.phrase, hit.start + local, hit.end + local))
                    spans.setdefault(category, []).append(
                        (
                            hit.start + m.offset,
                            hit.end + m.offset,
                            m.segment.text[hit.start : hit.end],
                        )
                    )
            local += len(m.segment.text) + 1
            words += m.cues.word_count
            vocabulary |= m.vocabulary
        cues = _cues(text, words, matches, vocabulary)
        language = tf.language_check(text)
        if language.english is None and self.language is not None:
            language = self.language
        elif language.english is not None:
            self.language = language
        start_s = group[0].segment.start_s
        end_s = max(m.segment.end_s for m in group)
        return self.analyzer.cue_window(cues, text, spans, language, self.baseline, start_s, end_s)

    def _whole(self) -> Window:
        """The whole-input Window: running counts, plus what needs the kept text."""
        text = " ".join(self.parts)
        cues = _cues(text, self.words, self.matches, self.vocabulary)
        spans = {
            c: [(m.start, m.end, text[m.start : m.end]) for m in found]
            for c, found in self.matches.items()
            if found
        }
        window = self.analyzer.cue_window(
            cues, text, spans, tf.language_check(text), self.baseline, self.start_s, self.end_s
        )
        total = Coverage()
        total.add(self.coverage)
        total.add(self.group_coverage)  # empty segments after the last window
        window.coverage = total
        return window

    def buffer_sizes(self) -> dict[str, int]:
        """What is held (tests assert the bounds): the open window's segments, and the
        whole input's text and matches (bounded by max_chars)."""
        return {
            "group": len(self.group),
            "chars": self.chars,
            "matches": sum(len(v) for v in self.matches.values()),
            "vocabulary": len(self.vocabulary),
        }


def _cues(
    text: str, words: int, matches: dict[str, list[tf.Match]], vocabulary: set[str]
) -> tf.TextCues:
    """A span's cues from its segments' counts, plus what is read from its text."""
    return tf.TextCues(
        word_count=words,
        matches=matches,
        type_token_ratio=len(vocabulary) / words if words else 0.0,
        flesch_reading_ease=tf.readability(text),
        sentiment_compound=tf.sentiment(text),
    )
