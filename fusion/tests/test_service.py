"""The servicer's request checks (the streams themselves run in tests/test_fusion_integration)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fusion.service import FusionServicer, StrategyUnavailable
from fusion.stacker import FORMAT, StackerStore
from veritas.analysis import InvalidInput
from veritas.v1 import common_pb2 as pb


def servicer(path: Path) -> FusionServicer:
    return FusionServicer({}, 30.0, StackerStore(path))


def test_stacker_without_a_trained_stacker_is_a_failed_precondition(tmp_path: Path):
    with pytest.raises(StrategyUnavailable, match=r"^options\.strategy: STACKER is unavailable"):
        servicer(tmp_path / "none.json").stacker_for(pb.Options(strategy=pb.STACKER), "options")


def test_an_installed_stacker_is_used_and_other_strategies_need_none(tmp_path: Path):
    path = tmp_path / "stacker.json"
    path.write_text(
        json.dumps(
            {
                "format": FORMAT,
                "modalities": ["text"],
                "coefficients": {"text": 1.0},
                "intercept": 0.0,
                "covariance": [[0.1, 0.0], [0.0, 0.1]],
            }
        )
    )
    s = servicer(path)
    installed = s.stacker_for(pb.Options(strategy=pb.STACKER), "options")
    assert installed is not None and installed.modalities == ("text",)
    assert s.stacker_for(pb.Options(strategy=pb.LOG_ODDS), "options") is None
    assert s.stacker_for(pb.Options(), "options") is None


def test_an_unknown_strategy_is_invalid_naming_the_field(tmp_path: Path):
    with pytest.raises(
        InvalidInput, match=r"^config\.options\.strategy: unknown fusion strategy 42"
    ):
        unknown = pb.Options(strategy=42)  # type: ignore[arg-type]
        servicer(tmp_path / "x.json").stacker_for(unknown, "config.options")
