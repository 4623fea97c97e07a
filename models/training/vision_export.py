"""Export the fitted `vision_behaviour` through linear_onnx and check it against scikit-learn.

Triton then returns P(deceptive) and one signed log-odds term per behaviour code.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort

from models.training.linear_onnx import linear_model, save
from models.training.vision_data import FEATURES
from models.training.vision_fit import Final

MAX_GAP = 1e-5
DOC = "vision_behaviour: logistic regression on MUMIN behaviour codes (Real-life Trial)"


def export(final: Final, x: np.ndarray, path: Path) -> tuple[ort.InferenceSession, float]:
    """Write the ONNX file to `path`; (its session, largest |ONNX - sklearn| on `x`)."""
    onnx_model = linear_model(
        FEATURES,
        final.scaler.mean_,
        final.scaler.scale_,
        final.lr.coef_[0],
        float(final.lr.intercept_[0]),
        calibration=(final.slope, final.offset),
        doc=DOC,
    )
    save(onnx_model, path)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    prob, contrib = session.run(None, {"features": x.astype(np.float32)})
    gap = float(np.abs(prob[:, 0] - final.probability(x)).max())
    if gap >= MAX_GAP:
        raise AssertionError(f"ONNX and sklearn disagree by {gap}")
    if contrib.shape != x.shape:
        raise AssertionError(f"contributions have shape {contrib.shape}, features {x.shape}")
    return session, gap
