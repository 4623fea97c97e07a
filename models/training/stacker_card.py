"""The card of a trained fusion stacker, every number from the training run (`Stacker.info`)."""

from __future__ import annotations

from fusion.stacker import FORMAT, Stacker
from models.training.card import Card
from models.training.metrics import ECE_BINS


def card(stacker: Stacker) -> Card:
    data = stacker.info["data"]
    v = stacker.info["validation"]
    rows = data["rows"]
    coefficients = "\n".join(f"| {m} | {c:.4f} |" for m, c in stacker.coefficients.items())
    counted = ", ".join(f"{m} {n}/{rows}" for m, n in data["counted"].items())
    groups = f"{data['groups']} groups." if data["groups"] else "no `group` column."
    return Card(
        name="fusion stacker",
        version=None,
        module="models.training.stacker",
        command=f"python -m models.training.stacker --data {data['file']}",
        run_note=f", trained {stacker.info['trained_at']}",
        numbers_from="every number below was measured by that run",
        rerun_by_evaluate=False,
        summary=f"Format `{FORMAT}`. How much fusion's STACKER strategy trusts each modality,\n"
        "learned from the aligned rows below: valid for input like those rows only.",
        what_it_is=f"""\
z = intercept + sum of coefficient x confidence x logit(score); coefficients >= 0.

| term | value |
|---|---|
| intercept | {stacker.intercept:+.4f} |
{coefficients}

Class-balanced logistic regression, L2 penalty {stacker.info["l2"]} on the coefficients,
L-BFGS-B with non-negativity bounds; covariance from the Hessian.""",
        serving="""\
`stacker.json` beside this card; fusion uses it for requests with `Options.strategy =
STACKER`. Fusion still applies its rules: uncalibrated modalities cannot make a verdict on
their own, and disagreement or a wide interval gives INCONCLUSIVE.""",
        data=f"""\
- File `{data["file"]}` (sha256 `{data["sha256"]}`): {rows} rows, {data["deceptive"]} deceptive,
  {rows - data["deceptive"]} truthful; {groups}
- Rows in which each modality counted as evidence: {counted}.""",
        split=f"Out of fold. Folds: {v['folds']}.",
        metrics=f"""| metric | value |
|---|---|
| ROC AUC | {v["auc"]:.3f} (95% bootstrap {v["auc_low"]:.3f}-{v["auc_high"]:.3f}) |
| balanced accuracy at 0.5 | {v["balanced_accuracy"]:.3f} |
| Brier score | {v["brier"]:.3f} |""",
        calibration=f"""| metric | value |
|---|---|
| ECE ({ECE_BINS} bins) | {v["ece"]:.3f} |""",
        baselines=f"""| metric | value |
|---|---|
| ROC AUC of equal weights (baseline) | {v["equal_weight_auc"]:.3f} |""",
        confounds="""\
- Valid only for input like the training rows: the same models, versions and kinds
  of recording. Retrain when a modality's model changes.
- Without a `group` column, rows of one subject may sit in both training and test
  folds, which overstates the validation figures.""",
        must_not="""- Input unlike the training rows (other models, versions or kinds of recording).
- Deciding anything about a person on its own: the stacker only weighs the modalities'
  scores; it adds no evidence they do not have.""",
    )
