"""The one card renderer: every card gets the same sections in the same order, a card with an
empty section is refused, and what it renders passes `make evaluate`'s card check."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from models import evaluate
from models.training.card import REQUIRED, Card, Domain, Section, render

ORDER = [
    "## Validated domain",
    "## What it is",
    "## How it is served",
    "## About this model",
    "## Data",
    "## Split",
    "## Metrics",
    "## Calibration",
    "## Baselines",
    "## Measured on the sample",
    "## Known confounds and limits",
    "## Uses it must not be put to",
    "## References",
]


def cue_card() -> Card:
    return Card(
        name="demo_cues",
        version="1",
        module="models.training.demo",
        summary="**Uncalibrated cue model. Its output is never a verdict.**",
        domain=Domain((), "none: no labelled data"),
        what_it_is="A linear log-odds score over two cues.",
        serving='`calibrated: "false"`.',
        about=(Section("About this model", "Weights from the literature."),),
        data="None: no labelled data.",
        split="None: there is nothing to split.",
        metrics="None measured: no labelled data.",
        calibration="None: expected calibration error (ECE) unknown, no reliability plot.",
        baselines="A constant 0.5.",
        measured=(Section("Measured on the sample", "P = 0.5."),),
        confounds="Anxiety.",
        must_not="Do not use it to decide anything about a person.",
        references=("Someone (2003). A paper.",),
    )


def headings(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("## ")]


def test_sections_come_in_one_order_under_one_title() -> None:
    text = render(cue_card())
    assert text.startswith("# Model card: demo_cues (version 1)\n\n**Uncalibrated")
    assert headings(text) == ORDER
    assert "Written by `models/training/demo.py` (`.venv/bin/python -m models.training.demo`)" in (
        text.replace("\n", " ")
    )
    assert "- `validated_domains` (config.pbtxt): none" in text
    assert text.endswith("- Someone (2003). A paper.\n")


def test_without_a_domain_references_or_extras_only_the_standard_sections_remain() -> None:
    text = render(replace(cue_card(), domain=None, references=(), about=(), measured=()))
    optional = {"## Validated domain", "## About this model", "## Measured on the sample"}
    assert headings(text) == [h for h in ORDER if h not in optional | {"## References"}]


@pytest.mark.parametrize("field", REQUIRED)
def test_an_empty_section_is_refused_by_name(field: str) -> None:
    with pytest.raises(ValueError, match=f"demo_cues: empty section.*{field}"):
        render(replace(cue_card(), **{field: ""}))  # type: ignore[arg-type]


def test_a_rendered_cue_card_passes_the_evaluate_check() -> None:
    assert evaluate.missing_sections(render(cue_card()), "cue") == []
    assert evaluate.domain_mismatch(render(cue_card()), "") == []


def test_a_rendered_trained_card_passes_the_evaluate_check(tmp_path: Path) -> None:
    (tmp_path / "models" / "cards").mkdir(parents=True)
    (tmp_path / "models" / "cards" / "demo_reliability.png").write_bytes(b"png")
    trained = replace(
        cue_card(),
        summary="Trained on reviews.",
        domain=Domain(("WRITTEN_REVIEW",), "written reviews"),
        split="GroupKFold by hotel.",
        metrics="ROC AUC 0.9 [0.8, 0.95], 95% bootstrap intervals over hotels.",
        calibration="ECE 0.02. Reliability plot: `models/cards/demo_reliability.png`.",
    )
    text = render(trained)
    assert evaluate.missing_sections(text, "trained", tmp_path) == []
    assert evaluate.domain_mismatch(text, "WRITTEN_REVIEW") == []
