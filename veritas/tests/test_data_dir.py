"""Where training, evaluation and the benchmark find the labelled corpora
(veritas.config.data_dir): the environment first, then `shared/data` beside the checkout,
then beside the local checkout a fresh clone was made from."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from veritas.config import data_dir


def git(*args: str) -> None:
    subprocess.run(["git", *args], check=True, capture_output=True)


def test_a_clone_elsewhere_reads_the_corpora_beside_its_origin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VERITAS_DATA_DIR", raising=False)
    origin = tmp_path / "work" / "main"
    (tmp_path / "work" / "shared" / "data").mkdir(parents=True)
    git("init", "-q", str(origin))
    git(
        "-C",
        str(origin),
        "-c",
        "user.email=a@b",
        "-c",
        "user.name=a",
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        "x",
    )
    clone = tmp_path / "elsewhere" / "fresh-check"
    git("clone", "-q", str(origin), str(clone))
    assert data_dir(origin) == tmp_path / "work" / "shared" / "data"  # beside the checkout
    assert data_dir(clone) == (tmp_path / "work" / "shared" / "data").resolve()
    monkeypatch.setenv("VERITAS_DATA_DIR", str(tmp_path / "mine"))
    assert data_dir(clone) == tmp_path / "mine"  # the environment decides first


def test_without_any_it_names_the_place_beside_the_checkout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VERITAS_DATA_DIR", raising=False)
    lone = tmp_path / "lone"
    git("init", "-q", str(lone))
    assert data_dir(lone) == tmp_path / "shared" / "data"  # the error message names it
