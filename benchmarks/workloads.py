"""The fixed workloads every benchmark sends, all built from the bundled samples/.

- `text`: samples/transcript.txt as the transcript.
- `audio_text`: samples/speech.wav (sent as WAV bytes) + the transcript.
- `full`: samples/face.mp4 (MP4 bytes) + speech.wav + transcript + samples/physiology.csv
  (every channel of the CSV at its own rate).
- live streams: built from the same files by benchmarks/live_feed.py (JPEG frames, 16 kHz
  PCM chunks, transcript segments, physiology chunks), described in the streaming section.

`describe()` measures the files (durations, rates, sizes) at run time, so the report states
what was sent, never what a comment once said.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from benchmarks import live_feed
from veritas.client import build_request
from veritas.physio_csv import read_physio_csv
from veritas.v1 import common_pb2, modality_pb2

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
WORKLOADS = ("text", "audio_text", "full")
LABELS = {"text": "text only", "audio_text": "audio + text", "full": "full multimodal"}
MODALITY_INPUTS = {
    "text": ("text",),
    "audio_text": ("audio", "text"),
    "full": ("vision", "audio", "text", "physiology"),
}


@dataclass(frozen=True)
class Samples:
    """The sample files and the requests built from them (read once)."""

    root: Path = SAMPLES

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
    def _requests(self) -> dict[str, common_pb2.AnalysisRequest]:
        return {
            "text": build_request(transcript=self.transcript),
            "audio_text": build_request(audio=self.audio, transcript=self.transcript),
            "full": build_request(
                video=self.video,
                audio=self.audio,
                transcript=self.transcript,
                physiology=self.physiology,
            ),
        }

    def request(self, workload: str) -> common_pb2.AnalysisRequest:
        """A fresh copy of the workload's request with its own request id."""
        request = common_pb2.AnalysisRequest()
        request.CopyFrom(self._requests[workload])
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
            "physiology": {"file": self.physiology_path.name, "channels": channels},
            "requests": {
                name: {
                    "modalities": list(MODALITY_INPUTS[name]),
                    "bytes": self._requests[name].ByteSize(),
                }
                for name in WORKLOADS
            },
            "live_frames": {"encoding": "image/jpeg", "jpeg_quality": live_feed.JPEG_QUALITY},
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
