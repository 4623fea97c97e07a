"""The live session: chunks measured once as they come, fixed windows on the stream's
timeline, bounded buffers, and a whole-input result that means what the offline one means."""

from __future__ import annotations

import gc
import math
import tracemalloc
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import soundfile as sf

from services.audio import egemaps, features, live
from services.audio.analyzer import AudioAnalyzer
from services.audio.report import NO_REFERENCE_NOTE
from services.audio.tests.signals import encode, harmonic, syllables
from veritas.analysis import InvalidInput, Window
from veritas.v1 import common_pb2, modality_pb2

SAMPLE = Path(__file__).resolve().parents[3] / "samples" / "speech.wav"
MODEL = SAMPLE.parents[1] / "models" / "repository" / "audio_cues" / "1" / "model.onnx"
RATE = 16_000
LOW, MEDIUM, HIGH = common_pb2.QUALITY_LOW, common_pb2.QUALITY_MEDIUM, common_pb2.QUALITY_HIGH


@pytest.fixture(scope="module")
def analyzer() -> AudioAnalyzer:
    return AudioAnalyzer()


def chunk(x: np.ndarray, t: float, rate: int = RATE, channels: int = 1) -> common_pb2.LiveChunk:
    pcm = (np.clip(x, -1, 1) * 32767).astype("<i2").tobytes()
    return common_pb2.LiveChunk(
        audio_chunk=common_pb2.AudioChunk(
            pcm16=pcm, sample_rate_hz=rate, channels=channels, timestamp_s=t
        )
    )


def config(
    window_s: float = 0.0,
    baseline: bytes = b"",
    questions: Sequence[tuple[float, float]] = (),
) -> common_pb2.StreamConfig:
    c = common_pb2.StreamConfig(options=common_pb2.Options(window_s=window_s))
    if baseline:
        c.baseline.audio.CopyFrom(common_pb2.Media(data=baseline, mime_type="audio/wav"))
    for start, end in questions:
        c.questions.add(kind=common_pb2.QuestionMarker.RELEVANT, start_s=start, end_s=end)
    return c


def stream(
    session: live.AudioLiveSession,
    x: np.ndarray,
    chunk_s: float = 0.1,
    start: float = 0.0,
) -> tuple[list[Window], Window]:
    """Feed x as live chunks, collecting windows as the servicer does; then finish."""
    n = int(round(chunk_s * RATE))
    windows: list[Window] = []
    for i in range(0, len(x), n):
        session.add(chunk(x[i : i + n], start + i / RATE))
        windows += session.close_until(start + i / RATE)
    rest, whole = session.finish()
    return windows + rest, whole


def offline(
    analyzer: AudioAnalyzer,
    x: np.ndarray,
    window_s: float,
    baseline: bytes = b"",
    questions: Sequence[tuple[float, float]] = (),
) -> tuple[list[Window], Window]:
    r = modality_pb2.ModalityRequest(options=common_pb2.Options(window_s=window_s))
    r.input.media.CopyFrom(common_pb2.Media(data=encode(x, RATE, "WAV"), mime_type="audio/wav"))
    if baseline:
        r.baseline.media.CopyFrom(common_pb2.Media(data=baseline))
    for start, end in questions:
        r.questions.add(kind=common_pb2.QuestionMarker.RELEVANT, start_s=start, end_s=end)
    prepared = analyzer.prepare(r)
    windows = list(analyzer.windows(prepared, r.options))
    return windows, analyzer.summarize(prepared, windows)


def score(pitch_change_st: float) -> float:
    """The served audio_cues model's output for one pitch change (its model.onnx, by path)."""
    session = ort.InferenceSession(str(MODEL), providers=["CPUExecutionProvider"])
    x = np.array([[pitch_change_st]], dtype=np.float32)
    return float(session.run(["probability"], {"features": x})[0][0, 0])


def sample(repeats: int = 1) -> np.ndarray:
    x, rate = sf.read(SAMPLE, dtype="float32")
    assert rate == RATE and x.ndim == 1
    return np.concatenate([x] * repeats)


# Tolerances for live vs offline whole-input features: (absolute, relative).
AGREEMENT = {
    "speech_ratio": (0.03, 0),
    "voiced_s": (0, 0.05),
    "pitch_mean_hz": (1.0, 0),
    "pitch_sd_st": (0.15, 0),
    "pitch_range_st": (0.3, 0),
    "pitch_change_st": (0.14, 0),
    "onset_latency_s": (0.031, 0),
    "pause_count": (0, 0),
    "jitter_local_pct": (0, 0.1),
    "shimmer_local_pct": (0, 0.1),
    "hnr_db": (0.5, 0),
    "loudness_mean_dbfs": (0.5, 0),
    "articulation_rate_syl_s": (0, 0.15),
    "alpha_ratio_db": (0.5, 0),
    "hammarberg_index_db": (0.5, 0),
    "egemaps.loudness_sma3_amean": (0, 0.05),
    "egemaps.F0semitoneFrom27.5Hz_sma3nz_amean": (0.3, 0),
    "egemaps.HNRdBACF_sma3nz_amean": (0.5, 0),
}


@pytest.mark.parametrize(("repeats", "window_s"), [(1, 2.0), (3, 5.0)])
def test_live_whole_input_agrees_with_offline(
    analyzer: AudioAnalyzer, repeats: int, window_s: float
) -> None:
    """The bundled speech sample (4 s; and three times over, 12 s with two real pauses),
    sent as 0.1 s chunks, against the offline analysis of the same audio, with a 110 Hz
    baseline so the pitch change means something.

    Why they may differ, and by how much (measured, the larger of the two cases; the test
    prints the differences):
    - windows: live windows are fixed (the 12 s stream ends with a 2 s window; offline joins
      that piece to the one before), and Praat tracks pitch per window with 0.5 s of run-in
      and the speaker range (first-pass quartiles) of the stream so far, not of the whole
      recording; windows close at their end, so a window's last ~20 ms has no pitch frame.
      Measured: mean pitch 0.055 Hz, pitch change 0.008 st, model score 0.0002.
      The tolerance, 1 Hz (0.14 st at 125 Hz), moves the model's score by under 0.01 (its
      assumed SD of a pitch change is 2 st): far inside what the score means.
    - the VAD energy gate is the 95th percentile of the stream so far (offline: of the whole
      recording), so a few quiet frames near the start may be classed differently: speech
      ratio within 0.03 (measured 0.013), loudness over speech within 0.5 dB (0.35 dB).
    - a syllable nucleus at a window edge may be lost (its dip lies past the audio received):
      13 vs 12 and 40 vs 38 nuclei, articulation rate 8% lower; tolerance 15%.
    - jitter, shimmer and eGeMAPS are weighted means of the windows' values, not measured
      over the whole at once (glottal pulses and frames at window edges are lost): jitter
      1.5%, shimmer 2.5% relative (tolerance 10%); spectral tilt 0.36 dB (0.5 dB); eGeMAPS
      means of loudness 0.1%, F0 0.07 st, HNR 0.04 dB. Only means are compared: eGeMAPS
      spreads and percentiles are averages of the windows' (see summary.py).
    """
    x = sample(repeats)
    baseline = encode(harmonic(110.0, 2.0), RATE, "WAV")
    _, want = offline(analyzer, x, window_s, baseline)
    windows, got = stream(analyzer.open_live(config(window_s, baseline)), x)
    assert (got.start_s, got.end_s) == (0.0, len(x) / RATE)
    assert [(w.start_s, w.end_s) for w in windows] == [
        (k * window_s, min((k + 1) * window_s, len(x) / RATE))
        for k in range(math.ceil(len(x) / RATE / window_s))
    ]
    shown = [*AGREEMENT, "syllable_count"]
    moved = score(got.features["pitch_change_st"]) - score(want.features["pitch_change_st"])
    print(
        f"\n{repeats}x the sample, {window_s:g} s windows, live - offline: "
        + ", ".join(f"{n} {got.features[n] - want.features[n]:+.3g}" for n in shown)
        + f"; model score {moved:+.2g}"
    )
    for name, (absolute, relative) in AGREEMENT.items():
        a, b = want.features[name], got.features[name]
        assert b == pytest.approx(a, abs=absolute, rel=relative), name
    assert set(want.features) == set(got.features)
    assert got.units == want.units
    assert (
        abs(score(got.features["pitch_change_st"]) - score(want.features["pitch_change_st"])) < 0.01
    )
    assert got.quality == pytest.approx(want.quality, abs=0.03)  # the speech ratio
    assert got.baseline["pitch_mean_hz"] == pytest.approx(110.0, abs=0.5)
    assert got.coverage is not None and got.coverage.received == math.ceil(len(x) / 1600)


def test_without_baseline_the_whole_input_says_it_has_no_reference(
    analyzer: AudioAnalyzer,
) -> None:
    """Compared with itself, the pitch change is 0 by construction (score exactly 0.5): both
    paths report confidence 0 and say why, instead of a confident 0.5."""
    x = sample()
    offline_windows, want = offline(analyzer, x, 2.0)
    windows, got = stream(analyzer.open_live(config(2.0)), x)
    for whole in (want, got):
        assert whole.quality == 0.0
        assert NO_REFERENCE_NOTE in whole.notes
        assert whole.features["pitch_change_st"] == 0.0
        assert score(whole.features["pitch_change_st"]) == 0.5
    # Windows compare with the recording's average (offline) or the earlier windows' mean
    # (live) and keep their confidence, except the first live one, which has nothing before.
    assert all(w.quality > 0 for w in offline_windows)
    first, second = windows
    assert first.quality == 0.0 and live.FIRST_WINDOW_NOTE in first.notes
    assert first.features["pitch_change_st"] == 0.0
    assert second.quality == pytest.approx(second.features["speech_ratio"]) and second.quality > 0
    assert live.FIRST_WINDOW_NOTE not in second.notes
    assert live.LIVE_NO_BASELINE_NOTE in second.notes


def test_windows_compare_with_the_mean_of_the_earlier_windows(analyzer: AudioAnalyzer) -> None:
    x = np.concatenate([harmonic(150.0, 4.0), harmonic(200.0, 2.0)])
    windows, whole = stream(analyzer.open_live(config(2.0)), x)
    changes = [w.features["pitch_change_st"] for w in windows]
    assert changes[0] == 0.0 and windows[0].quality == 0.0  # nothing earlier
    assert changes[1] == pytest.approx(0.0, abs=0.05)
    assert changes[2] == pytest.approx(12 * math.log2(200 / 150), abs=0.1)
    assert whole.features["pitch_mean_hz"] == pytest.approx((150 * 4 + 200 * 2) / 6, abs=1.0)
    # With a baseline, the first window has its reference.
    baseline = encode(harmonic(150.0, 2.0), RATE, "WAV")
    windows, _ = stream(analyzer.open_live(config(2.0, baseline)), x)
    assert windows[0].quality > 0.9 and live.FIRST_WINDOW_NOTE not in windows[0].notes
    assert windows[2].features["pitch_change_st"] == pytest.approx(4.98, abs=0.1)


def test_windows_are_fixed_on_the_stream_timeline(analyzer: AudioAnalyzer) -> None:
    """Windows start at the first chunk's timestamp; the last, partial one keeps its own
    end; each carries the chunks that started in it."""
    session = analyzer.open_live(config(2.0))
    windows, whole = stream(session, harmonic(150.0, 4.5), chunk_s=0.5, start=10.0)
    assert [(w.start_s, w.end_s) for w in windows] == [(10.0, 12.0), (12.0, 14.0), (14.0, 14.5)]
    assert [w.coverage.received for w in windows if w.coverage] == [4, 4, 1]
    assert all(w.coverage and w.coverage.analysed == w.coverage.received for w in windows)
    assert any("partial window" in n for n in windows[-1].notes)
    assert windows[1].features["pitch_mean_hz"] == pytest.approx(150.0, abs=0.5)
    assert (whole.start_s, whole.end_s) == (10.0, 14.5)
    assert whole.coverage == session.total and whole.coverage.received == 9


def test_a_window_closes_with_the_chunk_that_reaches_its_end(analyzer: AudioAnalyzer) -> None:
    """No lookahead: the chunk whose audio reaches a window's end closes it, whether or not
    the end falls on a 30 ms VAD frame's edge (1.0 s does not; 2.0 s neither)."""
    session = analyzer.open_live(config(1.0))
    x = harmonic(150.0, 2.0)
    returned = []
    for i in range(20):
        session.add(chunk(x[i * 1600 : (i + 1) * 1600], i * 0.1))
        returned.append([(w.start_s, w.end_s) for w in session.close_until(i * 0.1)])
    assert returned[9] == [(0.0, 1.0)]  # the chunk at 0.9 s: audio reaches 1.0 s
    assert returned[19] == [(1.0, 2.0)]
    assert all(r == [] for i, r in enumerate(returned) if i not in (9, 19))
    rest, whole = session.finish()
    assert rest == [] and whole.end_s == pytest.approx(2.0)


def test_speech_going_on_at_a_window_edge_is_one_run_across_it(analyzer: AudioAnalyzer) -> None:
    """A window closed at its end decides its edge provisionally: speech that starts 60 ms
    before the edge (too short for a syllable so far) is kept, and the next window carries
    the same run on. Both windows together measure what one window over the span measures."""
    x = np.concatenate([np.zeros(int(0.94 * RATE), np.float32), harmonic(150.0, 1.06)])
    session = analyzer.open_live(config(1.0))
    windows = []
    for i in range(20):
        session.add(chunk(x[i * 1600 : (i + 1) * 1600], i * 0.1))
        windows += session.close_until(i * 0.1)
    first, second = windows
    assert first.features["speech_s"] == pytest.approx(0.06, abs=0.031)
    assert second.features["speech_s"] == pytest.approx(1.0, abs=0.031)
    assert second.features["pause_count"] == 0  # no gap at the edge: one run


def test_quality_levels_change_the_feature_set(analyzer: AudioAnalyzer) -> None:
    """LOW: voice activity and pitch; MEDIUM: + voice quality, loudness, syllable rate;
    HIGH: + eGeMAPS. The model's input is measured at every level."""
    session = analyzer.open_live(config(2.0))
    levels = [LOW, MEDIUM, HIGH]
    session.set_quality(levels[0])
    x = syllables(6.0)
    windows: list[Window] = []
    for i in range(0, len(x), 1600):
        session.add(chunk(x[i : i + 1600], i / RATE))
        closed = session.close_until(i / RATE)
        windows += closed
        if closed and len(windows) < len(levels):  # measured at the level set when it closes
            session.set_quality(levels[len(windows)])
    rest, whole = session.finish()
    low, medium, high = windows + rest
    voice = {"jitter_local_pct", "shimmer_local_pct", "hnr_db", "loudness_mean_dbfs"}
    voice |= {"syllable_count", "articulation_rate_syl_s"}
    names = set(egemaps.feature_names())
    for w in (low, medium, high):
        assert math.isfinite(w.features["pitch_change_st"])
        assert {"speech_ratio", "pause_count", "pitch_mean_hz", "pitch_sd_st"} <= set(w.features)
    assert not voice & set(low.features) and not names & set(low.features)
    assert voice <= set(medium.features) and not names & set(medium.features)
    assert voice <= set(high.features) and names <= set(high.features)
    assert "alpha_ratio_db" in high.features and "alpha_ratio_db" not in medium.features
    assert any("LOW quality" in n for n in low.notes)
    assert not any("quality" in n for n in high.notes)
    # The whole input summarises each measure over the windows that had it, and says so.
    assert voice <= set(whole.features) and names <= set(whole.features)
    assert any("from 2 of 3 windows" in n for n in whole.notes)
    assert any("eGeMAPS is from 1 of 3 windows" in n for n in whole.notes)


def test_questions_reach_response_latency_in_a_live_session(analyzer: AudioAnalyzer) -> None:
    """One question known at the start (config.questions), two marked during the stream
    (LiveChunk.question): the same latencies as the offline analysis of the same audio."""
    rng = np.random.default_rng(3)

    def quiet(s: float) -> np.ndarray:
        return rng.normal(0, 1e-4, int(s * RATE)).astype(np.float32)

    # q1 ends 1.0 -> speech 1.4-2.9; q2 ends 4.0 -> speech 4.9-6.4; q3 ends 7.0 -> silence.
    x = np.concatenate([quiet(1.4), syllables(1.5), quiet(2.0), syllables(1.5), quiet(2.6)])
    questions = [(0.5, 1.0), (3.5, 4.0), (6.5, 7.0)]
    _, want = offline(analyzer, x, 2.0, questions=questions)
    session = analyzer.open_live(config(2.0, questions=questions[:1]))
    marked = dict(enumerate(questions))
    windows: list[Window] = []
    for i in range(0, len(x), 1600):
        t = i / RATE
        for q, (start, end) in list(marked.items()):
            if q and start <= t:  # asked now: the servicer passes LiveChunk.question on
                session.add_question(common_pb2.QuestionMarker(start_s=start, end_s=end))
                del marked[q]
        session.add(chunk(x[i : i + 1600], t))
        windows += session.close_until(t)
    rest, got = session.finish()
    windows += rest
    assert got.features["response_count"] == want.features["response_count"] == 2
    for name in ("response_latency_mean_s", "response_latency_max_s"):
        assert got.features[name] == pytest.approx(want.features[name], abs=0.031)
    assert got.features["response_latency_max_s"] == pytest.approx(0.9, abs=0.065)
    assert "no speech after 1 of 3 questions" in got.notes
    assert [(e.onset_s, round(e.magnitude, 2)) for e in got.events] == [
        (e.onset_s, round(e.magnitude, 2)) for e in want.events if e.name == "response"
    ]
    # Each answer is reported with the window its first speech is in, as the stream goes.
    in_windows = [(w.start_s, e.onset_s) for w in windows for e in w.events]
    assert in_windows == [(0.0, 1.0), (4.0, 4.0)]
    assert got.units["response_latency_mean_s"] == "s"


def test_bad_live_input_names_the_field(analyzer: AudioAnalyzer) -> None:
    def field(call) -> str:  # noqa: ANN001
        with pytest.raises(InvalidInput) as caught:
            call()
        return caught.value.field

    assert field(lambda: analyzer.open_live(config(-1.0))) == "config.options.window_s"
    assert field(lambda: analyzer.open_live(config(math.nan))) == "config.options.window_s"
    assert field(lambda: analyzer.open_live(config(3600.0))) == "config.options.window_s"
    noise = np.random.default_rng(0).normal(0, 0.05, RATE).astype(np.float32)
    bad = encode(noise, RATE, "WAV")
    assert field(lambda: analyzer.open_live(config(baseline=bad))) == "config.baseline.audio.data"
    assert field(lambda: analyzer.open_live(config(questions=[(2.0, 1.0)]))) == (
        "config.questions[0].end_s"
    )
    session = analyzer.open_live(config())
    session.add(chunk(harmonic(150.0, 0.1), 0.0))
    assert field(lambda: session.add(chunk(harmonic(150.0, 0.1, 8_000), 0.1, 8_000))) == (
        "audio_chunk.sample_rate_hz"
    )
    odd = common_pb2.LiveChunk(
        audio_chunk=common_pb2.AudioChunk(pcm16=b"\0\0\0", sample_rate_hz=RATE)
    )
    assert field(lambda: session.add(odd)) == "audio_chunk.pcm16"
    assert field(lambda: session.add_question(common_pb2.QuestionMarker(start_s=math.inf))) == (
        "question.start_s"
    )
    text = common_pb2.LiveChunk(transcript_segment=common_pb2.TranscriptSegment(text="hi"))
    assert field(lambda: session.add(text)) == "transcript_segment"


def test_short_or_silent_stream_is_an_unusable_window_not_an_error(
    analyzer: AudioAnalyzer,
) -> None:
    for x in (harmonic(150.0, 0.2), np.zeros(RATE, np.float32), harmonic(150.0, 0.05)):
        windows, whole = stream(analyzer.open_live(config()), x)
        assert len(windows) == 1 and not windows[0].usable
        assert not whole.usable and "voiced speech" in whole.notes[-1]
    _, whole = analyzer.open_live(config()).finish()
    assert not whole.usable and whole.notes == ["no audio received"]


def test_stereo_44k1_chunks_are_analysed_like_16k_mono(analyzer: AudioAnalyzer) -> None:
    x = harmonic(150.0, 3.0, 44_100)
    stereo = np.stack([x, x], axis=1)
    session = analyzer.open_live(config(1.0))
    n = 4_410
    for i in range(0, len(stereo), n):
        session.add(chunk(stereo[i : i + n].reshape(-1), i / 44_100, 44_100, 2))
    rest, whole = session.finish()
    assert [(w.start_s, w.end_s) for w in session.close_until(0) + rest] == [
        (0.0, 1.0),
        (1.0, 2.0),
        (2.0, 3.0),
    ]
    assert whole.features["pitch_mean_hz"] == pytest.approx(150.0, abs=0.5)
    assert whole.end_s == pytest.approx(3.0, abs=1 / RATE)


def speech_like(period_s: float = 2.1, voiced_s: float = 1.5) -> np.ndarray:
    """One cycle of a speech-like signal: 4 Hz syllables at 140 Hz, then silence (noise)."""
    x = np.concatenate(
        [syllables(voiced_s), np.zeros(int((period_s - voiced_s) * RATE), np.float32)]
    )
    return x + np.random.default_rng(0).normal(0, 1e-4, len(x)).astype(np.float32)


def test_a_twenty_minute_stream_keeps_its_buffers_bounded(analyzer: AudioAnalyzer) -> None:
    """20 minutes of stream time in 0.1 s chunks (HIGH for the first 10 s, then LOW: each
    window is measured once, so the cost is the stream's length, not its square). Every
    buffer stays within a bound set by the window length alone, and Python memory does not
    grow from minute 2 to the end (tracemalloc: under 256 KiB, all of it transient)."""
    window_s, minutes = 5.0, 20
    cycle = (speech_like() * 32767).astype("<i2")
    session = analyzer.open_live(config(window_s))
    bound = {
        "samples": (window_s + 2.0) * RATE,  # window + 0.5 s run-in + lookahead + 1 s piece
        "vad": (window_s + 2.0) / features.FRAME_S,
        "speech": (window_s + live.HISTORY_S + 0.1) / features.FRAME_S,
    }
    chunks = minutes * 600
    windows, last_end = 0, 0.0
    question_every = 150  # a question every 15 s, answered by the next burst
    for i in range(chunks):
        if i == 101:  # after the 2nd window closed
            session.set_quality(LOW)
        if i % question_every == 0:
            t = i * 0.1
            session.add_question(common_pb2.QuestionMarker(start_s=t, end_s=t + 0.05))
        at = (np.arange(1600) + i * 1600) % len(cycle)
        session.add(
            common_pb2.LiveChunk(
                audio_chunk=common_pb2.AudioChunk(
                    pcm16=cycle[at].tobytes(), sample_rate_hz=RATE, timestamp_s=i * 0.1
                )
            )
        )
        for w in session.close_until(i * 0.1):  # counted, not kept (tracemalloc sees all)
            assert w.start_s == pytest.approx(last_end) and w.end_s == pytest.approx(
                w.start_s + window_s
            )
            windows, last_end = windows + 1, w.end_s
        assert session.samples.size <= bound["samples"]
        assert session.vad.size <= bound["vad"] and session.levels.size <= bound["vad"]
        assert session.speech.size <= bound["speech"]
        assert len(session.coverage) <= 2 and len(session.ready) <= 1
        assert len(session.responses.pending) <= 2
        if i == 1200:  # minute 2
            tracemalloc.start()
            gc.collect()  # memory held, not garbage no collection has reached yet
            before = tracemalloc.get_traced_memory()[0]
    gc.collect()
    growth = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    rest, whole = session.finish()
    assert growth < 256 * 1024
    assert windows + len(rest) == minutes * 60 / window_s
    assert whole.coverage is not None and whole.coverage.received == chunks
    f = whole.features
    assert f["speech_ratio"] == pytest.approx(1.5 / 2.1, abs=0.02)
    assert f["pitch_mean_hz"] == pytest.approx(140.0, abs=1.0)
    cycles = minutes * 60 / 2.1
    assert f["pause_count"] == pytest.approx(cycles, abs=2)
    assert f["pause_mean_s"] == pytest.approx(0.6, abs=0.05)
    assert f["response_count"] == chunks // question_every
    assert len(whole.events) == chunks // question_every
    assert any("eGeMAPS is from 2 of 240 windows" in n for n in whole.notes)
