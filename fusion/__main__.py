"""The fusion service: `python -m fusion` (configuration: docs/configuration.md)."""

import grpc

from fusion.service import FusionServicer, build_channels, default_deadline_s
from veritas.config import ServiceConfig
from veritas.server import Cleanup, Register, run
from veritas.v1 import fusion_pb2, fusion_pb2_grpc


def build(config: ServiceConfig) -> tuple[Register, Cleanup]:
    channels = build_channels()
    servicer = FusionServicer(channels, default_deadline_s())

    def register(server: grpc.aio.Server) -> list[str]:
        fusion_pb2_grpc.add_FusionServicer_to_server(servicer, server)
        return [fusion_pb2.DESCRIPTOR.services_by_name["Fusion"].full_name]

    async def cleanup() -> None:
        for channel in channels.values():
            await channel.close()

    return register, cleanup


if __name__ == "__main__":
    run("fusion", build)
