"""The corpus of malformed inputs: each case is an input and what it must get.

`code` is the gRPC status code name the call must end with ("OK": the call succeeds, and
`modality`, when given, is FAILED or SKIPPED with a plain reason); `field` is how the error
message must start (the field it names). A case runs over every transport in `transports`.
Built here rather than read from a file because most inputs are bytes made on the fly
(corrupt media, NaN samples); the table below is the data.
"""

from __future__ import annotations

import base64
import dataclasses
import io
import math
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import soundfile as sf

from tests.conftest import SAMPLES
from veritas.v1 import common_pb2 as pb
from veritas.v1 import modality_pb2, veritas_pb2

NAN, INF = math.nan, math.inf
SPEECH = (SAMPLES / "speech.wav").read_bytes()
VIDEO = (SAMPLES / "face.mp4").read_bytes()
TEXT = "I was at home all evening and I never took the money."
ANY_FIELD = ""  # the message must name some field, whichever


@dataclass(frozen=True)
class Case:
    id: str
    kind: str  # analyze | batch | stream | http | legacy | grpc-bytes | modality
    payload: Any
    code: str
    field: str = ANY_FIELD
    transports: tuple[str, ...] = ("grpc", "http")
    headers: dict[str, str] | None = None  # None: a valid analyst key
    path: str = "/v1/analyze"  # kind http
    modality: str = ""  # kind modality: the service called; code OK: the modality that fails
    status: str = "FAILED"  # with code OK and `modality`: its status ("" any, not a bug)
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)


# ---- building blocks --------------------------------------------------------------------


def with_options(**options: Any) -> pb.AnalysisRequest:
    return pb.AnalysisRequest(transcript=pb.Transcript(text=TEXT), options=pb.Options(**options))


def wav(x: np.ndarray, rate: int = 16000, subtype: str = "PCM_16", fmt: str = "WAV") -> bytes:
    out = io.BytesIO()
    sf.write(out, x, rate, subtype=subtype, format=fmt)
    return out.getvalue()


def png(width: int, height: int) -> bytes:
    raw = b"".join(b"\x00" + b"\x80" * (width * 3) for _ in range(height))

    def chunk(tag: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(tag + data))
        return struct.pack(">I", len(data)) + tag + data + crc

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw))
    ) + chunk(b"IEND", b"")


def tone(seconds: float, rate: int = 16000, level: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (level * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def audio_request(data: bytes, mime: str = "", **extra: Any) -> pb.AnalysisRequest:
    request = pb.AnalysisRequest(audio=pb.Media(data=data, mime_type=mime), **extra)
    return request


def video_request(media: pb.Media, **options: Any) -> pb.AnalysisRequest:
    return pb.AnalysisRequest(video=media, options=pb.Options(**options))


def channel(name: str, rate: float, samples: Any, **extra: Any) -> pb.PhysioChannel:
    return pb.PhysioChannel(name=name, sampling_rate_hz=rate, samples=list(samples), **extra)


def physio(*channels: pb.PhysioChannel, **extra: Any) -> pb.AnalysisRequest:
    return pb.AnalysisRequest(physiology=pb.Physiology(channels=list(channels), **extra))


def hr(values: Any, **extra: Any) -> pb.AnalysisRequest:
    return pb.AnalysisRequest(physiology=pb.Physiology(heart_rate=list(values), **extra))


def question(start: float, end: float, kind: int = pb.QuestionMarker.RELEVANT) -> Any:
    return pb.QuestionMarker(kind=kind, start_s=start, end_s=end)  # type: ignore[arg-type]


def sine(rate: float, seconds: float, freq: float = 0.25, level: float = 1.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return level * np.sin(2 * np.pi * freq * t)


def config(**options: Any) -> pb.LiveChunk:
    return pb.LiveChunk(config=pb.StreamConfig(options=pb.Options(**options)))


def segment(start: float, end: float, text: str = TEXT) -> pb.LiveChunk:
    return pb.LiveChunk(
        transcript_segment=pb.TranscriptSegment(start_s=start, end_s=end, text=text)
    )


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# ---- the corpus ---------------------------------------------------------------------------

Builder = Callable[[], list[Case]]
BUILDERS: list[Builder] = []


def section(builder: Builder) -> Builder:
    BUILDERS.append(builder)
    return builder


@section
def request_level() -> list[Case]:
    cases = [
        Case("empty request", "analyze", pb.AnalysisRequest(), "INVALID_ARGUMENT", "request:"),
        Case(
            "request_id too long",
            "analyze",
            pb.AnalysisRequest(request_id="x" * 129, transcript=pb.Transcript(text=TEXT)),
            "INVALID_ARGUMENT",
            "request.request_id:",
        ),
        Case(
            "subject_id too long",
            "analyze",
            pb.AnalysisRequest(subject_id="s" * 500, transcript=pb.Transcript(text=TEXT)),
            "INVALID_ARGUMENT",
            "request.subject_id:",
        ),
        Case(
            "only a baseline",
            "analyze",
            pb.AnalysisRequest(baseline=pb.Baseline(transcript=pb.Transcript(text=TEXT))),
            "INVALID_ARGUMENT",
            "request:",
        ),
    ]
    questions = {
        "NaN start": question(NAN, 2.0),
        "inf end": question(0.0, INF),
        "-inf start": question(-INF, 1.0),
        "negative start": question(-1.0, 1.0),
        "end before start": question(5.0, 1.0),
        "huge NaN end": question(1e300, NAN),
        "unknown kind": pb.QuestionMarker(kind=9, start_s=0.0, end_s=1.0),  # type: ignore[arg-type]
        "long label": pb.QuestionMarker(start_s=0.0, end_s=1.0, label="q" * 300),
    }
    for name, q in questions.items():
        sub = {"NaN start": "start_s", "-inf start": "start_s", "negative start": "start_s"}
        part = sub.get(name, {"unknown kind": "kind", "long label": "label"}.get(name, "end_s"))
        cases.append(
            Case(
                f"question: {name}",
                "analyze",
                pb.AnalysisRequest(transcript=pb.Transcript(text=TEXT), questions=[q]),
                "INVALID_ARGUMENT",
                f"request.questions[0].{part}:",
            )
        )
    cases.append(
        Case(
            "question: second of two is NaN",
            "analyze",
            pb.AnalysisRequest(
                transcript=pb.Transcript(text=TEXT),
                questions=[question(0.0, 1.0), question(NAN, NAN)],
            ),
            "INVALID_ARGUMENT",
            "request.questions[1].start_s:",
        )
    )
    cases.append(
        Case(
            "question: 1001 questions",
            "analyze",
            pb.AnalysisRequest(
                transcript=pb.Transcript(text=TEXT),
                questions=[question(i, i + 0.5) for i in range(1001)],
            ),
            "INVALID_ARGUMENT",
            "request.questions:",
        )
    )
    for name, q in (("NaN start", question(NAN, 3.0)), ("inf end", question(1.0, INF))):
        part = "start_s" if "start" in name else "end_s"
        cases.append(
            Case(
                f"physiology marker: {name}",
                "analyze",
                hr([70.0] * 30, markers=[q]),
                "INVALID_ARGUMENT",
                f"request.physiology.markers[0].{part}:",
            )
        )
    return cases


@section
def options() -> list[Case]:
    bad: dict[str, tuple[dict[str, Any], str]] = {
        "target_fps NaN": ({"target_fps": NAN}, "target_fps"),
        "target_fps inf": ({"target_fps": INF}, "target_fps"),
        "target_fps -inf": ({"target_fps": -INF}, "target_fps"),
        "target_fps negative": ({"target_fps": -1.0}, "target_fps"),
        "target_fps 61": ({"target_fps": 61.0}, "target_fps"),
        "target_fps 1e308": ({"target_fps": 1e308}, "target_fps"),
        "window_s NaN": ({"window_s": NAN}, "window_s"),
        "window_s inf": ({"window_s": INF}, "window_s"),
        "window_s negative": ({"window_s": -0.5}, "window_s"),
        "window_s 3601": ({"window_s": 3601.0}, "window_s"),
        "latency target NaN": ({"update_latency_target_ms": NAN}, "update_latency_target_ms"),
        "latency target -1": ({"update_latency_target_ms": -1.0}, "update_latency_target_ms"),
        "latency target huge": ({"update_latency_target_ms": 1e9}, "update_latency_target_ms"),
        "unknown modality": ({"modalities": [99]}, "modalities[0]"),
        "unspecified modality": ({"modalities": [0]}, "modalities[0]"),
        "unknown strategy": ({"strategy": 42}, "strategy"),
        "unknown domain": ({"domain": 17}, "domain"),
        "unknown quality": ({"quality": 8}, "quality"),
        "deadline_ms too long": ({"deadline_ms": 4_000_000}, "deadline_ms"),
        "modality without input": ({"modalities": [pb.AUDIO]}, "modalities[0]"),
        "second modality without input": (
            {"modalities": [pb.TEXT, pb.VISION]},
            "modalities[1]",
        ),
    }
    return [
        Case(
            f"options: {name}",
            "analyze",
            with_options(**values),
            "INVALID_ARGUMENT",
            f"request.options.{part}:",
        )
        for name, (values, part) in bad.items()
    ]


@section
def transcripts() -> list[Case]:
    def t(text: str = "", segments: tuple[Any, ...] = (), language: str = "") -> Any:
        segs = [pb.TranscriptSegment(start_s=s, end_s=e, text=x) for s, e, x in segments]
        return pb.AnalysisRequest(
            transcript=pb.Transcript(text=text, segments=segs, language=language)
        )

    bad = {
        "NUL characters": (t("\x00" * 40), "transcript.text:"),
        "control characters": (t("hello\x07\x08 there"), "transcript.text:"),
        "replacement characters": (t("caf\ufffd \ufffd\ufffd"), "transcript.text:"),
        "too long": (t("word " * 30_000), "transcript.text:"),
        "language junk": (t(TEXT, language="x" * 200), "transcript.language:"),
        "language not english": (t(TEXT, language="zz-ZZ"), "transcript.language:"),
        "segment NaN start": (t(segments=((NAN, 1.0, "hi there"),)), "transcript.segments[0]"),
        "segment inf end": (t(segments=((0.0, INF, "hi there"),)), "transcript.segments[0]"),
        "segment backwards": (t(segments=((5.0, 1.0, "hi there"),)), "transcript.segments[0]"),
        "segment negative": (t(segments=((-3.0, 1.0, "hi there"),)), "transcript.segments[0]"),
        "segments without text": (t(segments=((0.0, 1.0, ""),)), "transcript"),
        "second segment NaN": (
            t(segments=((0.0, 1.0, "fine"), (NAN, 2.0, "bad"))),
            "transcript.segments[1]",
        ),
    }
    cases = [
        Case(f"transcript: {name}", "analyze", request, "INVALID_ARGUMENT", prefix)
        for name, (request, prefix) in bad.items()
    ]
    baseline = pb.AnalysisRequest(
        transcript=pb.Transcript(text=TEXT),
        baseline=pb.Baseline(transcript=pb.Transcript(text="\x00\x01\x02")),
    )
    cases.append(
        Case("transcript: bad baseline", "analyze", baseline, "INVALID_ARGUMENT", "baseline.")
    )
    return cases


@section
def audio() -> list[Case]:
    rng = np.random.default_rng(7)
    nan_wav = wav(np.full(16000, np.nan, dtype=np.float32), subtype="FLOAT")
    inf_wav = wav(np.full(16000, np.inf, dtype=np.float32), subtype="FLOAT")
    bad = {
        "garbage bytes": (rng.integers(0, 256, 4000, dtype=np.uint8).tobytes(), "", "audio.data:"),
        "truncated header": (SPEECH[:30], "", "audio.data:"),
        "header only": (SPEECH[:44], "", "audio.data:"),
        "truncated to 200 bytes": (SPEECH[:200], "", "audio.data:"),
        "NaN samples": (nan_wav, "", "audio.data:"),
        "infinite samples": (inf_wav, "", "audio.data:"),
        "too short": (wav(tone(0.1)), "", "audio.data:"),
        "all silent": (wav(np.zeros(32000, dtype=np.float32)), "", "audio.data:"),
        "4 kHz rate": (wav(tone(2.0, 4000), 4000), "", "audio.data:"),
        "9 channels": (wav(np.tile(tone(1.0)[:, None], (1, 9))), "", "audio.data:"),
        "mime not audio": (SPEECH, "text/html", "audio.mime_type:"),
        "mime says flac": (SPEECH, "audio/flac", "audio.mime_type:"),
        "png as audio": (png(8, 8), "", "audio.data:"),
        "video as audio": (VIDEO[:50_000], "", "audio.data:"),
    }
    cases = [
        Case(f"audio: {name}", "analyze", audio_request(data, mime), "INVALID_ARGUMENT", prefix)
        for name, (data, mime, prefix) in bad.items()
    ]
    cases.append(
        Case(
            "audio: empty data with a mime type",
            "analyze",
            audio_request(b"", "audio/wav", transcript=pb.Transcript(text=TEXT)),
            "INVALID_ARGUMENT",  # a mime type says audio was meant to be sent
            "audio.data:",
        )
    )
    cases.append(
        Case(
            "audio: garbage baseline",
            "analyze",
            audio_request(SPEECH, baseline=pb.Baseline(audio=pb.Media(data=b"RIFF" + b"\0" * 60))),
            "INVALID_ARGUMENT",
            "baseline.audio.data:",
        )
    )
    return cases


@section
def video() -> list[Case]:
    rng = np.random.default_rng(11)
    flipped = bytearray(VIDEO)
    for i in range(2000, len(flipped), 97):
        flipped[i] ^= 0xFF
    bad = {
        "garbage bytes": (pb.Media(data=rng.integers(0, 256, 9000, dtype=np.uint8).tobytes())),
        "truncated to 1 kB": pb.Media(data=VIDEO[:1000]),
        "truncated to half": pb.Media(data=VIDEO[: len(VIDEO) // 2]),
        "corrupted throughout": pb.Media(data=bytes(flipped)),
        "png as video": pb.Media(data=png(64, 64)),
        "wav as video": pb.Media(data=SPEECH),
        "mime not video": pb.Media(data=VIDEO, mime_type="text/html"),
        "mime junk": pb.Media(data=VIDEO, mime_type="video/" + "x" * 300),
    }
    cases = [
        Case(f"video: {name}", "analyze", video_request(media), "INVALID_ARGUMENT", "video.")
        for name, media in bad.items()
    ]
    cases.append(
        Case(
            "video: garbage baseline",
            "analyze",
            pb.AnalysisRequest(
                video=pb.Media(data=VIDEO),
                baseline=pb.Baseline(video=pb.Media(data=b"\x00" * 5000)),
                options=pb.Options(target_fps=1.0),
            ),
            "INVALID_ARGUMENT",
            "baseline.video.",
        )
    )
    return cases


@section
def uris() -> list[Case]:
    outside = {
        "file outside the allow-list": "file:///etc/passwd",
        "file with dot segments": f"file://{SAMPLES}/../Makefile",
        "file with encoded dots": f"file://{SAMPLES}/%2e%2e/Makefile",
        "file on another host": "file://evil.example/etc/passwd",
        "http not allowed": "http://127.0.0.1:1/clip.mp4",
        "https with user info": "https://media.example@evil.example/clip.mp4",
        "ftp scheme": "ftp://example.com/clip.mp4",
        "data scheme": "data:video/mp4;base64,AAAA",
        "relative path": "clip.mp4",
        "gopher": "gopher://example.com/1",
        "NUL in URI": "file:///tmp/a\x00b.mp4",
        "backslashes": "https://example.com\\..\\clip.mp4",
    }
    cases = []
    for name, uri in outside.items():
        cases.append(
            Case(
                f"uri: video {name}",
                "analyze",
                pb.AnalysisRequest(video=pb.Media(uri=uri)),
                "INVALID_ARGUMENT",
                "video.uri:",
            )
        )
    for name in ("file outside the allow-list", "http not allowed", "data scheme"):
        cases.append(
            Case(
                f"uri: audio {name}",
                "analyze",
                pb.AnalysisRequest(audio=pb.Media(uri=outside[name])),
                "INVALID_ARGUMENT",
                "audio.uri:",
            )
        )
    cases.append(
        Case(
            "uri: baseline audio outside the allow-list",
            "analyze",
            pb.AnalysisRequest(
                audio=pb.Media(data=SPEECH),
                baseline=pb.Baseline(audio=pb.Media(uri="file:///etc/hosts")),
            ),
            "INVALID_ARGUMENT",
            "baseline.audio.uri:",
        )
    )
    return cases


@section
def physiology() -> list[Case]:
    ok_ecg = sine(250, 20, 1.2)
    bad: dict[str, tuple[pb.AnalysisRequest, str]] = {
        "no channels": (pb.AnalysisRequest(physiology=pb.Physiology(markers=[question(0, 1)])), ""),
        "channel without a name": (
            physio(channel("", 4, [1.0] * 40)),
            "physiology.channels[0].name:",
        ),
        "unknown channel": (
            physio(channel("brainwaves", 4, [1.0] * 40)),
            "physiology.channels[0].name:",
        ),
        "channel twice": (
            physio(channel("eda", 4, [2.0] * 40), channel("eda", 4, [2.0] * 40)),
            "physiology.channels[1].name:",
        ),
        "rate 0": (
            physio(channel("eda", 0, [2.0] * 40)),
            "physiology.channels[0].sampling_rate_hz:",
        ),
        "rate negative": (
            physio(channel("eda", -4, [2.0] * 40)),
            "physiology.channels[0].sampling_rate_hz:",
        ),
        "rate NaN": (
            physio(channel("eda", NAN, [2.0] * 40)),
            "physiology.channels[0].sampling_rate_hz:",
        ),
        "rate inf": (
            physio(channel("eda", INF, [2.0] * 40)),
            "physiology.channels[0].sampling_rate_hz:",
        ),
        "rate too high": (
            physio(channel("ecg", 1e6, [0.0] * 100)),
            "physiology.channels[0].sampling_rate_hz:",
        ),
        "rate too low for ECG": (
            physio(channel("ecg", 10, [0.0] * 100)),
            "physiology.channels[0].sampling_rate_hz:",
        ),
        "NaN sample": (
            physio(channel("eda", 4, [2.0] * 20 + [NAN] + [2.0] * 20)),
            "physiology.channels[0].samples[20]:",
        ),
        "inf sample": (
            physio(channel("respiration", 25, [0.0] * 300 + [INF])),
            "physiology.channels[0].samples[300]:",
        ),
        "-inf sample": (
            physio(channel("ppg", 64, [-INF] * 400)),
            "physiology.channels[0].samples[0]:",
        ),
        "huge ECG values": (
            physio(channel("ecg", 250, [1e308, -1e308] * 3750)),
            "physiology.channels[0].samples[0]:",
        ),
        "huge PPG values": (
            physio(channel("ppg", 64, sine(64, 30, 1.2, 1e200))),
            "physiology.channels[0].samples[",
        ),
        "no samples": (physio(channel("eda", 4, [])), "physiology.channels[0].samples:"),
        "too few samples": (
            physio(channel("respiration", 25, [0.0, 1.0] * 10)),
            "physiology.channels[0].samples:",
        ),
        "heart rate out of range": (
            physio(channel("heart_rate", 1, [70.0] * 10 + [900.0])),
            "physiology.channels[0].samples[10]:",
        ),
        "negative skin conductance": (
            physio(channel("eda", 4, [-5.0] * 40)),
            "physiology.channels[0].samples[0]:",
        ),
        "wrong EDA unit": (
            physio(channel("eda", 4, [2.0] * 40, unit="volts")),
            "physiology.channels[0].unit:",
        ),
        "negative start": (
            physio(channel("eda", 4, [2.0] * 40, start_s=-1.0)),
            "physiology.channels[0].start_s:",
        ),
        "NaN start": (
            physio(channel("eda", 4, [2.0] * 40, start_s=NAN)),
            "physiology.channels[0].start_s:",
        ),
        "heart_rate list NaN": (hr([70.0, NAN, 72.0, 71.0]), "physiology.heart_rate[1]:"),
        "heart_rate list zero": (hr([0.0] * 10), "physiology.heart_rate[0]:"),
        "heart_rate list too short": (hr([70.0]), "physiology.heart_rate:"),
        "heart_rate list and channel": (
            pb.AnalysisRequest(
                physiology=pb.Physiology(
                    heart_rate=[70.0] * 10, channels=[channel("heart_rate", 1, [70.0] * 10)]
                )
            ),
            "physiology.",
        ),
        "marker unspecified kind": (
            hr([70.0] * 30, markers=[pb.QuestionMarker(start_s=1.0, end_s=2.0)]),
            "physiology.markers[0].kind:",
        ),
        "marker past the end": (
            hr([70.0] * 30, markers=[question(100.0, 101.0)]),
            "physiology.markers[0].start_s:",
        ),
        "marker of zero length": (
            hr([70.0] * 30, markers=[question(3.0, 3.0)]),
            "physiology.markers[0].end_s:",
        ),
        "bad baseline": (
            pb.AnalysisRequest(
                physiology=pb.Physiology(heart_rate=[70.0] * 30),
                baseline=pb.Baseline(physiology=pb.Physiology(heart_rate=[NAN] * 5)),
            ),
            "baseline.physiology.heart_rate[0]:",
        ),
        "mismatched second channel": (
            physio(channel("ecg", 250, ok_ecg), channel("eda", 4, [2.0, NAN] * 20)),
            "physiology.channels[1].samples[1]:",
        ),
    }
    cases = [
        Case(f"physiology: {name}", "analyze", request, "INVALID_ARGUMENT", prefix)
        for name, (request, prefix) in bad.items()
    ]
    # Degenerate but finite signals: not the caller's error. The answer comes back; what
    # physiology makes of them (a score with notes, or FAILED with a plain reason) is its
    # own call, but never an exception's name or an internal error.
    flat_or_odd = {
        "respiration alternating at Nyquist": channel(
            "respiration", 25, [1.0 if i % 2 else -1.0 for i in range(25 * 30)]
        ),
        "PPG without pulse waves": channel("ppg", 100, [0.0] * 999 + [1.0]),
        "flat ECG": channel("ecg", 250, [0.0] * 250 * 20),
        "single ECG spike": channel("ecg", 250, [0.0] * 2500 + [5.0] + [0.0] * 2500),
    }
    for name, ch in flat_or_odd.items():
        cases.append(
            Case(
                f"physiology: {name}",
                "analyze",
                pb.AnalysisRequest(
                    physiology=pb.Physiology(channels=[ch]), transcript=pb.Transcript(text=TEXT)
                ),
                "OK",
                modality="PHYSIOLOGY",
                status="",
            )
        )
    return cases


@section
def batches() -> list[Case]:
    good = pb.AnalysisRequest(transcript=pb.Transcript(text=TEXT))
    return [
        Case(
            "batch: empty",
            "batch",
            veritas_pb2.AnalyzeBatchRequest(),
            "INVALID_ARGUMENT",
            "requests:",
        ),
        Case(
            "batch: 65 items",
            "batch",
            veritas_pb2.AnalyzeBatchRequest(requests=[good] * 65),
            "INVALID_ARGUMENT",
            "requests:",
        ),
        Case(
            "batch: an empty item",
            "batch",
            veritas_pb2.AnalyzeBatchRequest(requests=[good, pb.AnalysisRequest()]),
            "OK",
            "requests[1]:",
            extra={"item": 1},
        ),
        Case(
            "batch: an item with NaN target_fps",
            "batch",
            veritas_pb2.AnalyzeBatchRequest(requests=[with_options(target_fps=NAN), good]),
            "OK",
            "requests[0].options.target_fps:",
            extra={"item": 0},
        ),
        Case(
            "batch: an item with a NaN question",
            "batch",
            veritas_pb2.AnalyzeBatchRequest(
                requests=[
                    good,
                    pb.AnalysisRequest(
                        transcript=pb.Transcript(text=TEXT), questions=[question(NAN, 1)]
                    ),
                ]
            ),
            "OK",
            "requests[1].questions[0].start_s:",
            extra={"item": 1},
        ),
        Case(
            "batch: an item with NaN heart rate",
            "batch",
            veritas_pb2.AnalyzeBatchRequest(requests=[good, hr([70.0, NAN, 70.0, 70.0])]),
            "OK",
            "requests[1].physiology.heart_rate[1]:",
            extra={"item": 1},
        ),
        Case(
            "batch: an item with garbage audio",
            "batch",
            veritas_pb2.AnalyzeBatchRequest(requests=[audio_request(b"\x01" * 3000), good]),
            "OK",
            "requests[0].audio.data:",
            extra={"item": 0},
        ),
    ]


@section
def streams() -> list[Case]:
    rate = 16000
    pcm = (tone(1.0) * 32767).astype("<i2").tobytes()
    frame = pb.LiveChunk(
        video_frame=pb.VideoFrame(image=png(32, 32), mime_type="image/png", timestamp_s=0.0)
    )
    s: dict[str, tuple[list[pb.LiveChunk], str]] = {
        "no chunks": ([], "stream:"),
        "only a config": ([config()], "stream:"),
        "config target_fps NaN": (
            [config(target_fps=NAN), segment(0, 1)],
            "config.options.target_fps:",
        ),
        "config window_s inf": ([config(window_s=INF), segment(0, 1)], "config.options.window_s:"),
        "config quality unknown": ([config(quality=7), segment(0, 1)], "config.options.quality:"),
        "config latency target NaN": (
            [config(update_latency_target_ms=NAN), segment(0, 1)],
            "config.options.update_latency_target_ms:",
        ),
        "config question NaN": (
            [
                pb.LiveChunk(config=pb.StreamConfig(questions=[question(NAN, 1.0)])),
                segment(0, 1),
            ],
            "config.questions[0].start_s:",
        ),
        "LiveChunk.question NaN start": (
            [config(), segment(0, 1), pb.LiveChunk(question=question(NAN, 1.0))],
            "question.start_s:",
        ),
        "LiveChunk.question inf end": (
            [config(), segment(0, 1), pb.LiveChunk(question=question(1.0, INF))],
            "question.end_s:",
        ),
        "LiveChunk.question negative": (
            [config(), pb.LiveChunk(question=question(-2.0, 1.0)), segment(0, 1)],
            "question.start_s:",
        ),
        "LiveChunk.question backwards": (
            [config(), segment(0, 1), pb.LiveChunk(question=question(4.0, 2.0))],
            "question.end_s:",
        ),
        "transcript segment NaN": ([config(), segment(NAN, 1.0)], "transcript_segment"),
        "transcript segment backwards": ([config(), segment(3.0, 1.0)], "transcript_segment"),
        "video frame garbage image": (
            [
                config(),
                pb.LiveChunk(video_frame=pb.VideoFrame(image=b"\x00" * 500, timestamp_s=0.0)),
            ],
            "video_frame",
        ),
        "video frame NaN time": (
            [config(), pb.LiveChunk(video_frame=pb.VideoFrame(image=png(32, 32), timestamp_s=NAN))],
            "video_frame",
        ),
        "video frames out of order": (
            [
                config(),
                pb.LiveChunk(video_frame=pb.VideoFrame(image=png(32, 32), timestamp_s=2.0)),
                frame,
            ],
            "video_frame",
        ),
        "audio chunk odd bytes": (
            [
                config(),
                pb.LiveChunk(audio_chunk=pb.AudioChunk(pcm16=b"\x01\x02\x03", sample_rate_hz=rate)),
            ],
            "audio_chunk",
        ),
        "audio chunk rate 0": (
            [config(), pb.LiveChunk(audio_chunk=pb.AudioChunk(pcm16=pcm, sample_rate_hz=0))],
            "audio_chunk",
        ),
        "audio chunk rate NaN": (
            [config(), pb.LiveChunk(audio_chunk=pb.AudioChunk(pcm16=pcm, sample_rate_hz=NAN))],
            "audio_chunk",
        ),
        "physio samples rate NaN": (
            [config(), pb.LiveChunk(physio_samples=channel("eda", NAN, [2.0] * 40))],
            "physio_samples",
        ),
        "physio samples NaN value": (
            [config(), pb.LiveChunk(physio_samples=channel("eda", 4, [2.0, NAN] * 20))],
            "physio_samples",
        ),
        "physio samples unknown channel": (
            [config(), pb.LiveChunk(physio_samples=channel("aura", 4, [2.0] * 40))],
            "physio_samples",
        ),
    }
    cases = [
        Case(f"stream: {name}", "stream", chunks, "INVALID_ARGUMENT", prefix, transports=("grpc",))
        for name, (chunks, prefix) in s.items()
    ]
    for name, (request, prefix) in {
        "NaN question": (
            pb.AnalysisRequest(transcript=pb.Transcript(text=TEXT), questions=[question(NAN, 1)]),
            "request.questions[0].start_s:",
        ),
        "window_s NaN": (with_options(window_s=NAN), "request.options.window_s:"),
    }.items():
        cases.append(
            Case(
                f"http stream: {name}",
                "http",
                to_dict(request),
                "INVALID_ARGUMENT",
                prefix,
                transports=("http",),
                path="/v1/analyze:stream",
            )
        )
    return cases


def to_dict(message: Any) -> dict[str, Any]:
    from google.protobuf import json_format

    return json_format.MessageToDict(message, preserving_proto_field_name=True)


@section
def http_bodies() -> list[Case]:
    ok = b'{"transcript": {"text": "I was home."}}'
    raw = {
        "invalid UTF-8 at the start": (b"\xff\xfe{}", "body:"),
        "invalid UTF-8 in a string": (b'{"transcript": {"text": "caf\xc3\x28"}}', "body:"),
        "latin-1 body": ('{"transcript": {"text": "café"}}'.encode("latin-1"), "body:"),
        "not JSON": (b"{oops", "body:"),
        "a JSON array": (b"[1, 2, 3]", "body:"),
        "JSON null": (b"null", "body:"),
        "a JSON number": (b"42", "body:"),
        "a JSON string": (b'"transcript"', "body:"),
        "nested 100000 deep": (b"[" * 100_000 + b"]" * 100_000, "body:"),
        "objects nested 5000 deep": (b'{"transcript":' * 5000 + b"1" + b"}" * 5000, "body:"),
        "unknown field": (b'{"transcript": {"text": "x"}, "nonsense": 1}', "body:"),
        "wrong type": (b'{"request_id": 5, "transcript": {"text": "x"}}', "body:"),
        "bad base64": (b'{"audio": {"data": "!!!not base64"}}', "body:"),
        "two sources": (b'{"video": {"data": "AAAA", "uri": "file:///x"}}', "body:"),
        "duplicate key": (b'{"transcript": {"text": "a", "text": "b"}}', "body:"),
        "unknown enum name": (
            b'{"options": {"strategy": "BEST"}, "transcript": {"text": "x"}}',
            "body:",
        ),
        "deadline_ms negative": (
            b'{"options": {"deadline_ms": -5}, "transcript": {"text": "x"}}',
            "body:",
        ),
        "heart rate 1e999": (b'{"physiology": {"heart_rate": [1e999]}}', "body:"),
        "NUL byte": (b"\x00", "body:"),
        "NaN via JSON string": (
            b'{"options": {"target_fps": "NaN"}, "transcript": {"text": "x"}}',
            "request.options.target_fps:",
        ),
        "Infinity question via JSON": (
            b'{"questions": [{"start_s": 0, "end_s": "Infinity"}], "transcript": {"text": "x"}}',
            "request.questions[0].end_s:",
        ),
        "unpaired surrogate escape": (b'{"transcript": {"text": "\\ud800"}}', "body:"),
    }
    cases = [
        Case(f"http body: {name}", "http", body, "INVALID_ARGUMENT", prefix, transports=("http",))
        for name, (body, prefix) in raw.items()
    ]
    cases += [
        Case(
            "http body: batch not UTF-8",
            "http",
            b'{"requests": [{"transcript": {"text": "\xff"}}]}',
            "INVALID_ARGUMENT",
            "body:",
            transports=("http",),
            path="/v1/analyze:batch",
        ),
        Case(
            "http body: stream not UTF-8",
            "http",
            b'{"transcript": {"text": "\xfe"}}',
            "INVALID_ARGUMENT",
            "body:",
            transports=("http",),
            path="/v1/analyze:stream",
        ),
        Case(
            "http header: X-Deadline-Ms not a number",
            "http",
            ok,
            "INVALID_ARGUMENT",
            "X-Deadline-Ms:",
            transports=("http",),
            extra={"headers": {"x-deadline-ms": "soon"}},
        ),
        Case(
            "http header: X-Deadline-Ms negative",
            "http",
            ok,
            "INVALID_ARGUMENT",
            "X-Deadline-Ms:",
            transports=("http",),
            extra={"headers": {"x-deadline-ms": "-100"}},
        ),
        Case(
            "http header: X-Deadline-Ms NaN",
            "http",
            ok,
            "INVALID_ARGUMENT",
            "X-Deadline-Ms:",
            transports=("http",),
            extra={"headers": {"x-deadline-ms": "NaN"}},
        ),
    ]
    legacy = {
        "not UTF-8": (b'{"transcript": "caf\xe9"}', "body:"),
        "not JSON": (b"{nope", "body:"),
        "nested too deeply": (b"[" * 100_000 + b"]" * 100_000, "body:"),
        "video path outside": (b'{"video_path": "/etc/passwd"}', "video_path:"),
        "audio path with dots": (
            f'{{"audio_path": "{SAMPLES}/../Makefile"}}'.encode(),
            "audio_path:",
        ),
        "relative video path": (b'{"video_path": "samples/face.mp4"}', "video_path:"),
        "heart rate 900": (b'{"physiological_data": [70, 900]}', "physiological_data"),
        "heart rate not numbers": (b'{"physiological_data": ["a", "b"]}', "physiological_data"),
    }
    cases += [
        Case(
            f"old body: {name}",
            "http",
            body,
            "INVALID_ARGUMENT",
            prefix,
            transports=("http",),
            path="/api/analyze",
        )
        for name, (body, prefix) in legacy.items()
    ]
    return cases


@section
def sizes() -> list[Case]:
    """Bodies over the gateway's limit: a readable 413, whatever way the body comes. Sent
    with urllib, which (like curl and most clients) writes the whole body before it reads:
    a server that answers and closes with the body unread resets the connection, and such a
    client sees the reset, not the answer (`extra["client"]`)."""
    from tests.chaos.support import MAX_LEGACY_KB, MAX_REQUEST_MB

    over = int(MAX_REQUEST_MB * 1024 * 1024) + 1024
    big = b'{"transcript": {"text": "' + b"a" * over + b'"}}'
    huge = b'{"transcript": {"text": "' + b"a" * (8 * over) + b'"}}'
    urllib = {"client": "urllib"}
    return [
        Case(
            "size: body over the limit",
            "http",
            big,
            "RESOURCE_EXHAUSTED",
            "request body",
            ("http",),
            extra=urllib,
        ),
        Case(
            "size: body 8 times the limit",
            "http",
            huge,
            "RESOURCE_EXHAUSTED",
            "request body",
            ("http",),
            extra=urllib,
        ),
        Case(
            "size: body over the limit, streamed without a length",
            "http",
            big,
            "RESOURCE_EXHAUSTED",
            "request body",
            ("http",),
            extra=urllib | {"chunked": True},
        ),
        Case(
            "size: old body over its limit",
            "http",
            b'{"transcript": "' + b"a" * (MAX_LEGACY_KB * 1024 + 10) + b'"}',
            "RESOURCE_EXHAUSTED",
            "request body",
            ("http",),
            path="/api/analyze",
            extra=urllib,
        ),
        Case(
            "size: big body without credentials",
            "http",
            big,
            "UNAUTHENTICATED",
            "missing credentials",
            ("http",),
            headers={},
            extra=urllib,
        ),
        Case(
            "size: gRPC message over the limit",
            "analyze",
            audio_request(b"\x00" * over),
            "RESOURCE_EXHAUSTED",
            transports=("grpc",),
        ),
    ]


@section
def auth() -> list[Case]:
    from tests.chaos.support import TRANSCRIPT

    request = pb.AnalysisRequest(transcript=pb.Transcript(text=TRANSCRIPT[:200]))
    headers: dict[str, tuple[dict[str, str], str]] = {
        "no credentials": ({}, "UNAUTHENTICATED"),
        "Basic scheme": ({"authorization": "Basic dXNlcjpwYXNz"}, "UNAUTHENTICATED"),
        "bare Bearer": ({"authorization": "Bearer"}, "UNAUTHENTICATED"),
        "malformed key": ({"authorization": "Bearer vk_"}, "UNAUTHENTICATED"),
        "unknown key": ({"authorization": "Bearer vk_0123456789ab_" + "A" * 43}, "UNAUTHENTICATED"),
        "garbage token": ({"authorization": "Bearer not.a.jwt"}, "UNAUTHENTICATED"),
        "alg none token": (
            {"authorization": "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."},
            "UNAUTHENTICATED",
        ),
        "wrong x-api-key": ({"x-api-key": "vk_nope_nope"}, "UNAUTHENTICATED"),
        "very long credential": ({"authorization": "Bearer " + "x" * 6000}, "UNAUTHENTICATED"),
    }
    cases = [
        Case(f"auth: {name}", "analyze", request, code, headers=head)
        for name, (head, code) in headers.items()
    ]
    # gRPC clients refuse to send a tab in metadata: HTTP only.
    tabs = Case(
        "auth: bearer of tabs",
        "analyze",
        request,
        "UNAUTHENTICATED",
        headers={"authorization": "Bearer \t\tx"},
    )
    cases.append(dataclasses.replace(tabs, transports=("http",)))
    # HTTP clients refuse to send a header value that ends in spaces: gRPC only.
    for name, value in (("empty bearer", "Bearer "), ("bearer of spaces", "Bearer      ")):
        head = {"authorization": value}
        case = Case(f"auth: {name}", "analyze", request, "UNAUTHENTICATED", headers=head)
        cases.append(dataclasses.replace(case, transports=("grpc",)))
    cases += [
        Case(
            "auth: revoked key",
            "analyze",
            request,
            "UNAUTHENTICATED",
            extra={"credential": "revoked"},
        ),
        Case(
            "auth: admin key analyses",
            "analyze",
            request,
            "PERMISSION_DENIED",
            extra={"credential": "admin"},
        ),
        Case(
            "auth: expired token",
            "analyze",
            request,
            "UNAUTHENTICATED",
            extra={"credential": "expired"},
        ),
        Case(
            "auth: token for another audience",
            "analyze",
            request,
            "UNAUTHENTICATED",
            extra={"credential": "audience"},
        ),
        Case(
            "auth: token without roles",
            "analyze",
            request,
            "PERMISSION_DENIED",
            extra={"credential": "no-roles"},
        ),
    ]
    return cases


@section
def wire_bytes() -> list[Case]:
    good = pb.AnalysisRequest(transcript=pb.Transcript(text=TEXT)).SerializeToString()
    return [
        Case(
            "bytes: Analyze garbage",
            "grpc-bytes",
            b"\xff" * 64,
            "INVALID_ARGUMENT",
            "request:",
            ("grpc",),
            extra={"method": "Analyze"},
        ),
        Case(
            "bytes: Analyze truncated",
            "grpc-bytes",
            good[:7],
            "INVALID_ARGUMENT",
            "request:",
            ("grpc",),
            extra={"method": "Analyze"},
        ),
        Case(
            "bytes: Analyze wrong wire type",
            "grpc-bytes",
            b"\x2a\x05\x0a\x03\xff\xfe\xfd",
            "INVALID_ARGUMENT",
            "request:",
            ("grpc",),
            extra={"method": "Analyze"},
        ),
        Case(
            "bytes: AnalyzeBatch garbage",
            "grpc-bytes",
            b"\x0a\xff\xff\xff\xff\x0f",
            "INVALID_ARGUMENT",
            "request:",
            ("grpc",),
            extra={"method": "AnalyzeBatch"},
        ),
    ]


@section
def straight_to_the_services() -> list[Case]:
    """Callers inside the mesh (or around the gateway) get the same checks."""

    def req(**kw: Any) -> modality_pb2.ModalityRequest:
        return modality_pb2.ModalityRequest(**kw)

    text_input = pb.ModalityInput(transcript=pb.Transcript(text=TEXT))
    audio_input = pb.ModalityInput(media=pb.Media(data=SPEECH))
    video_input = pb.ModalityInput(media=pb.Media(data=VIDEO))
    hr_input = pb.ModalityInput(physiology=pb.Physiology(heart_rate=[70.0] * 30))
    d: dict[str, tuple[str, modality_pb2.ModalityRequest, str]] = {
        "vision window_s NaN (checked before decoding)": (
            "vision",
            req(input=video_input, options=pb.Options(window_s=NAN)),
            "options.window_s:",
        ),
        "vision target_fps inf": (
            "vision",
            req(input=video_input, options=pb.Options(target_fps=INF)),
            "options.target_fps:",
        ),
        "audio NaN question": (
            "audio",
            req(input=audio_input, questions=[question(NAN, 1.0)]),
            "questions[0].start_s:",
        ),
        "audio question ends before it starts": (
            "audio",
            req(input=audio_input, questions=[question(2.0, 1.0)]),
            "questions[0].end_s:",
        ),
        "text window_s inf": (
            "text",
            req(input=text_input, options=pb.Options(window_s=INF)),
            "options.window_s:",
        ),
        "physiology inf question": (
            "physiology",
            req(input=hr_input, questions=[question(0.0, INF)]),
            "questions[0].end_s:",
        ),
        "physiology empty input": ("physiology", req(), "physiology"),
        "audio empty input": ("audio", req(), "audio"),
    }
    return [
        Case(
            f"service: {name}",
            "modality",
            request,
            "INVALID_ARGUMENT",
            prefix,
            ("grpc",),
            modality=svc,
        )
        for name, (svc, request, prefix) in d.items()
    ]


def corpus() -> list[Case]:
    cases = [case for build in BUILDERS for case in build()]
    ids = [c.id for c in cases]
    assert len(ids) == len(set(ids)), "case ids must be unique"
    return cases
