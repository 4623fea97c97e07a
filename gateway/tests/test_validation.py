import pytest

from gateway.validation import check_batch, check_request
from veritas.analysis import InvalidInput
from veritas.v1 import common_pb2 as pb
from veritas.v1 import veritas_pb2


def field_of(request) -> str:
    with pytest.raises(InvalidInput) as info:
        check_request(request)
    return info.value.field


def test_a_request_without_input_names_the_request():
    assert field_of(pb.AnalysisRequest()) == "request"


def test_a_requested_modality_without_input_is_named():
    request = pb.AnalysisRequest(
        transcript=pb.Transcript(text="hello"), options=pb.Options(modalities=[pb.TEXT, pb.AUDIO])
    )
    assert field_of(request) == "request.options.modalities[1]"


@pytest.mark.parametrize(
    "options, field",
    [
        (pb.Options(target_fps=500), "request.options.target_fps"),
        (pb.Options(window_s=-1), "request.options.window_s"),
        (pb.Options(strategy=99), "request.options.strategy"),  # type: ignore[arg-type]
        (pb.Options(modalities=[0]), "request.options.modalities[0]"),  # type: ignore[list-item]
    ],
)
def test_bad_options_are_named(options, field):
    assert (
        field_of(pb.AnalysisRequest(transcript=pb.Transcript(text="x"), options=options)) == field
    )


def test_a_plain_heart_rate_list_is_input():
    check_request(pb.AnalysisRequest(physiology=pb.Physiology(heart_rate=[70, 71, 72])))


def test_batches_must_hold_one_to_64_items():
    with pytest.raises(InvalidInput):
        check_batch(veritas_pb2.AnalyzeBatchRequest())
    with pytest.raises(InvalidInput):
        check_batch(veritas_pb2.AnalyzeBatchRequest(requests=[pb.AnalysisRequest()] * 65))
