"""The `veritas` command.

veritas analyze --audio a.wav --transcript @answer.txt [--json]
veritas health
veritas up            # what `make run` runs: the whole mesh, the sample, then serve
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import grpc
from google.protobuf.json_format import MessageToDict

from tools.render import format_result
from veritas import modalities, tls
from veritas.client import DOMAIN_NAMES, MODALITY_NAMES, STRATEGY_NAMES, Client, build_request
from veritas.config import env, service_address

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"


def _transcript(value: str | None) -> str | None:
    if value and value.startswith("@"):
        return Path(value[1:]).read_text(encoding="utf-8")
    return value


def cmd_analyze(args: argparse.Namespace) -> int:
    try:
        request = build_request(
            video=args.video,
            audio=args.audio,
            transcript=_transcript(args.transcript),
            physiology=args.physio,
            subject_id=args.subject or "",
            modalities=args.modality or (),
            strategy=args.strategy or "",
            deadline_ms=args.deadline_ms,
            domain=args.domain,
        )
    except (OSError, ValueError) as e:
        print(f"veritas: {e}", file=sys.stderr)
        return 2
    with Client(args.target, timeout_s=args.timeout, api_key=args.api_key) as client:
        try:
            result = client.analyze(request)
        except grpc.RpcError as e:
            print(f"veritas: {e.code().name}: {e.details()}", file=sys.stderr)
            return 1
    if args.json:
        print(json.dumps(MessageToDict(result), indent=2))
    else:
        print(format_result(result))
    return 0


def health_report(
    gateway: str, fusion: str, modalities: dict[str, str], triton: str
) -> list[tuple[str, str, str]]:
    """(name, address, status) for every service and Triton."""
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    rows = []
    for name, address in [("gateway", gateway), ("fusion", fusion), *modalities.items()]:
        try:
            with tls.sync_channel(address) as channel:
                reply = health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(), timeout=2.0
                )
            status = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
        except grpc.RpcError as e:
            status = f"DOWN ({e.code().name})"
        rows.append((name, address, status))
    import tritonclient.grpc as triton_grpc

    try:
        client = triton_grpc.InferenceServerClient(triton)
        ready = client.is_server_ready(client_timeout=2.0)
        models = [
            m["name"]
            for m in client.get_model_repository_index(as_json=True).get("models", [])
            if m.get("state") == "READY"
        ]
        status = ("SERVING" if ready else "NOT_READY") + f" models: {', '.join(sorted(models))}"
    except Exception as e:  # tritonclient raises its own and grpc errors
        status = f"DOWN ({type(e).__name__})"
    rows.append(("triton", triton, status))
    return rows


def cmd_health(args: argparse.Namespace) -> int:
    rows = health_report(
        args.target,
        env("VERITAS_FUSION_ADDR"),
        {m: service_address(m) for m in modalities.NAMES},
        env("VERITAS_TRITON_URL"),
    )
    width = max(len(r[1]) for r in rows)
    for name, address, status in rows:
        print(f"{name:<11} {address:<{width}}  {status}")
    return 0 if all(r[2].startswith("SERVING") for r in rows) else 1


def sample_request() -> object:
    return build_request(
        video=SAMPLES / "face.mp4",
        audio=SAMPLES / "speech.wav",
        transcript=(SAMPLES / "transcript.txt").read_text(encoding="utf-8"),
        physiology=SAMPLES / "physiology.csv",
        subject_id="sample",
    )


def cmd_up(args: argparse.Namespace) -> int:
    """Start Triton and every service, analyse the bundled sample, serve until Ctrl-C."""
    import signal
    import threading

    from tools.mesh import Mesh, Ports
    from veritas import keys

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    run_dir = ROOT / ".run"
    key = keys.ensure_local_key(run_dir / "keys.json")
    mesh = Mesh(
        run_dir,
        Ports.defaults(),
        extra_env={
            "VERITAS_AUTH": "keys",
            "VERITAS_API_KEYS_FILE": str(run_dir / "keys.json"),
            "VERITAS_TRACE_FILE": str(run_dir / "spans.jsonl"),
            "VERITAS_AUDIT_FILE": str(run_dir / "audit.jsonl"),
        },
        # A process that dies is restarted with backoff (tools.supervise); say so here.
        report=lambda message: print(f"[supervisor] {message}", flush=True),
    )
    prometheus = None
    print("Starting Triton and the six services (logs in .run/logs/) ...", flush=True)
    started = time.monotonic()
    try:
        mesh.start()
        print(
            f"Mesh ready in {time.monotonic() - started:.1f} s; gateway on "
            f"{mesh.address('gateway')} (gRPC) and {mesh.http_url} (HTTP/JSON)\n",
            flush=True,
        )
        if args.observe:
            from tools.prometheus_local import LocalPrometheus

            prometheus = LocalPrometheus.for_mesh(mesh).start()
            print(
                f"Prometheus on {prometheus.url} with the chart's alert rules: "
                f"{prometheus.url}/alerts (README, 'Watching the alerts')\n",
                flush=True,
            )
        if not args.no_sample:
            with Client(mesh.address("gateway"), timeout_s=120, api_key=key) as client:
                result = client.analyze(sample_request())  # type: ignore[arg-type]
            print("Analysis of the bundled sample (samples/):\n")
            print(format_result(result))
        print(
            "\nServing. Your local API key (tenant 'local', roles analyst + admin):\n"
            f"  export VERITAS_API_KEY={key}\n"
            "Then: .venv/bin/veritas health | .venv/bin/veritas analyze --transcript '...' | "
            ".venv/bin/veritas trace TRACE_ID\nCtrl-C stops everything.",
            flush=True,
        )
        while not stop.wait(1.0):
            pass
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)  # a second Ctrl-C must not cut the shutdown
        print("\nStopping ...", flush=True)
        if prometheus is not None:
            prometheus.stop()
        codes = mesh.stop()
        print("Stopped: " + ", ".join(f"{k} exit {v}" for k, v in codes.items()), flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="veritas", description=__doc__.split("\n")[0])
    parser.add_argument("--target", default=env("VERITAS_GATEWAY_ADDR"), help="gateway address")
    parser.add_argument(
        "--api-key", default=env("VERITAS_API_KEY") or None, help="API key (VERITAS_API_KEY)"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    analyze = sub.add_parser("analyze", help="analyse media, a transcript and signals")
    analyze.add_argument("--video", help="video file (mp4, webm, avi, mov) or allow-listed URI")
    analyze.add_argument("--audio", help="audio file (wav, flac, ogg, mp3) or allow-listed URI")
    analyze.add_argument("--transcript", help="the text, or @FILE")
    analyze.add_argument("--physio", help="physiological signals as CSV (see docs)")
    analyze.add_argument("--subject", help="subject id")
    analyze.add_argument("--modality", action="append", choices=sorted(MODALITY_NAMES))
    analyze.add_argument("--strategy", choices=sorted(STRATEGY_NAMES))
    analyze.add_argument(
        "--domain",
        choices=sorted(DOMAIN_NAMES),
        default="unknown",
        help="what the input is; only a model validated on it can give a verdict",
    )
    analyze.add_argument("--deadline-ms", type=int, default=0)
    analyze.add_argument("--timeout", type=float, default=120.0, help="client timeout, s")
    analyze.add_argument("--json", action="store_true", help="print the result as JSON")
    analyze.set_defaults(func=cmd_analyze)

    health = sub.add_parser("health", help="health of every service and Triton")
    health.set_defaults(func=cmd_health)

    up = sub.add_parser("up", help="start the whole mesh locally and analyse the sample")
    up.add_argument("--no-sample", action="store_true")
    up.add_argument(
        "--observe",
        action="store_true",
        help="also run a local Prometheus (:9090) with the chart's alert rules (make observe)",
    )
    up.set_defaults(func=cmd_up)

    from tools import cluster, tracing_view
    from tools import train as train_command
    from veritas import keys

    retrain = sub.add_parser(
        "train", help="refit a model on your labelled features, publish a new version"
    )
    train_command.add_arguments(retrain)
    retrain.set_defaults(func=train_command.run)

    cluster.add_parser(sub)
    keys.add_subcommand(sub)
    tracing_view.add_subcommand(sub)

    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
