"""The modality table agrees with the contracts: every modality enum has one row, and each
row names fields that exist with the right types, so a typo fails here rather than as an
AttributeError in fusion or the gateway."""

from __future__ import annotations

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from veritas import modalities
from veritas.v1 import common_pb2


def _field(message: type[Message], name: str) -> FieldDescriptor:
    return message.DESCRIPTOR.fields_by_name[name]


def test_every_modality_of_the_contract_has_one_row() -> None:
    contract = [v for v in common_pb2.Modality.values() if v != common_pb2.MODALITY_UNSPECIFIED]
    assert sorted(modalities.ENUMS) == sorted(contract)
    assert len(set(modalities.NAMES)) == len(modalities.NAMES)
    for m in modalities.MODALITIES:
        assert modalities.name_of(m.enum) == m.name == common_pb2.Modality.Name(m.enum).lower()
        assert modalities.BY_NAME[m.name] is modalities.BY_ENUM[m.enum] is m
        assert modalities.BY_CHUNK[m.chunk_kind] is m


def test_each_row_names_fields_that_exist_with_matching_types() -> None:
    payloads = common_pb2.LiveChunk.DESCRIPTOR.oneofs_by_name["payload"].fields
    for m in modalities.MODALITIES:
        carried = _field(common_pb2.ModalityInput, m.input_field).message_type
        assert _field(common_pb2.AnalysisRequest, m.request_field).message_type is carried
        assert _field(common_pb2.Baseline, m.request_field).message_type is carried
        assert m.input_field in modalities.HAS_INPUT
        assert m.chunk_kind in [f.name for f in payloads]
        payload = _field(common_pb2.LiveChunk, m.chunk_kind).message_type
        time = payload.fields_by_name[m.chunk_time]
        assert time.type == FieldDescriptor.TYPE_DOUBLE
        assert m.media == (m.input_field == "media")


def test_what_counts_as_input() -> None:
    request = common_pb2.AnalysisRequest()
    assert not any(modalities.has_input(request, e) for e in modalities.ENUMS)
    request.transcript.text = "   "
    request.video.uri = "file:///clips/a.mp4"
    request.baseline.physiology.heart_rate.append(70.0)
    present = [m.name for m in modalities.MODALITIES if m.has_input(request)]
    assert present == ["vision"]  # blank text is none; the baseline is not the input
    assert [m.name for m in modalities.MODALITIES if m.has_input(request.baseline)] == [
        "physiology"
    ]


def test_chunks_sit_on_the_timeline_by_their_own_field() -> None:
    chunks = [
        common_pb2.LiveChunk(video_frame=common_pb2.VideoFrame(timestamp_s=1.5)),
        common_pb2.LiveChunk(audio_chunk=common_pb2.AudioChunk(timestamp_s=2.5)),
        common_pb2.LiveChunk(
            transcript_segment=common_pb2.TranscriptSegment(start_s=3.5, end_s=9.0)
        ),
        common_pb2.LiveChunk(physio_samples=common_pb2.PhysioChannel(start_s=4.5)),
        common_pb2.LiveChunk(question=common_pb2.QuestionMarker(start_s=5.5, end_s=6.0)),
        common_pb2.LiveChunk(config=common_pb2.StreamConfig()),
    ]
    assert [modalities.chunk_time(c) for c in chunks] == [1.5, 2.5, 3.5, 4.5, 5.5, 0.0]
