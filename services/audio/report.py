"""What the audio service says beside its numbers: units and the notes about references."""

from __future__ import annotations

from services.audio import egemaps, features

NO_BASELINE_NOTE = (
    "no baseline recording given: changes are measured against this recording's own average"
)
NO_REFERENCE_NOTE = (
    "no reference: no baseline recording, so the whole-input result carries no pitch-change "
    "evidence"
)


def unit(name: str) -> str:
    """The unit of any feature the audio service reports."""
    if name in features.UNITS:
        return features.UNITS[name]
    if name in egemaps.TILT_UNITS:
        return egemaps.TILT_UNITS[name]
    if name == "response_count":
        return ""
    if name.startswith("response_latency"):
        return "s"
    return egemaps.unit(name)
