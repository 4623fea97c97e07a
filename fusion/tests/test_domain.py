"""A model counts as calibrated evidence only for inputs of a domain its validation covers.

The text model here is described exactly as the committed config.pbtxt describes it (the
served model: calibrated, validated on written reviews), so these tests fail if the served
statement of its domain changes.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fusion.aggregate import Aggregate
from fusion.strategies import fuse
from fusion.tests.results import result
from veritas.v1 import common_pb2 as pb
from veritas.v1 import modality_pb2

REPOSITORY = Path(__file__).resolve().parents[2] / "models" / "repository"
PARAMETER = re.compile(r'key:\s*"([^"]+)"\s*value:\s*\{\s*string_value:\s*"([^"]*)"\s*\}')


def read_parameters(config_text: str) -> dict[str, str]:
    """The string `parameters` of a committed config.pbtxt, read by path."""
    return dict(PARAMETER.findall(config_text))


def served_model(name: str) -> pb.ModelInfo:
    params = read_parameters((REPOSITORY / name / "config.pbtxt").read_text())
    return pb.ModelInfo(
        name=name,
        version="1",
        calibrated=params["calibrated"] == "true",
        validated_auc=float(params.get("validated_auc", "0.5")),
        validated_domains=[
            pb.InputDomain.Value(d)  # type: ignore[misc]
            for d in params["validated_domains"].split(",")
            if d
        ],
        domain_note=params["domain_note"],
    )


def text(score: float, confidence: float = 1.0) -> pb.ModalityResult:
    r = pb.ModalityResult(modality=pb.TEXT, status=pb.OK, score=score, confidence=confidence)
    r.model.CopyFrom(served_model("text_deception"))
    return r


def cue(modality: int, model: str, score: float) -> pb.ModalityResult:
    r = pb.ModalityResult(modality=modality, status=pb.OK, score=score, confidence=1.0)  # type: ignore[arg-type]
    r.model.CopyFrom(served_model(model))
    return r


def test_the_served_models_state_their_validated_domains():
    assert list(served_model("text_deception").validated_domains) == [pb.WRITTEN_REVIEW]
    assert "hotel reviews" in served_model("text_deception").domain_note
    for name in ("vision_behaviour", "audio_cues", "physiology_cues"):
        model = served_model(name)
        assert not model.validated_domains and model.domain_note, name


@pytest.mark.parametrize("score, verdict", [(0.995, pb.DECEPTIVE), (0.005, pb.TRUTHFUL)])
def test_a_written_review_stated_as_such_can_get_a_verdict(score, verdict):
    fused = fuse([text(score)], domain=pb.WRITTEN_REVIEW)
    assert fused.decision == verdict, fused.reason
    assert fused.evidence[0].calibrated
    assert fused.calibration[pb.TEXT].counted
    assert fused.calibration[pb.TEXT].reason == (
        "counted: validated on written reviews, this request's domain is written reviews"
    )


@pytest.mark.parametrize(
    "domain, said",
    [
        (pb.INPUT_DOMAIN_UNSPECIFIED, "this request's domain is unknown (set options.domain)"),
        (pb.INTERVIEW, "this request's domain is interviews"),
        (pb.WRITTEN_STATEMENT, "this request's domain is written statements"),
    ],
)
def test_the_same_text_outside_its_domain_is_inconclusive_and_says_why(domain, said):
    fused = fuse([text(0.995)], domain=domain)
    assert fused.decision == pb.INCONCLUSIVE
    assert "no modality counts as calibrated evidence" in fused.reason
    assert "validated on written reviews" in fused.reason and said in fused.reason
    assert not fused.evidence[0].calibrated
    assert fused.confidence == 0.0
    calibration = fused.calibration[pb.TEXT]
    assert not calibration.counted
    assert calibration.reason == f"not counted: validated on written reviews, {said}"
    # Out of domain it weighs as a cue: it moves the answer a little, adds no precision.
    in_domain = fuse([text(0.995)], domain=pb.WRITTEN_REVIEW)
    assert abs(fused.probability - 0.5) < abs(in_domain.probability - 0.5)
    assert fused.high - fused.low > in_domain.high - in_domain.low


def test_a_calibrated_model_without_a_validated_domain_never_counts():
    unstated = result(pb.TEXT, 0.995, domains=())
    for domain in pb.InputDomain.values():
        fused = fuse([unstated], domain=domain)
        assert fused.decision == pb.INCONCLUSIVE
        assert "validated on no stated input domain" in fused.reason


def test_no_served_model_decides_for_an_interview():
    results = [
        text(0.995),
        cue(pb.VISION, "vision_behaviour", 0.99),
        cue(pb.AUDIO, "audio_cues", 0.99),
        cue(pb.PHYSIOLOGY, "physiology_cues", 0.99),
    ]
    for domain in (pb.INPUT_DOMAIN_UNSPECIFIED, pb.INTERVIEW, pb.WRITTEN_STATEMENT):
        fused = fuse(results, domain=domain)
        assert fused.decision == pb.INCONCLUSIVE
        assert not any(c.counted for c in fused.calibration.values())


def analysed(domain: int) -> pb.AnalysisResult:
    agg = Aggregate("r", pb.Options(explain=True, domain=domain))  # type: ignore[arg-type]
    for m in (pb.TEXT, pb.AUDIO, pb.VISION):
        agg.open(m)
    agg.skip(pb.PHYSIOLOGY, "no input")
    agg.update(pb.TEXT, modality_pb2.ModalityUpdate(result=text(0.995), final=True))
    agg.update(
        pb.AUDIO,
        modality_pb2.ModalityUpdate(result=cue(pb.AUDIO, "audio_cues", 0.6), final=True),
    )
    agg.fail(pb.VISION, pb.FAILED, "UNAVAILABLE: connection refused")
    return agg.result(final=True)


def test_every_result_of_the_answer_says_whether_it_counted_as_calibrated_and_why():
    unknown = analysed(pb.INPUT_DOMAIN_UNSPECIFIED)
    got = {m.modality: m for m in unknown.modalities}
    assert unknown.decision == pb.INCONCLUSIVE
    assert not any(m.counted_calibrated for m in unknown.modalities)
    assert got[pb.TEXT].calibration_reason == (
        "not counted: validated on written reviews, this request's domain is unknown "
        "(set options.domain)"
    )
    assert got[pb.AUDIO].calibration_reason == "not counted: uncalibrated model"
    assert got[pb.VISION].calibration_reason == "not counted: no score (FAILED)"
    assert got[pb.PHYSIOLOGY].calibration_reason == "not counted: no score (SKIPPED)"
    trace = "\n".join(s.text for s in unknown.reasoning)
    assert "calibrated evidence for this request (domain: unknown (set options.domain))" in trace
    assert "text not counted: validated on written reviews" in trace
    assert "NOT counted as calibrated for this request" in trace

    review = analysed(pb.WRITTEN_REVIEW)
    got = {m.modality: m for m in review.modalities}
    assert got[pb.TEXT].counted_calibrated and not got[pb.AUDIO].counted_calibrated
    assert got[pb.TEXT].calibration_reason.endswith("this request's domain is written reviews")
    # Counted now; what decides is the evidence (here: the failed vision and the audio cue
    # leave the interval over 0.5), no longer the domain.
    assert "calibrated evidence" not in review.decision_reason
    assert review.uncertainty.model < unknown.uncertainty.model
