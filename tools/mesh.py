"""Start the whole mesh on one machine: Triton and the six services as local processes.

Used by `make run` (`veritas up`) and by the integration tests, which start it on free
loopback ports. Each process logs to <run_dir>/logs/<name>.log (appended to, run after run).
What the mesh started it supervises (tools.supervise): a service or Triton that dies is
restarted with backoff, the restart reported and noted in its log; stop_service(),
stop_triton() and stop() are deliberate and restart nothing, nor does a clean exit (a
SIGTERM from outside: someone stopped it).

Triton's own tracing is off unless VERITAS_TRITON_TRACING=1 (or start_triton(tracing=True)):
Triton 2.51 crashes after thousands of traced requests (triton_server.TRACING_CRASH). When
on, with a span file (VERITAS_TRACE_FILE) the mesh also runs an OTLP/HTTP receiver
(tools.otlp_receiver) so that Triton's own spans land in that file beside the services'.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tools.supervise import Supervised
from veritas import modalities, tls
from veritas.config import DEFAULT_METRICS_PORTS, DEFAULT_PORTS

log = logging.getLogger("veritas.launcher")
ROOT = Path(__file__).resolve().parent.parent
SERVICES = (*modalities.NAMES, "fusion", "gateway")
MODULES = {name: f"services.{name}" for name in modalities.NAMES} | {
    "fusion": "fusion",
    "gateway": "gateway",
}


_GIVEN: set[int] = set()  # every port free_port has handed out in this process


def free_port() -> int:
    """A free loopback port that this process has not been given before. The kernel may
    hand a just-released port out again, and two processes of one mesh given the same port
    fail at random (e.g. a service taking Triton's metrics port while Triton starts beside
    it): a repeat is held bound, so the next bind gets another port, and skipped."""
    held: list[socket.socket] = []
    try:
        while True:
            s = socket.socket()
            held.append(s)
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
            if port not in _GIVEN:
                _GIVEN.add(port)
                return port
    finally:
        for s in held:
            s.close()


@dataclass
class Ports:
    grpc: dict[str, int]
    metrics: dict[str, int]
    triton_grpc: int
    triton_http: int
    triton_metrics: int
    http: int = 8080  # the gateway's HTTP/JSON API

    @classmethod
    def defaults(cls) -> Ports:
        return cls(dict(DEFAULT_PORTS), dict(DEFAULT_METRICS_PORTS), 8001, 8000, 8002)

    @classmethod
    def free(cls) -> Ports:
        return cls(
            {s: free_port() for s in SERVICES},
            {s: free_port() for s in SERVICES},
            free_port(),
            free_port(),
            free_port(),
            http=free_port(),
        )


# How often the launcher asks while it waits (Triton's readiness, each health check): a
# refused connection or a NOT_SERVING reply costs well under a millisecond, a poll period
# of 0.2 s cost up to that much per step of the start, one step after another.
POLL_S = 0.05


def wait_healthy(address: str, timeout_s: float, service: str = "") -> None:
    """Block until the grpc.health.v1 check at `address` says SERVING for `service` (the
    empty name: the process is alive; a service's own name: it is ready, docs/health.md)."""
    end = time.monotonic() + timeout_s
    last: Exception | None = None
    with tls.sync_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < end:
            try:
                reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=1.0)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError as e:
                last = e
            time.sleep(POLL_S)
    raise TimeoutError(f"{address} not healthy after {timeout_s:.0f} s: {last}")


READY_NAME = "veritas.v1.Veritas"  # the gateway's readiness entry
MODALITY_READY_NAME = "veritas.v1.ModalityAnalyzer"  # each modality service's readiness entry


@dataclass
class Mesh:
    run_dir: Path
    ports: Ports = field(default_factory=Ports.free)
    extra_env: dict[str, str] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    triton: object | None = None
    otlp: object | None = None  # the OTLP receiver taking Triton's spans (with a trace file)
    supervise: bool = True  # restart what dies (False: a dead process stays dead)
    report: Callable[[str], None] | None = None  # told of each restart (default: logged)
    keepers: dict[str, Supervised] = field(default_factory=dict)
    # The model repository Triton serves (copied to the run's python-backend form), how often
    # Triton polls that copy and how often the copy follows the source (new versions).
    model_source: Path = ROOT / "models" / "repository"
    poll_secs: int = 5
    watch_s: float = 5.0

    def address(self, service: str) -> str:
        return f"127.0.0.1:{self.ports.grpc[service]}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.http}"

    @property
    def triton_url(self) -> str:
        return f"127.0.0.1:{self.ports.triton_grpc}"

    def env(self, service: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "VERITAS_HOST": "127.0.0.1",
                "VERITAS_PORT": str(self.ports.grpc[service]),
                "VERITAS_METRICS_PORT": str(self.ports.metrics[service]),
                "VERITAS_TRITON_URL": self.triton_url,
                "PYTHONPATH": str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
            }
        )
        for peer in SERVICES:
            env[f"VERITAS_{peer.upper()}_ADDR"] = self.address(peer)
        if service == "gateway":
            env["VERITAS_HTTP_PORT"] = str(self.ports.http)
        env.update(self.extra_env)
        return env

    @property
    def trace_file(self) -> str:
        """The span file the services append to (VERITAS_TRACE_FILE), or ""."""
        return self.extra_env.get("VERITAS_TRACE_FILE", os.environ.get("VERITAS_TRACE_FILE", ""))

    def start_otlp_receiver(self) -> str | None:
        """With a span file, receive Triton's OTLP/HTTP spans into it; returns the traces URL."""
        if not self.trace_file:
            return None
        if self.otlp is None:
            from tools.otlp_receiver import OtlpReceiver

            self.otlp = OtlpReceiver(self.trace_file).start()
        return self.otlp.url  # type: ignore[attr-defined, no-any-return]

    @property
    def triton_tracing(self) -> bool:
        """Whether Triton traces its requests (VERITAS_TRITON_TRACING=1): off by default,
        since Triton 2.51's tracing crashes it under sustained load (TRACING_CRASH)."""
        value = self.extra_env.get(
            "VERITAS_TRITON_TRACING", os.environ.get("VERITAS_TRITON_TRACING", "")
        )
        return value.strip().lower() in ("1", "true", "yes", "on")

    def start_triton(
        self,
        ready_timeout_s: float = 120,
        *,
        tracing: bool | None = None,
        wait_services: bool = True,
    ) -> None:
        """Start Triton (stopping the running one first) and wait until it is ready.
        `tracing`: Triton's own spans into the span file (`veritas trace`); default
        `triton_tracing`. `wait_services`: when services run already (a restart under
        them), also wait until they score again (start() waits for them itself)."""
        from tools.triton_server import (
            LOCAL_TRACE_EXPORT_DELAY_MS,
            TritonServer,
            prepare_local_repository,
        )

        source, repo = self.model_source, self.run_dir / "model_repository"
        prepare_local_repository(source, repo)
        if self.triton is not None:  # still running: this is a restart
            self.stop_triton()
        end = time.monotonic() + ready_timeout_s
        traced = self.triton_tracing if tracing is None else tracing
        server = TritonServer()
        server.start(
            repo,
            grpc_port=self.ports.triton_grpc,
            http_port=self.ports.triton_http,
            metrics_port=self.ports.triton_metrics,
            log_path=self.run_dir / "logs" / "triton.log",
            ready_timeout_s=ready_timeout_s,
            # When traced, Triton's spans join the services' in the span file (`veritas
            # trace`); without one, OTEL_EXPORTER_OTLP_* (if set) says where Triton exports.
            otlp_endpoint=self.start_otlp_receiver() if traced else None,
            tracing=traced,
            trace_export_delay_ms=LOCAL_TRACE_EXPORT_DELAY_MS,
            poll_secs=self.poll_secs,
            supervise=self.supervise,
            report=self.report,
        )
        server.watch(source, repo, self.watch_s)  # new versions load without a restart
        self.triton = server
        if wait_services and self.keepers:  # a restart under running services
            self.wait_ready(max(1.0, end - time.monotonic()))

    def start_service(self, name: str) -> None:
        """Start `name` and keep it running. If it runs already (or its supervisor is about
        to restart it), this only cuts the restart's backoff short: never a second copy."""
        keeper = self.keepers.get(name)
        if keeper is not None and keeper.active:
            keeper.restart_now()
            return
        self.keepers[name] = Supervised(
            name,
            lambda: self._spawn(name),
            note=lambda message: self._note(name, message),
            report=self.report,
            restart=self.supervise,
        ).start()

    def _spawn(self, name: str) -> subprocess.Popen[bytes]:
        with open(self.run_dir / "logs" / f"{name}.log", "ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", MODULES[name]],
                cwd=ROOT,
                env=self.env(name),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches the launcher, which stops them in order
            )
        self.processes[name] = process
        return process

    def _note(self, name: str, message: str) -> None:
        """A line in the service's log, in the services' own JSON format."""
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
            "level": "WARNING",
            "service": name,
            "logger": "veritas.launcher",
            "msg": f"restart by the launcher: {message}",
        }
        with open(self.run_dir / "logs" / f"{name}.log", "a", encoding="utf-8") as f:
            f.write(json.dumps(entry) + "\n")

    def start(self, timeout_s: float = 180, services: tuple[str, ...] = SERVICES) -> Mesh:
        """Start Triton and `services` at once and wait until all are ready.

        Nothing waits for Triton before it starts: a service's imports (numpy, scipy,
        neurokit2: seconds of CPU) run while Triton loads its models, and a modality service
        that listens before Triton is ready says so (not ready) until its readiness check
        sees the models (veritas.health), as after a Triton restart."""
        (self.run_dir / "logs").mkdir(parents=True, exist_ok=True)
        end = time.monotonic() + timeout_s
        with ThreadPoolExecutor(1, thread_name_prefix="start-triton") as pool:
            triton = pool.submit(self.start_triton, wait_services=False)
            try:
                for name in services:
                    self.start_service(name)
                triton.result()  # until Triton is ready (its own timeout), or why not
            except BaseException:
                triton.exception()  # Triton's start is over (else stop() would miss it)
                self.stop()
                raise
        for name in services:
            try:
                wait_healthy(self.address(name), max(1.0, end - time.monotonic()))
            except TimeoutError as e:
                self.stop()
                raise RuntimeError(f"{name} did not start: {e}\n{self.log_tail(name)}") from e
        self.wait_ready(max(1.0, end - time.monotonic()))
        return self

    def wait_ready(self, timeout_s: float) -> None:
        """Until every running service is ready for a first call, not only alive: each
        modality service has reached Triton, fusion has reached each modality service (its
        channels may still be backing off from dialling one before it listened, or from
        a Triton restart), and the gateway has reached fusion (docs/health.md). A service
        still not ready by then is logged, not fatal: alive, it answers with what it has."""
        end = time.monotonic() + timeout_s
        running = [n for n in SERVICES if n in self.keepers]
        checks = [(m, MODALITY_READY_NAME) for m in running if m in modalities.BY_NAME]
        if "fusion" in running:
            checks += [("fusion", f"dependency/{m}") for m in running if m in modalities.BY_NAME]
        if "gateway" in running:
            checks.append(("gateway", READY_NAME))
        for name, entry in checks:
            try:
                wait_healthy(self.address(name), max(1.0, end - time.monotonic()), entry)
            except TimeoutError as e:
                log.warning("%s not ready (%s) within %.0f s: %s", name, entry, timeout_s, e)

    def log_tail(self, name: str, lines: int = 30) -> str:
        path = self.run_dir / "logs" / f"{name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def restart_service(self, name: str, timeout_s: float = 60) -> None:
        """Start a stopped (or dead) service again and wait until its peers can reach it."""
        end = time.monotonic() + timeout_s
        self.start_service(name)
        wait_healthy(self.address(name), timeout_s)
        self.wait_ready(max(1.0, end - time.monotonic()))

    def stop_service(self, name: str, timeout_s: float = 15) -> int:
        """SIGTERM one service and wait (SIGKILL after `timeout_s`); returns its exit code.
        Deliberate: its supervisor does not restart it."""
        keeper = self.keepers.pop(name, None)
        code = keeper.stop(timeout_s) if keeper is not None else None
        self.processes.pop(name, None)  # after: a restart under way may just have set it
        return 0 if code is None else code

    def stop(self) -> dict[str, int]:
        # Front to back: the gateway stops taking calls before the services behind it go.
        codes = {name: self.stop_service(name) for name in reversed(list(self.processes))}
        self.stop_triton(codes)
        if self.otlp is not None:
            self.otlp.stop()  # type: ignore[attr-defined]  # after Triton's last export
            self.otlp = None
        return codes

    def stop_triton(self, codes: dict[str, int] | None = None) -> int | None:
        """Stop Triton alone (fault tests); returns its exit code."""
        if self.triton is None:
            return None
        code: int | None = self.triton.stop()  # type: ignore[attr-defined]
        self.triton = None
        if codes is not None and code is not None:
            codes["triton"] = code
        return code

    def __enter__(self) -> Mesh:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
