"""The workloads every benchmark sends: distinct inputs on every run, so that no cache
(the gateway's result cache, a modality's feature cache, a library's own memo) answers a
request the benchmark means to measure. Only the cache section repeats requests, on purpose.

- `text`: a hotel review from the Deceptive Opinion Spam corpus, read at run time from
  `$VERITAS_DATA_DIR/ott_opinion_spam/reviews.csv` (default `../shared/data`, or beside the
  local checkout a clone was made from: `veritas.config.data_dir`; never copied
  into the repository). Run i sends review i; after every review was sent once, the
  reviews come back with their sentences rotated, then with one sentence of another review
  appended: every run's text is different, and every one is review-length.
- `audio_text`: `samples/speech.wav` with per-run variation (a gain of 0.85-1.0 and a
  dither of at most 2 LSB, seeded by the run), sent as WAV bytes, + the run's review.
- `full`: `samples/face.mp4` (MP4 bytes; each run appends a top-level `free` box holding
  the run's number: the same pixels, other bytes) + the run's audio + the run's review +
  `samples/physiology.csv` (every channel at its own rate, dithered by 0.1% of its spread).
- live streams: built from the same files by benchmarks/live_feed.py (JPEG frames, 16 kHz
  PCM chunks, transcript segments, physiology chunks), described in the streaming section.

`request(workload, i)` is a pure function of (workload, i): the latency section sends the
same runs through the mesh and in-process. `describe()` measures the files at run time, so
the report states what was sent, never what a comment once said.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
import struct
import uuid
import wave
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import live_feed
from veritas.client import build_request
from veritas.config import data_dir
from veritas.physio_csv import read_physio_csv
from veritas.v1 import common_pb2, modality_pb2

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
REVIEWS = Path("ott_opinion_spam") / "reviews.csv"
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
WORKLOADS = ("text", "audio_text", "full")
LABELS = {"text": "text only", "audio_text": "audio + text", "full": "full multimodal"}
MODALITY_INPUTS = {
    "text": ("text",),
    "audio_text": ("audio", "text"),
    "full": ("vision", "audio", "text", "physiology"),
}


def read_reviews(path: Path | None = None) -> list[str]:
    """The corpus' review texts, de-duplicated, in file order."""
    path = path or data_dir() / REVIEWS
    if not path.exists():
        raise FileNotFoundError(
            f"{path}: the benchmark's text workload reads the hotel reviews at run time "
            "(set VERITAS_DATA_DIR to the folder holding ott_opinion_spam/)"
        )
    with path.open(newline="", encoding="utf-8") as f:
        texts = [" ".join(row["text"].split()) for row in csv.DictReader(f)]
    return list(dict.fromkeys(t for t in texts if t))


def sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE_END.split(text) if s]


def distinct_text(reviews: Sequence[str], i: int) -> str:
    """Run i's review-length text, different from every other run's (see the module doc)."""
    n = len(reviews)
    base, round_ = reviews[i % n], i // n
    if round_ == 0:
        return base
    parts = sentences(base)
    shift = round_ % len(parts) if len(parts) > 1 else 0
    rotated = parts[shift:] + parts[:shift]
    if len(parts) < 2 or round_ >= len(parts):
        other = sentences(reviews[(i * 7919 + round_) % n])
        rotated.append(other[round_ % len(other)])
        if round_ >= len(parts) * 2:  # beyond every rotation: a numbered sentence too
            rotated.append(f"We stayed {round_} nights.")
    return " ".join(rotated)


def wav_bytes(samples: np.ndarray, rate: int) -> bytes:
    """Mono float samples in [-1, 1] as a 16-bit PCM WAV file."""
    pcm = np.clip(np.round(samples * 32767), -32768, 32767).astype("<i2")
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return out.getvalue()


def varied_audio(samples: np.ndarray, rate: int, i: int) -> bytes:
    """The recording with run i's own gain (0.85-1.0) and dither (at most 2 LSB)."""
    rng = np.random.default_rng(i)
    gain = 0.85 + 0.15 * rng.random()
    dither = rng.integers(-2, 3, size=samples.shape) / 32767
    return wav_bytes(samples * gain + dither, rate)


def tagged_mp4(data: bytes, i: int) -> bytes:
    """The MP4 with a top-level `free` box holding the run's number appended: decoders skip
    it (the same pixels), while anything keyed on the bytes sees a new file."""
    payload = f"veritas-bench-run-{i}".encode()
    return data + struct.pack(">I4s", 8 + len(payload), b"free") + payload


def dithered_physiology(physiology: common_pb2.Physiology, i: int) -> common_pb2.Physiology:
    """Every channel with run i's dither of 0.1% of its spread (heart rate included)."""
    rng = np.random.default_rng(i)
    out = common_pb2.Physiology()
    out.CopyFrom(physiology)
    for channel in out.channels:
        values = np.asarray(channel.samples, dtype=np.float64)
        if values.size:
            spread = float(values.max() - values.min()) or 1.0
            noise = rng.uniform(-1e-3, 1e-3, size=values.size) * spread
            channel.samples[:] = (values + noise).tolist()
    if out.heart_rate:
        hr = np.asarray(out.heart_rate, dtype=np.float64)
        out.heart_rate[:] = (hr + rng.uniform(-0.05, 0.05, size=hr.size)).tolist()
    return out


@dataclass(frozen=True)
class Samples:
    """The sample files, the reviews, and the requests built from them (read once)."""

    root: Path = SAMPLES
    reviews_path: Path | None = None
    _runs: itertools.count = field(default_factory=itertools.count, compare=False)

    @property
    def video(self) -> Path:
        return self.root / "face.mp4"

    @property
    def audio(self) -> Path:
        return self.root / "speech.wav"

    @property
    def transcript_path(self) -> Path:
        return self.root / "transcript.txt"

    @property
    def physiology_path(self) -> Path:
        return self.root / "physiology.csv"

    @cached_property
    def transcript(self) -> str:
        return self.transcript_path.read_text(encoding="utf-8").strip()

    @cached_property
    def physiology(self) -> common_pb2.Physiology:
        return read_physio_csv(self.physiology_path)

    @cached_property
    def reviews(self) -> list[str]:
        return read_reviews(self.reviews_path)

    @cached_property
    def _speech(self) -> tuple[np.ndarray, int]:
        import soundfile

        samples, rate = soundfile.read(str(self.audio), dtype="float64", always_2d=False)
        return samples, int(rate)

    @cached_property
    def _video_bytes(self) -> bytes:
        return self.video.read_bytes()

    def text(self, i: int) -> str:
        return distinct_text(self.reviews, i)

    def audio_bytes(self, i: int) -> bytes:
        return varied_audio(*self._speech, i)

    def build(self, workload: str, i: int) -> common_pb2.AnalysisRequest:
        """Run i's request of the workload (a pure function of both; no request id)."""
        if workload == "text":
            return build_request(transcript=self.text(i))
        if workload == "audio_text":
            request = build_request(audio=self.audio_bytes(i), transcript=self.text(i))
        elif workload == "full":
            request = build_request(
                video=tagged_mp4(self._video_bytes, i),
                audio=self.audio_bytes(i),
                transcript=self.text(i),
                physiology=dithered_physiology(self.physiology, i),
            )
            request.video.mime_type = "video/mp4"
        else:
            raise ValueError(f"unknown workload {workload!r}")
        request.audio.mime_type = "audio/wav"
        return request

    def next_run(self) -> int:
        """A run number no earlier call of this Samples got (thread-safe in CPython)."""
        return next(self._runs)

    def request(self, workload: str, i: int | None = None) -> common_pb2.AnalysisRequest:
        """Run i's request (the next unused run when None) with its own request id."""
        request = self.build(workload, self.next_run() if i is None else i)
        request.request_id = uuid.uuid4().hex
        return request

    def describe(self) -> dict[str, Any]:
        """What the workloads are made of, measured from the files."""
        import cv2
        import soundfile

        info = soundfile.info(str(self.audio))
        capture = cv2.VideoCapture(str(self.video))
        fps = capture.get(cv2.CAP_PROP_FPS)
        frames = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
        height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        capture.release()
        channels = [
            {
                "name": c.name,
                "sampling_rate_hz": c.sampling_rate_hz,
                "samples": len(c.samples),
                "duration_s": len(c.samples) / c.sampling_rate_hz if c.sampling_rate_hz else 0.0,
            }
            for c in self.physiology.channels
        ]
        return {
            "audio": {
                "file": self.audio.name,
                "bytes": self.audio.stat().st_size,
                "duration_s": info.frames / info.samplerate,
                "sample_rate_hz": info.samplerate,
                "channels": info.channels,
            },
            "video": {
                "file": self.video.name,
                "bytes": self.video.stat().st_size,
                "duration_s": frames / fps if fps else 0.0,
                "fps": fps,
                "frames": frames,
                "width": width,
                "height": height,
            },
            "transcript": {
                "file": self.transcript_path.name,
                "characters": len(self.transcript),
                "words": len(self.transcript.split()),
            },
            "reviews": _review_stats(self.reviews, data_dir() / REVIEWS),
            "physiology": {"file": self.physiology_path.name, "channels": channels},
            "requests": {
                name: {
                    "modalities": list(MODALITY_INPUTS[name]),
                    "bytes": self.build(name, 0).ByteSize(),
                }
                for name in WORKLOADS
            },
            "live_frames": {"encoding": "image/jpeg", "jpeg_quality": live_feed.JPEG_QUALITY},
        }


def _review_stats(reviews: Sequence[str], path: Path) -> dict[str, Any]:
    words = sorted(len(t.split()) for t in reviews)
    return {
        "file": str(path),
        "texts": len(reviews),
        "words_median": words[len(words) // 2] if words else 0,
        "words_mean": sum(words) / len(words) if words else 0.0,
        "words_min": words[0] if words else 0,
        "words_max": words[-1] if words else 0,
    }


def modality_requests(
    request: common_pb2.AnalysisRequest, modalities: Sequence[str]
) -> dict[str, modality_pb2.ModalityRequest]:
    """Each modality's part of an AnalysisRequest, as fusion hands it to the service."""
    out = {}
    for name in modalities:
        part = modality_pb2.ModalityRequest(
            request_id=request.request_id, subject_id=request.subject_id, options=request.options
        )
        if name == "vision":
            part.input.media.CopyFrom(request.video)
        elif name == "audio":
            part.input.media.CopyFrom(request.audio)
        elif name == "text":
            part.input.transcript.CopyFrom(request.transcript)
        else:
            part.input.physiology.CopyFrom(request.physiology)
        out[name] = part
    return out
