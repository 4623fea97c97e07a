"""Simulated comparison-question examinations with known responses (tests, model card checks).

Each chart asks I1 C1 R1 C2 R2 C3 R3, one question every 20 s (answer 3 s after onset).
After the `responding` questions ("relevant", "comparison" or "none"), each requested
channel responds: a skin conductance response of 0.4 uS starting 2 s after onset (a Bateman
function), heart rate +8 bpm from 2 to 9 s after onset, or breathing at 40% of its depth for
12 s. Known inputs, so the scoring can be checked against the answer it must give.
"""

from __future__ import annotations

import numpy as np

from veritas.v1 import common_pb2

SEQUENCE: tuple[tuple[str, str], ...] = (
    ("irrelevant", "I1"),
    ("comparison", "C1"),
    ("relevant", "R1"),
    ("comparison", "C2"),
    ("relevant", "R2"),
    ("comparison", "C3"),
    ("relevant", "R3"),
)
GAP_S = 20.0
ANSWER_S = 3.0
FIRST_ONSET_S = 5.0
SCR_LATENCY_S = 2.0
SCR_AMPLITUDE_US = 0.4
HR_RISE_BPM = 8.0
BREATH_DEPTH = 0.4


def onsets(charts: int) -> list[tuple[str, str, float]]:
    """(kind, label, onset) of every question, in order."""
    n = len(SEQUENCE)
    return [(*SEQUENCE[k % n], FIRST_ONSET_S + k * GAP_S) for k in range(charts * n)]


def scr(t: np.ndarray, onset: float, amplitude: float) -> np.ndarray:
    """A skin conductance response: a Bateman function (rise 0.75 s, decay 2 s) of height
    `amplitude`, starting at `onset`."""
    rise, decay = 0.75, 2.0
    x = np.clip(t - onset, 0, None)
    peak_t = np.log(decay / rise) * decay * rise / (decay - rise)
    peak = np.exp(-peak_t / decay) - np.exp(-peak_t / rise)
    return np.asarray(amplitude * (np.exp(-x / decay) - np.exp(-x / rise)) / peak)


def examination(
    responding: str, *, charts: int = 3, channels: tuple[str, ...] = ("eda",), seed: int = 0
) -> common_pb2.Physiology:
    """Markers plus the requested channels ("eda", "heart_rate", "respiration")."""
    questions = onsets(charts)
    duration = questions[-1][2] + GAP_S
    p = common_pb2.Physiology()
    kinds = common_pb2.QuestionMarker
    for kind, label, start in questions:
        p.markers.add(
            kind=getattr(kinds, kind.upper()), start_s=start, end_s=start + ANSWER_S, label=label
        )
    hits = [start for kind, _, start in questions if kind == responding]
    rng = np.random.default_rng(seed)
    if "eda" in channels:
        t = np.arange(int(duration * 10)) / 10.0
        eda = 2.0 + 0.002 * t + rng.normal(0, 0.003, t.size)
        for start in hits:
            eda += scr(t, start + SCR_LATENCY_S, SCR_AMPLITUDE_US)
        p.channels.add(name="eda", sampling_rate_hz=10, samples=eda, unit="uS")
    if "heart_rate" in channels:
        t = np.arange(int(duration), dtype=float)
        hr = 70.0 + rng.normal(0, 0.3, t.size)
        for start in hits:
            hr[(t >= start + 2) & (t < start + 9)] += HR_RISE_BPM
        p.channels.add(name="heart_rate", sampling_rate_hz=1, samples=hr, unit="bpm")
    if "respiration" in channels:
        t = np.arange(int(duration * 25)) / 25.0
        depth = np.ones(t.size)
        for start in hits:
            depth[(t >= start) & (t < start + 12)] = BREATH_DEPTH
        p.channels.add(
            name="respiration", sampling_rate_hz=25, samples=depth * np.sin(np.pi * t / 2)
        )
    return p
