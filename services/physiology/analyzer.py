"""The physiology modality: validated signals -> windows of arousal cues for Triton.

`prepare` validates the request (signals.py) and runs the signal processing once over the
whole recording and the baseline (features.py); `windows` then measures each span of
`Options.window_s` seconds (default 10 s) and expresses it as changes from the reference
(cues.py), which the `physiology_cues` model scores. Arousal is not deception: the model
is an uncalibrated cue model and its output is never a verdict (models/cards).

With question markers, the final result also carries each question's responses and their
comparison-question (CQT) scores and decision (examination.py, cqt.py) as features and
notes; without them, a note says the result is arousal only, with no verdict. Skin
conductance responses are reported as timestamped events.

Without baseline physiology the reference is the recording's first window, which is then
scored 0.5 with quality (hence confidence) 0. Live streams (`open_live`, live.py) keep per
channel only a window and its overlap, measure each window once as it closes, and build
the whole-input result from running summaries; their windows and final result mean the
same as these.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from services.physiology import cues, examination, features, signals
from services.physiology.responses import ONSET_AFTER_ANSWER_S
from veritas.analysis import Analyzer, Event, InvalidInput, LiveSession, Window
from veritas.modalities import BY_NAME
from veritas.v1 import common_pb2, modality_pb2

DEFAULT_WINDOW_S = 10.0
MIN_WINDOW_S = 5.0  # shorter spans hold too few beats, breaths or SCRs to measure


@dataclass(frozen=True)
class Prepared:
    """A recording processed once, with its subject's baseline measures when given."""

    recording: signals.Recording
    derived: features.Derived
    baseline: features.Measures | None


def window_spans(start_s: float, end_s: float, window_s: float) -> list[tuple[float, float]]:
    """Consecutive spans of `window_s`; a remainder shorter than half a window joins the last."""
    total = end_s - start_s
    if total <= 0:
        return []
    n = max(1, math.floor(total / window_s))
    if total - n * window_s >= window_s / 2:
        n += 1
    edges = [start_s + i * window_s for i in range(n)] + [end_s]
    return list(zip(edges[:-1], edges[1:], strict=True))


def window_length(options: common_pb2.Options) -> float:
    w = options.window_s
    return DEFAULT_WINDOW_S if not math.isfinite(w) or w <= 0 else max(w, MIN_WINDOW_S)


def check_options(options: common_pb2.Options, path: str) -> None:
    if not math.isfinite(options.window_s) or options.window_s < 0:
        raise InvalidInput(f"{path}.window_s", "must be a finite number >= 0")


def measure_baseline(msg: common_pb2.Physiology, path: str) -> features.Measures | None:
    if not signals.has_input(msg):
        return None
    rec = signals.from_proto(msg, path)
    return features.measure(features.derive(rec), rec.start_s, rec.end_s)


class PhysiologyAnalyzer(Analyzer[Prepared]):
    """`veritas.analysis.Analyzer` for heart rate, ECG/PPG, EDA and respiration."""

    modality = common_pb2.PHYSIOLOGY
    model_name = BY_NAME["physiology"].model

    def prepare(self, request: modality_pb2.ModalityRequest) -> Prepared:
        check_options(request.options, "options")
        recording = signals.from_proto(request.input.physiology, "physiology")
        baseline = measure_baseline(request.baseline.physiology, "baseline.physiology")
        return Prepared(recording, features.derive(recording), baseline)

    def windows(self, prepared: Prepared, options: common_pb2.Options) -> Iterator[Window]:
        rec = prepared.recording
        spans = window_spans(rec.start_s, rec.end_s, window_length(options))
        if not spans:
            return
        reference, ref_notes = self._reference(prepared, spans[0])
        for i, (start, end) in enumerate(spans):
            is_reference = prepared.baseline is None and i == 0
            yield self._window(prepared, start, end, reference, ref_notes, is_reference)

    def summarize(self, prepared: Prepared, windows: Sequence[Window]) -> Window:
        rec = prepared.recording
        start, end = rec.start_s, rec.end_s
        if end <= start:
            return Window(start, end, {}, quality=0.0, notes=list(rec.notes), usable=False)
        first = (windows[0].start_s, windows[0].end_s) if windows else None
        if first is None:
            spans = window_spans(start, end, DEFAULT_WINDOW_S)
            first = spans[0]
        reference, ref_notes = self._reference(prepared, first)
        # With no baseline and a recording no longer than its reference, nothing changed.
        only_reference = prepared.baseline is None and first[1] >= end
        window = self._window(
            prepared, start, end, reference, ref_notes, only_reference, with_markers=False
        )
        report = examination.examine(prepared.derived, rec.markers)
        window.features.update(report.features)
        window.units.update(report.units)
        notes = list(prepared.derived.notes) + window.notes + report.notes
        window.notes = list(dict.fromkeys(notes))
        return window

    @staticmethod
    def _reference(
        prepared: Prepared, first: tuple[float, float]
    ) -> tuple[dict[str, float], list[str]]:
        if prepared.baseline is not None:
            return dict(prepared.baseline.values), ["cues are changes from the subject's baseline"]
        ref = features.measure(prepared.derived, *first)
        return dict(ref.values), [
            f"no baseline given: cues are changes from this recording's first window "
            f"({first[0]:g}-{first[1]:g} s)"
        ]

    @staticmethod
    def _window(
        prepared: Prepared,
        start: float,
        end: float,
        reference: dict[str, float],
        ref_notes: list[str],
        is_reference: bool,
        with_markers: bool = True,
    ) -> Window:
        markers = prepared.recording.markers
        return cue_window(
            features.measure(prepared.derived, start, end),
            start,
            end,
            reference,
            ref_notes,
            is_reference,
            prepared.baseline,
            # the final result lists every question in its q<n>_* features
            marker_notes(markers, start, end) if with_markers else [],
            scr_events(prepared.derived, markers, start, end),
        )

    def open_live(self, config: common_pb2.StreamConfig) -> LiveSession:
        """A live stream's state (services/physiology/live.py)."""
        from services.physiology.live import PhysiologyLiveSession

        return PhysiologyLiveSession(config)


def cue_window(
    m: features.Measures,
    start: float,
    end: float,
    reference: dict[str, float],
    ref_notes: list[str],
    is_reference: bool,
    baseline: features.Measures | None,
    marker_notes: list[str],
    events: list[Event],
) -> Window:
    """One span's measures as a Window of cues (changes from `reference`), offline and live."""
    cue_vals, missing = cues.cue_values(m.values, reference)
    notes = list(ref_notes) + list(m.notes)
    if is_reference:
        notes.append(
            "this span is the reference itself: no evidence of change (confidence 0); "
            "give baseline physiology for evidence from every window"
        )
    elif missing and len(missing) < len(cue_vals):
        notes.append(f"not measurable here, set to no change: {', '.join(missing)}")
    notes.extend(marker_notes)
    units = {k: features.UNITS[k] for k in m.values}
    units.update({c.name: c.unit for c in cues.CUES})
    base = {}
    if baseline is not None:
        base = {k: v for k, v in baseline.values.items() if k in m.values}
    # The reference span is scored (every cue 0 -> P = 0.5) but must count for nothing.
    quality = 0.0 if is_reference else m.quality
    usable = is_reference or len(missing) < len(cue_vals)
    if not usable:
        notes.append("no arousal cue could be measured in this span")
    return Window(
        start_s=start,
        end_s=end,
        features={**m.values, **cue_vals},
        units=units,
        baseline=base,
        quality=quality,
        notes=notes,
        usable=usable,
        events=events,
    )


def marker_notes(markers: Sequence[signals.Marker], start: float, end: float) -> list[str]:
    out = []
    for mk in markers:
        if mk.start_s < end and mk.end_s > start:
            label = f" '{mk.label}'" if mk.label else ""
            out.append(f"{mk.kind} question{label} at {mk.start_s:g}-{mk.end_s:g} s")
    return out


def scr_events(
    derived: features.Derived, markers: Sequence[signals.Marker], start: float, end: float
) -> list[Event]:
    """Skin conductance responses peaking in [start, end), each with the question it follows
    when it starts after a question's onset and within 5 s of its end (the answer)."""
    e = derived.eda
    if e is None:
        return []
    onsets = e.scr_onsets_s if e.scr_onsets_s is not None else e.scr_times_s
    out = []
    for onset, peak, amp in zip(onsets, e.scr_times_s, e.scr_amplitudes_us, strict=True):
        if not start <= peak < end:
            continue
        detail = f"{amp:.3f} uS"
        for mk in markers:
            if mk.start_s < onset <= mk.end_s + ONSET_AFTER_ANSWER_S:
                label = f" '{mk.label}'" if mk.label else ""
                detail += f", {onset - mk.start_s:.1f} s after {mk.kind} question{label}"
        out.append(
            Event(
                name="skin_conductance_response",
                onset_s=float(onset),
                apex_s=float(peak),
                offset_s=float(peak),
                magnitude=float(amp),
                detail=detail,
            )
        )
    return out
