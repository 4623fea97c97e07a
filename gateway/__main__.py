"""The gateway: `python -m gateway` (configuration: docs/configuration.md)."""

import grpc
from opentelemetry.instrumentation.grpc import aio_client_interceptors

from gateway.policy import OpenPolicy
from gateway.service import GatewayServicer
from veritas.config import ServiceConfig, channel_options, env, service_address
from veritas.server import Cleanup, Register, run
from veritas.v1 import veritas_pb2, veritas_pb2_grpc


def build(config: ServiceConfig) -> tuple[Register, Cleanup]:
    channel = grpc.aio.insecure_channel(
        service_address("fusion"),
        options=channel_options(config.max_message_bytes),
        interceptors=aio_client_interceptors(),
    )
    servicer = GatewayServicer(channel, OpenPolicy(), float(env("VERITAS_MAX_DEADLINE_S")))

    def register(server: grpc.aio.Server) -> list[str]:
        veritas_pb2_grpc.add_VeritasServicer_to_server(servicer, server)
        return [veritas_pb2.DESCRIPTOR.services_by_name["Veritas"].full_name]

    return register, channel.close


if __name__ == "__main__":
    run("gateway", build)
