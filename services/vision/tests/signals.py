"""Per-frame measures made from known signals, for the behaviour and event tests."""

from __future__ import annotations

from typing import Any

import numpy as np

from services.vision.features import FrameMeasures
from services.vision.observation import FrameStatus

RESTING = dict(
    ear=0.3,
    mouth_open=0.02,
    mouth_width=0.8,
    brow_height=0.3,
    lip_corner=0.0,
    yaw=0.0,
    pitch=0.0,
    roll=0.0,
    iod_px=60.0,
    lip_thickness=0.2,
)


def frames_with(times: np.ndarray, **series: np.ndarray | float) -> list[FrameMeasures]:
    """One measured face per time; each measure at its resting value unless given.

    `gaze_yaw` defaults to `yaw` (+ `eye_yaw` when given), as measure_frame computes it.
    """
    out = []
    for i, t in enumerate(times):
        values: dict[str, Any] = {
            name: _at(series.get(name, default), i) for name, default in RESTING.items()
        }
        eye = _at(series.get("eye_yaw", np.nan), i)
        values["eye_yaw"] = eye
        values["gaze_yaw"] = values["yaw"] + eye
        out.append(FrameMeasures(float(t), FrameStatus.ONE_FACE, 1, 120.0, **values))
    return out


def _at(given: np.ndarray | float, i: int) -> float:
    return float(given[i]) if isinstance(given, np.ndarray) else float(given)
