"""The card of `physiology_cues`, filled from its weights and the build's own checks."""

from __future__ import annotations

from dataclasses import dataclass

from models.training.card import Card, Section, Served
from models.training.physiology_cues_checks import RANDOM_INPUTS, CqtRow
from models.training.physiology_cues_weights import WEIGHTS
from services.physiology.cues import CUES


@dataclass
class Facts(Served):
    """What the card reports: the model's contract and what the build measured."""

    max_abs_diff: float  # ONNX Runtime vs numpy
    directions: list[tuple[str, float, float, float]]  # checks.direction_check
    cqt: list[CqtRow]


SUMMARY = """\
**Uncalibrated arousal cue model. No labelled data. Arousal is not deception. Its output is
never a verdict.** Fusion must treat its score as weak, unvalidated evidence, and the service
recommends human review."""

WEIGHTS_FROM = """\
Nothing was fitted. Only the *ordering* of the channels comes from the comparison question
test (CQT) literature: the electrodermal channel is the most diagnostic, then the
cardiovascular channel, then respiratory suppression (National Research Council, 2003,
*The Polygraph and Lie Detection*, National Academies Press; Kircher & Raskin, 1988,
*Journal of Applied Psychology* 73(2)). Every scale and weight in the table is a
**prior chosen by hand**, not a number from those sources. The HRV direction (lower RMSSD
under sympathetic arousal) is likewise a prior. CQT findings come from comparing responses
to relevant and comparison questions within one examination; this model compares windows
with a baseline, a weaker design (the CQT scoring below does the within-examination
comparison when question markers are given)."""

CQT = """When the request marks relevant, comparison and irrelevant questions, the service also
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
(`samples/simulate_physiology.py`; responses after the relevant questions, after the
comparison questions, or after none):"""

CONFOUNDS = """Anything that changes arousal moves this score: anxiety about being tested (truthful
people are often aroused), surprise, pain, speaking (changes breathing and heart rate),
movement and posture, coughing or deep breaths, caffeine, nicotine and medication (beta
blockers flatten heart rate), room temperature and skin hydration (skin conductance),
electrode contact, habituation over a session (responses shrink with time, so the
first-window reference drifts), and some people are electrodermal non-responders.
Deliberate countermeasures (controlled breathing, self-induced pain on comparison questions)
are discussed in the polygraph literature. Short 10 s windows hold few beats, SCRs and
breaths: ultra-short HRV in particular is noisy, and HF power needs 60 s."""

MUST_NOT = """\
Not a lie detector. Do not use its output, or the CQT decision, alone or as the deciding
factor, for any decision about a person: employment, hiring or screening, criminal or civil
proceedings, immigration, insurance, credit, discipline or security clearance. Do not
present its probability as the chance that someone lied. Use it only as one uncalibrated,
explained signal for a trained human reviewer, with the subject's informed consent."""


def card(f: Facts) -> Card:
    weights = "\n".join(
        f"| `{c.name}` | {c.unit} | {WEIGHTS[c.name].scale:g} | {WEIGHTS[c.name].coef:+g} "
        f"| {WEIGHTS[c.name].why} |"
        for c in CUES
    )
    checks = "\n".join(f"| {n} | {p:.3f} | {lo:.3f} - {hi:.3f} |" for n, p, lo, hi in f.directions)
    cqt_table = "\n".join(
        f"| {r.responding} | {r.channels} | {r.totals} | {r.grand_total:+d} | {r.decision} |"
        for r in f.cqt
    )
    return Card(
        name=f.name,
        version=f.version,
        module="models.training.physiology_cues",
        summary=SUMMARY,
        domain=f.domain,
        what_it_is=f"""\
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
signal-quality measures); those are reported with the result but carry no weight here.""",
        serving=f"""\
`config.pbtxt` marks it `calibrated: "false"` and carries a caveat that every physiology
result repeats in its notes: "{f.caveat}".""",
        about=(Section("Where the weights come from", WEIGHTS_FROM),),
        data="""None. No labelled physiological deception data set is available to this project (the
shared data hold text reviews and coded courtroom gestures only). `veritas train
--modality physiology --data F.csv` refits this model's weights on a user's own labelled
cue values (docs/models.md).""",
        split="None: there is nothing to split.",
        metrics="""\
None measured: accuracy, ROC AUC and their bootstrap confidence intervals need labelled
outcomes. None are claimed.""",
        calibration="""\
None: expected calibration error (ECE) unknown, no reliability plot (there are no outcomes
to plot predicted probabilities against); `calibrated: "false"`.""",
        baselines="""\
A constant 0.5, which this model also returns whenever nothing changed. It has not been
shown to beat it.""",
        measured=(
            Section(
                "Checks the build script measured",
                f"""\
- ONNX Runtime output vs the same arithmetic in numpy on {RANDOM_INPUTS} random inputs: max absolute
  difference {f.max_abs_diff:.2e}.
- Direction on simulated signals (neurokit2 simulators; 60 s of ECG at 250 Hz, EDA and
  respiration at 50 Hz; baseline: HR 70 bpm, 2 SCRs, normal breaths). This shows only that
  the cues move the score the intended way, not that they detect anything:

| simulated recording | P (whole recording) | P range over 10 s windows |
|---|---|---|
{checks}""",
            ),
            Section(
                "Comparison-question scoring (with question markers; not this model)",
                f"""{CQT}

| responses after | channels | channel totals | grand total | decision |
|---|---|---|---|---|
{cqt_table}""",
            ),
        ),
        confounds=CONFOUNDS,
        must_not=MUST_NOT,
    )
