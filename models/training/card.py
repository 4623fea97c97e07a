"""One renderer for every model card: which sections a card has, their headings and order.

A training module measures its model and fills a `Card` with what it measured, in words and
tables of its own; only this module turns that into markdown. So every card has the same
sections in the same order, and a card that leaves one empty is refused before it is written
(models/evaluate.py reads the written cards back and checks them again):

    # Model card: <name> (version <v>)
    summary: what the score is worth ("never a verdict" where there is no labelled data)
    provenance: the script that wrote the card and measured its numbers
    Validated domain (models served by Triton: the same values as their config.pbtxt)
    What it is / How it is served (the serving contract) / sections about this model
    Data / Split / Metrics / Calibration / Baselines / further measurements
    Known confounds and limits / Uses it must not be put to / References
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path

from models.training.triton_config import WIDTH, validated_domain_section

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Section:
    """A section only one model's card has (its heading and markdown body)."""

    title: str
    body: str


@dataclass(frozen=True)
class Domain:
    """The input domains the model's validation covers, as config.pbtxt states them."""

    validated: Sequence[str]
    note: str


@dataclass
class Served:
    """What every served model's card states from its config.pbtxt; each training module's
    card facts extend it with what its build measured."""

    name: str
    version: str
    caveat: str
    domain: Domain


@dataclass(frozen=True)
class Card:
    """Everything a model card says; every string is markdown measured or stated by the
    training module named in `module`."""

    name: str
    version: str | None
    module: str  # the training module that wrote the card: "models.training.vision"
    summary: str
    what_it_is: str
    serving: str  # the serving contract: inputs, outputs, config.pbtxt parameters
    data: str
    split: str
    metrics: str  # with confidence intervals, or why there are none
    calibration: str
    baselines: str
    confounds: str
    must_not: str
    domain: Domain | None = None  # None: not a Triton model (the fusion stacker)
    command: str = ""  # how to rerun it; default `.venv/bin/python -m <module>`
    run_note: str = ""  # appended to the command: ", 903 s on this machine"
    numbers_from: str = "every number in it was measured by that script"
    rerun_by_evaluate: bool = True  # `make evaluate` reruns the script
    about: Sequence[Section] = ()  # after "How it is served"
    measured: Sequence[Section] = ()  # after "Baselines"
    references: Sequence[str] = ()


REQUIRED = (
    "summary",
    "what_it_is",
    "serving",
    "data",
    "split",
    "metrics",
    "calibration",
    "baselines",
    "confounds",
    "must_not",
)


def provenance(card: Card) -> str:
    script = card.module.replace(".", "/") + ".py"
    command = card.command or f".venv/bin/python -m {card.module}"
    rerun = " (`make evaluate` reruns every model)" if card.rerun_by_evaluate else ""
    line = (
        f"Written by `{script}` (`{command}`{card.run_note}); {card.numbers_from}. Edit the "
        f"script, not this file, and rerun it{rerun} to refresh the card."
    )
    return textwrap.fill(line, WIDTH, break_on_hyphens=False, break_long_words=False)


def render(card: Card) -> str:
    """The card as markdown. Raises ValueError when a section every card has is empty."""
    empty = [f.name for f in fields(card) if f.name in REQUIRED and not getattr(card, f.name)]
    if empty:
        raise ValueError(f"model card {card.name}: empty section(s): {', '.join(empty)}")
    title = f"# Model card: {card.name}" + (f" (version {card.version})" if card.version else "")
    parts = [title, card.summary, provenance(card)]
    if card.domain is not None:
        parts.append(validated_domain_section(card.domain.validated, card.domain.note))
    sections = [
        Section("What it is", card.what_it_is),
        Section("How it is served", card.serving),
        *card.about,
        Section("Data", card.data),
        Section("Split", card.split),
        Section("Metrics", card.metrics),
        Section("Calibration", card.calibration),
        Section("Baselines", card.baselines),
        *card.measured,
        Section("Known confounds and limits", card.confounds),
        Section("Uses it must not be put to", card.must_not),
    ]
    if card.references:
        sections.append(Section("References", "\n".join(f"- {r}" for r in card.references)))
    parts += [f"## {s.title}\n{s.body.strip(chr(10))}" for s in sections]
    return "\n\n".join(p.strip("\n") for p in parts) + "\n"


def write(card: Card, path: Path) -> Path:
    """Render `card` to `path` (its folder created when missing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(card), encoding="utf-8")
    return path
