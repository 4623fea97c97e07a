"""Arousal cue inputs: each window's measures as a change from a reference.

Physiological levels differ far more between people than within one person, so the cue
model never sees absolute levels, only changes from a reference measured on the same
subject:

- with baseline physiology (truthful control answers), the reference is the baseline
  recording measured as one span;
- without it, the reference is the recording's own first window. That choice is causal
  (a live stream's reference never changes as samples arrive) and needs no population
  norms, which do not exist for skin conductance. The first window itself then carries no
  evidence (every cue is 0 by construction), and every window says so in its notes.

A cue whose measure (or reference) is missing is set to its neutral value 0 (no change),
so it contributes nothing to the model's log-odds; the window notes name it. Amplitudes
(SCR size, breath size) vary several-fold between people, so they enter as log ratios;
levels with a shared unit (uS, bpm, ms) as differences.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Cue:
    """A model input: `measure` relative to the reference, by `kind`."""

    name: str
    measure: str
    kind: str  # "difference" (value - reference) or "log_ratio" (ln(value / reference))
    unit: str


# The model's inputs, in its feature order (models/training/physiology_cues.py imports this).
CUES: tuple[Cue, ...] = (
    Cue("eda_scr_amplitude_log_ratio", "eda_scr_amplitude_us", "log_ratio", "ln ratio"),
    Cue("eda_scr_rate_delta_per_min", "eda_scr_rate_per_min", "difference", "1/min"),
    Cue("eda_tonic_delta_us", "eda_tonic_us", "difference", "uS"),
    Cue("hr_mean_delta_bpm", "hr_mean_bpm", "difference", "bpm"),
    Cue("hrv_rmssd_delta_ms", "hrv_rmssd_ms", "difference", "ms"),
    Cue("resp_amplitude_log_ratio", "resp_amplitude", "log_ratio", "ln ratio"),
)
CUE_NAMES: tuple[str, ...] = tuple(c.name for c in CUES)


def cue_values(
    measures: Mapping[str, float], reference: Mapping[str, float]
) -> tuple[dict[str, float], list[str]]:
    """Every cue's value (0 where it cannot be measured) and the names of those neutralised."""
    values: dict[str, float] = {}
    missing: list[str] = []
    for cue in CUES:
        x, ref = measures.get(cue.measure), reference.get(cue.measure)
        value = math.nan
        if x is not None and ref is not None:
            if cue.kind == "difference":
                value = x - ref
            elif x > 0 and ref > 0:
                value = math.log(x / ref)
        if math.isfinite(value):
            values[cue.name] = float(value)
        else:
            values[cue.name] = 0.0
            missing.append(cue.name)
    return values, missing
