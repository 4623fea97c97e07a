"""`veritas train`: refit a modality's model on your own labelled features and publish it to a
Triton model repository as a new version, which Triton loads without a restart.

    veritas train --modality physiology --data rows.csv [--domain interview] [--repository DIR]

The CSV has one column per feature the model reads, named as in its config.pbtxt
`feature_names` (the names the service reports in each result), a `label` column (1 =
deceptive, 0 = truthful) and, to evaluate on new people rather than new rows of the same
people, a `group` column (a person or session id). The refit model is the one every Veritas
feature model has (models/training/retrain.py): standardisation, logistic regression and
Platt calibration, exported with models/training/linear_onnx.py, so each result still
explains itself with signed per-feature contributions. Its group-separated cross-validated
metrics are printed and written to a card next to it.

It is published `calibrated: "true"` only when the evidence for it is enough (the rule in
`calibration_decision`): a `group` column, at least MIN_GROUPS groups and MIN_ROWS rows with
MIN_PER_CLASS of each label, and a group-separated ROC AUC whose 95% bootstrap interval lies
above 0.5. Otherwise it is published uncalibrated: its scores are shown but never make a
verdict. The printed report and the card say which rule held or failed. `--domain` states what
kind of input the rows are (e.g. interview); fusion counts a calibrated model as calibrated
evidence only for requests of that domain, so a model trained without it never decides.

Publishing keeps the model's contract (tensor names, shapes, feature order): a new version
directory `<repository>/<model>/<N+1>/` appears complete in one rename, and config.pbtxt
keeps every line except the parameters that describe the served version (`calibrated`,
`validated_auc`, `card`, `caveat`, `validated_domains`, `domain_note`). Triton runs with
`--model-control-mode=poll` (tools/triton_server.py) and serves the highest version, so it
picks the new one up on its next poll. Repositories:

- the production repository (`platform: "onnxruntime_onnx"`, default models/repository):
  model.onnx only. The local mesh (`make run`) mirrors it into .run/model_repository every
  5 s, so the running local Triton loads it too;
- a python-backend repository of the local Triton (`backend: "python"`): model.onnx plus the
  generic models/python_backend/model.py;
- the local mesh's own mirror (.run/model_repository, .run/triton_repository): the mirror
  deletes any version its source lacks, so the version is published to models/repository
  and the mirror refreshed from it at once.

The text model is not refittable here: its n-gram stage reads the transcript itself, which
a feature table does not hold (models/training/text.py rebuilds it from labelled texts).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from veritas import modalities
from veritas.v1 import common_pb2

if TYPE_CHECKING:  # imported where used: `veritas --help` should not load scikit-learn
    from models.training import retrain

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_REPOSITORY = ROOT / "models" / "repository"
LOCAL_MIRRORS = (ROOT / ".run" / "model_repository", ROOT / ".run" / "triton_repository")
PYTHON_BACKEND_MODEL = ROOT / "models" / "python_backend" / "model.py"
SERVED_PARAMETERS = (
    "calibrated",
    "validated_auc",
    "card",
    "caveat",
    "validated_domains",
    "domain_note",
)
# Least evidence for publishing a refitted model as calibrated (design choices: below them
# a group-separated AUC and its bootstrap interval over groups say too little).
MIN_GROUPS = 10
MIN_ROWS = 50
MIN_PER_CLASS = 20
DOMAINS: dict[str, str] = {  # --domain value -> InputDomain name, every stated domain
    name.lower(): name
    for name in common_pb2.InputDomain.keys()
    if name != "INPUT_DOMAIN_UNSPECIFIED"
}
TEXT_REFUSAL = (
    "{model} reads the transcript itself (its n-gram stage takes the `text` input), so it "
    "cannot be refitted from a table of features; rebuild it from labelled texts with "
    "`python -m models.training.text --data texts.csv` (the CSV layout is described in "
    "models/training/text.py; see docs/models.md)"
)
_PARAM = re.compile(
    r'parameters\s*\{\s*key:\s*"(?P<key>[^"]+)"\s*value:\s*\{\s*string_value:\s*"'
    r'(?P<value>[^"]*)"\s*\}\s*\}\n?'
)


class TrainError(Exception):
    """A problem the user can fix; printed as one line, exit status 2."""


@dataclass(frozen=True)
class Contract:
    """What a model's config.pbtxt promises its callers."""

    model: str
    config_text: str
    feature_names: tuple[str, ...]
    contribution_names: tuple[str, ...]
    text_input: bool
    python_backend: bool


def read_contract(model_dir: Path) -> Contract:
    path = model_dir / "config.pbtxt"
    if not path.is_file():
        raise TrainError(f"{path} not found: is {model_dir.parent} a Veritas model repository?")
    text = path.read_text()
    params = {m["key"]: m["value"] for m in _PARAM.finditer(text)}
    names = tuple(n for n in params.get("feature_names", "").split(",") if n)
    if not names:
        raise TrainError(f"{path} declares no feature_names")
    contributions = tuple(n for n in params.get("contribution_names", "").split(",") if n)
    return Contract(
        model=model_dir.name,
        config_text=text,
        feature_names=names,
        contribution_names=contributions or names,
        text_input=bool(re.search(r'name:\s*"text"', text)),
        python_backend=bool(re.search(r'backend:\s*"python"', text)),
    )


def with_parameters(config_text: str, updates: dict[str, str | None]) -> str:
    """config.pbtxt with the given string parameters set (None: removed), all else unchanged."""
    for value in updates.values():
        if value is not None and ('"' in value or "\n" in value):
            raise ValueError("parameter values must be one line without double quotes")
    seen: set[str] = set()

    def replace(m: re.Match[str]) -> str:
        key = m["key"]
        if key not in updates:
            return m.group(0)
        seen.add(key)
        value = updates[key]
        return "" if value is None else _block(key, value)

    text = _PARAM.sub(replace, config_text)
    if not text.endswith("\n"):
        text += "\n"
    for key, value in updates.items():
        if key not in seen and value is not None:
            text += _block(key, value)
    return text


def _block(key: str, value: str) -> str:
    return f'parameters {{\n  key: "{key}"\n  value: {{ string_value: "{value}" }}\n}}\n'


def versions(model_dir: Path) -> list[int]:
    return sorted(int(p.name) for p in model_dir.glob("*") if p.name.isdigit() and p.is_dir())


def publish_version(model_dir: Path, version: int, files: dict[str, bytes]) -> int:
    """Create `model_dir/<version>/` with `files` in one rename; if that version appears in
    the meantime (another publisher), take the next. Returns the version written."""
    staging = Path(tempfile.mkdtemp(dir=model_dir, prefix=".staging-"))  # not numeric: ignored
    try:
        for name, data in files.items():
            (staging / name).write_bytes(data)
        while True:
            target = model_dir / str(version)
            if not target.exists():
                try:
                    os.rename(staging, target)
                    return version
                except OSError:
                    if not target.exists():
                        raise
            version += 1
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def resolve_target(repository: Path) -> tuple[Path, Path | None]:
    """(repository to publish into, local mirror to refresh from it or None)."""
    repository = Path(repository).resolve()
    for mirror in LOCAL_MIRRORS:
        if repository == mirror.resolve():
            return DEFAULT_REPOSITORY, repository
    return repository, None


def served_probabilities(
    model_dir: Path, x: npt.NDArray[np.float64]
) -> tuple[int, npt.NDArray[np.float64]] | None:
    """(version, probabilities) of the currently served (highest) version on `x`, if it runs."""
    import onnxruntime as ort

    for version in reversed(versions(model_dir)):
        path = model_dir / str(version) / "model.onnx"
        if not path.is_file():
            continue
        try:
            session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
            p = session.run(["probability"], {"features": x.astype(np.float32)})[0][:, 0]
        except Exception:  # noqa: BLE001 - a model that cannot run here is simply no baseline
            return None
        return version, np.asarray(p, dtype=np.float64)
    return None


def _display(path: Path) -> str:
    try:
        return path.resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return str(path.resolve())


def _safe(text: str) -> str:
    return re.sub(r'["\n\r]', "'", text)


@dataclass(frozen=True)
class CalibrationDecision:
    """Whether a refitted model is published as calibrated, and every rule's outcome."""

    calibrated: bool
    checks: tuple[tuple[bool, str], ...]  # (held, what was measured against the rule)

    @property
    def failed(self) -> list[str]:
        return [text for held, text in self.checks if not held]

    def explain(self) -> str:
        if self.calibrated:
            return "marked calibrated: " + "; ".join(text for _, text in self.checks)
        return "NOT marked calibrated: " + "; ".join(self.failed)


def calibration_decision(
    ds: retrain.Dataset, evaluation: retrain.Evaluation
) -> CalibrationDecision:
    """The rule for `calibrated: "true"`: group-separated evaluation on enough groups and
    rows of each label, and a validated ROC AUC whose 95% interval excludes chance."""
    n1 = int(ds.y.sum())
    n0 = len(ds.y) - n1
    auc = evaluation.metrics["roc_auc"]
    interval = f"[{auc.low:.3f}, {auc.high:.3f}]"
    checks = [
        (
            evaluation.group_separated,
            "group-separated evaluation (a `group` column)"
            if evaluation.group_separated
            else "no `group` column: the metrics may describe people the model has seen",
        ),
        (
            ds.n_groups >= MIN_GROUPS,
            f"{ds.n_groups} groups {'>=' if ds.n_groups >= MIN_GROUPS else '<'} {MIN_GROUPS}",
        ),
        (
            len(ds.y) >= MIN_ROWS,
            f"{len(ds.y)} rows {'>=' if len(ds.y) >= MIN_ROWS else '<'} {MIN_ROWS}",
        ),
        (
            min(n0, n1) >= MIN_PER_CLASS,
            f"{n1} deceptive and {n0} truthful rows "
            f"({'each >=' if min(n0, n1) >= MIN_PER_CLASS else 'need'} {MIN_PER_CLASS}"
            f"{'' if min(n0, n1) >= MIN_PER_CLASS else ' of each'})",
        ),
        (
            auc.low > 0.5,
            f"out-of-fold ROC AUC {auc.value:.3f}, 95% bootstrap interval {interval} "
            + ("excludes 0.5" if auc.low > 0.5 else "includes 0.5 (chance) or lies below it"),
        ),
    ]
    return CalibrationDecision(all(held for held, _ in checks), tuple(checks))


@dataclass
class Outcome:
    model: str
    version: int
    repository: Path
    mirror: Path | None
    card: Path
    report: str
    calibration: CalibrationDecision | None = None


def train(
    modality: str,
    data: Path,
    repository: Path = DEFAULT_REPOSITORY,
    seed: int = 0,
    domain: str | None = None,
) -> Outcome:
    """Refit, evaluate, publish; returns what was written and the printed report. `domain`
    (a DOMAINS key) states what kind of input the rows are."""
    import onnxruntime as ort

    from models.training import retrain
    from models.training.linear_onnx import linear_model
    from models.training.triton_config import domains_parameter, validated_domain_section

    model = modalities.BY_NAME[modality].model
    if domain is not None and domain not in DOMAINS:
        raise TrainError(f"--domain: {domain!r} is not one of {', '.join(DOMAINS)}")
    publish_repo, mirror = resolve_target(repository)
    model_dir = publish_repo / model
    contract = read_contract(model_dir)
    if contract.text_input:
        raise TrainError(TEXT_REFUSAL.format(model=model))
    if contract.contribution_names != contract.feature_names:
        raise TrainError(f"{model}: its contributions are not one per feature; not refittable")
    try:
        ds = retrain.load_csv(Path(data), contract.feature_names)
        p_oof = retrain.cross_validate(ds, seed)
        evaluation = retrain.evaluate(ds, p_oof, seed)
        fit = retrain.fit(ds.x, ds.y, ds.groups, seed)
    except retrain.DataError as e:
        raise TrainError(str(e)) from None

    onnx_model = linear_model(
        contract.feature_names,
        fit.mean.tolist(),
        fit.scale.tolist(),
        fit.coef.tolist(),
        fit.intercept,
        calibration=(fit.slope, fit.offset),
        doc=f"{model} refitted by veritas train on {Path(data).name}",
    )
    model_bytes = onnx_model.SerializeToString()
    session = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    prob, contrib = session.run(["probability", "contributions"], {"features": ds.x.astype("f4")})
    if contrib.shape != (len(ds.y), len(contract.feature_names)):
        raise AssertionError("exported model breaks the contract")
    onnx_vs_numpy = float(np.abs(prob[:, 0] - fit.probability(ds.x)).max())
    served = served_probabilities(model_dir, ds.x)

    files = {"model.onnx": model_bytes}
    if contract.python_backend:
        files["model.py"] = PYTHON_BACKEND_MODEL.read_bytes()
    version = publish_version(model_dir, max(versions(model_dir), default=0) + 1, files)
    card = model_dir / f"retrained_v{version}.md"
    plot = model_dir / f"retrained_v{version}_reliability.png"
    reliability = retrain.reliability(ds.y, p_oof)
    _plot(reliability, plot, f"{model} v{version}")
    auc = evaluation.metrics["roc_auc"]
    scheme = "group-separated" if evaluation.group_separated else "NOT group-separated"
    decision = calibration_decision(ds, evaluation)
    domains = (DOMAINS[domain],) if decision.calibrated and domain else ()
    note = _domain_note(Path(data), ds, domain, decision)
    caveat = _safe(
        f"{model} v{version} was refitted by veritas train on {Path(data).name} "
        f"({len(ds.y)} rows, {ds.n_groups or 'no'} groups): out-of-fold ROC AUC "
        f"{auc.value:.2f} [{auc.low:.2f}, {auc.high:.2f}] ({scheme}); "
        f"{'calibrated' if decision.calibrated else 'NOT calibrated'}; valid only for inputs "
        f"like those rows ({_display(card)})"
    )
    config = with_parameters(
        contract.config_text,
        {
            "calibrated": "true" if decision.calibrated else "false",
            "validated_auc": f"{auc.value:.4f}" if decision.calibrated else None,
            "card": _display(card),
            "caveat": caveat,
            "validated_domains": domains_parameter(domains),
            "domain_note": _safe(note),
        },
    )
    report = _report(model, version, Path(data), ds, evaluation, served, onnx_vs_numpy)
    report += "\n" + _calibration_lines(decision, domain)
    card.write_text(
        _card(report, model, version, Path(data), plot, reliability)
        + f"\n## Calibrated or not\n{_calibration_lines(decision, domain)}\n\n"
        + validated_domain_section(domains, note),
        "utf-8",
    )
    write_atomic(model_dir / "config.pbtxt", config.encode())
    if mirror is not None:
        from tools.triton_server import prepare_local_repository

        prepare_local_repository(publish_repo, mirror)
    return Outcome(model, version, publish_repo, mirror, card, report, decision)


def _domain_note(
    data: Path, ds: retrain.Dataset, domain: str | None, decision: CalibrationDecision
) -> str:
    rows = f"{data.name} ({len(ds.y)} rows, {ds.n_groups or 'no'} groups)"
    if not decision.calibrated:
        return f"none: refitted on {rows} but not validated ({'; '.join(decision.failed)})"
    if domain is None:
        return f"the rows of {rows}, of an input domain not stated (veritas train --domain)"
    return f"the rows of {rows}, stated by the user to be {domain.replace('_', ' ')}s"


def _calibration_lines(decision: CalibrationDecision, domain: str | None) -> str:
    """Why the model was or was not marked calibrated, and what fusion will do with it."""
    lines = [f"Calibration: {decision.explain()}."]
    if not decision.calibrated:
        lines.append(
            'Published with calibrated: "false": its scores are shown but never make a verdict.'
        )
    elif domain is None:
        lines.append(
            "No --domain given: validated_domains is empty, so fusion counts it as calibrated "
            "evidence for no request. Rerun with --domain "
            f"{{{','.join(DOMAINS)}}} to say what kind of input these rows are."
        )
    else:
        lines.append(
            f"validated_domains: {DOMAINS[domain]}: fusion counts it as calibrated evidence "
            f"only for requests with options.domain = {DOMAINS[domain]}."
        )
    return "\n".join(lines)


def _plot(bins: list[tuple[float, float, int]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 4))
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="perfect")
    ax.plot([b[0] for b in bins], [b[1] for b in bins], marker="o", label="out of fold")
    ax.set_xlabel("predicted probability (deceptive)")
    ax.set_ylabel("observed share deceptive")
    ax.set_title(title)
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _report(
    model: str,
    version: int,
    data: Path,
    ds: retrain.Dataset,
    evaluation: retrain.Evaluation,
    served: tuple[int, npt.NDArray[np.float64]] | None,
    onnx_vs_numpy: float,
) -> str:
    from models.training import retrain

    n1 = int(ds.y.sum())
    lines = [
        f"{model}: refitted on {data.name}: {len(ds.y)} rows ({n1} deceptive, "
        f"{len(ds.y) - n1} truthful), {ds.n_groups or 'no'} groups",
        f"Evaluation: {evaluation.scheme}; standardised logistic regression (C={retrain.C:g}) "
        "with Platt calibration, all refitted inside each fold",
        "",
        f"{'metric (out of fold)':<24}{'value':>8}   95% bootstrap interval "
        f"(over {'groups' if ds.groups is not None else 'rows'}, {retrain.N_BOOT} resamples)",
    ]
    names = {
        "roc_auc": "ROC AUC",
        "balanced_accuracy": "balanced accuracy",
        "brier": "Brier score",
        "ece": f"ECE ({retrain.ECE_BINS} bins)",
    }
    for key, label in names.items():
        m = evaluation.metrics[key]
        lines.append(f"{label:<24}{m.value:>8.3f}   [{m.low:.3f}, {m.high:.3f}]")
    base_rate = float(ds.y.mean())
    lines += [
        "",
        "Baselines on the same rows:",
        f"  majority class / constant {base_rate:.2f}: ROC AUC 0.500, balanced accuracy 0.500, "
        f"Brier {base_rate * (1 - base_rate):.3f}",
    ]
    if served is not None:
        v, p = served
        s = retrain.scores(ds.y, p)
        lines.append(
            f"  served version {v} (not refitted): ROC AUC {s['roc_auc']:.3f}, balanced "
            f"accuracy {s['balanced_accuracy']:.3f}, ECE {s['ece']:.3f}"
        )
    if ds.ignored_columns:
        lines.append(f"Ignored columns: {', '.join(ds.ignored_columns)}")
    lines.append(f"ONNX Runtime vs numpy on these rows: max difference {onnx_vs_numpy:.1e}")
    return "\n".join(lines)


def _card(
    report: str,
    model: str,
    version: int,
    data: Path,
    plot: Path,
    reliability: list[tuple[float, float, int]],
) -> str:
    table = "\n".join(f"| {p:.2f} | {o:.2f} | {n} |" for p, o, n in reliability)
    return f"""# Model card: {model} version {version} (refitted by `veritas train`)

Written by `veritas train --modality ... --data {data.name}`. Every number below was measured
by that run on the user's rows; nothing here was reviewed.

## Data
`{data}` as given by the user: the model's features, a `label` (1 = deceptive) and
optionally a `group`. What the rows are, how they were labelled and who is in them is known
only to whoever supplied them.

## Split, metrics with bootstrap intervals, calibration error (ECE), baselines

    {report.replace(chr(10), chr(10) + "    ")}

## Reliability plot
`{_display(plot)}` (out-of-fold probabilities, {len(reliability)} non-empty bins):

| mean predicted | observed deceptive | rows |
|---|---|---|
{table}

## Known confounds
Those of the user's data: whatever differs between its deceptive and truthful rows besides
deception (recording conditions, stakes, who was interviewed, by whom, in what language)
is learned too. The card of the model it replaces lists the modality's known confounds.

## Uses it must not be put to
Not a lie detector. Do not use its output alone, or as the deciding factor, for any decision
about a person (employment, criminal or civil proceedings, immigration, insurance, credit,
discipline, security clearance). Use it only as one explained signal for a trained human
reviewer, with the subject's informed consent, on inputs like the rows it was fitted on.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `veritas train` (also used by tools/cli.py's subcommand)."""
    parser.add_argument("--modality", required=True, choices=sorted(modalities.NAMES))
    parser.add_argument("--data", required=True, type=Path, help="labelled features (CSV)")
    parser.add_argument(
        "--repository",
        type=Path,
        default=DEFAULT_REPOSITORY,
        help="model repository to publish into (default models/repository; the local "
        "Triton's .run/model_repository works too)",
    )
    parser.add_argument(
        "--domain",
        choices=sorted(DOMAINS),
        help="what kind of input the rows are; fusion counts a calibrated model as calibrated "
        "evidence only for requests of this domain (default: not stated, never counted)",
    )
    parser.add_argument("--seed", type=int, default=0, help="folds and bootstrap seed")


def run(args: argparse.Namespace) -> int:
    """Train, publish and report; exit status 2 with one line on stderr for fixable input."""
    try:
        outcome = train(args.modality, args.data, args.repository, args.seed, args.domain)
    except TrainError as e:
        print(f"veritas train: {e}", file=sys.stderr)
        return 2
    print(outcome.report)
    where = outcome.repository / outcome.model / str(outcome.version)
    print(
        f"\nPublished {_display(where)}/model.onnx as version {outcome.version}; card "
        f"{_display(outcome.card)}."
    )
    if outcome.mirror is not None:
        print(f"Mirrored into {_display(outcome.mirror)} (the local Triton's repository).")
    print(
        "Triton polls its repository (--model-control-mode=poll, every 5 s) and serves the "
        "highest version, so it loads this one without a restart; the local mesh mirrors "
        "models/repository into .run/model_repository every 5 s. To roll back, delete the "
        "version directory."
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="veritas train", description=__doc__.split("\n\n")[0].replace("\n", " ")
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
