"""What one gRPC hop costs in Python on this machine, as a unary call and as a message on a
stream that stays open: the transport under every hop of the mesh (benchmarks/floor.py).

An echo server (grpc.aio, the services' server options) in its own process answers a
`payload`-byte message; this process sends `messages` of them one at a time, first as
unary calls (what every hop of the mesh makes), then as messages on one bidirectional
stream opened once. Reported per message: latency p50 and p99, and the CPU of each side.
The difference is what a mesh that kept one stream open per peer, and carried its own
request ids, deadlines and trace context in the messages, would save per hop.

    python -m benchmarks.transport --messages 3000 --payload 2000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from typing import Any

import grpc

from benchmarks.procs import cpu_delta, group_usage
from benchmarks.stats import summarize_ms
from tools.mesh import free_port

SERVICE = "veritas.transport.Echo"


def _handlers() -> grpc.GenericRpcHandler:
    async def unary(message: bytes, context: grpc.aio.ServicerContext) -> bytes:
        return message

    async def stream(messages: Any, context: grpc.aio.ServicerContext) -> Any:
        async for message in messages:
            yield message

    return grpc.method_handlers_generic_handler(
        SERVICE,
        {
            "Unary": grpc.unary_unary_rpc_method_handler(unary),
            "Stream": grpc.stream_stream_rpc_method_handler(stream),
        },
    )


async def serve(port: int) -> None:
    from veritas.config import ServiceConfig, server_options

    server = grpc.aio.server(options=server_options(ServiceConfig.from_env("text")))
    server.add_generic_rpc_handlers((_handlers(),))
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    print("ready", flush=True)
    await server.wait_for_termination()


async def measure(address: str, server_pid: int, messages: int, payload: int) -> dict[str, Any]:
    from veritas.config import channel_options

    body = os.urandom(payload)
    out: dict[str, Any] = {"messages": messages, "payload_bytes": payload}
    async with grpc.aio.insecure_channel(address, options=channel_options()) as channel:
        call = channel.unary_unary(f"/{SERVICE}/Unary")
        opened = channel.stream_stream(f"/{SERVICE}/Stream")()

        async def unary() -> None:
            await call(body)

        async def on_stream() -> None:
            await opened.write(body)
            await opened.read()

        for name, send in (("unary", unary), ("stream", on_stream)):
            for _ in range(max(50, messages // 10)):  # warm-up: connection, first calls
                await send()
            durations = []
            before, client_before = group_usage({"server": server_pid}), time.process_time()
            for _ in range(messages):
                started = time.perf_counter()
                await send()
                durations.append(time.perf_counter() - started)
            server_s = cpu_delta(before, group_usage({"server": server_pid}))["server"]
            out[name] = {
                "latency": summarize_ms(durations),
                "server_cpu_ms": server_s / messages * 1000,
                "client_cpu_ms": (time.process_time() - client_before) / messages * 1000,
            }
        await opened.done_writing()
    return out


async def measure_hop(messages: int = 3000, payload: int = 2000) -> dict[str, Any]:
    """Start the echo server, measure both ways, stop it."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.transport", "--serve", str(port)],
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        assert server.stdout is not None
        if server.stdout.readline().strip() != b"ready":
            raise RuntimeError("the echo server did not start")
        return await measure(f"127.0.0.1:{port}", server.pid, messages, payload)
    finally:
        server.terminate()
        server.wait(10)


def run(messages: int = 3000, payload: int = 2000) -> dict[str, Any]:
    return asyncio.run(measure_hop(messages, payload))


def describe(result: dict[str, Any]) -> list[str]:
    """The report's lines about one hop (empty when it was not measured)."""
    if not result or "unary" not in result:
        return []
    lines = [
        f"One hop alone, {result['messages']} messages of {result['payload_bytes']} bytes one "
        "at a time (benchmarks/transport.py: an echo server with the services' options in its "
        "own process): as a unary call, as every hop of the mesh makes it, and as a message on "
        "a stream kept open, what a transport of open streams would cost.",
        "",
        "| | p50 ms | p99 ms | server CPU ms/message | client CPU ms/message |",
        "|---|---|---|---|---|",
    ]
    for name, label in (("unary", "unary call"), ("stream", "message on an open stream")):
        r = result[name]
        lines.append(
            f"| {label} | {r['latency']['p50_ms']:.3f} | {r['latency']['p99_ms']:.3f} | "
            f"{r['server_cpu_ms']:.3f} | {r['client_cpu_ms']:.3f} |"
        )
    return [*lines, ""]


def render(result: dict[str, Any]) -> str:
    return "\n".join(describe(result))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--payload", type=int, default=2000, help="bytes per message")
    parser.add_argument("--serve", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true", help="print JSON, not a table")
    args = parser.parse_args(argv)
    if args.serve:
        asyncio.run(serve(args.serve))
        return 0
    result = run(args.messages, args.payload)
    print(json.dumps(result, indent=2) if args.json else render(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
