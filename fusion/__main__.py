"""The fusion service: `python -m fusion` (configuration: docs/configuration.md)."""

import grpc

from fusion.service import FusionServicer, build_channels, default_deadline_s
from veritas.config import ServiceConfig
from veritas.health import Dependencies, peer_check
from veritas.modalities import name_of
from veritas.server import Cleanup, Register, run
from veritas.v1 import fusion_pb2, fusion_pb2_grpc, modality_pb2

MODALITY_SERVICE = modality_pb2.DESCRIPTOR.services_by_name["ModalityAnalyzer"].full_name


def build(config: ServiceConfig) -> tuple[Register, Cleanup, Dependencies]:
    channels = build_channels()
    servicer = FusionServicer(channels, default_deadline_s())

    def register(server: grpc.aio.Server) -> list[str]:
        fusion_pb2_grpc.add_FusionServicer_to_server(servicer, server)
        return [fusion_pb2.DESCRIPTOR.services_by_name["Fusion"].full_name]

    async def cleanup() -> None:
        for channel in channels.values():
            await channel.close()

    # Ready while any modality service is: fusion answers with what it has, the missing
    # modalities marked; `dependency/<modality>` says which are down.
    checks = {name_of(m): peer_check(channel, MODALITY_SERVICE) for m, channel in channels.items()}
    return register, cleanup, Dependencies(checks, ready_when=lambda up: any(up.values()))


if __name__ == "__main__":
    run("fusion", build)
