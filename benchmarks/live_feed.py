"""What the live benchmark streams send, built from samples/ once, up front.

The client shares the machine's cores with the mesh, so everything costly is done before a
stream starts: the frames of samples/face.mp4 are decoded once and re-encoded into a pool of
distinct JPEGs (each pool frame has its own small brightness offset), so a stream only
copies bytes. Every frame sent also carries its stream and sequence number in a JPEG comment
segment (invisible to decoders), so no two frames of a run are the same bytes; audio and
physiology chunks get a tiny deterministic dither, and transcripts are spoken from texts no
other stream or loop says (the text workload's distinct reviews): nothing a cache keyed on
the input could answer.

A stream is a schedule of `Chunk`s, each sent when its data is complete on the stream's
timeline, as a capture device would: a video frame at its timestamp, a 0.1 s audio chunk
at its end, a 1 s physiology chunk at its end, a transcript phrase (<= 6 words) when it was spoken,
a question marker when it is asked. The kinds are merged lazily in send order, so a 10-minute
stream never holds more than one chunk of each kind in memory.
"""

from __future__ import annotations

import heapq
import itertools
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from veritas.v1 import common_pb2

JPEG_QUALITY = 90
POOL_SIZE = 900  # 30 s of distinct frames at 30 fps
BRIGHTNESS_OFFSETS = (0, 3, -3, 6, -6, 9, -9, 12)  # of 255: invisible to the face detector
AUDIO_RATE_HZ = 16000
AUDIO_CHUNK_S = 0.1
PHYSIO_CHUNK_S = 1.0
WORDS_PER_S = 2.5  # conversational speech (150 words/min): transcript segment lengths
SEGMENT_GAP_S = 0.4  # pause between transcript segments
SEGMENT_WORDS = 6  # words per transcript segment at most (a streaming recogniser's phrase)


@dataclass(frozen=True)
class Chunk:
    """One message of a stream, with what the measurements need to know about it."""

    send_s: float  # when to send it, in seconds after the stream's start
    modality: str  # vision, audio, text, physiology, or question (no windows of its own)
    lane: str  # chunks of one lane cover the timeline in order (physiology: one per channel)
    start_s: float  # the span of the stream timeline its data covers (a frame: an instant)
    end_s: float
    message: common_pb2.LiveChunk


def frame_pool(video: Path, size: int = POOL_SIZE, quality: int = JPEG_QUALITY) -> list[bytes]:
    """`size` distinct JPEGs from the frames of `video`, looped, each with its own offset."""
    import cv2

    capture = cv2.VideoCapture(str(video))
    frames: list[np.ndarray] = []
    try:
        while True:
            ok, image = capture.read()
            if not ok:
                break
            frames.append(image)
    finally:
        capture.release()
    if not frames:
        raise RuntimeError(f"{video}: no frames could be decoded")
    pool = []
    for i in range(size):
        offset = BRIGHTNESS_OFFSETS[i % len(BRIGHTNESS_OFFSETS)]
        image = frames[i % len(frames)]
        if offset:
            image = np.clip(image.astype(np.int16) + offset, 0, 255).astype(np.uint8)
        ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:
            raise RuntimeError(f"{video}: frame {i % len(frames)} could not be JPEG-encoded")
        pool.append(encoded.tobytes())
    return pool


def tagged_jpeg(jpeg: bytes, tag: str) -> bytes:
    """The same image with a JPEG comment (COM) segment after SOI: other bytes, same pixels."""
    if jpeg[:2] != b"\xff\xd8":
        raise ValueError("not a JPEG (no SOI marker)")
    payload = tag.encode()[:65000]
    return jpeg[:2] + b"\xff\xfe" + (len(payload) + 2).to_bytes(2, "big") + payload + jpeg[2:]


def video_chunks(
    pool: Sequence[bytes], fps: float, seconds: float, stream: int = 0
) -> Iterator[Chunk]:
    for i in itertools.count():
        t = i / fps
        if t >= seconds - 1e-9:
            return
        image = tagged_jpeg(pool[i % len(pool)], f"veritas-bench stream {stream} frame {i}")
        message = common_pb2.LiveChunk(
            video_frame=common_pb2.VideoFrame(image=image, mime_type="image/jpeg", timestamp_s=t)
        )
        yield Chunk(t, "vision", "vision", t, t, message)


def _dither(n: int, seed: int, scale: float) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-scale, scale, n)


def audio_chunks(samples: np.ndarray, seconds: float, stream: int = 0) -> Iterator[Chunk]:
    """16 kHz mono PCM16 chunks of AUDIO_CHUNK_S, looping `samples` (int16), dithered by
    up to 2 LSB so a looped recording is never the same samples twice."""
    per = round(AUDIO_RATE_HZ * AUDIO_CHUNK_S)
    for k in itertools.count():
        start, end = k * AUDIO_CHUNK_S, (k + 1) * AUDIO_CHUNK_S
        if end > seconds + 1e-9:
            return
        index = (np.arange(k * per, (k + 1) * per)) % len(samples)
        noise = np.round(_dither(per, stream * 1_000_003 + k, 2.0))
        pcm = np.clip(samples[index].astype(np.int32) + noise, -32768, 32767).astype("<i2")
        message = common_pb2.LiveChunk(
            audio_chunk=common_pb2.AudioChunk(
                pcm16=pcm.tobytes(), sample_rate_hz=AUDIO_RATE_HZ, channels=1, timestamp_s=start
            )
        )
        yield Chunk(end, "audio", "audio", start, end, message)


def phrases(text: str, most_words: int = SEGMENT_WORDS) -> list[str]:
    """The text in phrases of at most `most_words` words, never across a sentence: what a
    streaming speech recogniser emits as it goes."""
    out = []
    for sentence in re.split(r"(?<=[.!?])\s+", text):
        words = sentence.split()
        out += [" ".join(words[i : i + most_words]) for i in range(0, len(words), most_words)]
    return out


def transcript_chunks(texts: Iterable[str], seconds: float) -> Iterator[Chunk]:
    """The phrases of `texts`, one text after another, as segments at WORDS_PER_S; each sent
    when it has been spoken (its end). Ends at `seconds` or when `texts` does."""
    t = SEGMENT_GAP_S
    for phrase in itertools.chain.from_iterable(map(phrases, texts)):
        end = t + max(1.0, len(phrase.split()) / WORDS_PER_S)
        if end > seconds + 1e-9:
            return
        segment = common_pb2.TranscriptSegment(start_s=t, end_s=end, text=phrase, speaker="S")
        yield Chunk(end, "text", "text", t, end, common_pb2.LiveChunk(transcript_segment=segment))
        t = end + SEGMENT_GAP_S


def physiology_chunks(
    physiology: common_pb2.Physiology, seconds: float, stream: int = 0
) -> Iterator[Chunk]:
    """Each channel of the sample in PHYSIO_CHUNK_S chunks at its own rate, looped, with a
    dither of 0.1% of the channel's spread; every chunk sent at its end."""
    channels = [c for c in physiology.channels if c.sampling_rate_hz > 0 and c.samples]
    values = [np.asarray(c.samples, dtype=np.float64) for c in channels]
    spread = [float(np.std(v)) or 1.0 for v in values]
    for k in itertools.count():
        start, end = k * PHYSIO_CHUNK_S, (k + 1) * PHYSIO_CHUNK_S
        if end > seconds + 1e-9:
            return
        for ci, (c, v) in enumerate(zip(channels, values, strict=True)):
            first, last = round(start * c.sampling_rate_hz), round(end * c.sampling_rate_hz)
            if last <= first:
                continue  # a channel slower than one sample per chunk: nothing this time
            index = np.arange(first, last) % len(v)
            noise = _dither(last - first, (stream * 1_000_003 + k) * 16 + ci, 1e-3 * spread[ci])
            part = common_pb2.PhysioChannel(
                name=c.name,
                unit=c.unit,
                sampling_rate_hz=c.sampling_rate_hz,
                samples=(v[index] + noise).tolist(),
                start_s=first / c.sampling_rate_hz,
            )
            t0, t1 = first / c.sampling_rate_hz, last / c.sampling_rate_hz
            message = common_pb2.LiveChunk(physio_samples=part)
            yield Chunk(end, "physiology", f"physiology:{c.name}", t0, t1, message)


def question_chunks(
    markers: Sequence[common_pb2.QuestionMarker], loop_s: float, seconds: float
) -> Iterator[Chunk]:
    """The sample's question markers, repeated every `loop_s` (the physiology's length),
    each sent when the question is asked."""
    ordered = sorted(markers, key=lambda m: m.start_s)
    if not ordered or loop_s <= 0:
        return
    for loop in itertools.count():
        for m in ordered:
            start, end = m.start_s + loop * loop_s, m.end_s + loop * loop_s
            if start >= seconds:
                return
            marker = common_pb2.QuestionMarker(kind=m.kind, start_s=start, end_s=end, label=m.label)
            yield Chunk(
                start, "question", "question", start, end, common_pb2.LiveChunk(question=marker)
            )


def _keyed(kind: Iterator[Chunk], rank: int) -> Iterator[tuple[tuple[float, int, int], Chunk]]:
    for n, chunk in enumerate(kind):
        yield (chunk.send_s, rank, n), chunk


def merged(*kinds: Iterator[Chunk]) -> Iterator[Chunk]:
    """All kinds in send order (ties keep the order of `kinds`), lazily."""
    ordered = heapq.merge(*(_keyed(kind, rank) for rank, kind in enumerate(kinds)))
    return (chunk for _, chunk in ordered)
