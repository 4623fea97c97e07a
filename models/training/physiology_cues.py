"""Build the physiology arousal CUE model (physiology_cues): explicit weights, no training.

No labelled physiological deception data is available to this project, so nothing is
fitted. The model is a linear log-odds index of physiological arousal whose *directions*
and *relative weights* follow the comparison question test (CQT) literature:

- National Research Council (2003). The Polygraph and Lie Detection. Committee to Review
  the Scientific Evidence on the Polygraph. Washington, DC: The National Academies Press.
- Kircher, J. C., & Raskin, D. C. (1988). Human versus computerized evaluations of
  polygraph data in a laboratory setting. Journal of Applied Psychology, 73(2).

From these we take only the ordering that the electrodermal channel is the most
diagnostic, then the cardiovascular channel, then respiratory suppression (smaller
breaths). Every magnitude below (scales and weights) is a PRIOR chosen by hand, not a
number from those sources. The output is an uncalibrated arousal index: arousal is not
deception, and the card says so.

Run: `.venv/bin/python -m models.training.physiology_cues` (writes the ONNX file,
config.pbtxt and the model card, including a direction check on simulated signals).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import neurokit2 as nk
import numpy as np
import onnxruntime as ort

from models.training import triton_config
from models.training.linear_onnx import linear_model
from services.physiology import simulate
from services.physiology.analyzer import PhysiologyAnalyzer
from services.physiology.cues import CUES
from veritas.v1 import common_pb2, modality_pb2

ROOT = Path(__file__).resolve().parents[2]
MODEL_NAME = "physiology_cues"
VERSION = "1"
MODEL_DIR = ROOT / "models" / "repository" / MODEL_NAME
CARD = Path("models") / "cards" / f"{MODEL_NAME}.md"


@dataclass(frozen=True)
class Weight:
    """One cue's prior: `scale` is a change worth noticing, `coef` its log-odds per scale."""

    scale: float
    coef: float
    why: str


# Keyed by the cue names the analyzer emits (services/physiology/cues.py), in that order.
# Channel totals: electrodermal 1.5, cardiovascular 0.7, respiratory 0.35 (the ordering is
# from the literature above; the numbers are priors).
WEIGHTS: dict[str, Weight] = {
    "eda_scr_amplitude_log_ratio": Weight(
        0.5, 0.8, "larger skin conductance responses: the most diagnostic CQT channel"
    ),
    "eda_scr_rate_delta_per_min": Weight(3.0, 0.4, "more frequent SCRs (electrodermal)"),
    "eda_tonic_delta_us": Weight(0.5, 0.3, "higher skin conductance level (electrodermal)"),
    "hr_mean_delta_bpm": Weight(5.0, 0.5, "faster heart rate (cardiovascular activation)"),
    "hrv_rmssd_delta_ms": Weight(
        10.0, -0.2, "lower RMSSD (vagal withdrawal under stress; direction is a prior)"
    ),
    "resp_amplitude_log_ratio": Weight(
        0.25, -0.35, "smaller breaths: respiratory suppression, the weakest CQT channel"
    ),
}
FEATURES = tuple(c.name for c in CUES)
assert tuple(WEIGHTS) == FEATURES, "WEIGHTS must follow services.physiology.cues.CUES"
SCALE = np.array([WEIGHTS[f].scale for f in FEATURES], dtype=np.float64)
COEF = np.array([WEIGHTS[f].coef for f in FEATURES], dtype=np.float64)
MEAN = np.zeros(len(FEATURES))  # every cue is a change from the reference: 0 means none
INTERCEPT = 0.0  # no change from the reference: probability 0.5, i.e. no evidence


def reference_numpy(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The model's arithmetic in numpy: (probability [n, 1], contributions [n, K])."""
    contributions = (x - MEAN) / SCALE * COEF
    logit = contributions.sum(axis=1, keepdims=True) + INTERCEPT
    return 1.0 / (1.0 + np.exp(-logit)), contributions


def build() -> bytes:
    model = linear_model(
        FEATURES,
        MEAN.tolist(),
        SCALE.tolist(),
        COEF.tolist(),
        INTERCEPT,
        doc="Uncalibrated physiological arousal cue index (prior weights; not a verdict).",
    )
    return model.SerializeToString()


CAVEAT = (
    "physiology: an uncalibrated arousal index with hand-set weights, not a verdict; arousal "
    "is not deception (models/cards/physiology_cues.md)"
)
VALIDATED_DOMAINS: tuple[str, ...] = ()  # no labelled data: validated on no input domain
DOMAIN_NOTE = "none: no labelled physiological data; hand-set weights, never validated"


def config_pbtxt() -> str:
    return triton_config.config_pbtxt(
        MODEL_NAME,
        FEATURES,
        calibrated=False,
        card=CARD.as_posix(),
        caveat=CAVEAT,
        validated_domains=VALIDATED_DOMAINS,
        domain_note=DOMAIN_NOTE,
    )


# --- direction check on simulated signals ----------------------------------------------


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
    """ESS scoring of simulated examinations (services/physiology/simulate.py)."""
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


def card(
    rows: list[tuple[str, float, float, float]], max_abs_diff: float, cqt_rows: list[CqtRow]
) -> str:
    weights = "\n".join(
        f"| `{c.name}` | {c.unit} | {WEIGHTS[c.name].scale:g} | {WEIGHTS[c.name].coef:+g} "
        f"| {WEIGHTS[c.name].why} |"
        for c in CUES
    )
    checks = "\n".join(f"| {n} | {p:.3f} | {lo:.3f} - {hi:.3f} |" for n, p, lo, hi in rows)
    cqt_table = "\n".join(
        f"| {r.responding} | {r.channels} | {r.totals} | {r.grand_total:+d} | {r.decision} |"
        for r in cqt_rows
    )
    return f"""# Model card: physiology_cues (version {VERSION})

**Uncalibrated arousal cue model. No labelled data. Arousal is not deception. Its output is
never a verdict.** `config.pbtxt` marks it `calibrated: "false"` and carries a caveat that
every physiology result repeats in its notes; fusion must treat its score as weak,
unvalidated evidence, and the service recommends human review.

Generated by `models/training/physiology_cues.py` (`.venv/bin/python -m
models.training.physiology_cues`, also run by `make evaluate`); edit the script, not this
file.

{triton_config.validated_domain_section(VALIDATED_DOMAINS, DOMAIN_NOTE)}
## What it is
A linear log-odds index of physiological arousal, exported with `linear_onnx` so every
score comes with per-cue contributions. Inputs are changes from a reference measured on the
same subject (the baseline physiology when given, else the recording's first window; see
`services/physiology/cues.py`): 0 means no change and contributes nothing, so a window
with no change scores exactly 0.5.

    contribution_k = cue_k / scale_k * weight_k;   P = sigmoid(sum_k contribution_k)

| cue (model input, in order) | unit | scale | weight (log-odds per scale) | direction and basis |
|---|---|---|---|---|
{weights}

The service measures more than the model reads (heart rate, RMSSD, SDNN, HF and LF power
when a span is long enough, EDA tonic level and SCRs, respiration rate and amplitude,
signal-quality measures); those are reported with the result but carry no weight here.

## Where the weights come from
Nothing was fitted. Only the *ordering* of the channels comes from the comparison question
test (CQT) literature: the electrodermal channel is the most diagnostic, then the
cardiovascular channel, then respiratory suppression (National Research Council, 2003,
*The Polygraph and Lie Detection*, National Academies Press; Kircher & Raskin, 1988,
*Journal of Applied Psychology* 73(2)). Every scale and weight in the table is a
**prior chosen by hand**, not a number from those sources. The HRV direction (lower RMSSD
under sympathetic arousal) is likewise a prior. CQT findings come from comparing responses
to relevant and comparison questions within one examination; this model compares windows
with a baseline, a weaker design (the CQT scoring below does the within-examination
comparison when question markers are given).

## Data
None. No labelled physiological deception data set is available to this project (the
shared data hold text reviews and coded courtroom gestures only). `veritas train
--modality physiology --data F.csv` refits this model's weights on a user's own labelled
cue values (docs/models.md).

## Split
None: there is nothing to split.

## Metrics
None measured: accuracy, ROC AUC and their bootstrap confidence intervals need labelled
outcomes. None are claimed.

## Calibration
None: expected calibration error (ECE) unknown, no reliability plot (there are no outcomes
to plot predicted probabilities against); `calibrated: "false"`.

## Baselines
A constant 0.5, which this model also returns whenever nothing changed. It has not been
shown to beat it.

## Checks the build script measured
- ONNX Runtime output vs the same arithmetic in numpy on 256 random inputs: max absolute
  difference {max_abs_diff:.2e}.
- Direction on simulated signals (neurokit2 simulators; 60 s of ECG at 250 Hz, EDA and
  respiration at 50 Hz; baseline: HR 70 bpm, 2 SCRs, normal breaths). This shows only that
  the cues move the score the intended way, not that they detect anything:

| simulated recording | P (whole recording) | P range over 10 s windows |
|---|---|---|
{checks}

## Comparison-question scoring (with question markers; not this model)
When the request marks relevant, comparison and irrelevant questions, the service also
scores the examination the way the Empirical Scoring System (ESS; Nelson, Krapohl &
Handler, 2008, *Polygraph* 37; Nelson et al., 2011, "Using the Empirical Scoring System",
*Polygraph* 40(1)) does: per relevant-question presentation and channel, the response is
compared with the stronger of the neighbouring comparison questions (electrodermal +/-2,
cardio +/-1 with heart rate as a proxy for blood pressure, respiration suppression +/-1;
negative = larger response to the relevant question); subtotals and the grand total are
judged by the ESS two-stage rules for an event-specific examination (grand total >= +2 NDI,
<= -4 DI, else DI if any subtotal <= -7, else inconclusive). The scores and the decision are
reported as features (`cqt_*`) and notes; they do not enter this model's probability.
Response measures, the "no difference" thresholds and the heart-rate proxy are this
project's automation of an examiner's judgement (`services/physiology/responses.py`,
`cqt.py`); published ESS accuracy does not transfer to them, and CQT validity itself is
disputed (National Research Council, 2003). Measured on simulated three-chart examinations
(`services/physiology/simulate.py`; responses after the relevant questions, after the
comparison questions, or after none):

| responses after | channels | channel totals | grand total | decision |
|---|---|---|---|---|
{cqt_table}

## Known confounds
Anything that changes arousal moves this score: anxiety about being tested (truthful
people are often aroused), surprise, pain, speaking (changes breathing and heart rate),
movement and posture, coughing or deep breaths, caffeine, nicotine and medication (beta
blockers flatten heart rate), room temperature and skin hydration (skin conductance),
electrode contact, habituation over a session (responses shrink with time, so the
first-window reference drifts), and some people are electrodermal non-responders.
Deliberate countermeasures (controlled breathing, self-induced pain on comparison questions)
are discussed in the polygraph literature. Short 10 s windows hold few beats, SCRs and
breaths: ultra-short HRV in particular is noisy, and HF power needs 60 s.

## Uses it must not be put to
Not a lie detector. Do not use its output, or the CQT decision, alone or as the deciding
factor, for any decision about a person: employment, hiring or screening, criminal or civil
proceedings, immigration, insurance, credit, discipline or security clearance. Do not
present its probability as the chance that someone lied. Use it only as one uncalibrated,
explained signal for a trained human reviewer, with the subject's informed consent.
"""


def main() -> None:
    model_bytes = build()
    onnx_path = MODEL_DIR / VERSION / "model.onnx"
    onnx_path.parent.mkdir(parents=True, exist_ok=True)
    onnx_path.write_bytes(model_bytes)
    session = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])

    rng = np.random.default_rng(0)
    x = (rng.normal(size=(256, len(FEATURES))) * SCALE * 2).astype(np.float32)
    got_p, got_c = session.run(["probability", "contributions"], {"features": x})
    want_p, want_c = reference_numpy(x.astype(np.float64))
    max_abs_diff = float(max(np.abs(got_p - want_p).max(), np.abs(got_c - want_c).max()))

    rows = direction_check(session)
    cqt_rows = cqt_check()
    (MODEL_DIR / "config.pbtxt").write_text(config_pbtxt())
    (ROOT / CARD).write_text(card(rows, max_abs_diff, cqt_rows))
    print(f"wrote {onnx_path}, {MODEL_DIR / 'config.pbtxt'}, {ROOT / CARD}")
    for n, p, lo, hi in rows:
        print(f"  {n}: P={p:.3f} windows {lo:.3f}-{hi:.3f}")
    for r in cqt_rows:
        print(
            f"  CQT, responses after {r.responding} ({r.channels}): {r.grand_total:+d} {r.decision}"
        )


if __name__ == "__main__":
    main()
