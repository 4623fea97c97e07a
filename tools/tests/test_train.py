"""`veritas train`: publish a refitted model as a new version, keep the contract, publish it
calibrated only on enough group-separated evidence. That a real Triton then loads it
without a restart is tests/test_train_reload.py (it starts Triton)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from models.tests.test_retrain import write_rows
from models.training import retrain
from tools import train
from tools.triton_server import local_config, prepare_local_repository
from veritas import modalities
from veritas.triton_client import parse_domains
from veritas.v1 import common_pb2

MODEL = "physiology_cues"
SOURCE = train.DEFAULT_REPOSITORY / MODEL


def _repository(root: Path) -> Path:
    """A production repository holding a copy of physiology_cues version 1."""
    (root / MODEL / "1").mkdir(parents=True)
    shutil.copy(SOURCE / "config.pbtxt", root / MODEL / "config.pbtxt")
    shutil.copy(SOURCE / "1" / "model.onnx", root / MODEL / "1" / "model.onnx")
    return root


def _rows(path: Path, **kwargs: object) -> Path:
    names = train.read_contract(SOURCE).feature_names
    return write_rows(path, names, **kwargs)  # type: ignore[arg-type]


def _session(path: Path) -> ort.InferenceSession:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _tensor_lines(config: str) -> list[str]:
    """The config without its string parameters: the contract callers rely on."""
    return train._PARAM.sub("", config).split("\n")


def test_publishes_a_new_version_and_keeps_the_contract(tmp_path: Path) -> None:
    repo = _repository(tmp_path / "repo")
    before = (repo / MODEL / "config.pbtxt").read_text()
    out = train.train("physiology", _rows(tmp_path / "rows.csv"), repo)
    assert out.version == 2 and out.mirror is None
    assert sorted(p.name for p in (repo / MODEL / "2").iterdir()) == ["model.onnx"]
    after = (repo / MODEL / "config.pbtxt").read_text()
    assert _tensor_lines(after) == _tensor_lines(before)  # only parameters changed
    params = {m["key"]: m["value"] for m in train._PARAM.finditer(after)}
    assert params["feature_names"] == ",".join(train.read_contract(SOURCE).feature_names)
    assert params["calibrated"] == "true" and float(params["validated_auc"]) > 0.8
    assert (
        params["card"].endswith("retrained_v2.md")
        and "refitted by veritas train" in (params["caveat"])
    )
    card = out.card.read_text()
    assert "GroupKFold" in card and "ROC AUC" in card and "served version 1" in card
    assert (repo / MODEL / "retrained_v2_reliability.png").stat().st_size > 1000
    session = _session(repo / MODEL / "2" / "model.onnx")
    assert [i.name for i in session.get_inputs()] == ["features"]
    assert [o.name for o in session.get_outputs()] == ["probability", "contributions"]
    again = train.train("physiology", _rows(tmp_path / "rows2.csv", seed=1), repo)
    assert again.version == 3 and (repo / MODEL / "2" / "model.onnx").exists()


def _params(repo: Path) -> dict[str, str]:
    config = (repo / MODEL / "config.pbtxt").read_text()
    return {m["key"]: m["value"] for m in train._PARAM.finditer(config)}


def test_without_groups_it_is_published_uncalibrated(tmp_path: Path) -> None:
    repo = _repository(tmp_path / "repo")
    out = train.train("physiology", _rows(tmp_path / "rows.csv", with_group=False), repo)
    params = _params(repo)
    assert params["calibrated"] == "false" and "validated_auc" not in params
    assert "NOT group-separated" in params["caveat"] and "NOT calibrated" in params["caveat"]
    assert params["validated_domains"] == "" and params["domain_note"].startswith("none:")
    assert out.calibration is not None and not out.calibration.calibrated
    assert "no `group` column" in out.report and "NOT marked calibrated" in out.report


# --- the rule for calibrated: "true" ---------------------------------------------------------


def _evaluation(low: float, group_separated: bool = True) -> retrain.Evaluation:
    return retrain.Evaluation(
        metrics={"roc_auc": retrain.Metric(0.8, low, 0.9)}, group_separated=group_separated
    )


def _dataset(groups: int, rows: int, deceptive: int) -> retrain.Dataset:
    y = np.array([1] * deceptive + [0] * (rows - deceptive))
    g = np.array([f"g{i % groups}" for i in range(rows)])
    return retrain.Dataset(np.zeros((rows, 1)), y, g, ("f",))


@pytest.mark.parametrize(
    ("dataset", "low", "failed"),
    [
        (_dataset(12, 80, 40), 0.62, None),
        (_dataset(train.MIN_GROUPS - 1, 80, 40), 0.62, f"9 groups < {train.MIN_GROUPS}"),
        (_dataset(12, train.MIN_ROWS - 2, 24), 0.62, f"48 rows < {train.MIN_ROWS}"),
        (_dataset(12, 80, 15), 0.62, f"need {train.MIN_PER_CLASS} of each"),
        (_dataset(12, 80, 40), 0.5, "interval [0.500, 0.900] includes 0.5"),
        (_dataset(12, 80, 40), 0.41, "interval [0.410, 0.900] includes 0.5"),
    ],
)
def test_calibrated_needs_groups_rows_of_each_label_and_an_auc_interval_above_chance(
    dataset: retrain.Dataset, low: float, failed: str | None
) -> None:
    decision = train.calibration_decision(dataset, _evaluation(low))
    assert decision.calibrated == (failed is None)
    if failed is None:
        assert decision.explain().startswith("marked calibrated: group-separated evaluation")
        assert "excludes 0.5" in decision.explain()
    else:
        assert decision.explain().startswith("NOT marked calibrated: ")
        assert [f for f in decision.failed if failed in f], decision.failed


def test_without_group_separation_it_is_never_calibrated() -> None:
    decision = train.calibration_decision(_dataset(12, 80, 40), _evaluation(0.7, False))
    assert not decision.calibrated and "no `group` column" in decision.failed[0]


@pytest.mark.parametrize(
    ("rows", "why"),
    [
        (dict(groups=6, per_group=12), "6 groups < 10"),  # strong signal, too few people
        # enough people, no signal (null data: this draw's interval includes 0.5)
        (dict(groups=20, signal=0.0, seed=1), "includes 0.5"),
    ],
)
def test_weak_evidence_is_published_uncalibrated_and_says_why(
    tmp_path: Path, rows: dict[str, float], why: str
) -> None:
    repo = _repository(tmp_path / "repo")
    out = train.train("physiology", _rows(tmp_path / "rows.csv", **rows), repo, domain="interview")
    params = _params(repo)
    assert params["calibrated"] == "false" and "validated_auc" not in params
    assert params["validated_domains"] == ""  # not validated: no domain is claimed
    assert why in out.report and "NOT marked calibrated" in out.report
    card = out.card.read_text()
    assert "## Calibrated or not" in card and why in card
    assert "## Validated domain" in card and "Fusion never counts this model" in card


def test_a_stated_domain_is_the_validated_domain_fusion_reads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = _repository(tmp_path / "repo")
    rows = str(_rows(tmp_path / "rows.csv"))
    args = ["--modality", "physiology", "--data", rows, "--repository", str(repo)]
    assert train.main([*args, "--domain", "interview"]) == 0
    out = capsys.readouterr().out
    assert "Calibration: marked calibrated" in out and "options.domain = INTERVIEW" in out
    params = _params(repo)
    assert params["calibrated"] == "true"
    assert parse_domains(params["validated_domains"]) == (common_pb2.INTERVIEW,)
    assert "stated by the user to be interviews" in params["domain_note"]
    assert train.main(args) == 0  # no --domain: calibrated, but for no request's domain
    out = capsys.readouterr().out
    assert "No --domain given" in out
    assert _params(repo)["validated_domains"] == ""
    with pytest.raises(SystemExit):
        train.main([*args, "--domain", "hotel"])


def test_python_backend_repository_gets_the_model_py(tmp_path: Path) -> None:
    src = _repository(tmp_path / "src")
    local = tmp_path / "local"
    prepare_local_repository(src, local)
    out = train.train("physiology", _rows(tmp_path / "rows.csv"), local)
    version_dir = local / MODEL / str(out.version)
    assert sorted(p.name for p in version_dir.iterdir()) == ["model.onnx", "model.py"]
    assert 'backend: "python"' in (local / MODEL / "config.pbtxt").read_text()


def test_the_local_mesh_mirror_publishes_to_its_source() -> None:
    for mirror in train.LOCAL_MIRRORS:
        assert train.resolve_target(mirror) == (train.DEFAULT_REPOSITORY, mirror.resolve())
    assert train.resolve_target(Path("/elsewhere")) == (Path("/elsewhere"), None)


def test_text_model_is_refused_with_the_way_to_retrain_it(tmp_path: Path) -> None:
    with pytest.raises(train.TrainError) as info:
        train.train("text", tmp_path / "unused.csv")
    assert "cannot be refitted from a table of features" in str(info.value)
    assert "models.training.text" in str(info.value)


def test_main_reports_metrics_or_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = _repository(tmp_path / "repo")
    code = train.main(
        [
            "--modality",
            "physiology",
            "--data",
            str(_rows(tmp_path / "r.csv")),
            "--repository",
            str(repo),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0 and "ROC AUC" in out and "95% bootstrap interval" in out
    assert "as version 2" in out
    bad = tmp_path / "bad.csv"
    bad.write_text("x,label\n1,0\n")
    assert (
        train.main(["--modality", "physiology", "--data", str(bad), "--repository", str(repo)]) == 2
    )
    err = capsys.readouterr().err
    assert err.startswith("veritas train: bad.csv: missing column(s)")
    assert not (repo / MODEL / "3").exists()


def test_with_parameters_sets_replaces_and_removes() -> None:
    config = local_config('name: "m"\nplatform: "onnxruntime_onnx"\n') + train._block("a", "1")
    config += train._block("b", "2")
    out = train.with_parameters(config, {"a": "9", "b": None, "c": "new"})
    params = {m["key"]: m["value"] for m in train._PARAM.finditer(out)}
    assert params == {"a": "9", "c": "new"} and out.startswith('name: "m"\nbackend: "python"\n')
    with pytest.raises(ValueError):
        train.with_parameters(config, {"a": 'say "hi"'})


def test_each_modality_names_a_model_of_the_repository() -> None:
    """`--modality` picks the model from the modality table (veritas/modalities.py), the
    one its service calls: each is in the repository with a contract train can read."""
    for m in modalities.MODALITIES:
        contract = train.read_contract(train.DEFAULT_REPOSITORY / m.model)
        assert contract.feature_names, m.model
