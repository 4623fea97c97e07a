"""What the `physiology_cues` build measures on the built model (reported in its card).

- ONNX Runtime against the same arithmetic in numpy, on random inputs;
- direction on simulated signals (neurokit2's ECG, EDA and respiration simulators): aroused
  recordings must score above the baseline, calmer ones below; this shows only that the cues
  move the score the intended way, not that they detect anything;
- the service's comparison-question scoring (ESS) on simulated examinations with known
  responses (samples/simulate_physiology.py): not this model, reported beside it.
"""

from __future__ import annotations

from dataclasses import dataclass

import neurokit2 as nk
import numpy as np
import onnxruntime as ort

from models.training.physiology_cues_weights import FEATURES, SCALE, reference_numpy
from samples import simulate_physiology as simulate
from services.physiology.analyzer import PhysiologyAnalyzer
from veritas.v1 import common_pb2, modality_pb2

RANDOM_INPUTS = 256


def onnx_vs_numpy(session: ort.InferenceSession) -> float:
    """Max absolute difference of probability and contributions on RANDOM_INPUTS inputs."""
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(RANDOM_INPUTS, len(FEATURES))) * SCALE * 2).astype(np.float32)
    got_p, got_c = session.run(["probability", "contributions"], {"features": x})
    want_p, want_c = reference_numpy(x.astype(np.float64))
    return float(max(np.abs(got_p - want_p).max(), np.abs(got_c - want_c).max()))


@dataclass(frozen=True)
class Scenario:
    name: str
    heart_rate: float
    scr_number: int
    resp_amplitude: float


BASELINE = Scenario("baseline", 70.0, 2, 1.0)
SCENARIOS = (
    Scenario("like the baseline (other random seed)", 70.0, 2, 1.0),
    Scenario("aroused: HR +12 bpm, 8 SCRs, breaths 40% smaller", 82.0, 8, 0.6),
    Scenario("calmer: HR -6 bpm, no SCR", 64.0, 0, 1.0),
)


def _simulate(s: Scenario, seed: int, duration: int = 60) -> common_pb2.Physiology:
    """Simulated ECG (250 Hz), EDA and respiration (50 Hz) from neurokit2's generators."""
    p = common_pb2.Physiology()
    ecg = nk.ecg_simulate(
        duration=duration, sampling_rate=250, heart_rate=s.heart_rate, random_state=seed
    )
    p.channels.add(name="ecg", sampling_rate_hz=250, samples=ecg)
    eda = nk.eda_simulate(
        duration=duration,
        sampling_rate=50,
        scr_number=s.scr_number,
        drift=-0.01,
        random_state=seed,
    )
    p.channels.add(name="eda", sampling_rate_hz=50, samples=eda + 2.0)
    rsp = nk.rsp_simulate(
        duration=duration, sampling_rate=50, respiratory_rate=15, random_state=seed
    )
    p.channels.add(name="respiration", sampling_rate_hz=50, samples=s.resp_amplitude * rsp)
    return p


def direction_check(session: ort.InferenceSession) -> list[tuple[str, float, float, float]]:
    """(scenario, whole-recording probability, min and max window probability) vs BASELINE."""
    analyzer = PhysiologyAnalyzer()
    rows = []
    for i, s in enumerate(SCENARIOS):
        req = modality_pb2.ModalityRequest()
        req.input.physiology.CopyFrom(_simulate(s, seed=100 + i))
        req.baseline.physiology.CopyFrom(_simulate(BASELINE, seed=1))
        prepared = analyzer.prepare(req)
        windows = list(analyzer.windows(prepared, req.options))
        summary = analyzer.summarize(prepared, windows)
        x = np.array(
            [[w.features[f] for f in FEATURES] for w in [summary, *windows]], dtype=np.float32
        )
        prob = session.run(["probability"], {"features": x})[0][:, 0]
        rows.append((s.name, float(prob[0]), float(prob[1:].min()), float(prob[1:].max())))
    return rows


@dataclass(frozen=True)
class CqtRow:
    responding: str
    channels: str
    totals: str
    grand_total: int
    decision: str


def cqt_check() -> list[CqtRow]:
    """ESS scoring of simulated examinations (samples/simulate_physiology.py)."""
    analyzer = PhysiologyAnalyzer()
    decisions = {1.0: "NDI", 0.0: "INC", -1.0: "DI"}
    rows = []
    for channels in (("eda",), ("heart_rate", "respiration"), ("eda", "heart_rate", "respiration")):
        for responding in ("relevant", "comparison", "none"):
            req = modality_pb2.ModalityRequest()
            req.input.physiology.CopyFrom(simulate.examination(responding, channels=channels))
            prepared = analyzer.prepare(req)
            summary = analyzer.summarize(prepared, list(analyzer.windows(prepared, req.options)))
            f = summary.features
            totals = ", ".join(
                f"{c} {int(f[f'cqt_{c}_total']):+d}" for c in ("eda", "cardio", "respiration")
            )
            rows.append(
                CqtRow(
                    responding,
                    " + ".join(channels),
                    totals,
                    int(f["cqt_grand_total"]),
                    decisions[f["cqt_decision"]],
                )
            )
    return rows
