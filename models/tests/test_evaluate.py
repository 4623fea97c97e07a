"""`make evaluate`'s card check: complete cards pass, each missing section is named."""

from __future__ import annotations

from pathlib import Path

import pytest

from models import evaluate

TRAINED_CARD = """# Model card: demo
## Validated domain
- `validated_domains` (config.pbtxt): `WRITTEN_REVIEW`
## Data
Reviews from 20 hotels.
## Evaluation
Hotel-separated split (GroupKFold). 95% intervals: bootstrap over hotels.
ECE 0.04. Reliability plot: `models/cards/demo_reliability.png`.
## Baselines
Majority class: balanced accuracy 0.50.
## Known confounds
Topic and length.
## Uses it must not be put to
Not a lie detector.
"""

CUE_CARD = """# Model card: cue
**Uncalibrated cue model.**
## Validated domain
- `validated_domains` (config.pbtxt): none
## Data, split, metrics, calibration
Data: none. Split: none. Metrics: none, no labelled data. Calibration error (ECE): unknown;
no reliability plot. Baseline: a constant 0.5.
## Known confounds
Anxiety.
## Uses it must not be put to
Do not use it to decide anything about a person.
"""


def test_complete_trained_card_passes_when_its_plot_exists(tmp_path: Path) -> None:
    assert evaluate.missing_sections(TRAINED_CARD, "trained", tmp_path) == [
        "reliability plot: models/cards/demo_reliability.png not found"
    ]
    (tmp_path / "models" / "cards").mkdir(parents=True)
    (tmp_path / "models" / "cards" / "demo_reliability.png").write_bytes(b"png")
    assert evaluate.missing_sections(TRAINED_CARD, "trained", tmp_path) == []


def test_complete_cue_card_passes() -> None:
    assert evaluate.missing_sections(CUE_CARD, "cue") == []


@pytest.mark.parametrize(
    ("remove", "section"),
    [
        ("## Baselines\nMajority class: balanced accuracy 0.50.\n", "baselines"),
        ("## Known confounds\nTopic and length.\n", "confounds"),
        ("## Uses it must not be put to\nNot a lie detector.\n", "uses it must not be put to"),
        ("95% intervals: bootstrap over hotels.", "metrics with bootstrap CIs"),
        ("ECE 0.04. ", "calibration error (ECE)"),
        ("## Data\n", "data"),
        ("## Validated domain\n", "validated domain"),
    ],
)
def test_each_missing_section_is_named(tmp_path: Path, remove: str, section: str) -> None:
    assert remove in TRAINED_CARD
    missing = evaluate.missing_sections(TRAINED_CARD.replace(remove, ""), "trained", tmp_path)
    assert section in missing


def test_cue_card_must_say_it_is_uncalibrated() -> None:
    card = CUE_CARD.replace("**Uncalibrated cue model.**\n", "")
    assert evaluate.missing_sections(card, "cue") == ["says it is uncalibrated"]


def test_kind_and_card_come_from_config(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "m" / "3").mkdir(parents=True)
    (repo / "m" / "1").mkdir()
    (repo / "m" / "config.pbtxt").write_text(
        'parameters {\n  key: "calibrated"\n  value: { string_value: "false" }\n}\n'
        'parameters {\n  key: "card"\n  value: { string_value: "cards/m.md" }\n}\n'
        'parameters {\n  key: "validated_domains"\n  value: { string_value: "" }\n}\n'
    )
    check = evaluate.check_model("m", repo, tmp_path)
    assert (check.kind, check.version, check.calibrated) == ("cue", "3", False)
    assert check.missing == ["card cards/m.md not found"]
    (tmp_path / "cards").mkdir()
    (tmp_path / "cards" / "m.md").write_text(CUE_CARD)
    assert evaluate.check_model("m", repo, tmp_path).ok
    assert not evaluate.check_model("absent", repo, tmp_path).ok


def test_the_card_and_the_config_state_the_same_validated_domains(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "m" / "1").mkdir(parents=True)
    (tmp_path / "cards").mkdir()
    (tmp_path / "cards" / "m.md").write_text(CUE_CARD)
    config = (
        'parameters {\n  key: "calibrated"\n  value: { string_value: "false" }\n}\n'
        'parameters {\n  key: "card"\n  value: { string_value: "cards/m.md" }\n}\n'
    )
    (repo / "m" / "config.pbtxt").write_text(config)
    assert evaluate.check_model("m", repo, tmp_path).missing == [
        "config.pbtxt states no validated_domains"
    ]
    (repo / "m" / "config.pbtxt").write_text(
        config + 'parameters {\n  key: "validated_domains"\n  value: { string_value: '
        '"INTERVIEW" }\n}\n'
    )
    assert evaluate.check_model("m", repo, tmp_path).missing == [
        "validated domain: the card lists none, config.pbtxt INTERVIEW"
    ]


def test_every_served_model_has_a_training_script() -> None:
    served = {  # the scoring models (feature contract); face_* are converted, not trained
        p.parent.name
        for p in evaluate.REPOSITORY.glob("*/config.pbtxt")
        if "feature_names" in p.read_text()
    }
    assert served == set(evaluate.TRAINING)
    for module in evaluate.TRAINING.values():
        assert (evaluate.ROOT / (module.replace(".", "/") + ".py")).is_file()


def test_the_physiology_card_passes_the_check() -> None:
    assert evaluate.main(["--check-only", "--only", "physiology_cues"]) == 0


def test_models_doc_has_a_section_and_a_card_link_per_model() -> None:
    doc = (evaluate.ROOT / "docs" / "models.md").read_text(encoding="utf-8")
    for model in evaluate.TRAINING:
        assert f"## {model}" in doc
        link = f"../models/cards/{model}.md"
        assert link in doc and (evaluate.ROOT / "docs" / link).resolve().is_file()
