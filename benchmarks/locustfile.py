"""Locust users for the gateway's HTTP/JSON API, with the bundled samples as bodies.

Three tasks, each reported under its own name: POST /v1/analyze with a transcript only,
POST /v1/analyze with speech.wav (base64) + a transcript, and the old POST /api/analyze
body {audio_path, transcript, physiological_data}. The old body names a file by path, so the
gateway must allow the samples folder (VERITAS_MEDIA_URI_ALLOWLIST=file://<repo>/samples).

Every request is a distinct run of benchmarks/workloads.py (its own review, its own gain and
dither of the speech), so neither the gateway's result cache nor the audio service's feature
cache answers it. The old body names the same file every time: from its second request on,
the audio service's feature cache skips measuring that recording, so its row measures the
old body's path, not audio's cost.

    .venv/bin/locust -f benchmarks/locustfile.py --headless -u 8 -r 8 -t 30s \
        --host http://127.0.0.1:8080 [--api-key vk_...]
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from locust import HttpUser, constant, events, task

from benchmarks.workloads import Samples

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
RUNS = Samples(SAMPLES)


def _heart_rate() -> list[float]:
    """The 1 Hz heart-rate channel of samples/physiology.csv: the old API's plain bpm list."""
    from veritas.physio_csv import read_physio_csv

    physiology = read_physio_csv(SAMPLES / "physiology.csv")
    for channel in physiology.channels:
        if channel.name == "heart_rate":
            return [round(v, 2) for v in channel.samples]
    return list(physiology.heart_rate)


HEART_RATE = _heart_rate()


def text_body() -> dict[str, Any]:
    return {"transcript": {"text": RUNS.text(RUNS.next_run())}}


def audio_text_body() -> dict[str, Any]:
    i = RUNS.next_run()
    audio = base64.b64encode(RUNS.audio_bytes(i)).decode("ascii")
    return {
        "audio": {"data": audio, "mime_type": "audio/wav"},
        "transcript": {"text": RUNS.text(i)},
    }


def legacy_body() -> dict[str, Any]:
    return {
        "audio_path": str(SAMPLES / "speech.wav"),
        "transcript": RUNS.text(RUNS.next_run()),
        "physiological_data": HEART_RATE,
    }


@events.init_command_line_parser.add_listener
def _arguments(parser: Any) -> None:
    parser.add_argument("--api-key", default="", help="sent as authorization: Bearer <key>")


class GatewayUser(HttpUser):
    """A closed loop: each user sends its next request as soon as the last one answered."""

    wait_time = constant(0)

    def on_start(self) -> None:
        key = getattr(self.environment.parsed_options, "api_key", "")
        if key:
            self.client.headers["authorization"] = f"Bearer {key}"

    def _post(self, path: str, body: dict[str, Any], name: str) -> None:
        with self.client.post(path, json=body, name=name, catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}: {response.text[:200]}")
            elif "decision" not in response.json():
                response.failure("answer has no decision")

    @task(2)
    def text(self) -> None:
        self._post("/v1/analyze", text_body(), "POST /v1/analyze text")

    @task(1)
    def audio_text(self) -> None:
        self._post("/v1/analyze", audio_text_body(), "POST /v1/analyze audio+text")

    @task(1)
    def legacy(self) -> None:
        self._post("/api/analyze", legacy_body(), "POST /api/analyze (old body)")
