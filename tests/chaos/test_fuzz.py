"""A bounded fuzz run against the real mesh: hypothesis strategies over every field of
AnalysisRequest, mutations of valid requests, and mutations of their raw bytes (protobuf over
gRPC, JSON over HTTP). It fails on any UNKNOWN or INTERNAL, on a modality that failed on an
internal error or could not be reached (a crash), on anything internal in a message, and on
any process that is not alive and ready at the end.

Bounded by examples: the default run takes about a minute here (it runs in `make test`);
VERITAS_FUZZ_SCALE multiplies the example counts for a longer run on demand, e.g.
`VERITAS_FUZZ_SCALE=20 make chaos`.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.chaos.corpus import SPEECH, TEXT, VIDEO, png, wav
from tests.chaos.support import Answer, Door, all_alive_and_ready, check_answer
from tools.mesh import Mesh
from veritas.v1 import common_pb2 as pb

pytest_plugins = ("tests.gateway_fixtures",)

SCALE = max(0.05, float(os.environ.get("VERITAS_FUZZ_SCALE", "1")))


# pytest-timeout's limit per test (pyproject: 300 s), grown with the run it has to allow.
FUZZ_TIMEOUT_S = int(300 * max(1.0, SCALE))


def examples(n: int) -> settings:
    return settings(
        max_examples=max(5, int(n * SCALE)),
        deadline=None,  # each call has its own timeout; slowness is not the property here
        suppress_health_check=list(HealthCheck),
        database=None,  # no replay file written into the working tree
    )


def fuzz_check(answer: Answer, what: str) -> None:
    """`check_answer`, and no sign of a crash: nothing UNAVAILABLE."""
    if os.environ.get("VERITAS_CHAOS_DUMP"):  # every outcome, to see what the run reached
        with open(os.environ["VERITAS_CHAOS_DUMP"], "a", encoding="utf-8") as f:
            statuses = {n: m.get("status", "") for n, m in answer.modalities().items()}
            row = {"fuzz": what, "code": answer.code, "message": answer.message[:200]}
            f.write(json.dumps(row | {"modalities": statuses}) + "\n")
    check_answer(answer, what)
    assert answer.code != "UNAVAILABLE", f"{what}: {answer.message}"
    for name, m in answer.modalities().items():
        reason = m.get("reason", "")
        assert not reason.startswith("UNAVAILABLE"), f"{what}: {name} crashed? {reason}"


# ---- strategies -------------------------------------------------------------------------

HOSTILE_FLOATS = [math.nan, math.inf, -math.inf, -0.0, 0.0, -1.0, 1e-320, 1e308, -1e308, 2**53]
hostile_floats = st.one_of(
    st.sampled_from(HOSTILE_FLOATS), st.floats(allow_nan=True, allow_infinity=True)
)


def mostly(valid: st.SearchStrategy[Any], hostile: st.SearchStrategy[Any]) -> Any:
    """`valid` 19 times in 20: a request with a hostile value in every field would stop at
    the gateway's first check, and the code deep in the modalities would never run."""
    return st.integers(0, 19).flatmap(lambda i: hostile if i == 0 else valid)


floats = mostly(st.floats(min_value=0, max_value=120), hostile_floats)
option_floats = mostly(st.just(0.0), hostile_floats)  # 0: the default
times = mostly(st.floats(min_value=0, max_value=40), hostile_floats)
enums = mostly(st.just(0), st.integers(min_value=-2, max_value=9))
texts = mostly(
    st.text(alphabet=st.characters(categories=["L", "Zs", "P"]), min_size=5, max_size=400),
    st.one_of(
        st.text(max_size=300),
        st.sampled_from(["", " ", "\x00", "\ufffd", "😀" * 20, "a\u0301" * 30, TEXT * 40]),
    ),
)


@st.composite
def options(draw: st.DrawFn) -> pb.Options:
    return pb.Options(
        modalities=draw(mostly(st.just([]), st.lists(st.integers(-2, 6), max_size=3))),
        strategy=draw(mostly(st.integers(0, 3), st.integers(-2, 9))),
        deadline_ms=draw(mostly(st.just(0), st.sampled_from([1, 500, 3_600_001, 2**32 - 1]))),
        explain=draw(st.booleans()),
        target_fps=draw(option_floats),
        window_s=draw(mostly(st.sampled_from([0.0, 0.5, 2.0, 10.0]), hostile_floats)),
        domain=draw(mostly(st.integers(0, 3), st.integers(-2, 9))),
        quality=draw(enums),
        update_latency_target_ms=draw(option_floats),
    )


@st.composite
def questions(draw: st.DrawFn) -> list[pb.QuestionMarker]:
    out = []
    for _ in range(draw(st.integers(0, 3))):
        start = draw(times)
        end = draw(mostly(st.just(start + 2.5 if math.isfinite(start) else 1.0), times))
        kind = draw(mostly(st.integers(1, 3), st.integers(-2, 9)))
        out.append(pb.QuestionMarker(kind=kind, start_s=start, end_s=end))
    return out


@st.composite
def transcripts(draw: st.DrawFn) -> pb.Transcript:
    segments: list[pb.TranscriptSegment] = []
    at = 0.0
    for _ in range(draw(mostly(st.just(0), st.integers(0, 3)))):
        end = draw(mostly(st.just(at + 2.0), times))
        segments.append(
            pb.TranscriptSegment(
                start_s=draw(mostly(st.just(at), times)), end_s=end, text=draw(texts)
            )
        )
        at += 2.0
    language = draw(mostly(st.sampled_from(["", "en"]), st.sampled_from(["fr", "zz", "x" * 40])))
    only_segments = bool(segments) and draw(st.booleans())
    text: str = "" if only_segments else draw(texts)
    return pb.Transcript(text=text, segments=segments, language=language)


# name -> a rate it is analysable at
CHANNELS = {"heart_rate": 1.0, "ecg": 250.0, "ppg": 64.0, "eda": 4.0, "respiration": 25.0}


@st.composite
def signal(draw: st.DrawFn, name: str, rate: float) -> list[float]:
    seconds = draw(mostly(st.sampled_from([12, 30]), st.sampled_from([0, 1, 5, 11])))
    rate = min(max(rate, 1.0), 10_000.0) if math.isfinite(rate) else 25.0  # for the shape only
    n = min(int(seconds * rate), 20_000)
    kind = draw(st.sampled_from(["sine", "sine", "noise", "flat", "alt", "spike", "steps"]))
    level = draw(mostly(st.sampled_from([1.0, 5.0]), st.sampled_from([1e-9, 1e6, 1e12])))
    base = 70.0 if name == "heart_rate" else 2.0 if name == "eda" else 0.0
    freq = draw(st.sampled_from([0.25, 1.2, rate / 2]))
    seed = draw(st.integers(0, 2**16))
    out = []
    for i in range(n):
        if kind == "sine":
            v = math.sin(2 * math.pi * freq * i / rate)
        elif kind == "noise":
            v = ((i * 1103515245 + seed) % 2**16) / 2**15 - 1.0
        elif kind == "flat":
            v = 0.0
        elif kind == "alt":
            v = 1.0 if i % 2 else -1.0
        elif kind == "spike":
            v = 1.0 if i == n // 2 else 0.0
        else:
            v = float((i // max(1, int(rate))) % 3)
        out.append(base + level * v)
    if out and draw(st.integers(0, 5)) == 0:
        out[draw(st.integers(0, len(out) - 1))] = draw(hostile_floats)
    return out


@st.composite
def physiology(draw: st.DrawFn) -> pb.Physiology:
    channels = []
    names = draw(st.lists(st.sampled_from(sorted(CHANNELS)), max_size=3, unique=True))
    for name in names:
        rate = draw(mostly(st.just(CHANNELS[name]), hostile_floats))
        channels.append(
            pb.PhysioChannel(
                name=draw(mostly(st.just(name), st.sampled_from(["", "ECG ", "brain"]))),
                unit=draw(mostly(st.just(""), st.sampled_from(["mV", "uS", "bpm", "V"]))),
                sampling_rate_hz=rate,
                samples=draw(signal(name, rate)),
                start_s=draw(mostly(st.just(0.0), times)),
            )
        )
    heart: list[float] = []
    if "heart_rate" not in names and draw(st.booleans()):
        heart = draw(
            mostly(st.just([72.0 + i % 5 for i in range(40)]), st.lists(floats, max_size=30))
        )
    markers = [m for m in draw(questions()) if draw(st.booleans())]
    return pb.Physiology(channels=channels, heart_rate=heart, markers=markers)


def mutate_bytes(data: bytes, draw: Any) -> bytes:
    """Flip, cut, insert or splice bytes of `data`."""
    buf = bytearray(data)
    for _ in range(draw(st.integers(1, 6))):
        if not buf:
            break
        op = draw(st.sampled_from(["flip", "cut", "insert", "zero", "splice"]))
        i = draw(st.integers(0, len(buf) - 1))
        if op == "flip":
            buf[i] ^= draw(st.integers(1, 255))
        elif op == "cut":
            del buf[i : i + draw(st.integers(1, max(1, len(buf) // 4)))]
        elif op == "insert":
            buf[i:i] = draw(st.binary(min_size=1, max_size=16))
        elif op == "zero":
            buf[i : i + 64] = bytes(len(buf[i : i + 64]))
        else:
            j = draw(st.integers(0, len(buf) - 1))
            buf[i:i] = buf[j : j + 32]
    return bytes(buf)


@st.composite
def audio_media(draw: st.DrawFn) -> pb.Media:
    kind = draw(st.sampled_from(["speech", "speech", "mutated", "random", "tone", "png"]))
    if kind == "speech":
        data = SPEECH
    elif kind == "mutated":
        data = mutate_bytes(SPEECH, draw)
    elif kind == "random":
        data = draw(st.binary(max_size=2000))
    elif kind == "tone":
        import numpy as np

        rate = draw(st.sampled_from([8000, 16000, 44100]))
        seconds = draw(st.sampled_from([0.2, 0.6, 1.5]))
        t = np.arange(int(rate * seconds)) / rate
        data = wav((0.4 * np.sin(2 * np.pi * 180 * t)).astype(np.float32), rate)
    else:
        data = png(4, 4)
    mime = draw(
        mostly(st.just(""), st.sampled_from(["audio/wav", "audio/flac", "video/mp4", "x/y"]))
    )
    return pb.Media(data=data, mime_type=mime)


@st.composite
def video_media(draw: st.DrawFn) -> pb.Media:
    kind = draw(st.sampled_from(["mutated", "head", "random", "uri"]))
    if kind == "uri":
        uri = draw(st.sampled_from(["file:///etc/passwd", "http://127.0.0.1:9/x.mp4", "nope"]))
        return pb.Media(uri=uri)
    if kind == "mutated":
        data = mutate_bytes(VIDEO, draw)
    elif kind == "head":
        data = VIDEO[: draw(st.integers(0, 4096))]
    else:
        data = draw(st.binary(max_size=2000))
    return pb.Media(data=data, mime_type=draw(st.sampled_from(["", "video/mp4", "image/png"])))


@st.composite
def requests(draw: st.DrawFn) -> pb.AnalysisRequest:
    r = pb.AnalysisRequest(
        request_id=draw(mostly(st.sampled_from(["", "fuzz"]), st.just("r" * 200))),
        subject_id=draw(mostly(st.just(""), st.sampled_from(["s1", "\x00"]))),
        options=draw(options()),
        questions=draw(questions()),
    )
    if draw(st.booleans()):
        r.transcript.CopyFrom(draw(transcripts()))
    if draw(st.booleans()):
        r.physiology.CopyFrom(draw(physiology()))
    if draw(st.integers(0, 3)) == 0:
        r.audio.CopyFrom(draw(audio_media()))
    if draw(st.integers(0, 7)) == 0:
        r.video.CopyFrom(draw(video_media()))
        r.options.target_fps = 1.0  # keep the vision work per example small
    if draw(st.integers(0, 4)) == 0:
        r.baseline.transcript.CopyFrom(draw(transcripts()))
    return r


def valid_request() -> pb.AnalysisRequest:
    """What the mutations start from: a request every modality but vision accepts."""
    return pb.AnalysisRequest(
        request_id="fuzz-base",
        transcript=pb.Transcript(text=TEXT),
        audio=pb.Media(data=SPEECH, mime_type="audio/wav"),
        physiology=pb.Physiology(
            heart_rate=[70.0 + (i % 7) for i in range(40)],
            channels=[
                pb.PhysioChannel(
                    name="eda",
                    sampling_rate_hz=4,
                    samples=[2.0 + 0.1 * math.sin(i / 3) for i in range(160)],
                )
            ],
            markers=[pb.QuestionMarker(kind=pb.QuestionMarker.RELEVANT, start_s=5, end_s=8)],
        ),
        questions=[pb.QuestionMarker(kind=pb.QuestionMarker.COMPARISON, start_s=1, end_s=2)],
    )


def _set_item(values: Any, d: st.DrawFn) -> None:
    if len(values):
        values[d(st.integers(0, len(values) - 1))] = d(floats)


def _eda_rate(r: pb.AnalysisRequest, d: st.DrawFn) -> None:
    for c in r.physiology.channels[:1]:
        c.sampling_rate_hz = d(floats)


def _marker(r: pb.AnalysisRequest, d: st.DrawFn) -> None:
    for m in r.physiology.markers[:1]:
        setattr(m, d(st.sampled_from(["start_s", "end_s"])), d(floats))


# Each mutation sets one part of the (possibly already mutated) valid request.
MUTATIONS: dict[str, Any] = {
    "options": lambda r, d: r.options.CopyFrom(d(options())),
    "questions": lambda r, d: r.questions.extend(d(questions())),
    "transcript": lambda r, d: r.transcript.CopyFrom(d(transcripts())),
    "physiology": lambda r, d: r.physiology.CopyFrom(d(physiology())),
    "audio": lambda r, d: r.audio.CopyFrom(d(audio_media())),
    "baseline.audio": lambda r, d: r.baseline.audio.CopyFrom(d(audio_media())),
    "baseline.physiology": lambda r, d: r.baseline.physiology.CopyFrom(d(physiology())),
    "eda samples": lambda r, d: _set_item(
        r.physiology.channels[0].samples if r.physiology.channels else [], d
    ),
    "eda rate": _eda_rate,
    "marker": _marker,
    "heart rate": lambda r, d: _set_item(r.physiology.heart_rate, d),
    "window": lambda r, d: setattr(r.options, "window_s", d(floats)),
    "audio bytes": lambda r, d: setattr(r.audio, "data", mutate_bytes(SPEECH, d)),
}


# ---- the runs -----------------------------------------------------------------------------


@pytest.mark.timeout(FUZZ_TIMEOUT_S)
@examples(120)
@given(request=requests(), transport=st.sampled_from(["grpc", "http"]))
def test_generated_requests(door: Door, request: pb.AnalysisRequest, transport: str) -> None:
    fuzz_check(door.analyze(request, transport), "generated request")


@pytest.mark.timeout(FUZZ_TIMEOUT_S)
@examples(120)
@given(data=st.data(), transport=st.sampled_from(["grpc", "http"]))
def test_mutated_valid_requests(door: Door, data: st.DataObject, transport: str) -> None:
    request = valid_request()
    names = data.draw(st.lists(st.sampled_from(sorted(MUTATIONS)), min_size=1, max_size=3))
    for name in names:
        MUTATIONS[name](request, data.draw)
    fuzz_check(door.analyze(request, transport), f"mutated {names}")


@pytest.mark.timeout(FUZZ_TIMEOUT_S)
@examples(200)
@given(data=st.data())
def test_mutated_raw_bytes(door: Door, data: st.DataObject) -> None:
    """Protobuf bytes over gRPC and JSON text over HTTP, mutated: whatever parses is checked
    like any request; whatever does not is INVALID_ARGUMENT naming the body."""
    request = valid_request()
    request.ClearField("audio")  # smaller bytes: more of each mutation lands on structure
    if data.draw(st.booleans()):
        raw = mutate_bytes(request.SerializeToString(), data.draw)
        fuzz_check(door.raw_grpc("Analyze", raw), "mutated protobuf bytes")
    else:
        from google.protobuf import json_format

        text = json_format.MessageToJson(request).encode()
        raw = mutate_bytes(text, data.draw)
        fuzz_check(door.post("/v1/analyze", raw, raw=True), "mutated JSON bytes")


def test_every_process_is_alive_and_ready_after_the_fuzz(mesh: Mesh, chaos_gateway: Any) -> None:
    all_alive_and_ready(mesh, [(chaos_gateway.address, "veritas.v1.Veritas")])
