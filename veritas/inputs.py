"""What a request carries for each modality: one definition for the gateway (which rejects a
request with no input) and fusion (which skips a modality with none)."""

from __future__ import annotations

from veritas.v1 import common_pb2

MODALITIES = (common_pb2.VISION, common_pb2.AUDIO, common_pb2.TEXT, common_pb2.PHYSIOLOGY)


def has_media(media: common_pb2.Media) -> bool:
    return media.WhichOneof("source") is not None


def has_transcript(transcript: common_pb2.Transcript) -> bool:
    return bool(transcript.text.strip() or transcript.segments)


def has_physiology(physiology: common_pb2.Physiology) -> bool:
    return bool(physiology.channels or physiology.heart_rate)


def has_input(request: common_pb2.AnalysisRequest, modality: int) -> bool:
    if modality == common_pb2.VISION:
        return has_media(request.video)
    if modality == common_pb2.AUDIO:
        return has_media(request.audio)
    if modality == common_pb2.TEXT:
        return has_transcript(request.transcript)
    return has_physiology(request.physiology)
