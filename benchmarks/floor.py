"""The floor under the mesh's text-only cost: the same hops and the same science, nothing else.

A text-only analysis crosses three Python gRPC servers (gateway, fusion, text) and one
Triton call. This module starts three bare relays in their own processes, with the mesh's
own server and channel options: each receives the text service's request (the bytes fusion
would send), forwards them to the next (the unary call the services make), and the last one
does the text service's science (`TextAnalyzer`: decode, features) and calls Triton's
`text_deception` as the service does (one row: the features and the review, without the
micro-batcher). No auth, rate limit, cache, tracing, metrics, logs, fusion or result
building. Timed one at a time, like the latency section, with distinct reviews:

- `chain`: client -> relay -> relay -> relay (features) -> Triton and back: the least the
  mesh can cost on this machine with the hops its design has;
- `local`: the analysis in this process (features, then the model with onnxruntime), as
  the latency section's in-process baseline runs it;
- `triton` and `model`: the model alone on the same rows (features and review), through
  Triton from here and with onnxruntime in this process: what Triton's round trip adds.

`chain - local` is what the hops alone cost, to hold against the mesh's overhead (mesh p50
- in-process p50) in the same run; the closed-loop levels are what the hops and the science
carry together, to hold against the throughput section.

    python -m benchmarks.floor relay --port 50101 --next 127.0.0.1:50102
    python -m benchmarks.floor relay --port 50102 --triton 127.0.0.1:8001
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import numpy.typing as npt

from benchmarks.inprocess import OnnxModel
from benchmarks.procs import cpu_delta, group_usage
from benchmarks.stats import summarize_ms
from tools.mesh import free_port

METHOD = "/veritas.floor.Relay/Call"
MODEL = "text_deception"
HOPS = 3  # gateway, fusion, text
ROOT = Path(__file__).resolve().parent.parent
_IDENTITY: Callable[[bytes], bytes] = bytes


def _server_options() -> list[tuple[str, int]]:
    """A service's own server options (veritas.config; the text service's settings)."""
    from veritas.config import ServiceConfig, server_options

    return server_options(ServiceConfig.from_env("text"))


def _channel_options() -> list[tuple[str, int | str]]:
    from veritas.config import channel_options

    return channel_options()


class TextScience:
    """The text service's work for one request, without its servicer: the analyzer's
    whole-input window and its feature vector for the model (benchmarks.inprocess)."""

    def __init__(self, repository: Path) -> None:
        from benchmarks.inprocess import read_spec
        from services.text.analyzer import TextAnalyzer

        self.analyzer = TextAnalyzer()
        self.spec = read_spec(repository / MODEL)

    def __call__(self, data: bytes) -> tuple[npt.NDArray[np.float32], str]:
        from veritas.analysis_pool import measure_whole
        from veritas.modality_service import feature_vector
        from veritas.v1 import modality_pb2

        window = measure_whole(self.analyzer, modality_pb2.ModalityRequest.FromString(data))
        values, _ = feature_vector(window, self.spec)
        return values.reshape(1, -1).astype(np.float32), window.text or ""


class TritonText:
    """One call of the text model, as the text service makes it (one row)."""

    def __init__(self, url: str) -> None:
        import tritonclient.grpc.aio as triton_aio

        self.client = triton_aio.InferenceServerClient(url)

    async def __call__(self, features: npt.NDArray[np.float32], text: str) -> bytes:
        from tritonclient.grpc import InferInput, InferRequestedOutput

        vector = InferInput("features", list(features.shape), "FP32")
        vector.set_data_from_numpy(features)
        review = InferInput("text", [1, 1], "BYTES")
        review.set_data_from_numpy(np.array([[text.encode("utf-8")]], dtype=object))
        result = await self.client.infer(
            MODEL,
            [vector, review],
            outputs=[InferRequestedOutput("probability"), InferRequestedOutput("contributions")],
        )
        return result.as_numpy("probability").tobytes()

    async def close(self) -> None:
        await self.client.close()


async def relay(
    port: int, next_address: str | None, triton_url: str | None, repository: Path | None
) -> None:
    """Serve METHOD on 127.0.0.1:`port`: forward to `next_address`, or do the text
    service's science and call Triton at `triton_url`."""
    forward: Callable[[bytes], Any]
    if next_address:
        channel = grpc.aio.insecure_channel(next_address, options=_channel_options())
        forward = channel.unary_unary(
            METHOD, request_serializer=_IDENTITY, response_deserializer=_IDENTITY
        )
    else:
        assert triton_url and repository, "a relay forwards to --next or calls --triton"
        science, model = TextScience(repository), TritonText(triton_url)

        async def forward(data: bytes) -> bytes:
            return await model(*science(data))

    async def call(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        return bytes(await forward(request))

    server = grpc.aio.server(options=_server_options())
    handler = grpc.unary_unary_rpc_method_handler(
        call, request_deserializer=_IDENTITY, response_serializer=_IDENTITY
    )
    service, _, method = METHOD.lstrip("/").partition("/")
    server.add_generic_rpc_handlers(
        [grpc.method_handlers_generic_handler(service, {method: handler})]
    )
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await server.stop(0)


def _spawn(port: int, *route: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "benchmarks.floor", "relay", "--port", str(port), *route],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        start_new_session=True,  # its own process group: its CPU is read as one
    )


async def _ready(call: Any, probe: bytes, deadline_s: float = 60.0) -> None:
    """Until a request goes through every relay (each starts in its own time)."""
    end = time.monotonic() + deadline_s
    while True:
        try:
            await call(probe, timeout=5)
            return
        except grpc.aio.AioRpcError:
            if time.monotonic() > end:
                raise
            await asyncio.sleep(0.1)


def _local(repository: Path) -> Callable[[bytes], None]:
    """The analysis in this process, as the in-process baseline runs it."""
    from veritas.analysis_pool import measure_whole
    from veritas.v1 import modality_pb2

    science, model = TextScience(repository), OnnxModel(repository / MODEL)

    def run(data: bytes) -> None:
        model.score(measure_whole(science.analyzer, modality_pb2.ModalityRequest.FromString(data)))

    return run


async def closed_loop(
    call: Any, request: Callable[[], bytes], concurrency: int, seconds: float
) -> dict[str, Any]:
    """`concurrency` calls in flight through the relays for `seconds`, each sent as soon as
    the last answered, each a new distinct review from `request` (as the throughput section
    sends them): the most the bare hops carry."""
    latencies: list[float] = []
    errors = 0
    end = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal errors
        while time.perf_counter() < end:
            data = request()
            started = time.perf_counter()
            try:
                await call(data, timeout=30)
            except grpc.aio.AioRpcError:
                errors += 1
                continue
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return {  # the throughput section's shape (benchmarks.targets reads both)
        "concurrency": concurrency,
        "requests_per_s": len(latencies) / elapsed,
        "error_count": errors,
        "latency": summarize_ms(latencies),
    }


async def measure(
    triton_url: str,
    runs: Sequence[bytes],
    warmup: Sequence[bytes],
    repository: Path,
    request: Callable[[], bytes] | None = None,
    levels: Sequence[int] = (),
    level_seconds: float = 5.0,
) -> dict[str, Any]:
    """The timings above, one call at a time over `runs` (distinct reviews, the same on
    every side; `warmup`: other reviews, not timed), and the relays' CPU per call; then the
    relays under load at each of `levels` calls in flight, each call a new review from
    `request`. Each side sees a run for the first time when it is timed (the direct
    Triton call's features are measured after the in-process side has been timed)."""
    ports = [free_port() for _ in range(HOPS)]
    procs = [
        _spawn(port, "--next", f"127.0.0.1:{ports[i + 1]}")
        if i + 1 < HOPS
        else _spawn(port, "--triton", triton_url, "--repository", str(repository))
        for i, port in enumerate(ports)
    ]
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{ports[0]}", options=_channel_options())
    chain = channel.unary_unary(
        METHOD, request_serializer=_IDENTITY, response_deserializer=_IDENTITY
    )
    science, direct, local = TextScience(repository), TritonText(triton_url), _local(repository)
    onnx = OnnxModel(repository / MODEL).session
    try:
        await _ready(chain, warmup[0] if warmup else runs[0])  # runs[0] only without warm-up
        for data in warmup:
            await chain(data, timeout=30)
            await direct(*science(data))
            local(data)
        groups = {f"relay{i + 1}": p.pid for i, p in enumerate(procs)}
        timings: dict[str, list[float]] = {"chain": [], "local": [], "triton": [], "onnx": []}
        before = group_usage(groups)
        for data in runs:
            started = time.perf_counter()
            await chain(data, timeout=30)
            timings["chain"].append(time.perf_counter() - started)
        cpu = cpu_delta(before, group_usage(groups))
        for data in runs:
            started = time.perf_counter()
            local(data)
            timings["local"].append(time.perf_counter() - started)
        rows = [science(data) for data in runs]  # the model's inputs, for the model alone
        for row in rows:
            started = time.perf_counter()
            await direct(*row)
            timings["triton"].append(time.perf_counter() - started)
        for features, text in rows:
            feeds = {"features": features, "text": np.array([[text]], dtype=object)}
            started = time.perf_counter()
            onnx.run(None, feeds)
            timings["onnx"].append(time.perf_counter() - started)
        loaded = (
            [await closed_loop(chain, request, n, level_seconds) for n in levels]
            if request is not None
            else []
        )
    finally:
        await channel.close()
        await direct.close()
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
    out: dict[str, Any] = {"runs": len(runs), "hops": HOPS, "model": MODEL}
    out |= {name: summarize_ms(values) for name, values in timings.items()}
    out["overhead_p50_ms"] = out["chain"]["p50_ms"] - out["local"]["p50_ms"]
    out["triton_overhead_p50_ms"] = out["triton"]["p50_ms"] - out["onnx"]["p50_ms"]
    out["relay_cpu_s_per_call"] = {k: v / len(runs) for k, v in cpu.items()} if runs else {}
    out["throughput"] = loaded
    return out


def describe(floor: Mapping[str, Any]) -> list[str]:
    """The report's paragraph about the floor (empty when it was not measured)."""
    if not floor or "chain" not in floor:
        return []
    cpu = floor.get("relay_cpu_s_per_call", {})
    relays = ", ".join(f"{k} {v * 1000:.2f}" for k, v in cpu.items())
    lines = [
        f"Hop floor, text only ({floor['runs']} distinct reviews, one at a time; "
        "benchmarks/floor.py): the same three hops as bare grpc.aio relays in their own "
        "processes, with the services' options, the last doing the text service's science "
        f"(features) and calling Triton's `{floor['model']}`; no auth, rate limit, cache, "
        "tracing, metrics, logs, fusion or result building. p50: relays "
        f"{floor['chain']['p50_ms']:.2f} ms against {floor['local']['p50_ms']:.2f} ms "
        f"in-process: **{floor['overhead_p50_ms']:.2f} ms** the hops alone cost, of which "
        f"Triton's round trip {floor['triton_overhead_p50_ms']:.2f} ms (the model through "
        f"Triton {floor['triton']['p50_ms']:.2f} ms, in-process {floor['onnx']['p50_ms']:.2f}"
        f" ms). Relay CPU ms per call: {relays}.",
        "",
    ]
    if floor.get("throughput"):
        lines += [
            "The same relays under load (closed loop, a new distinct review on every call): "
            "what the hops and the science carry before any of the mesh's own work.",
            "",
            "| in flight | requests/s | p50 ms | p99 ms | errors |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {lv['concurrency']} | {lv['requests_per_s']:.1f} | "
            f"{lv['latency']['p50_ms']:.1f} | {lv['latency']['p99_ms']:.1f} | "
            f"{lv['error_count']} |"
            for lv in floor["throughput"]
        ]
        lines.append("")
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("relay", help="one relay process")
    r.add_argument("--port", type=int, required=True)
    r.add_argument("--next", default=None, help="forward to this address")
    r.add_argument("--triton", default=None, help="or call Triton's text model here")
    r.add_argument("--repository", type=Path, default=None, help="the models' config.pbtxt")
    args = parser.parse_args(argv)
    asyncio.run(relay(args.port, args.next, args.triton, args.repository))


if __name__ == "__main__":
    main()
