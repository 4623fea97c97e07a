"""A modality made slow on purpose, so deadline tests hold on any machine, fast or slow.

`python -m tests.slow_modality vision --delay-s 120 --record calls.jsonl` serves the real
vision service (its real analyzer, Triton model and servicer) except that every Analyze call
first waits `--delay-s` seconds, asynchronously, so the wait ends at once when the caller
cancels and holds no worker thread. Each call appends JSON lines to `--record`: on arrival
the gRPC deadline it carries (`deadline_s`, seconds left, or null), and when it ends how
(`completed`, `cancelled`, `error`) and after how long.

`SlowPath` starts that service beside a session mesh, with a fusion of its own that calls it
for the modality and the mesh's services for the others, and a gateway in front of that
fusion (or the slow service alone): the mesh itself stays as it is for every other test.
Only tests use this module.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import grpc

from tools.mesh import ROOT, Mesh, free_port, wait_healthy
from veritas import modality_service
from veritas.analysis import Analyzer
from veritas.modalities import NAMES as MODALITY_SERVICES
from veritas.modality_service import ModalityServicer
from veritas.v1 import modality_pb2

ANALYZERS = {
    "vision": ("services.vision.analyzer", "VisionAnalyzer"),
    "audio": ("services.audio.analyzer", "AudioAnalyzer"),
    "text": ("services.text.analyzer", "TextAnalyzer"),
    "physiology": ("services.physiology.analyzer", "PhysiologyAnalyzer"),
}


class DelayedServicer(ModalityServicer):
    """The real servicer; each Analyze call waits `delay_s` first and is recorded."""

    delay_s: float = 0.0
    record: IO[str] | None = None

    def _write(self, **fields: Any) -> None:
        if self.record is not None:
            self.record.write(json.dumps(fields) + "\n")
            self.record.flush()

    async def Analyze(
        self, request: modality_pb2.ModalityRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[modality_pb2.ModalityUpdate]:
        started = time.monotonic()
        deadline_s = context.time_remaining()
        self._write(event="arrived", request_id=request.request_id, deadline_s=deadline_s)
        how = "error"
        try:
            await asyncio.sleep(self.delay_s)
            async for update in super().Analyze(request, context):
                yield update
            how = "completed"
        except asyncio.CancelledError:
            how = "cancelled"
            raise
        finally:
            after = round(time.monotonic() - started, 3)
            self._write(event="ended", request_id=request.request_id, how=how, after_s=after)


def serve(modality: str, delay_s: float, record_path: Path) -> None:
    """The production entry point (`serve_modality`, as `python -m services.<modality>`
    runs it) with the delayed servicer in place of the real one: everything else, from
    configuration to readiness and draining, is the production code's."""
    module, cls = ANALYZERS[modality]
    make_analyzer: Callable[[], Analyzer] = getattr(importlib.import_module(module), cls)
    DelayedServicer.delay_s = delay_s
    DelayedServicer.record = record_path.open("a", encoding="utf-8")
    modality_service.ModalityServicer = DelayedServicer  # type: ignore[misc]
    modality_service.serve_modality(modality, make_analyzer)


@dataclass
class SlowPath:
    """gateway -> fusion -> the slow modality, beside `mesh` (whose other services it uses)."""

    mesh: Mesh
    run_dir: Path
    modality: str
    delay_s: float
    front: bool = True  # False: the slow service alone, without fusion and gateway
    extra_env: dict[str, str] = field(default_factory=dict)  # for the slow service
    ports: dict[str, int] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def record(self) -> Path:
        return self.run_dir / f"{self.modality}-calls.jsonl"

    def address(self, name: str) -> str:
        return f"127.0.0.1:{self.ports[name]}"

    def calls(self) -> list[dict[str, Any]]:
        """What the slow service recorded, one dict per event, in order."""
        if not self.record.exists():
            return []
        return [json.loads(line) for line in self.record.read_text().splitlines() if line]

    def _spawn(self, name: str, args: list[str], env: dict[str, str]) -> None:
        self.ports[name], self.ports[f"{name}-metrics"] = free_port(), free_port()
        env = env | {
            "VERITAS_PORT": str(self.ports[name]),
            "VERITAS_METRICS_PORT": str(self.ports[f"{name}-metrics"]),
        }
        log = (self.run_dir / f"{name}.log").open("ab")
        self.processes[name] = subprocess.Popen(
            [sys.executable, *args], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            wait_healthy(self.address(name), 60)
        except TimeoutError as e:
            self.stop()
            tail = (self.run_dir / f"{name}.log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{name} did not start: {e}\n{tail}") from e

    def start(self) -> SlowPath:
        m = self.modality
        if m not in MODALITY_SERVICES:
            raise ValueError(f"not a modality service: {m}")
        args = ["-m", "tests.slow_modality", m, f"--delay-s={self.delay_s}"]
        self._spawn(m, [*args, f"--record={self.record}"], self.mesh.env(m) | self.extra_env)
        if not self.front:
            return self
        fusion_env = self.mesh.env("fusion") | {f"VERITAS_{m.upper()}_ADDR": self.address(m)}
        self._spawn("fusion", ["-m", "fusion"], fusion_env)
        gateway_env = self.mesh.env("gateway") | {
            "VERITAS_FUSION_ADDR": self.address("fusion"),
            "VERITAS_HTTP_PORT": "0",
        }
        self._spawn("gateway", ["-m", "gateway"], gateway_env)
        return self

    def stop(self) -> None:
        for process in reversed(list(self.processes.values())):
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()

    def __enter__(self) -> SlowPath:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modality", choices=sorted(ANALYZERS))
    parser.add_argument("--delay-s", type=float, required=True)
    parser.add_argument("--record", type=Path, required=True)
    args = parser.parse_args()
    serve(args.modality, args.delay_s, args.record)


if __name__ == "__main__":
    main()
