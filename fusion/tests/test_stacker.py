"""The learned stacker: its file and its store.

Training one from a CSV is tested with its trainer, models/tests/test_stacker_training.py.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from fusion.stacker import FORMAT, StackerError, StackerStore, parse


def valid() -> dict:
    return {
        "format": FORMAT,
        "modalities": ["text", "vision"],
        "coefficients": {"text": 1.0, "vision": 0.5},
        "intercept": 0.0,
        "covariance": [[0.1, 0, 0], [0, 0.1, 0], [0, 0, 0.1]],
    }


@pytest.mark.parametrize(
    "change, problem",
    [
        ({"format": "other/1"}, "format"),
        ({"modalities": ["text", "smell"]}, "modalities"),
        ({"coefficients": {"text": 1.0}}, "coefficients"),
        ({"coefficients": {"text": -1.0, "vision": 0.5}}, ">= 0"),
        ({"covariance": [[0.1]]}, "3x3"),
        ({"intercept": "high"}, "intercept"),
    ],
)
def test_a_bad_stacker_file_is_refused_naming_the_problem(change, problem):
    with pytest.raises(StackerError, match=problem):
        parse(valid() | change)


def test_the_store_says_why_there_is_none_and_reloads_a_new_file(tmp_path: Path):
    path = tmp_path / "stacker.json"
    store = StackerStore(path)
    with pytest.raises(StackerError, match="no trained stacker.*models.training.stacker"):
        store.get()
    path.write_text(json.dumps(valid()))
    assert store.get().coefficients["text"] == 1.0
    path.write_text(json.dumps(valid() | {"coefficients": {"text": 2.0, "vision": 0.5}}))
    os.utime(path, (1, 1))  # a different stamp even within the clock's resolution
    assert store.get().coefficients["text"] == 2.0
