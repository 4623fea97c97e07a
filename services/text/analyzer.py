"""The text modality: validate a transcript, cut it into windows, measure the cues.

Windows follow time when the transcript has timed segments (default 30 s, `Options.window_s`
overrides) and otherwise groups of about three sentences. Each window carries its raw text,
because the text model (`text_deception`) reads the words themselves (n-grams) as well as the
cue rates computed here, and the spans each cue matched, as offsets into the caller's
transcript (sources.py says which string they index).

Live streams (`open_live`, live.py) measure each segment once as it arrives and group
segments into windows the same way as the timed path here.

Language: a non-English tag is refused (INVALID_ARGUMENT); untagged or "en" text that does
not read as English (language.py) is still analysed, with a note and quality 0, so fusion
treats the window as low quality rather than as evidence.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from services.text import features as tf
from services.text.language import LanguageCheck
from services.text.sources import SourceMap, joined
from veritas.analysis import Analyzer, InvalidInput, LiveSession, Span, Window
from veritas.modalities import BY_NAME
from veritas.v1 import common_pb2, modality_pb2

DEFAULT_WINDOW_S = 30.0
SENTENCES_PER_WINDOW = 3
MIN_WORDS = 5  # below this a rate per 100 words is noise: the window is not scored
MAX_CHARS = 100_000  # about 15,000 words: a long interview
SUPPORTED_LANGUAGES = ("en",)
# C0/C1 controls except tab, newline, carriage return; surrogates; private use; U+FFFD.
_NON_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ue000-\uf8ff\ufffd]")


NOT_ENGLISH_QUALITY = 0.0  # fusion counts no window below its MIN_CONFIDENCE
NO_SPANS_NOTE = (
    "the spans of this window are not given: its segments' text was not found in "
    "transcript.text, so there are no offsets to point at"
)


@dataclass(frozen=True)
class Segment:
    start_s: float
    end_s: float
    text: str  # stripped
    source: SourceMap | None = None  # where `text` is in the transcript; None: not found


@dataclass
class PreparedText:
    """A validated transcript: the whole text, and its segments when they were timed."""

    text: str
    segments: list[Segment] = field(default_factory=list)
    baseline: dict[str, float] = field(default_factory=dict)
    source_text: str = ""  # the string span offsets index (see sources.py)
    source: SourceMap | None = None  # where `text` is in `source_text`
    language: LanguageCheck | None = None  # of the whole text

    @property
    def timed(self) -> bool:
        return bool(self.segments)


def _check_text(text: str, field_name: str) -> None:
    """Reject control characters and binary junk: proto3 strings are valid UTF-8 already, but
    bytes decoded as text show up as C0/C1 controls, surrogates, private use or U+FFFD."""
    bad = _NON_TEXT.search(text)
    if bad:
        ch = bad.group()
        problem = "the text was decoded from bad bytes" if ch == "\ufffd" else "not text"
        raise InvalidInput(
            field_name, f"contains U+{ord(ch):04X} at character {bad.start()}: {problem}"
        )


def _check_language(language: str, field_name: str) -> None:
    primary = language.strip().split("-")[0].split("_")[0].lower()
    if language.strip() and primary not in SUPPORTED_LANGUAGES:
        raise InvalidInput(
            field_name,
            f"unsupported language {language!r}: only English ('en') is supported for now "
            "(the word lists and the model are English)",
        )


def check_segment(seg: common_pb2.TranscriptSegment, path: str) -> Segment:
    for name in ("start_s", "end_s"):
        value = getattr(seg, name)
        if not math.isfinite(value) or value < 0:
            raise InvalidInput(f"{path}.{name}", f"must be a finite time >= 0 s, got {value}")
    if seg.end_s < seg.start_s:
        raise InvalidInput(
            f"{path}.end_s", f"ends before it starts ({seg.end_s} s < start_s {seg.start_s} s)"
        )
    _check_text(seg.text, f"{path}.text")
    return Segment(seg.start_s, seg.end_s, seg.text.strip())


class TextAnalyzer(Analyzer[PreparedText]):
    """`veritas.analysis.Analyzer` for transcripts (English only, for now)."""

    modality = common_pb2.TEXT
    model_name = BY_NAME["text"].model
    # Transcripts up to this size are analysed on the service's event loop (pure Python,
    # a few ms): a worker thread would only add a hop and a wait for the interpreter lock.
    inline_max_bytes = 8192
    # summarize() measures the whole transcript itself: a caller that reads only the
    # whole-input result (veritas.hints) needs no windows measured.
    summary_needs_windows = False

    def __init__(self, max_chars: int = MAX_CHARS, min_words: int = MIN_WORDS) -> None:
        self.max_chars = max_chars
        self.min_words = min_words
        tf.readability("Warm up.")  # textstat's first call loads pyphen (~1 s): pay it now

    # ------------------------------------------------------------------ validation

    def _check_length(self, length: int, field_name: str) -> None:
        if length > self.max_chars:
            raise InvalidInput(
                field_name, f"too long ({length} characters; at most {self.max_chars})"
            )

    def _transcript(self, transcript: common_pb2.Transcript, path: str) -> PreparedText:
        _check_language(transcript.language, f"{path}.language")
        self._check_length(len(transcript.text), f"{path}.text")
        self._check_length(sum(len(s.text) for s in transcript.segments), f"{path}.segments")
        segments = [
            check_segment(s, f"{path}.segments[{i}]") for i, s in enumerate(transcript.segments)
        ]
        return self._assemble(transcript.text, segments, path)

    def _assemble(self, text: str, segments: list[Segment], path: str) -> PreparedText:
        _check_text(text, f"{path}.text")
        timed = sorted((s for s in segments if s.text), key=lambda s: (s.start_s, s.end_s))
        if text.strip():
            whole = text.strip()
            source_text = text
            source = SourceMap.shifted(len(text) - len(text.lstrip()), len(whole))
            timed = _locate(timed, text)
        else:
            whole = source_text = " ".join(s.text for s in timed)
            source = SourceMap.shifted(0, len(whole))
            timed = _locate(timed, whole)
        if not whole.strip():
            raise InvalidInput(f"{path}.text", "empty: give the text or timed segments with text")
        self._check_length(len(whole), f"{path}.text" if text.strip() else f"{path}.segments")
        return PreparedText(
            text=whole,
            segments=timed,
            source_text=source_text,
            source=source,
            language=tf.language_check(whole),
        )

    def _baseline(self, transcript: common_pb2.Transcript, path: str) -> dict[str, float]:
        """The subject's truthful control answers, measured the same way (same names)."""
        if not transcript.text.strip() and not transcript.segments:
            return {}
        prepared = self._transcript(transcript, path)
        return tf.feature_values(tf.measure(prepared.text))

    def prepare(self, request: modality_pb2.ModalityRequest) -> PreparedText:
        prepared = self._transcript(request.input.transcript, "transcript")
        if request.HasField("baseline"):
            prepared.baseline = self._baseline(request.baseline.transcript, "baseline.transcript")
        return prepared

    def open_live(self, config: common_pb2.StreamConfig) -> LiveSession:
        """A live stream's state (services/text/live.py)."""
        from services.text.live import TextLiveSession

        return TextLiveSession(self, config)

    # ------------------------------------------------------------------ windows

    def _window(
        self,
        prepared: PreparedText,
        text: str,
        source: SourceMap | None,
        start_s: float,
        end_s: float,
    ) -> Window:
        cues = tf.measure(text)
        if prepared.language is not None and text == prepared.text:
            language = prepared.language  # measured by prepare(): the same text, once
        else:
            language = tf.language_check(text)
        if language.english is None and prepared.language is not None:
            language = prepared.language  # too short to tell: the transcript decides
        spans = _spans(cues, source, prepared.source_text)
        window = self.cue_window(cues, text, spans, language, prepared.baseline, start_s, end_s)
        if source is None and any(cues.matches.values()):
            window.notes.append(NO_SPANS_NOTE)
        return window

    def cue_window(
        self,
        cues: tf.TextCues,
        text: str,
        spans: dict[str, list[Span]],
        language: LanguageCheck,
        baseline: dict[str, float],
        start_s: float,
        end_s: float,
    ) -> Window:
        """A Window of measured cues (offline and live): too few words is unusable, text
        that does not read as English is low quality."""
        notes: list[str] = []
        usable = cues.word_count >= self.min_words
        if not usable:
            notes.append(f"too few words to score ({cues.word_count} < {self.min_words})")
        quality = 1.0
        if language.english is False:
            quality = NOT_ENGLISH_QUALITY
            notes.append(
                f"this does not read as English ({language.reason}); the word lists and the "
                "model are English, so this window is marked low quality"
            )
        return Window(
            start_s=start_s,
            end_s=end_s,
            features=tf.feature_values(cues),
            units=dict(tf.FEATURE_UNITS),
            baseline=dict(baseline),
            quality=quality,
            notes=notes,
            text=text,
            usable=usable,
            spans=spans,
        )

    @staticmethod
    def _timed_groups(segments: list[Segment], window_s: float) -> list[list[Segment]]:
        """Segments in time order, grouped: a segment starting less than window_s after its
        group's first segment joins that group (live.py groups the same way as they come)."""
        groups: list[list[Segment]] = []
        for seg in segments:
            if groups and seg.start_s < groups[-1][0].start_s + window_s:
                groups[-1].append(seg)
            else:
                groups.append([seg])
        return groups

    def windows(self, prepared: PreparedText, options: common_pb2.Options) -> Iterator[Window]:
        if prepared.timed:
            window_s = options.window_s if options.window_s > 0 else DEFAULT_WINDOW_S
            for group in self._timed_groups(prepared.segments, window_s):
                parts = [s.text for s in group]
                source = joined(parts, [s.source for s in group])
                end_s = max(s.end_s for s in group)
                yield self._window(prepared, " ".join(parts), source, group[0].start_s, end_s)
            return
        spans = tf.sentence_spans(prepared.text)
        for i in range(0, len(spans), SENTENCES_PER_WINDOW):
            chunk = spans[i : i + SENTENCES_PER_WINDOW]
            a, b = chunk[0][0], chunk[-1][1]
            source = prepared.source.cut(a, b) if prepared.source else None
            window = self._window(prepared, prepared.text[a:b], source, 0.0, 0.0)
            window.notes.append(
                f"untimed transcript: sentences {i + 1}-{i + len(chunk)} of {len(spans)}"
            )
            yield window

    def summarize(self, prepared: PreparedText, windows: Sequence[Window]) -> Window:
        start_s = prepared.segments[0].start_s if prepared.timed else 0.0
        end_s = max((s.end_s for s in prepared.segments), default=0.0)
        return self._window(prepared, prepared.text, prepared.source, start_s, end_s)


def _locate(segments: list[Segment], text: str) -> list[Segment]:
    """Each segment with where its text is in `text`, searched in time order."""
    out, cursor = [], 0
    for seg in segments:
        at = text.find(seg.text, cursor)
        if at < 0:
            out.append(Segment(seg.start_s, seg.end_s, seg.text, None))
            continue
        out.append(Segment(seg.start_s, seg.end_s, seg.text, SourceMap.shifted(at, len(seg.text))))
        cursor = at + len(seg.text)
    return out


def _spans(cues: tf.TextCues, source: SourceMap | None, source_text: str) -> dict[str, list[Span]]:
    """Each category's matches as (start, end, text) in the caller's transcript."""
    if source is None:
        return {}
    out: dict[str, list[Span]] = {}
    for category, matches in cues.matches.items():
        for m in matches:
            located = source.to_source(m.start, m.end)
            if located is not None:
                start, end = located
                out.setdefault(category, []).append((start, end, source_text[start:end]))
    return out
