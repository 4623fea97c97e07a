"""Requests flowing through a mesh's gateway while something else happens (a fault, a soak):
a few threads, each sending multimodal analyses one after another, every outcome kept with
its times.

Every call is analysed in full: it asks the gateway not to use its result cache
(`x-veritas-cache: off`), and no two calls are the same (the transcript and heart rate differ
every time, and so do the audio and video bytes), so the services' own caches fill and
evict as they would in use rather than answer from memory."""

from __future__ import annotations

import functools
import io
import itertools
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import grpc
import numpy as np
import soundfile as sf

from benchmarks.procs import group_usage
from tests.chaos.corpus import SPEECH, TEXT, VIDEO
from tools.mesh import Mesh
from veritas import refs
from veritas.v1 import common_pb2 as pb
from veritas.v1 import veritas_pb2_grpc

MODALITIES = ("VISION", "AUDIO", "TEXT", "PHYSIOLOGY")


NO_CACHE = (("x-veritas-cache", "off"),)
FPS = (1.0, 1.25, 1.5)  # the video sampled at about a frame a second: vision stays cheap


@functools.cache
def speech() -> tuple[np.ndarray, int]:
    samples, rate = sf.read(io.BytesIO(SPEECH), dtype="float32")
    return samples, rate


def unique_audio(n: int) -> bytes:
    """The sample recording at a level of its own: the same speech, other bytes."""
    samples, rate = speech()
    buf = io.BytesIO()
    sf.write(buf, samples * (0.7 + (n % 4096) / 16384), rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def unique_video(n: int) -> bytes:
    """The sample video with a top-level `free` box of its own at the end: the same frames,
    other bytes."""
    payload = f"veritas chaos call {n}".encode()
    return VIDEO + struct.pack(">I", 8 + len(payload)) + b"free" + payload


def load_request(n: int = 0) -> pb.AnalysisRequest:
    """Call number `n`: every modality, each cheap, and different from every other call."""
    return pb.AnalysisRequest(
        video=pb.Media(data=unique_video(n), mime_type="video/mp4"),
        audio=pb.Media(data=unique_audio(n), mime_type="audio/wav"),
        transcript=pb.Transcript(text=f"{TEXT} That was call number {n}."),
        physiology=pb.Physiology(heart_rate=[70.0 + ((i + n) % 9) for i in range(60 + n % 7)]),
        options=pb.Options(target_fps=FPS[n % len(FPS)]),
    )


@dataclass(frozen=True)
class Outcome:
    started: float  # time.monotonic()
    ended: float
    code: str  # gRPC status code name
    message: str = ""
    ref: str | None = None
    statuses: dict[str, str] = field(default_factory=dict)  # modality -> status name
    reasons: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.code == "OK"

    @property
    def degraded(self) -> bool:
        return self.ok and any(s != "OK" for s in self.statuses.values())

    @property
    def complete(self) -> bool:
        return self.ok and all(self.statuses.get(m) == "OK" for m in MODALITIES)

    @property
    def seconds(self) -> float:
        return self.ended - self.started


def call_once(stub: veritas_pb2_grpc.VeritasStub, request: pb.AnalysisRequest) -> Outcome:
    started = time.monotonic()
    try:
        result = stub.Analyze(request, timeout=60, metadata=NO_CACHE)
    except grpc.RpcError as e:
        trailing = dict(e.trailing_metadata() or ())  # type: ignore[attr-defined]
        return Outcome(
            started,
            time.monotonic(),
            e.code().name,  # type: ignore[attr-defined]
            e.details() or "",  # type: ignore[attr-defined]
            trailing.get(refs.REF_METADATA),
        )
    return Outcome(
        started,
        time.monotonic(),
        "OK",
        statuses={
            pb.Modality.Name(m.modality): pb.ModalityStatus.Name(m.status)
            for m in result.modalities
        },
        reasons={pb.Modality.Name(m.modality): m.reason for m in result.modalities},
    )


@dataclass
class Load:
    """`workers` threads calling Analyze on `address` until stopped; `outcomes` grows."""

    address: str
    workers: int = 3
    outcomes: list[Outcome] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _numbers: Iterator[int] = field(default_factory=itertools.count)

    def _run(self) -> None:
        with grpc.insecure_channel(self.address) as channel:
            stub = veritas_pb2_grpc.VeritasStub(channel)
            while not self._stop.is_set():
                with self._lock:
                    n = next(self._numbers)
                outcome = call_once(stub, load_request(n))
                with self._lock:
                    self.outcomes.append(outcome)
                if not outcome.ok:
                    time.sleep(0.05)  # a failing mesh answers at once: do not spin

    def since(self, t: float, until: float | None = None) -> list[Outcome]:
        """Outcomes of calls that started at or after `t` (and ended by `until`)."""
        with self._lock:
            return [
                o for o in self.outcomes if o.started >= t and (until is None or o.ended <= until)
            ]

    def wait_for(self, count: int, after: float, timeout_s: float = 120) -> list[Outcome]:
        """Block until `count` calls that started after `after` have ended."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            done = self.since(after)
            if len(done) >= count:
                return done
            time.sleep(0.1)
        raise AssertionError(f"only {len(self.since(after))} calls ended in {timeout_s} s")

    def first(self, after: float, test: str = "complete", timeout_s: float = 120) -> Outcome:
        """The first call started after `after` whose outcome passes `test` (a property)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            found = [o for o in self.since(after) if getattr(o, test)]
            if found:
                return min(found, key=lambda o: o.ended)
            time.sleep(0.1)
        raise AssertionError(f"no {test} answer within {timeout_s} s of the restart")

    @contextmanager
    def running(self) -> Iterator[Load]:
        threads = [threading.Thread(target=self._run, daemon=True) for _ in range(self.workers)]
        for t in threads:
            t.start()
        try:
            yield self
        finally:
            self._stop.set()
            for t in threads:
                t.join(timeout=90)


def pids(mesh: Mesh) -> dict[str, int]:
    """The process (group leader) of each service and of Triton, by name."""
    out = {name: p.pid for name, p in mesh.processes.items() if p.poll() is None}
    triton = getattr(mesh.triton, "process", None)
    if triton is not None and triton.poll() is None:
        out["triton"] = triton.pid
    return out


def rss(mesh: Mesh) -> dict[str, int]:
    """Resident bytes of each process group (Triton with its python-backend stubs)."""
    return {name: usage.rss_bytes for name, usage in group_usage(pids(mesh)).items()}
