"""Live analysis through the public API, as a gRPC client watching an interview uses it:
every window answered with its quality and coverage, video + audio + transcript +
physiology in one stream, question markers, and no state left behind by abandoned streams."""

from __future__ import annotations

import asyncio
import time
import urllib.request
import wave
from collections.abc import AsyncIterator, Iterator

import cv2
import grpc
import numpy as np

from tests.conftest import SAMPLES
from tools.mesh import Mesh
from veritas.physio_csv import read_physio_csv
from veritas.v1 import common_pb2 as pb
from veritas.v1 import modality_pb2_grpc, veritas_pb2_grpc

FPS = 30.0


def sample_jpegs() -> list[bytes]:
    capture = cv2.VideoCapture(str(SAMPLES / "face.mp4"))
    frames = []
    while True:
        ok, image = capture.read()
        if not ok:
            break
        frames.append(cv2.imencode(".jpg", image)[1].tobytes())
    capture.release()
    return frames


def video_chunks(frames: list[bytes], seconds: float, fps: float = FPS) -> Iterator[pb.LiveChunk]:
    for i in range(int(seconds * fps)):
        yield pb.LiveChunk(
            video_frame=pb.VideoFrame(
                image=frames[i % len(frames)], mime_type="image/jpeg", timestamp_s=i / fps
            )
        )


def audio_chunks(seconds: float, chunk_s: float = 0.1) -> Iterator[pb.LiveChunk]:
    with wave.open(str(SAMPLES / "speech.wav"), "rb") as w:
        rate, channels = w.getframerate(), w.getnchannels()
        pcm = np.frombuffer(w.readframes(w.getnframes()), np.int16)
    step = int(rate * chunk_s) * channels
    for i in range(int(seconds / chunk_s)):
        start = (i * step) % max(1, len(pcm) - step)
        yield pb.LiveChunk(
            audio_chunk=pb.AudioChunk(
                pcm16=pcm[start : start + step].tobytes(),
                sample_rate_hz=rate,
                channels=channels,
                timestamp_s=i * chunk_s,
            )
        )


def physio_chunks(seconds: float) -> Iterator[pb.LiveChunk]:
    physiology = read_physio_csv(SAMPLES / "physiology.csv")
    for channel in physiology.channels:
        rate = channel.sampling_rate_hz
        n = int(rate)
        for k in range(int(seconds)):
            samples = channel.samples[k * n : (k + 1) * n]
            if len(samples) < n:
                break
            yield pb.LiveChunk(
                physio_samples=pb.PhysioChannel(
                    name=channel.name,
                    unit=channel.unit,
                    sampling_rate_hz=rate,
                    samples=samples,
                    start_s=float(k),
                )
            )


def by_time(chunks: list[pb.LiveChunk]) -> list[pb.LiveChunk]:
    from veritas.modalities import chunk_time

    return sorted(chunks, key=chunk_time)


def windows_answered(
    results: list[pb.AnalysisResult], modality: int, window_s: float
) -> list[pb.ModalityResult]:
    """The distinct windows a modality answered, in the order they came (progressive
    updates show a running modality as PENDING with its latest window; the whole-input
    result spans more than one window)."""
    seen: dict[tuple[float, float], pb.ModalityResult] = {}
    for r in results:
        for m in r.modalities:
            span = m.window_end_s - m.window_start_s
            if m.modality == modality and m.model.name and 0 < span <= window_s + 1e-6:
                seen.setdefault((round(m.window_start_s, 3), round(m.window_end_s, 3)), m)
    return list(seen.values())


def test_a_video_stream_answers_every_window_with_quality_and_coverage(mesh: Mesh) -> None:
    frames = sample_jpegs()
    config = pb.LiveChunk(
        config=pb.StreamConfig(options=pb.Options(window_s=1.0, quality=pb.QUALITY_LOW))
    )
    with grpc.insecure_channel(mesh.address("gateway")) as channel:
        stub = veritas_pb2_grpc.VeritasStub(channel)
        chunks = [config, *video_chunks(frames, 6.0)]
        results = list(stub.AnalyzeStream(iter(chunks), timeout=120))
    assert results[-1].final
    windows = windows_answered(results, pb.VISION, 1.0)
    assert [round(w.window_start_s) for w in windows] == list(range(6))
    for w in windows:
        assert w.quality == pb.QUALITY_LOW  # pinned
        assert w.coverage.received == 30
        assert w.coverage.analysed == 3 and w.coverage.skipped == 27
    (final,) = [m for m in results[-1].modalities if m.modality == pb.VISION]
    assert final.status == pb.OK
    assert final.coverage.received == 180 and final.coverage.analysed == 18


def test_one_stream_carries_every_modality_and_questions(mesh: Mesh) -> None:
    """Video, audio, transcript segments and physiology in one stream, aligned on the shared
    timeline, with question markers sent as they are asked: audio measures the response
    latency to them and physiology scores the comparison questions."""
    seconds = 12.0
    frames = sample_jpegs()
    text = (SAMPLES / "transcript.txt").read_text(encoding="utf-8").split(". ")
    segments = [
        pb.LiveChunk(
            transcript_segment=pb.TranscriptSegment(start_s=2.0 * i, end_s=2.0 * i + 2, text=s)
        )
        for i, s in enumerate(text[: int(seconds // 2)])
    ]
    questions = [
        pb.LiveChunk(question=pb.QuestionMarker(kind=kind, start_s=t, end_s=t + 1.0, label=f"q{i}"))
        for i, (kind, t) in enumerate(
            [
                (pb.QuestionMarker.COMPARISON, 1.0),
                (pb.QuestionMarker.RELEVANT, 5.0),
                (pb.QuestionMarker.COMPARISON, 8.0),
            ]
        )
    ]
    chunks = by_time(
        [
            *video_chunks(frames, seconds, fps=10),
            *audio_chunks(seconds),
            *segments,
            *physio_chunks(seconds),
            *questions,
        ]
    )
    config = pb.LiveChunk(config=pb.StreamConfig(options=pb.Options(window_s=2.0, explain=True)))
    with grpc.insecure_channel(mesh.address("gateway")) as channel:
        stub = veritas_pb2_grpc.VeritasStub(channel)
        results = list(stub.AnalyzeStream(iter([config, *chunks]), timeout=180))
    final = results[-1]
    assert final.final
    statuses = {pb.Modality.Name(m.modality): m for m in final.modalities}
    assert set(statuses) == {"VISION", "AUDIO", "TEXT", "PHYSIOLOGY"}
    for name, m in statuses.items():
        assert m.status == pb.OK, (name, m.reason)
    # Each modality answers in its own windows: 2 s asked; physiology's minimum is 5 s.
    for modality, window_s in ((pb.VISION, 2.0), (pb.AUDIO, 2.0), (pb.PHYSIOLOGY, 5.0)):
        assert len(windows_answered(results, modality, window_s)) >= seconds // window_s
    audio = {f.name: f.value for f in statuses["AUDIO"].features}
    assert audio.get("response_count", 0) >= 1  # questions reached audio
    physio_names = {f.name for f in statuses["PHYSIOLOGY"].features}
    assert any("cqt" in n or "comparison" in n for n in physio_names), sorted(physio_names)


def _live_streams_open(mesh: Mesh, service: str) -> float:
    text = (
        urllib.request.urlopen(f"http://127.0.0.1:{mesh.ports.metrics[service]}/metrics", timeout=5)
        .read()
        .decode()
    )
    for line in text.splitlines():
        if line.startswith("veritas_live_streams_open{"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_abandoned_streams_free_their_state(mesh: Mesh) -> None:
    """100 clients that vanish mid-stream (cancelled calls) leave no stream open in the
    vision service: its per-stream state goes with them. Straight to the service, ten at a
    time (the gateway would cap one tenant at a few streams), then once through the
    gateway, whose cancellation must reach the service too."""
    frames = sample_jpegs()

    async def chunks() -> AsyncIterator[pb.LiveChunk]:
        yield pb.LiveChunk(config=pb.StreamConfig(options=pb.Options(window_s=0.5)))
        for chunk in video_chunks(frames, 1.0, fps=10):
            yield chunk
        await asyncio.sleep(3600)  # the client goes quiet, then away

    async def abandon(call: grpc.aio.StreamStreamCall) -> None:
        async for _ in call:
            break  # the first update arrived: the stream is open
        call.cancel()

    async with grpc.aio.insecure_channel(mesh.address("vision")) as channel:
        stub = modality_pb2_grpc.ModalityAnalyzerStub(channel)
        for _ in range(10):
            await asyncio.gather(*(abandon(stub.AnalyzeLive(chunks())) for _ in range(10)))
    async with grpc.aio.insecure_channel(mesh.address("gateway")) as channel:
        call = veritas_pb2_grpc.VeritasStub(channel).AnalyzeStream(chunks())
        async for _ in call:
            break
        assert _live_streams_open(mesh, "vision") >= 1  # the gauge sees a stream while open
        call.cancel()
    deadline = time.monotonic() + 30
    while _live_streams_open(mesh, "vision") and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    assert _live_streams_open(mesh, "vision") == 0
