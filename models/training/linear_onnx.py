"""Export a linear log-odds model to ONNX with per-feature contributions.

Every Veritas model explains itself the same way: the modality's log-odds of deception is
a sum of signed per-feature terms plus an intercept. Exporting that sum explicitly lets the
model (served by Triton) return the contributions next to the probability, so the services
never re-implement the model's arithmetic.

Graph (batch dimension first, dynamic):
    z             = (features - mean) / scale
    contributions = z * coef
    logit         = slope * (sum(contributions) + intercept) + offset   # Platt calibration
    probability   = sigmoid(logit)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17


def _const(name: str, values: Sequence[float] | float) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(values, dtype=np.float32), name=name)


def linear_model(
    feature_names: Sequence[str],
    mean: Sequence[float],
    scale: Sequence[float],
    coef: Sequence[float],
    intercept: float,
    *,
    calibration: tuple[float, float] = (1.0, 0.0),
    doc: str = "",
) -> onnx.ModelProto:
    """Build the ONNX graph; `calibration` is (slope, offset) applied to the raw logit."""
    k = len(feature_names)
    if not (len(mean) == len(scale) == len(coef) == k):
        raise ValueError("mean, scale and coef must each have one value per feature")
    if any(s == 0 for s in scale):
        raise ValueError("scale must be non-zero")
    slope, offset = calibration
    nodes = [
        helper.make_node("Sub", ["features", "mean"], ["centred"]),
        helper.make_node("Div", ["centred", "scale"], ["z"]),
        helper.make_node("Mul", ["z", "coef"], ["contributions"]),
        helper.make_node("ReduceSum", ["contributions", "axis1"], ["raw"], keepdims=1),
        helper.make_node("Add", ["raw", "intercept"], ["logit_raw"]),
        helper.make_node("Mul", ["logit_raw", "slope"], ["scaled"]),
        helper.make_node("Add", ["scaled", "offset"], ["logit"]),
        helper.make_node("Sigmoid", ["logit"], ["probability"]),
    ]
    initializers = [
        _const("mean", mean),
        _const("scale", scale),
        _const("coef", coef),
        _const("intercept", [intercept]),
        _const("slope", [slope]),
        _const("offset", [offset]),
        numpy_helper.from_array(np.asarray([1], dtype=np.int64), name="axis1"),
    ]
    graph = helper.make_graph(
        nodes,
        "linear_log_odds",
        inputs=[helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", k])],
        outputs=[
            helper.make_tensor_value_info("probability", TensorProto.FLOAT, ["batch", 1]),
            helper.make_tensor_value_info("contributions", TensorProto.FLOAT, ["batch", k]),
        ],
        initializer=initializers,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="veritas"
    )
    model.ir_version = 8  # readable by Triton's ONNX Runtime backend as well as onnxruntime 1.32
    model.doc_string = doc
    model.metadata_props.add(key="feature_names", value=",".join(feature_names))
    onnx.checker.check_model(model)
    return model


def save(model: onnx.ModelProto, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
