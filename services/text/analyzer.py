"""The text modality: validate a transcript, cut it into windows, measure the cues.

Windows follow time when the transcript has timed segments (default 30 s, `Options.window_s`
overrides) and otherwise groups of about three sentences. Each window carries its raw text,
because the text model (`text_deception`) reads the words themselves (n-grams) as well as the
cue rates computed here.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from services.text import features as tf
from veritas.analysis import InvalidInput, Window
from veritas.v1 import common_pb2, modality_pb2

DEFAULT_WINDOW_S = 30.0
SENTENCES_PER_WINDOW = 3
MIN_WORDS = 5  # below this a rate per 100 words is noise: the window is not scored
MAX_CHARS = 100_000  # about 15,000 words: a long interview
SUPPORTED_LANGUAGES = ("en",)
# C0/C1 controls except tab, newline, carriage return; surrogates; private use; U+FFFD.
_NON_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ue000-\uf8ff\ufffd]")


@dataclass(frozen=True)
class Segment:
    start_s: float
    end_s: float
    text: str


@dataclass
class PreparedText:
    """A validated transcript: the whole text, and its segments when they were timed."""

    text: str
    segments: list[Segment] = field(default_factory=list)
    baseline: dict[str, float] = field(default_factory=dict)

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


def _check_segment(seg: common_pb2.TranscriptSegment, path: str) -> Segment:
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


class TextAnalyzer:
    """`veritas.analysis.Analyzer` for transcripts (English only, for now)."""

    modality = common_pb2.TEXT
    model_name = "text_deception"

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
            _check_segment(s, f"{path}.segments[{i}]") for i, s in enumerate(transcript.segments)
        ]
        return self._assemble(transcript.text, segments, path)

    def _assemble(self, text: str, segments: list[Segment], path: str) -> PreparedText:
        _check_text(text, f"{path}.text")
        whole = text.strip() or " ".join(s.text for s in segments if s.text)
        if not whole.strip():
            raise InvalidInput(f"{path}.text", "empty: give the text or timed segments with text")
        self._check_length(len(whole), f"{path}.text" if text.strip() else f"{path}.segments")
        timed = sorted((s for s in segments if s.text), key=lambda s: (s.start_s, s.end_s))
        return PreparedText(text=whole, segments=timed)

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

    def prepare_live(
        self, config: common_pb2.StreamConfig, chunks: Sequence[common_pb2.LiveChunk]
    ) -> PreparedText:
        segments = [
            _check_segment(c.transcript_segment, f"chunks[{i}].transcript_segment")
            for i, c in enumerate(chunks)
            if c.WhichOneof("payload") == "transcript_segment"
        ]
        prepared = self._assemble("", segments, "transcript")
        if config.HasField("baseline"):
            prepared.baseline = self._baseline(config.baseline.transcript, "baseline.transcript")
        return prepared

    # ------------------------------------------------------------------ windows

    def _window(self, text: str, start_s: float, end_s: float, baseline: dict) -> Window:
        cues = tf.measure(text)
        notes = tf.describe_matches(cues)
        usable = cues.word_count >= self.min_words
        if not usable:
            notes.insert(0, f"too few words to score ({cues.word_count} < {self.min_words})")
        elif cues.word_count >= 20 and tf.english_share(text) < 0.05:
            notes.insert(0, "this does not read as English; the word lists and model are English")
        return Window(
            start_s=start_s,
            end_s=end_s,
            features=tf.feature_values(cues),
            units=dict(tf.FEATURE_UNITS),
            baseline=dict(baseline),
            notes=notes,
            text=text,
            usable=usable,
        )

    def _timed_groups(self, segments: list[Segment], window_s: float) -> list[list[Segment]]:
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
                text = " ".join(s.text for s in group)
                end_s = max(s.end_s for s in group)
                yield self._window(text, group[0].start_s, end_s, prepared.baseline)
            return
        spans = tf.sentence_spans(prepared.text)
        for i in range(0, len(spans), SENTENCES_PER_WINDOW):
            chunk = spans[i : i + SENTENCES_PER_WINDOW]
            window = self._window(
                prepared.text[chunk[0][0] : chunk[-1][1]], 0.0, 0.0, prepared.baseline
            )
            window.notes.append(
                f"untimed transcript: sentences {i + 1}-{i + len(chunk)} of {len(spans)}"
            )
            yield window

    def summarize(self, prepared: PreparedText, windows: Sequence[Window]) -> Window:
        start_s = prepared.segments[0].start_s if prepared.timed else 0.0
        end_s = max((s.end_s for s in prepared.segments), default=0.0)
        return self._window(prepared.text, start_s, end_s, prepared.baseline)
