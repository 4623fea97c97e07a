"""The card of `vision_behaviour`, filled from what models/training/vision.py measured.

Also measures the one thing only the card reports: the real vision service on the bundled
sample, scored by the exported model (what the domain shift looks like).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnxruntime as ort
import pandas as pd

from models.training.card import Card, Section, Served
from models.training.vision_data import EXCLUDED, FEATURES, REPO_ROOT
from models.training.vision_eval import BOOTSTRAP, CAL_BINS, Evaluation, Interval
from models.training.vision_fit import INNER_FOLDS, OUTER_FOLDS, CrossValidated, Final


@dataclass
class Facts(Served):
    """Everything the card reports, as measured by the training script."""

    plot: str  # repository path of the reliability plot
    clips: pd.DataFrame
    cv: CrossValidated
    evaluation: Evaluation
    final: Final
    onnx_gap: float
    illustration: str


def sample_illustration(session: ort.InferenceSession) -> str:
    """Run the real vision service on samples/face.mp4 and this model: what the shift looks like.

    The sample is one photograph with movements drawn onto it (samples/make_face_video.py):
    it smiles throughout and never speaks; the human codes it is compared with describe
    people talking for half a minute.
    """
    from services.vision.analyzer import VisionAnalyzer
    from veritas.v1 import common_pb2, modality_pb2

    sample = REPO_ROOT / "samples" / "face.mp4"
    media = common_pb2.Media(data=sample.read_bytes(), mime_type="video/mp4")
    analyzer = VisionAnalyzer()
    request = modality_pb2.ModalityRequest(input=common_pb2.ModalityInput(media=media))
    prepared = analyzer.prepare(request)
    whole = analyzer.summarize(prepared, list(analyzer.windows(prepared, common_pb2.Options())))
    x = np.array([[whole.features[name] for name in FEATURES]], dtype=np.float32)
    prob, contrib = session.run(None, {"features": x})
    terms = sorted(zip(FEATURES, x[0], contrib[0], strict=True), key=lambda t: -abs(t[2]))[:4]
    listed = "; ".join(f"`{n}` = {v:.2f} -> {c:+.2f}" for n, v, c in terms)
    found = ", ".join(sorted({e.name for e in whole.events}))
    return (
        f"On `samples/face.mp4` (one smiling photograph with blinks, brow movements, a shake, "
        f"nods, a glance aside and a head turn drawn onto it; the service finds "
        f"{len(whole.events)} events: {found}) the whole-clip rates give P(deceptive) = "
        f"{prob[0, 0]:.2f}. The largest terms (rate -> log-odds): {listed}. A rate of 0 for "
        "a code that 40-70% of the coded clips show reads as unusual, whatever the reason "
        "it is 0."
    )


def fmt(ci: Interval) -> str:
    return f"{ci[0]:.3f} [{ci[1]:.3f}, {ci[2]:.3f}]"


def _reliability_rows(table: pd.DataFrame) -> str:
    return "\n".join(
        f"| {r.bin} | {r.clips} | "
        + (f"{r.mean_p:.3f} | {r.lie_rate:.3f} |" if r.clips else "- | - |")
        for r in table.itertuples()
    )


SUMMARY = """\
**Trained on human codes of courtroom clips, fed automatic per-window measurements it was
never validated on, and served uncalibrated: its metrics are an upper bound for the service,
and its score never makes a verdict on its own.**"""

DOMAIN_SHIFT = """\
**The model was trained on binary codes that human annotators assigned to whole clips. The
vision service feeds it something else: automatic per-window rates (the fraction of face
frames in a 2 s window where a landmark-based detector sees the behaviour), computed with
heuristic thresholds from 68 landmarks picked from MediaPipe's 468-point face mesh (served by
Triton, models/cards/face_landmarks.md), a head-pose estimate and a pupil estimate.**
Nobody has checked here that the automatic measurements agree with the human codes (the
trial videos are not in this project's data); gaze is the head's direction plus a pupil
position estimated from the darkest region inside the eyelids (the mesh has no iris points),
used only while the head is near its neutral pose; and a 2 s window is not a 30 s clip. The
metrics below describe the model on human codes; they are an upper bound for the service,
not its measured accuracy.

Until 2026-12 the landmarks came from dlib's 68-point model. The switch to the face mesh
changed how the inputs are measured, not what the model learned (it was trained on human
codes, which did not change, so it was not retrained): the mesh's lids and brows move less,
so the closure and brow thresholds were re-set for it (services/vision/behaviour.py), and
services/vision/tests/test_dlib_reference.py bounds the differences on the bundled sample
(the same frames read as eyes shut; head yaw within 3 degrees on average)."""

MUST_NOT = """\
- Deciding anything about a person on its own: guilt, credibility, hiring, immigration,
  insurance, policing. Human accuracy at lie detection is about 54%; this model is weak
  evidence at best, and the service recommends human review.
- People, settings or cultures unlike {subjects} people in US courtroom footage, or anyone whose
  face the landmark detector handles poorly (the detector's accuracy varies with skin tone,
  age, glasses, lighting and pose; not measured here).
- Treating `validated_auc` in config.pbtxt as the service's accuracy: it was measured on
  human codes (see the domain shift above)."""


def card(f: Facts) -> Card:
    clips, ev, final = f.clips, f.evaluation, f.final
    n, subjects = len(clips), clips["subject"].nunique()
    lies = int(clips["y"].sum())
    metric_rows = "\n".join(
        f"| {name} | {fmt(acc)} | {fmt(ba)} | {fmt(auc)} |"
        for name, (acc, ba, auc) in ev.metrics.items()
    )
    sex_rows = "\n".join(
        f"| {sex} | {count} | {ba:.3f} | {auc:.3f} |"
        for sex, (ba, auc, count) in ev.within_sex.items()
    )
    beats_rule = ev.versus_rule[0][1] > 0 and ev.versus_rule[1][1] > 0
    verdict = (
        "Both intervals exclude 0: the model beats the sex rule on this data."
        if beats_rule
        else "An interval includes 0: on this data the model is NOT shown to beat a rule "
        "that only looks at the speaker's sex."
    )
    coefs = sorted(zip(FEATURES, final.lr.coef_[0], strict=True), key=lambda t: -abs(t[1]))
    coef_rows = "\n".join(f"| {name} | {w:+.3f} |" for name, w in coefs)
    excluded = "\n".join(f"- `{k}`: {v}" for k, v in EXCLUDED.items())
    (raw_table, raw_ece), (cal_table, cal_ece) = ev.raw, ev.calibrated
    return Card(
        name=f.name,
        version=f.version,
        module="models.training.vision",
        summary=SUMMARY,
        domain=f.domain,
        what_it_is=f"""\
A logistic regression (standardised inputs, L2, C = {final.c:g} chosen by subject-separated
log-loss) over {len(FEATURES)} MUMIN behaviour codes, with a Platt calibration, exported with
`linear_onnx` so Triton returns P(deceptive) and one signed log-odds term per code.
Served as `models/repository/{f.name}/{f.version}/model.onnx` (ONNX and scikit-learn agree to
{f.onnx_gap:.1e}).

Inputs, in order: {", ".join(f"`{name}`" for name in FEATURES)}.""",
        serving=f"""\
Uncalibrated. `config.pbtxt` says `calibrated: "false"` although the model has a Platt
calibration: that calibration was fitted on human clip-level codes, not on the automatic
per-window codes the service sends, so its probabilities are not calibrated for what it is
actually given. Fusion therefore never lets this score make a verdict on its own.
`validated_auc` ({ev.auc:.4f}) is the subject-separated ROC AUC on the human codes (below), not
on automatic ones. Every result carries the caveat: "{f.caveat}".

The service also reports, per frame and as timestamped events (blinks with their
durations, micro-expressions, brow raises and frowns, lip-corner movements, lip presses,
nods, shakes, tilts, head turns, gaze aversions), measures that are not inputs of this
model: they are there for a human reader, not for the score.""",
        about=(
            Section("Trained on human codes, fed automatic rates: a domain shift", DOMAIN_SHIFT),
        ),
        data=f"""\
Real-life Trial deception dataset (Pérez-Rosas et al., ICMI 2015): {n} courtroom clips
({lies} deceptive, {n - lies} truthful) from {subjects} people, hand-coded with 39 binary
MUMIN codes; `subject` and `sex` from Mambreyan et al. (ICPR 2022). Research use only.
Left out of the inputs:
{excluded}""",
        split=f"""\
Subject-separated: GroupKFold by `subject`, {OUTER_FOLDS} outer folds; C (inner GroupKFold,
{INNER_FOLDS} folds) and the Platt map (fitted on inner out-of-fold logits) come from each
training fold only. Chosen C per outer fold: {", ".join(f"{v:g}" for v in f.cv.chosen_c)}.""",
        metrics=f"""\
Out of fold, next to the two baselines. 95% intervals: percentile bootstrap over subjects
({BOOTSTRAP} resamples).

| predictor | accuracy [95% CI] | balanced accuracy [95% CI] | ROC AUC [95% CI] |
|---|---|---|---|
{metric_rows}""",
        calibration=f"""\
Out-of-fold, {CAL_BINS} equal-width bins. ECE before Platt {raw_ece:.3f}, after {cal_ece:.3f}.
Final Platt map (fitted on subject-separated out-of-fold logits of all clips):
slope {final.slope:.3f}, offset {final.offset:+.3f}. Plot: `{f.plot}`.

| bin | clips | mean predicted | observed deceptive |
|---|---|---|---|
{_reliability_rows(cal_table)}

Before Platt:

| bin | clips | mean predicted | observed deceptive |
|---|---|---|---|
{_reliability_rows(raw_table)}""",
        baselines=f"""\
The "female => lie" rule (uses sex) and the majority class (constant), in the table under
Metrics. Model minus the "female => lie" rule, paired over the same subject resamples:
balanced accuracy {fmt(ev.versus_rule[0])}, ROC AUC {fmt(ev.versus_rule[1])}. {verdict}

Published anchor: subject-independent models on all 39 codes reach about 76-78% (the codes
used here are a subset: no hands).""",
        measured=(
            Section("The bundled sample, analysed", f.illustration),
            Section(
                "Weights (log-odds per standard deviation of the code, final model)",
                f"""\
Positive pushes towards deceptive. Correlational, from {subjects} people in one courtroom
setting; not a list of "signs of lying".

| code | weight |
|---|---|
{coef_rows}""",
            ),
        ),
        confounds=f"""\
Sex. In this data most women's clips are lies and most men's are truths; the "female => lie"
rule above uses `sex`, the model never does. Within each sex (out-of-fold, calibrated scores):

| sex | clips | balanced accuracy | ROC AUC |
|---|---|---|---|
{sex_rows}

ROC AUC of the model's score for telling women's clips from men's: {ev.sex_auc:.3f} (0.5 would
mean the score carries no information about sex; above it, part of what the model learned
may be how women and men were coded rather than how liars behave).

And the domain shift above: the metrics describe the model on human codes of whole clips,
not on the automatic per-window rates the service sends it.""",
        must_not=MUST_NOT.format(subjects=subjects),
    )
