"""`helm test`: the gateway says SERVING, and one text analysis runs through the whole mesh.

Runs in the gateway image (which carries the veritas package). The text modality needs
fusion, the text service and Triton, so one OK answer proves every hop of the chain.

    python smoke_test.py --target HOST:PORT [--transcript TEXT] [--timeout S]
Exit 0 when healthy and analysed; 1 with the reason on stderr otherwise.
"""

from __future__ import annotations

import argparse
import os
import sys

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from veritas.client import Client, build_request
from veritas.v1 import common_pb2


def check_health(target: str, timeout_s: float) -> str:
    """The gateway's overall grpc.health.v1 status name."""
    with grpc.insecure_channel(target) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(), timeout=timeout_s, wait_for_ready=True
        )
    return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)


def check_analysis(result: common_pb2.AnalysisResult) -> list[str]:
    """What is wrong with a text-only result; empty when it is a real analysis."""
    problems = []
    text = [m for m in result.modalities if m.modality == common_pb2.TEXT]
    if not text:
        problems.append("no text modality in the result")
    elif text[0].status != common_pb2.OK:
        name = common_pb2.ModalityStatus.Name(text[0].status)
        problems.append(f"text modality {name}: {text[0].reason}")
    if result.decision == common_pb2.DECISION_UNSPECIFIED:
        problems.append("no decision")
    if not 0.0 <= result.deception_probability <= 1.0:
        problems.append(f"probability {result.deception_probability} outside [0, 1]")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--target", required=True, help="gateway host:port")
    parser.add_argument("--transcript", default="I was at home all evening.")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds")
    args = parser.parse_args(argv)
    api_key = os.environ.get("VERITAS_API_KEY") or None

    try:
        status = check_health(args.target, args.timeout)
    except grpc.RpcError as e:
        print(f"gateway health: {e.code().name}: {e.details()}", file=sys.stderr)
        return 1
    print(f"gateway health: {status}")
    if status != "SERVING":
        return 1

    request = build_request(transcript=args.transcript, modalities=["text"])
    with Client(args.target, timeout_s=args.timeout, api_key=api_key) as client:
        try:
            result = client.analyze(request)
        except grpc.RpcError as e:
            print(f"analysis: {e.code().name}: {e.details()}", file=sys.stderr)
            return 1
    problems = check_analysis(result)
    for p in problems:
        print(f"analysis: {p}", file=sys.stderr)
    decision = common_pb2.Decision.Name(result.decision)
    print(f"analysis: {decision}, p(deceptive)={result.deception_probability:.3f}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
