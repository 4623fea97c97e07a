"""Run the local NVIDIA Triton: the real `tritonserver` shipped in the nvidia-pytriton wheel.

That binary has only the python backend, so the production model repository (ONNX models with
`platform: "onnxruntime_onnx"`) is mirrored into a local one where each model is served by
the generic `models/python_backend/model.py` running the *same* model.onnx with onnxruntime;
tensor names and shapes stay identical, so clients cannot tell the two apart.

Started directly (not through PyTriton's wrapper, which adds a ZeroMQ hop), with the
environment that ../shared/ENVIRONMENT.md measured: the backend dir with the 3.11 stub, the
interpreter's lib dir and `nvidia_pytriton.libs` on LD_LIBRARY_PATH (without the latter the
model load hangs forever, hence the readiness timeout) and the venv's bin first on PATH.

    python -m tools.triton_server --repository models/repository --grpc-port 8001

Run that way, or by the local launcher (tools.mesh), a tritonserver that dies is restarted
with backoff (tools.supervise), its python-backend stubs killed with it.

With `--trace-file` (or `--otlp-endpoint`) Triton traces with OpenTelemetry (`trace_args`,
the same flags the Helm chart passes) and keeps the caller's W3C trace context.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib.util
import logging
import os
import py_compile
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from urllib.parse import urlsplit, urlunsplit

from tools.supervise import Backoff, Supervised, has_exited, kill_group

log = logging.getLogger("veritas.launcher.triton")

REPO_ROOT = Path(__file__).resolve().parents[1]
PYTHON_BACKEND_MODEL = REPO_ROOT / "models" / "python_backend" / "model.py"
DEFAULT_RUN_DIR = Path(".run")
# Triton batches its spans this long before exporting to a local span file (its default is
# 5 s): short, so `veritas trace` shows Triton's spans right after a call.
LOCAL_TRACE_EXPORT_DELAY_MS = 200

# Why the local launcher leaves Triton's own tracing off unless asked (VERITAS_TRITON_TRACING).
TRACING_CRASH = (
    "Triton 2.51 (the release in the nvidia-pytriton wheel and the chart's 24.10 image) "
    "crashes (SIGSEGV or SIGABRT in its trace release) after some thousands to tens of "
    "thousands of traced requests; upstream fixed it in triton-inference-server/server#8144 "
    "(25.04 and later)"
)

_PLATFORM_LINE = re.compile(
    r'^([ \t]*)(?:platform\s*:\s*"onnxruntime_onnx"|backend\s*:\s*"onnxruntime")[ \t]*$',
    re.MULTILINE,
)


# --------------------------------------------------------------------------- repository


def local_config(production_config: str) -> str:
    """The production config.pbtxt with the ONNX Runtime platform swapped for the python backend."""
    text, n = _PLATFORM_LINE.subn(r'\1backend: "python"', production_config)
    if n != 1:
        raise ValueError('config.pbtxt must have exactly one `platform: "onnxruntime_onnx"` line')
    return text


def _write_if_changed(path: Path, data: bytes) -> bool:
    """Write atomically, and only when the content differs: Triton's poll mode reloads a model
    whenever a file's mtime changes, so rewriting identical files would reload it needlessly."""
    if path.exists() and path.read_bytes() == data:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
    return True


def _complete_onnx(data: bytes) -> bool:
    """False for a model.onnx still being written (the mirror runs while training saves)."""
    import onnx  # imported here: only the mirror needs it

    try:
        onnx.load_model_from_string(data)
    except Exception:  # noqa: BLE001 - any parse failure means "not ready yet"
        return False
    return True


@functools.lru_cache(maxsize=2)  # the mirror asks every pass (watch) for the same source
def model_bytecode(source: bytes) -> tuple[str, bytes]:
    """model.py's bytecode for this Python (the stubs' version), as `__pycache__/...` in a
    version directory, checked against the source's hash (no timestamps: the same bytes
    every time). The python backend imports model.py; without this file beside it, the
    import writes one, which changes the version directory, which Triton's poller takes
    for a changed model and reloads: every model loaded twice at start. (The stub ignores
    PYTHONDONTWRITEBYTECODE.)"""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.py"
        path.write_bytes(source)
        cfile = Path(importlib.util.cache_from_source(str(path)))
        py_compile.compile(
            str(path),
            cfile=str(cfile),
            dfile="model.py",
            doraise=True,
            invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH,
        )
        return f"__pycache__/{cfile.name}", cfile.read_bytes()


def _stage_then_move(target: Path, files: dict[str, bytes], staging_root: Path) -> None:
    """Create `target` (a new model or version dir) complete and in one rename, so Triton's
    poller never sees it half written. `staging_root` lies outside the repository."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=staging_root, prefix=".staging-"))
    try:
        for rel, data in files.items():
            (staging / rel).parent.mkdir(parents=True, exist_ok=True)
            (staging / rel).write_bytes(data)
        os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def prepare_local_repository(
    src: Path, dst: Path, *, model_py: Path = PYTHON_BACKEND_MODEL
) -> list[str]:
    """Mirror the production repository `src` into a python-backend repository `dst`.

    For every `src/<name>/config.pbtxt` with numeric version dirs holding `model.onnx`, writes
    `dst/<name>/config.pbtxt` (platform line rewritten, nothing else) and copies each version's
    model.onnx and the generic model.py into `dst/<name>/<version>/`. New models and versions
    appear in one rename; unchanged files are not rewritten (Triton's poller would reload);
    versions and models gone from `src` are removed from `dst`. Returns the model names, sorted.
    """
    src, dst = Path(src), Path(dst)
    if not src.is_dir():
        raise FileNotFoundError(f"model repository {src} does not exist")
    dst.mkdir(parents=True, exist_ok=True)
    model_code = Path(model_py).read_bytes()
    pyc_name, pyc = model_bytecode(model_code)
    names: list[str] = []
    for model_dir in sorted(p for p in src.iterdir() if (p / "config.pbtxt").is_file()):
        config = local_config((model_dir / "config.pbtxt").read_text()).encode()
        versions: dict[str, bytes] = {}
        for v in model_dir.iterdir():
            if v.name.isdigit() and (v / "model.onnx").is_file():
                data = (v / "model.onnx").read_bytes()
                old = dst / model_dir.name / v.name / "model.onnx"
                if (old.exists() and old.read_bytes() == data) or _complete_onnx(data):
                    versions[v.name] = data
                else:
                    log.warning("skipping %s: model.onnx is incomplete", v)
        if not versions:
            continue
        out = dst / model_dir.name
        if not out.exists():
            files = {"config.pbtxt": config}
            for version, data in versions.items():
                files |= {
                    f"{version}/model.onnx": data,
                    f"{version}/model.py": model_code,
                    f"{version}/{pyc_name}": pyc,
                }
            _stage_then_move(out, files, dst.parent)
        else:
            for version, data in sorted(versions.items()):
                if not (out / version).exists():
                    _stage_then_move(
                        out / version,
                        {"model.onnx": data, "model.py": model_code, pyc_name: pyc},
                        dst.parent,
                    )
                else:
                    _write_if_changed(out / version / "model.onnx", data)
                    code_changed = _write_if_changed(out / version / "model.py", model_code)
                    if code_changed or not (out / version / pyc_name).exists():
                        # Only then: a bytecode file the stub rewrote is left alone (writing
                        # it back would reload the model at every mirror pass).
                        _write_if_changed(out / version / pyc_name, pyc)
            _write_if_changed(out / "config.pbtxt", config)
            for stale in out.iterdir():
                if stale.is_dir() and stale.name.isdigit() and stale.name not in versions:
                    shutil.rmtree(stale)
        names.append(model_dir.name)
    for stale in dst.iterdir():
        if stale.is_dir() and stale.name not in names and (stale / "config.pbtxt").exists():
            shutil.rmtree(stale)
    return names


# --------------------------------------------------------------------------- the binary


@dataclass(frozen=True)
class TritonInstall:
    """Where the pytriton wheel keeps tritonserver and its python backend."""

    binary: Path
    python_backend: Path  # libtriton_python.so + triton_python_backend_utils.py
    stub: Path  # triton_python_backend_stub for this interpreter's Python version
    caches: Path
    libs: Path  # site-packages/nvidia_pytriton.libs

    @classmethod
    def find(cls) -> TritonInstall:
        import pytriton  # imported here: only the server process needs it

        root = Path(pytriton.__file__).resolve().parent / "tritonserver"
        py = f"{sys.version_info.major}.{sys.version_info.minor}"
        install = cls(
            binary=root / "bin" / "tritonserver",
            python_backend=root / "backends" / "python",
            stub=root / "python_backend_stubs" / py / "triton_python_backend_stub",
            caches=root / "caches",
            libs=root.parent.parent / "nvidia_pytriton.libs",
        )
        for path in (install.binary, install.python_backend, install.stub, install.libs):
            if not path.exists():
                raise FileNotFoundError(f"nvidia-pytriton install incomplete: {path} missing")
        return install

    def prepare_backends(self, backend_root: Path) -> Path:
        """Lay out `<backend_root>/python/` as Triton expects it; returns backend_root."""
        target = Path(backend_root) / "python"
        for source in (
            self.python_backend / "libtriton_python.so",
            self.python_backend / "triton_python_backend_utils.py",
            self.stub,
        ):
            dest = target / source.name
            _write_if_changed(dest, source.read_bytes())
            dest.chmod(0o755)
        return Path(backend_root)

    def environment(self, base: dict[str, str] | None = None) -> dict[str, str]:
        env = dict(os.environ if base is None else base)
        libdir = sysconfig.get_config_var("LIBDIR") or ""
        ld = [p for p in (libdir, str(self.libs), env.get("LD_LIBRARY_PATH", "")) if p]
        env["LD_LIBRARY_PATH"] = os.pathsep.join(ld)
        venv_bin = str(Path(sys.executable).parent)  # not resolved: the venv's bin, not pyenv's
        env["PATH"] = os.pathsep.join(p for p in (venv_bin, env.get("PATH", "")) if p)
        return env


def otlp_traces_url(explicit: str | None = None, env: dict[str, str] | None = None) -> str | None:
    """The OTLP/HTTP traces URL Triton should export to, or None for no tracing.

    Triton exports OTLP over HTTP only. OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is used as given;
    OTEL_EXPORTER_OTLP_ENDPOINT is a base URL, so `/v1/traces` is appended, and the OTLP/gRPC
    port convention 4317 is mapped to the OTLP/HTTP port 4318 of the same collector.
    """
    env = dict(os.environ if env is None else env)
    if explicit:
        return explicit
    if env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        return env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]
    base = env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    if not base:
        return None
    if "://" not in base:
        base = f"http://{base}"
    parts = urlsplit(base)
    netloc = parts.netloc
    if parts.port == 4317:
        netloc = netloc.rsplit(":", 1)[0] + ":4318"
    path = parts.path.rstrip("/") + "/v1/traces"
    return urlunsplit((parts.scheme, netloc, path, "", ""))


def trace_args(otlp_url: str, rate: int = 1, export_delay_ms: int | None = None) -> list[str]:
    """Triton's OpenTelemetry flags; the chart's Triton Deployment passes the same ones.

    Spans go to `otlp_url` (OTLP/HTTP), with per-step timestamps (`level=TIMESTAMPS`: the
    queue and compute events). A request carrying a W3C `traceparent` is traced whatever
    the rate (Triton docs, "OpenTelemetry Context Propagation"); `rate` samples the others.
    `export_delay_ms` shortens the batch exporter's delay (default 5000 ms) so a trace is
    readable right after the call (local runs)."""
    args = [
        "--trace-config=mode=opentelemetry",
        "--trace-config=level=TIMESTAMPS",
        f"--trace-config=rate={rate}",
        f"--trace-config=opentelemetry,url={otlp_url}",
        "--trace-config=opentelemetry,resource=service.name=triton",
    ]
    if export_delay_ms is not None:
        args.append(f"--trace-config=opentelemetry,bsp_schedule_delay={export_delay_ms}")
    return args


# --------------------------------------------------------------------------- the server


def fast_load_args(repo: Path) -> list[str]:
    """Flags that make the start cheap, each model loaded once:

    - `--disable-auto-complete-config`: with auto-complete on, the python backend starts a
      throw-away stub process per model (Python, numpy, onnxruntime, model.py) only to ask
      model.py for a config, then a second stub to serve it; that first stub was most of
      each model's 1.5-2 s load here. Our configs are complete (the production ones, the
      platform line swapped), and Triton serves the same config either way.
    - `--model-load-thread-count`: one thread per model (Triton's default is 4), so the
      six models load at once instead of four, then two."""
    found = Path(repo).iterdir() if Path(repo).is_dir() else iter(())
    models = sum(1 for p in found if (p / "config.pbtxt").is_file())
    return ["--disable-auto-complete-config", f"--model-load-thread-count={max(4, models)}"]


STUB_MEMORY_PREFIX = "triton_python_backend_shm_region_"
SHM_DIR = Path("/dev/shm")


def stub_memory(pgid: int) -> Callable[[], None]:
    """Name the shared-memory files of the python-backend stubs in Triton's process group
    (each stub gets its region's name on its command line); returns what frees them.

    Triton removes them when it exits cleanly; when it crashes they stay, a megabyte or
    more each, six a run here: a Triton restarted after every crash would fill /dev/shm (64
    MB in a default Docker container) and then fail to start its stubs."""
    regions: list[Path] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.getpgid(int(entry.name)) != pgid:
                continue
            args = (entry / "cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            continue
        for arg in args:
            name = arg.decode(errors="replace")
            if name.startswith(STUB_MEMORY_PREFIX) and "/" not in name:
                regions.append(SHM_DIR / name)

    def free() -> None:
        for region in regions:
            with contextlib.suppress(FileNotFoundError):
                region.unlink()

    return free


class TritonServer:
    """One local tritonserver process: start() waits until ready, stop() shuts it down.

    Once ready it is watched (tools.supervise): when it dies, its process group (the
    python-backend stubs) is killed with it and their shared memory freed (`stub_memory`),
    and with `supervise=True` it is started again
    with backoff, the restart noted in its log, which every run appends to. stop() is a
    deliberate stop: nothing restarts it."""

    def __init__(self, backend_root: Path | None = None, install: TritonInstall | None = None):
        self.backend_root = Path(backend_root or DEFAULT_RUN_DIR / "triton_backends")
        self._install = install
        self._process: subprocess.Popen[bytes] | None = None
        self._keeper: Supervised | None = None
        self._cmd: list[str] = []
        self._runs = 0
        self.log_path: Path | None = None
        self.http_port: int | None = None
        self.grpc_port: int | None = None
        self.started_in_s: float | None = None
        self.host = "127.0.0.1"
        self._watcher: threading.Thread | None = None
        self._watch_stop = threading.Event()

    @property
    def process(self) -> subprocess.Popen[bytes] | None:
        """The current tritonserver process (a new one after each restart)."""
        if self._keeper is not None:
            return self._keeper.process
        return self._process

    @property
    def restarts(self) -> int:
        return self._keeper.restarts if self._keeper is not None else 0

    def _connect_host(self) -> str:
        return "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host

    @property
    def grpc_url(self) -> str:
        return f"{self._connect_host()}:{self.grpc_port}"

    @property
    def http_url(self) -> str:
        return f"http://{self._connect_host()}:{self.http_port}"

    def command(
        self,
        repo: Path,
        grpc_port: int,
        http_port: int,
        metrics_port: int,
        *,
        otlp_url: str | None = None,
        poll_secs: int = 5,
        trace_rate: int = 1,
        trace_export_delay_ms: int | None = None,
        host: str = "127.0.0.1",
    ) -> list[str]:
        install = self._install or TritonInstall.find()
        cmd = [
            str(install.binary),
            f"--model-repository={Path(repo).resolve()}",
            f"--backend-directory={self.backend_root.resolve()}",
            f"--cache-directory={install.caches}",
            f"--grpc-address={host}",
            f"--grpc-port={grpc_port}",
            f"--http-address={host}",
            f"--http-port={http_port}",
            f"--metrics-address={host}",
            f"--metrics-port={metrics_port}",
            "--model-control-mode=poll",
            f"--repository-poll-secs={poll_secs}",
            "--exit-timeout-secs=5",
            *fast_load_args(repo),
        ]
        if otlp_url:
            cmd += trace_args(otlp_url, trace_rate, trace_export_delay_ms)
        return cmd

    def start(
        self,
        repo: Path,
        grpc_port: int = 8001,
        http_port: int = 8000,
        metrics_port: int = 8002,
        log_path: Path | None = None,
        ready_timeout_s: float = 90.0,
        *,
        otlp_endpoint: str | None = None,
        poll_secs: int = 5,
        host: str = "127.0.0.1",
        trace_export_delay_ms: int | None = None,
        supervise: bool = False,
        report: Callable[[str], None] | None = None,
        backoff: Backoff | None = None,
        tracing: bool = True,
    ) -> TritonServer:
        """Start tritonserver on `repo` (a python-backend repository) and wait until ready.

        Listens on `host` (loopback by default: this is the local server; pass 0.0.0.0 to
        expose it). `supervise`: restart it with `backoff` whenever it dies (until stop());
        `report` is told of each restart (default: this module's log). `tracing=False`: no
        OpenTelemetry tracing whatever `otlp_endpoint` or OTEL_EXPORTER_OTLP_* say (see
        TRACING_CRASH)."""
        if self.process is not None:
            raise RuntimeError("already started")
        install = self._install = self._install or TritonInstall.find()
        install.prepare_backends(self.backend_root)
        self.log_path = Path(log_path or DEFAULT_RUN_DIR / "triton.log")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.grpc_port, self.http_port, self.host = grpc_port, http_port, host
        otlp_url = otlp_traces_url(otlp_endpoint) if tracing else None
        if otlp_url:
            log.warning("tracing every request in Triton: %s", TRACING_CRASH)
        cmd = self.command(
            repo,
            grpc_port,
            http_port,
            metrics_port,
            otlp_url=otlp_url,
            poll_secs=poll_secs,
            trace_export_delay_ms=trace_export_delay_ms,
            host=host,
        )
        log.info("starting %s", " ".join(cmd))
        self._cmd = cmd
        began = time.monotonic()
        self._process = self._spawn()
        try:
            self._wait_ready(ready_timeout_s)
        except BaseException:
            self.stop(grace_s=2.0)
            raise
        self.started_in_s = time.monotonic() - began
        log.info("triton ready in %.2f s (grpc %s)", self.started_in_s, self.grpc_url)
        tell = report or log.warning
        self._keeper = Supervised(
            "tritonserver",
            self._spawn,
            note=self._note,
            report=tell,
            backoff=backoff,
            restart=supervise,
            on_restart=lambda process: self._ready_again(process, ready_timeout_s, tell),
            before_kill=stub_memory,
        ).start(self._process)
        return self

    def _spawn(self) -> subprocess.Popen[bytes]:
        """Start one tritonserver run, its output appended to the log (never truncated:
        the log of a run that crashed is what says why)."""
        assert self.log_path is not None and self._install is not None
        self._runs += 1
        self._note(f"starting tritonserver (run {self._runs})")
        with open(self.log_path, "ab") as log_file:
            return subprocess.Popen(
                self._cmd,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self._install.environment(),
                start_new_session=True,  # its python stubs share its group: killed with it
            )

    def _note(self, message: str) -> None:
        """A line of the launcher's own in Triton's log."""
        if self.log_path is None:
            return
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        with open(self.log_path, "ab") as f:
            f.write(f"[veritas launcher {stamp}] {message}\n".encode())

    def _ready_again(
        self, process: subprocess.Popen[bytes], timeout_s: float, tell: Callable[[str], None]
    ) -> None:
        """After a restart: say when it is ready again (it reloads every model)."""
        began = time.monotonic()
        while time.monotonic() - began < timeout_s:
            if has_exited(process.pid) or (self._keeper is not None and self._keeper.stopped):
                return  # the supervisor sees it and restarts it
            if self.is_ready():
                message = f"tritonserver ready again in {time.monotonic() - began:.1f} s"
                tell(message)
                self._note(message)
                return
            time.sleep(0.2)
        tell(f"tritonserver not ready {timeout_s:.0f} s after its restart")

    def is_ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.http_url}/v2/health/ready", timeout=1.0) as r:
                return bool(r.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def _wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        process = self._process
        assert process is not None
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(
                    f"tritonserver exited with code {process.returncode}:\n{self.log_tail()}"
                )
            if self.is_ready():
                return
            time.sleep(0.05)  # a refused connection until it listens: cheap to ask often
        raise TimeoutError(f"tritonserver not ready after {timeout_s:.0f} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def watch(self, src: Path, dst: Path, every_s: float = 5.0) -> None:
        """Mirror the production repository `src` into the served `dst` every `every_s` seconds,
        so a new model version written to `src` is loaded by Triton's poller, no restart."""
        self._unwatch()
        self._watch_stop = threading.Event()
        self._watcher = threading.Thread(
            target=_sync_forever,
            args=(Path(src), Path(dst), self._watch_stop, every_s),
            name="triton-repository-mirror",
            daemon=True,
        )
        self._watcher.start()

    def _unwatch(self) -> None:
        if self._watcher is not None:
            self._watch_stop.set()
            self._watcher.join(timeout=30)
            self._watcher = None

    def stop(self, grace_s: float = 15.0) -> int | None:
        """Stop on purpose (never restarted): SIGTERM, wait up to `grace_s`, then SIGKILL;
        its process group (the python stubs) is killed either way. Returns the exit code."""
        self._unwatch()
        keeper, self._keeper = self._keeper, None
        proc, self._process = self._process, None
        if keeper is not None:
            return keeper.stop(grace_s)
        if proc is None:
            return None
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            end = time.monotonic() + grace_s
            while not has_exited(proc.pid) and time.monotonic() < end:
                time.sleep(0.05)
            free = stub_memory(proc.pid)
            kill_group(proc.pid)  # before reaping: the group id is still this server's
            free()
        proc.wait(timeout=10)
        return proc.returncode

    def __enter__(self) -> TritonServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


# --------------------------------------------------------------------------- CLI


def _sync_forever(src: Path, dst: Path, stop: threading.Event, every_s: float) -> None:
    """Re-mirror the source repository so new model versions reach Triton's poller."""
    while not stop.wait(every_s):
        try:
            prepare_local_repository(src, dst)
        except Exception:  # noqa: BLE001 - a half-written model must not kill the server
            log.exception("could not mirror %s", src)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repository", type=Path, default=Path("models/repository"))
    parser.add_argument(
        "--local-repository",
        type=Path,
        default=DEFAULT_RUN_DIR / "triton_repository",
        help="where the python-backend mirror of --repository is written",
    )
    parser.add_argument("--backend-directory", type=Path, default=None)
    parser.add_argument("--address", default="127.0.0.1", help="listen address (0.0.0.0: all)")
    parser.add_argument("--grpc-port", type=int, default=8001)
    parser.add_argument("--http-port", type=int, default=8000)
    parser.add_argument("--metrics-port", type=int, default=8002)
    parser.add_argument("--log", type=Path, default=DEFAULT_RUN_DIR / "triton.log")
    parser.add_argument("--ready-timeout", type=float, default=90.0)
    parser.add_argument("--poll-secs", type=int, default=5)
    parser.add_argument("--otlp-endpoint", default=None, help="OTLP/HTTP traces URL")
    parser.add_argument(
        "--trace-file",
        type=Path,
        default=None,
        help="receive Triton's spans locally and append them to this span file "
        "(`veritas trace --file`); instead of --otlp-endpoint",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    names = prepare_local_repository(args.repository, args.local_repository)
    log.info("serving %s from %s", ", ".join(names) or "no models", args.repository)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    receiver = None
    if args.trace_file is not None:
        from tools.otlp_receiver import OtlpReceiver

        receiver = OtlpReceiver(args.trace_file).start()
        args.otlp_endpoint = receiver.url
    server = TritonServer(backend_root=args.backend_directory)
    server.start(
        args.local_repository,
        grpc_port=args.grpc_port,
        http_port=args.http_port,
        metrics_port=args.metrics_port,
        log_path=args.log,
        ready_timeout_s=args.ready_timeout,
        otlp_endpoint=args.otlp_endpoint,
        poll_secs=args.poll_secs,
        host=args.address,
        trace_export_delay_ms=LOCAL_TRACE_EXPORT_DELAY_MS if receiver is not None else None,
        supervise=True,  # restarted with backoff if it dies; the restarts are logged
    )
    print(
        f"triton ready in {server.started_in_s:.2f} s: grpc {server.grpc_url}, "
        f"http {server.http_url}, log {args.log}",
        flush=True,
    )
    server.watch(args.repository, args.local_repository, float(args.poll_secs))
    try:
        while not stop.wait(1.0):
            pass
    finally:
        code = server.stop()
        log.info("tritonserver stopped (exit %s)", code)
        if receiver is not None:
            receiver.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
