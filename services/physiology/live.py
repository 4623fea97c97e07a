"""Live physiology: one stream's state, fed chunk by chunk, bounded whatever its length.

`PhysioChannel` chunks (physio_samples) arrive per channel, each continuing where that
channel's previous chunk ended. A channel keeps a ring buffer (rings.SampleRing) of the
samples the open window and its overlap need. When every channel has reached a window's
end, the window is measured ONCE from its own samples plus the overlap before it: the same
signal processing as offline (features.derive) over [start - overlap, end), then the same
measures (features.measure) and cues (analyzer.cue_window) over [start, end).

Overlap before each window, per channel, and why:
  ecg, ppg     8 s: the 0.5 Hz high-pass of ecg_clean/ppg_clean (run both ways) settles
               within seconds (on the sample, beat times agree with offline to 0.1 ms);
               the RR interval ending at the window's first beat needs the beat before it,
               and each interval's plausibility check compares it with its two neighbours
               on either side (features.plausible_rr).
  eda         20 s: eda_phasic splits tonic and phasic with a 0.05 Hz Butterworth filter
               run both ways, whose start-up transient is slow: on simulated EDA the
               settled tonic level differed from offline by up to 0.06 uS with 5 s of
               overlap, 0.027 uS with 10 s or more (then limited by the 5 s settling
               distance from the end); 20 s also holds an SCR's rise before its peak.
  respiration 20 s: rsp_clean's 0.05 Hz high-pass, as for EDA; a breath's rate comes from
               the interval since the previous breath (up to 20 s, BREATH_RANGE_S).
  heart_rate   0 s: a bpm series needs no processing.
A window is measured with what has arrived at its end: a beat or breath in its last second
may not be found yet (nothing after it to show the peak), which is why per-window values
can differ a little from an offline analysis of the same recording, which sees both sides.

The whole-input result is NOT measured at those edges. Each window's processing also
*settles* the span that the next samples can no longer change: up to SETTLE_S before its end
(a beat's plausibility needs the two intervals after it, an SCR or breath peak the fall
after it); the last processing at the end of the input settles everything. Settled beats,
samples and responses feed running summaries (running.py: counts, sums, Welford variances,
Welch segments) that give the whole-input measures as features.measure would over the
whole recording, and short rings of recent settled series (about two windows plus 25 s)
from which the reference window and each question's response are measured, once:

- reference (no baseline): the first window [start, start + window_s), measured from the
  settled series once they cover it (when the second window closes), as offline
  `summarize` measures the first window; the first window itself is the reference (cues 0,
  quality 0), as offline;
- questions (config.questions, LiveChunk.question): each presentation's responses
  (responses.py) are measured when the settled series pass the end of its scoring window
  and kept as a few numbers each (at most signals.MAX_MARKERS questions); at the end they
  are numbered in time order and scored as offline (examination.py, cqt.py). A question that
  arrives after its response window has been let go of is reported, not measured.

Windows are consecutive spans of window_s from the first chunk's start_s; the last one ends
where the input ends (offline, a remainder shorter than half a window joins the previous
window instead). A channel that falls more than a window behind the others stops holding
windows back; samples that arrive for a window already closed are context for the next one
and counted in the final coverage, not analysed in their own window.

Quality levels: MEDIUM and HIGH measure the same. LOW leaves out the cardiac template-match
quality index (quality.cardiac_sqi: neurokit2's averageQRS; on the sample, ECG, EDA and
respiration at 100 Hz, it is most of a window's CPU: 40 ms per 10 s window at HIGH, 11 ms
at LOW on a busy 2-core machine, as tests/test_live.py prints them): the
window then has no cardiac_signal_quality and its confidence is not scaled by it, and a note
says so. Every cue the model reads is measured at every level; the whole-input quality
index averages the windows where it was measured.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np

from services.physiology import examination, features, running, signals
from services.physiology.analyzer import (
    check_options,
    cue_window,
    marker_notes,
    measure_baseline,
    scr_events,
    window_length,
)
from services.physiology.responses import (
    PRE_STIMULUS_S,
    SCORING_WINDOW_S,
    Response,
    measure_response,
    scoring_end,
)
from services.physiology.rings import SampleRing, SeriesRing
from veritas.analysis import Coverage, Event, InvalidInput, Window
from veritas.v1 import common_pb2

PRE_S = {"ecg": 8.0, "ppg": 8.0, "eda": 20.0, "respiration": 20.0, "heart_rate": 0.0}
SETTLE_S = {"ecg": 3.0, "ppg": 3.0, "eda": 5.0, "respiration": 5.0, "heart_rate": 0.0}
CARDIAC = ("ecg", "ppg", "heart_rate")
SAME_BEAT_S = 0.05  # two detections of one beat from overlapping buffers lie within this
# Recent settled series kept: the reference window until the second window closes, and a
# question's 5 s before onset plus its 15 s scoring window until they are all settled.
RESPONSE_SPAN_S = PRE_STIMULUS_S + SCORING_WINDOW_S + 5.0
MAX_SUMMARY_EVENTS = 200  # SCR events listed in the final result (every window lists its own)
_EPS = 1e-9
LOW_NOTE = (
    "cardiac signal quality not assessed here (LOW quality: the template match is the "
    "costliest step); confidence not scaled by it"
)
REMAINDER_S = 1e-3  # input reaching less than this past the last window adds no window


@dataclass
class ChannelState:
    """One live channel: its timing and its latest samples."""

    name: str
    rate_hz: float
    unit: str
    start_s: float
    received: int = 0  # samples received so far (absolute index of the next one)
    ring: SampleRing = field(default_factory=SampleRing)

    @property
    def reach_s(self) -> float:
        """Where the samples received so far end on the shared timeline."""
        return self.start_s + self.received / self.rate_hz

    @property
    def span(self) -> tuple[float, float]:
        """(start, reach): the channel's span so far, as features.Derived.spans holds it."""
        return self.start_s, self.reach_s

    def index(self, t_s: float) -> int:
        """The first sample at or after time t_s."""
        return max(0, math.ceil((t_s - self.start_s) * self.rate_hz - 1e-6))

    def count(self, lo: float, hi: float) -> int:
        """Samples received with times in [lo, hi)."""
        return max(0, min(self.received, self.index(hi)) - self.index(lo))

    def channel(self, lo: float, hi: float) -> signals.Channel:
        """The held samples with times in [lo, hi) as a Channel."""
        i0 = max(self.index(lo), self.ring.first)
        x = self.ring.view(i0, self.index(hi))
        return signals.Channel(
            self.name, x, self.rate_hz, self.start_s + i0 / self.rate_hz, self.unit
        )


class PhysiologyLiveSession:
    """`veritas.analysis.LiveSession` for physiology (see the module docstring)."""

    thinnable = False  # every sample matters to the signal processing

    def __init__(self, config: common_pb2.StreamConfig) -> None:
        check_options(config.options, "config.options")
        self.window_s = window_length(config.options)
        self.baseline = measure_baseline(config.baseline.physiology, "config.baseline.physiology")
        self.quality: int = common_pb2.QUALITY_HIGH
        self.channels: dict[str, ChannelState] = {}
        self.origin: float | None = None  # where the first window starts
        self.closed = 0  # windows returned so far
        self.settled: dict[str, float] = {}  # per channel: settled up to this time
        self.coverage = Coverage()
        self.late = 0  # samples that arrived after their window closed
        self.skipped_pending = 0
        # Running summaries (whole input) and recent settled series (bounded).
        self.beat_summaries = {s: running.BeatSummary(s) for s in ("ecg", "ppg")}
        self.rate_summary: running.RateSummary | None = None
        self.eda_summary: running.EdaSummary | None = None
        self.resp_summary: running.RespirationSummary | None = None
        self.last_beat: dict[str, float] = {}  # per source: the last settled beat
        self.first_valid_beat: float | None = None  # origin of the 4 Hz heart-rate grid
        self.beats = SeriesRing("valid", "source")  # settled beats; valid: the RR ending here
        self.ring_source: float | None = None  # source code of the ring's last beat
        self.sqi = SeriesRing("sqi")
        self.bpm = SeriesRing("bpm")
        self.eda = SeriesRing("tonic", "clean", "ok")
        self.scrs = SeriesRing("onset", "amplitude")  # by peak time
        self.resp = SeriesRing("clean", "ok")
        self.breaths = SeriesRing("amplitude", "interval")  # by peak time
        self.trimmed_before = -math.inf
        self.windows_seen: dict[str, int] = {}  # per channel: windows it was processed in
        self.flat: dict[str, int] = {}  # per channel: windows where it was flat
        self.no_beats: dict[str, int] = {}
        # Reference and questions.
        self.reference: dict[str, float] | None = None
        self.ref_notes: list[str] = []
        if self.baseline is not None:
            self.reference = dict(self.baseline.values)
            self.ref_notes = ["cues are changes from the subject's baseline"]
        self.questions: list[signals.Marker] = []
        self.responses: dict[int, Response] = {}  # by arrival index in `questions`
        self.question_notes: list[str] = []
        self.events: list[Event] = []
        self.events_left_out = 0
        for i, q in enumerate(config.questions):
            self._question(q, f"config.questions[{i}]")

    # ------------------------------------------------------------------ protocol

    def max_rate_hz(self, quality: int) -> float:
        return 0.0  # not thinnable

    def set_quality(self, quality: int) -> None:
        """LOW leaves out the cardiac quality index (see the module docstring)."""
        self.quality = quality

    def add(self, chunk: common_pb2.LiveChunk) -> None:
        state, samples = self._check(chunk)
        self._append(state, samples)

    def skip(self, chunk: common_pb2.LiveChunk) -> None:
        """Count the chunk's samples as skipped; the channel restarts after them (a gap in
        its signal). Never called for physiology (not thinnable), kept for the protocol."""
        state, samples = self._check(chunk)
        state.received += samples.size
        state.ring.restart(state.received)
        self.skipped_pending += samples.size

    def add_question(self, question: common_pb2.QuestionMarker) -> None:
        self._question(question, "question")

    def close_until(self, t_s: float) -> list[Window]:
        """Windows whose end every channel has reached (a channel more than a window behind
        the furthest one no longer holds them back). `t_s` is not needed: the chunks say
        how far each channel reaches."""
        if self.origin is None:
            return []
        reach = [c.reach_s for c in self.channels.values()]
        far = max(reach)
        horizon = min(r for r in reach if r >= far - self.window_s)
        out = []
        while self._window_end(self.closed) <= horizon + _EPS:
            out.append(self._close(final=False))
        return out

    def finish(self) -> tuple[list[Window], Window]:
        if self.origin is None:
            empty = Window(0.0, 0.0, {}, quality=0.0, usable=False, coverage=Coverage())
            empty.notes.append("no physiological samples received")
            return [], empty
        end = max(c.reach_s for c in self.channels.values())
        out = []
        settled_all = False
        while self._window_end(self.closed) <= end + _EPS:
            last = self._window_end(self.closed) >= end - REMAINDER_S
            out.append(self._close(final=last))
            settled_all = last
        if end - self._window_start(self.closed) > REMAINDER_S:
            out.append(self._close(final=True, end=end))
        elif not settled_all:  # the last window closed before finish: settle its end
            self._process(self._window_start(self.closed), end, final=True)
        self._measure_questions(final=True)
        return out, self._whole(end)

    # ------------------------------------------------------------------ input

    def _check(self, chunk: common_pb2.LiveChunk) -> tuple[ChannelState, np.ndarray]:
        """Validate one chunk as the offline path validates a channel (InvalidInput names
        the field) and check that it continues its channel."""
        if chunk.WhichOneof("payload") != "physio_samples":
            raise InvalidInput("physio_samples", "expected physiological samples")
        ch = chunk.physio_samples
        name = signals.check_channel_name(ch.name, "physio_samples.name")
        rate = signals.check_rate(ch.sampling_rate_hz, name, "physio_samples.sampling_rate_hz")
        start = signals.check_start(ch.start_s, "physio_samples.start_s")
        unit = signals.check_unit(ch.unit, name, "physio_samples.unit")
        samples = signals.check_samples(ch.samples, name, "physio_samples.samples")
        state = self.channels.get(name)
        if state is None:
            state = ChannelState(name, rate, unit, start)
            self.channels[name] = state
            self.settled[name] = -math.inf
            if self.origin is None:
                self.origin = start
            if name == "heart_rate":
                self.rate_summary = running.RateSummary(rate)
            elif name == "eda":
                self.eda_summary = running.EdaSummary(rate)
            elif name == "respiration":
                self.resp_summary = running.RespirationSummary(rate)
            return state, samples
        if not math.isclose(rate, state.rate_hz, rel_tol=1e-9):
            raise InvalidInput(
                "physio_samples.sampling_rate_hz",
                f"{name}: {rate:g} Hz differs from the {state.rate_hz:g} Hz of its first chunk",
            )
        if unit.lower() != state.unit.lower():
            raise InvalidInput(
                "physio_samples.unit",
                f"{name}: '{unit}' differs from its first chunk's '{state.unit}'",
            )
        expected = state.reach_s
        tolerance = max(0.5 / rate, 0.05)
        if start < expected - tolerance:
            raise InvalidInput(
                "physio_samples.start_s",
                f"{name}: out of order: starts at {start:g} s, before the end of its previous "
                f"chunk ({expected:g} s)",
            )
        if start > expected + tolerance:
            raise InvalidInput(
                "physio_samples.start_s",
                f"{name}: a gap: starts at {start:g} s but its previous chunk ended at "
                f"{expected:g} s; send each channel's samples without gaps",
            )
        return state, samples

    def _append(self, state: ChannelState, samples: np.ndarray) -> None:
        if samples.size == 0:
            return
        closed_until = self._window_start(self.closed)
        t = state.start_s + (state.received + np.arange(samples.size)) / state.rate_hz
        self.late += int((t < closed_until - _EPS).sum())
        state.ring.append(samples)
        state.received += samples.size
        # What no window needs any more: before the open window's overlap.
        state.ring.discard_before(state.index(closed_until - PRE_S[state.name]))

    def _question(self, q: common_pb2.QuestionMarker, at: str) -> None:
        if len(self.questions) >= signals.MAX_MARKERS:
            raise InvalidInput(at, f"more than {signals.MAX_MARKERS} questions in one stream")
        self.questions.append(signals.marker(q, at))

    # ------------------------------------------------------------------ windows

    def _window_start(self, k: int) -> float:
        assert self.origin is not None
        return self.origin + k * self.window_s

    def _window_end(self, k: int) -> float:
        return self._window_start(k + 1)

    def _close(self, final: bool, end: float | None = None) -> Window:
        """Measure the next window once, settle what it settles, and return it."""
        k = self.closed
        a, b = self._window_start(k), self._window_end(k) if end is None else end
        derived, notes = self._process(a, b, final)
        coverage = Coverage()
        for c in self.channels.values():
            coverage.received += c.count(a, b)
        coverage.skipped = min(self.skipped_pending, coverage.received)
        coverage.analysed = coverage.received - coverage.skipped
        self.skipped_pending = 0
        self.coverage.add(coverage)
        self.closed += 1
        for c in self.channels.values():
            c.ring.discard_before(c.index(self._window_start(self.closed) - PRE_S[c.name]))
        is_reference = self.baseline is None and k == 0
        if self.reference is None and k > 0:  # not settled yet (a channel lagged): now
            self._set_reference()
        if derived is None:
            window = Window(a, b, {}, quality=0.0, notes=notes, usable=False)
        else:
            m = features.measure(derived, a, b)
            reference = m.values if is_reference or self.reference is None else self.reference
            ref_notes = self.ref_notes or [self._reference_note()]
            window = cue_window(
                m,
                a,
                b,
                dict(reference),
                ref_notes,
                is_reference,
                self.baseline,
                marker_notes(self._sorted_questions(), a, b),
                scr_events(derived, self._sorted_questions(), a, b),
            )
            window.notes.extend(n for n in notes if n not in window.notes)
        window.coverage = coverage
        if not coverage.received:
            window.usable = False
            window.notes.append("no samples arrived for this window")
        return window

    def _process(
        self, a: float, b: float, final: bool
    ) -> tuple[features.Derived | None, list[str]]:
        """Run the signal processing over [a - overlap, b) per channel; settle its part."""
        chans: dict[str, signals.Channel] = {}
        notes: list[str] = []
        if "heart_rate" in self.channels:
            self._settle_rate(b)
        for name, state in self.channels.items():
            c = state.channel(a - PRE_S[name], b)
            if c.samples.size < signals.min_samples(name, state.rate_hz):
                if c.samples.size:
                    notes.append(f"{name}: {c.samples.size} samples here, too few to analyse")
                continue
            chans[name] = c
        derived = None
        if chans:
            sqi = self.quality != common_pb2.QUALITY_LOW
            if not sqi and any(n in chans for n in ("ecg", "ppg")):
                notes.append(LOW_NOTE)
            cut = self._cut(chans, b, final)  # settled even if the processing fails
            try:
                derived = features.derive(signals.Recording(chans), sqi, hold_sqi_edges=True)
            except (ValueError, IndexError, ZeroDivisionError, np.linalg.LinAlgError) as e:
                notes.append(f"the signal processing failed on this window: {e}")
            else:
                self._settle(derived, chans, cut)
                notes = list(derived.notes) + notes
        self._measure_questions(final=False)
        if self.reference is None and self._settled_all() >= self._window_end(0) - _EPS:
            self._set_reference()
        self._trim()
        return derived, notes

    # ------------------------------------------------------------------ settling

    def _cut(
        self, chans: dict[str, signals.Channel], b: float, final: bool
    ) -> dict[str, tuple[float, float]]:
        """Per processed channel, the span this processing settles (and mark it settled)."""
        cut: dict[str, tuple[float, float]] = {}
        for name, c in chans.items():
            if name == "heart_rate":
                continue  # settled with no processing (_settle_rate)
            # A channel that no longer reaches the window's end (it stopped, or fell behind
            # and no longer holds windows back) settles all it has.
            behind = c.end_s < b - _EPS
            hi = min(b, c.end_s) - (0.0 if final or behind else SETTLE_S[name])
            lo = self.settled[name]
            if hi > lo:
                cut[name] = (lo, hi)
                self.settled[name] = hi
            self.windows_seen[name] = self.windows_seen.get(name, 0) + 1
        return cut

    def _settle(
        self,
        d: features.Derived,
        chans: dict[str, signals.Channel],
        cut: dict[str, tuple[float, float]],
    ) -> None:
        """Feed the running summaries and rings with what this processing settled."""
        for note in d.notes:
            for name in chans:
                if note.startswith(f"{name}: flat signal"):
                    self.flat[name] = self.flat.get(name, 0) + 1
                elif note.startswith(f"{name}: no regular heart beats"):
                    self.no_beats[name] = self.no_beats.get(name, 0) + 1
        if d.beats is not None and d.beats.source in cut:
            self._settle_beats(d.beats, *cut[d.beats.source])
        if d.eda is not None and "eda" in cut:
            self._settle_eda(d, chans["eda"], *cut["eda"])
        if d.breathing is not None and "respiration" in cut:
            self._settle_breathing(d, *cut["respiration"])

    def _settle_rate(self, b: float) -> None:
        """The bpm series needs no processing: its samples settle as their window closes."""
        state = self.channels["heart_rate"]
        lo, hi = self.settled["heart_rate"], min(b, state.reach_s)
        if hi <= lo or self.rate_summary is None:
            return
        c = state.channel(max(lo, state.start_s), hi)
        t = c.times()
        self.rate_summary.add(t, c.samples)
        self.bpm.append(t, bpm=c.samples)
        self.settled["heart_rate"] = hi
        self.windows_seen["heart_rate"] = self.windows_seen.get("heart_rate", 0) + 1

    def _settle_beats(self, beats: features.Beats, lo: float, hi: float) -> None:
        source = beats.source
        summary = self.beat_summaries[source]
        times = beats.times_s
        code = 0.0 if source == "ecg" else 1.0
        for j in np.flatnonzero((times >= lo) & (times < hi)):
            t = float(times[j])
            prev = float(times[j - 1]) if j > 0 else None
            last = self.last_beat.get(source)
            valid = False
            if prev is not None and (last is None or abs(prev - last) <= SAME_BEAT_S):
                valid = bool(beats.valid[j - 1])
                summary.add(t, t - prev, valid)
            elif prev is not None and last is not None and prev > last:
                # A beat this processing found and the previous one did not: count both
                # intervals, the one to the unsettled beat as implausible (unknown).
                summary.add(prev, prev - last, False)
                valid = bool(beats.valid[j - 1])
                summary.add(t, t - prev, valid)
            elif last is not None:
                summary.add(t, t - last, False)
            if valid and self.first_valid_beat is None:
                self.first_valid_beat = t
            # In the ring, an interval counts only between beats of one source.
            same = self.ring_source == code
            self.beats.append(
                np.array([t]), valid=np.array([valid and same]), source=np.array([code])
            )
            self.ring_source = code
            self.last_beat[source] = t
        if beats.sqi is not None:
            sel = (beats.sqi.times_s >= lo) & (beats.sqi.times_s < hi)
            summary.add_sqi(beats.sqi.values[sel])
            self.sqi.append(beats.sqi.times_s[sel], sqi=beats.sqi.values[sel])

    def _settle_eda(
        self, d: features.Derived, channel: signals.Channel, lo: float, hi: float
    ) -> None:
        e = d.eda
        assert e is not None and self.eda_summary is not None
        sel = (e.times_s >= lo) & (e.times_s < hi)
        ok = e.ok[sel] if e.ok is not None else np.ones(int(sel.sum()), dtype=bool)
        flags = d.flags.get("eda")
        by_reason = {r: m[sel] for r, m in flags.by_reason.items()} if flags else {}
        self.eda_summary.add_samples(channel.samples[sel], e.tonic_us[sel], ok, by_reason)
        clean = e.clean_us[sel] if e.clean_us is not None else e.tonic_us[sel]
        self.eda.append(e.times_s[sel], tonic=e.tonic_us[sel], clean=clean, ok=ok)
        peaks = (e.scr_times_s >= lo) & (e.scr_times_s < hi)
        self.eda_summary.add_scrs(e.scr_amplitudes_us[peaks])
        onsets = e.scr_onsets_s if e.scr_onsets_s is not None else e.scr_times_s
        self.scrs.append(
            e.scr_times_s[peaks], onset=onsets[peaks], amplitude=e.scr_amplitudes_us[peaks]
        )
        for event in scr_events(d, self._sorted_questions(), lo, hi):
            if len(self.events) < MAX_SUMMARY_EVENTS:
                self.events.append(event)
            else:
                self.events_left_out += 1

    def _settle_breathing(self, d: features.Derived, lo: float, hi: float) -> None:
        br = d.breathing
        assert br is not None and br.signal is not None and self.resp_summary is not None
        t = br.signal.times_s
        sel = (t >= lo) & (t < hi)
        ok = br.ok[sel] if br.ok is not None else np.ones(int(sel.sum()), dtype=bool)
        flags = d.flags.get("respiration")
        by_reason = {r: m[sel] for r, m in flags.by_reason.items()} if flags else {}
        self.resp_summary.add_samples(ok, by_reason)
        self.resp.append(t[sel], clean=br.signal.values[sel], ok=ok)
        peaks = (br.peak_times_s >= lo) & (br.peak_times_s < hi)
        self.resp_summary.add_breaths(br.amplitudes[peaks], br.intervals_s[peaks])
        self.breaths.append(
            br.peak_times_s[peaks], amplitude=br.amplitudes[peaks], interval=br.intervals_s[peaks]
        )

    def _settled_all(self) -> float:
        """Every channel that keeps up is settled up to here."""
        reach = {n: c.reach_s for n, c in self.channels.items()}
        far = max(reach.values())
        keeping_up = [self.settled[n] for n, r in reach.items() if r >= far - self.window_s]
        return min(keeping_up)

    def _trim(self) -> None:
        """Let go of settled series no reference or question response can need any more."""
        keep = self._settled_all() - (self.window_s + RESPONSE_SPAN_S)
        if self.reference is None:
            keep = min(keep, self._window_start(0))
        if keep <= self.trimmed_before:
            return
        self.trimmed_before = keep
        for ring in (self.beats, self.sqi, self.bpm, self.eda, self.scrs, self.resp, self.breaths):
            ring.trim(keep)

    def _settled_derived(self, lo: float, hi: float) -> features.Derived:
        """The settled series in [lo, hi) as a features.Derived (for features.measure and
        responses.measure_response)."""
        spans: dict[str, tuple[float, float]] = {}
        ch = self.channels
        beats = None
        t, v = self.beats.between(lo, hi)
        valid = v["valid"][1:].astype(bool)
        if t.size >= 3 and valid.sum() >= 2:
            source = "ecg" if (v["source"] == 0.0).sum() * 2 >= t.size else "ppg"
            st, sv = self.sqi.between(lo, hi)
            sqi = features.Series(st, sv["sqi"]) if st.size else None
            beats = features.Beats(t, valid, source, sqi)
            if source in ch:
                spans["cardiac"] = ch[source].span
        heart_rate = None
        if beats is None and "heart_rate" in ch:
            ht, hv = self.bpm.between(lo, hi)
            if ht.size:
                c = ch["heart_rate"]
                heart_rate = signals.Channel("heart_rate", hv["bpm"], c.rate_hz, float(ht[0]))
            spans["cardiac"] = ch["heart_rate"].span
        if "cardiac" not in spans:
            for name in CARDIAC:
                if name in ch:
                    spans["cardiac"] = ch[name].span
                    break
        spans.update((name, ch[name].span) for name in ("eda", "respiration") if name in ch)
        # The settled rings hold rows only for channels the stream has.
        eda = None
        et, ev = self.eda.between(lo, hi)
        if et.size:
            pt, pv = self.scrs.between(lo, hi)
            eda = features.Electrodermal(
                et,
                ev["tonic"],
                pt,
                pv["amplitude"],
                pv["onset"],
                ev["clean"],
                ev["ok"].astype(bool),
            )
        breathing = None
        rt, rv = self.resp.between(lo, hi)
        if rt.size:
            bt, bv = self.breaths.between(lo, hi)
            breathing = features.Breathing(
                bt,
                bv["amplitude"],
                bv["interval"],
                features.Series(rt, rv["clean"]),
                rv["ok"].astype(bool),
            )
        return features.Derived(beats, heart_rate, eda, breathing, spans, ())

    # ------------------------------------------------------------------ reference, questions

    def _reference_note(self) -> str:
        a, b = self._window_start(0), self._window_end(0)
        return (
            f"no baseline given: cues are changes from this recording's first window "
            f"({a:g}-{b:g} s)"
        )

    def _set_reference(self) -> None:
        a, b = self._window_start(0), self._window_end(0)
        margin = max(PRE_S.values())
        m = features.measure(self._settled_derived(a - margin, b + margin), a, b)
        self.reference = dict(m.values)
        self.ref_notes = [self._reference_note()]

    def _order(self) -> list[int]:
        """Arrival indices of the questions in time order (offline sorts markers by onset)."""
        return sorted(range(len(self.questions)), key=lambda i: self.questions[i].start_s)

    def _sorted_questions(self) -> tuple[signals.Marker, ...]:
        return tuple(self.questions[i] for i in self._order())

    def _measure_questions(self, final: bool) -> None:
        """Measure every question whose scoring window the settled series have passed."""
        if len(self.responses) == len(self.questions):
            return
        order = self._order()
        markers = tuple(self.questions[i] for i in order)
        settled = math.inf if final else self._settled_all()
        for i, (key, mk) in enumerate(zip(order, markers, strict=True)):
            if key in self.responses:
                continue
            end = scoring_end(markers, i)
            if end > settled + _EPS:
                continue
            if mk.start_s - PRE_STIMULUS_S < self.trimmed_before:
                self.responses[key] = Response(mk, 0, end)
                self.question_notes.append(
                    f"{mk.kind} question at {mk.start_s:g} s arrived after the signals around "
                    "it were let go: its response is not measured"
                )
                continue
            d = self._settled_derived(mk.start_s - PRE_STIMULUS_S - 3.0, end + 1.0)
            hr = features.heart_rate_series(d, origin_s=self.first_valid_beat)
            self.responses[key] = measure_response(d, hr, mk, 0, end)

    def _report(self) -> examination.Report:
        responses = [
            dataclasses.replace(self.responses[key], number=n + 1)
            for n, key in enumerate(self._order())
        ]
        report = examination.report_responses(responses)
        report.notes.extend(self.question_notes)
        return report

    # ------------------------------------------------------------------ the whole input

    def _whole(self, end: float) -> Window:
        """The whole-input Window from the running summaries (offline: summarize)."""
        start = min(c.start_s for c in self.channels.values())
        values: dict[str, float] = {}
        qualities: list[float] = []
        notes: list[str] = []
        derived_notes = self._whole_notes()
        for result in self._group_results(start, end):
            v, q, n = result
            values.update({k: x for k, x in v.items() if math.isfinite(x)})
            qualities.append(q)
            notes.extend(n)
        m = features.Measures(values, float(np.mean(qualities)) if qualities else 0.0, tuple(notes))
        if self.reference is None:  # a stream shorter than two windows
            self._set_reference()
        assert self.reference is not None
        only_reference = self.baseline is None and self._window_end(0) >= end - _EPS
        window = cue_window(
            m,
            start,
            end,
            dict(self.reference),
            self.ref_notes,
            only_reference,
            self.baseline,
            [],
            list(self.events),
        )
        report = self._report()
        window.features.update(report.features)
        window.units.update(report.units)
        extra = []
        if self.events_left_out:
            extra.append(
                f"{self.events_left_out} more skin conductance responses are listed in their "
                f"windows' updates, not here (the first {MAX_SUMMARY_EVENTS} are)"
            )
        if self.late:
            extra.append(
                f"{self.late} samples arrived after their window had closed: used as context "
                "for the next window, not analysed in their own"
            )
        window.notes = list(dict.fromkeys(derived_notes + window.notes + report.notes + extra))
        total = Coverage()
        total.add(self.coverage)
        total.received += self.late
        window.coverage = total
        return window

    def _group_results(self, start: float, end: float) -> list[running.Result]:
        """features.measure's three groups over the whole stream, from the summaries."""
        span = end - start
        ch = self.channels
        out: list[running.Result] = []

        def covered(name: str) -> float:
            c = ch[name]
            return max(0.0, min(c.reach_s, end) - max(c.start_s, start))

        used = self._cardiac_source()
        if used in ("ecg", "ppg"):
            out.append(self.beat_summaries[used].result(span, covered(used)))
        elif used == "heart_rate" and self.rate_summary is not None:
            out.append(self.rate_summary.result(covered("heart_rate")))
        elif any(n in ch for n in CARDIAC):
            out.append(({}, 0.0, []))
        if self.eda_summary is not None:
            out.append(self.eda_summary.result(span, covered("eda")))
        if self.resp_summary is not None:
            out.append(self.resp_summary.result(span, covered("respiration")))
        return out

    def _cardiac_source(self) -> str | None:
        """As features.derive: ECG beats, else PPG beats, else the bpm series."""
        for source in ("ecg", "ppg"):
            if source in self.channels and self.beat_summaries[source].valid.n >= 2:
                return source
        return "heart_rate" if "heart_rate" in self.channels else None

    def _whole_notes(self) -> list[str]:
        """features.derive's notes over the whole stream, from the running counts."""
        notes: list[str] = []
        cardiac = [n for n in CARDIAC if n in self.channels]
        used = self._cardiac_source()
        for name in cardiac:
            seen = self.windows_seen.get(name, 0)
            if self.flat.get(name):
                notes.append(
                    f"{name}: flat signal (sensor off?) in {self.flat[name]} of {seen} "
                    "windows, not analysed there"
                )
            if self.no_beats.get(name):
                notes.append(
                    f"{name}: no regular heart beats found in {self.no_beats[name]} of "
                    f"{seen} windows (sensor or signal problem)"
                )
        if used is not None and len(cardiac) > 1:
            notes.append(f"heart rate measured from {used} (of {', '.join(cardiac)})")
        if used == "heart_rate":
            notes.append("heart rate from the bpm series: no HRV (needs beat-to-beat intervals)")
        elif used is not None:
            notes.extend(self.beat_summaries[used].notes())
        for name, summary in (("eda", self.eda_summary), ("respiration", self.resp_summary)):
            if summary is None:
                continue
            if self.flat.get(name):
                notes.append(
                    f"{name}: flat signal in {self.flat[name]} of "
                    f"{self.windows_seen.get(name, 0)} windows, not analysed there"
                )
            notes.extend(summary.notes())
        return notes

    # ------------------------------------------------------------------ introspection

    def buffer_sizes(self) -> dict[str, int]:
        """Items held per buffer (tests assert they stay bounded)."""
        sizes = {f"ring:{n}": len(c.ring) for n, c in self.channels.items()}
        for name in ("beats", "sqi", "bpm", "eda", "scrs", "resp", "breaths"):
            sizes[name] = len(getattr(self, name))
        for source, s in self.beat_summaries.items():
            sizes[f"band_points:{source}"] = len(s.bands.points)
        sizes["events"] = len(self.events)
        sizes["questions"] = len(self.questions)
        return sizes
