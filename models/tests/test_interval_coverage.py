"""The interval's measured coverage: the documented table is the script's output for the
constants the code uses now, and the measurement counts what it says it counts."""

from __future__ import annotations

import json

import numpy as np
import pytest

from models import interval_coverage as ic
from veritas.v1 import common_pb2 as pb


def test_the_documented_table_is_the_measuring_scripts_output() -> None:
    results = json.loads(ic.RESULTS.read_text(encoding="utf-8"))
    assert ic.documented_block() == ic.render(results), "run: python -m models.interval_coverage"


def test_it_was_measured_with_the_constants_the_code_uses_now() -> None:
    results = json.loads(ic.RESULTS.read_text(encoding="utf-8"))
    assert results["constants"] == ic.CONSTANTS, "constants changed: rerun the measurement"
    assert ic.OUT_OF_FOLD in results["scenarios"] and ic.HELD_IN in results["scenarios"]


def test_measure_counts_the_truth_inside_below_and_above_the_interval() -> None:
    text = ic.model_info("text_deception")
    cases = [
        ic.Case([ic.scored(pb.TEXT, text, 0.9)], truth=0.9, label=1),
        ic.Case([ic.scored(pb.TEXT, text, 0.9)], truth=0.999, label=1),
        ic.Case([ic.scored(pb.TEXT, text, 0.1)], truth=0.001, label=0),
        ic.Case([ic.scored(pb.TEXT, text, 0.995)], truth=0.98, label=0),
    ]
    m = ic.measure(cases)
    assert m["cases"] == 4
    assert m["coverage"] == pytest.approx(0.5)
    assert m["truth_above"] == pytest.approx(0.25) and m["truth_below"] == pytest.approx(0.25)
    assert m["misses_beyond"] == 1.0  # both misses lie further from 0.5 than the answer
    assert m["verdicts"] == pytest.approx(0.25)  # only the 0.995 score: DECEPTIVE
    assert m["verdict_accuracy"] == 0.0  # ... and its label says truthful
    # The same cases with the domain unknown: no verdict.
    assert ic.measure(cases, pb.INPUT_DOMAIN_UNSPECIFIED)["verdicts"] == 0.0


def test_the_target_of_a_calibrated_score_is_that_score() -> None:
    rng = np.random.default_rng(0)
    p = rng.uniform(0.02, 0.98, 4000)
    y = (rng.uniform(size=p.size) < p).astype(int)
    groups = np.arange(p.size) % 16
    truth = ic.recalibrated(p, y, groups)
    assert np.abs(truth - p).max() < 0.05
