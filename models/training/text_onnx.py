"""Export `text_deception` as one ONNX graph with the contract the text service relies on.

Inputs `text` (string [N, 1]) and `features` (the cue rates, float [N, K]); outputs
`probability` [N, 1] and `contributions` [N, K + 1] (one signed log-odds term per cue, then
`ngram_logit`), with probability = sigmoid(slope * (sum(contributions) + intercept) + offset).
The graph is the n-gram scorer of text_ngrams.py, a Concat, and linear_onnx's linear model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper

from models.training.linear_onnx import linear_model
from models.training.text_model import NGRAM_TERM, TextModel
from models.training.text_ngrams import ngram_graph, opsets

OPSET = 17


def _prefixed_linear(names: list[str], model: TextModel) -> tuple[list, list]:
    """linear_onnx's graph with its internal names prefixed, reading `all_features`."""
    mean, scale, coef, intercept = model.served_linear()
    linear = linear_model(
        names,
        mean.tolist(),
        scale.tolist(),
        coef.tolist(),
        intercept,
        calibration=(model.slope, model.offset),
    )
    keep = {"probability", "contributions"}
    used = {i for node in linear.graph.node for i in [*node.input, *node.output]}
    rename = {n: f"linear_{n}" for n in used | {i.name for i in linear.graph.initializer}}
    for name in keep:
        rename.pop(name, None)
    rename["features"] = "all_features"
    nodes = []
    for k, node in enumerate(linear.graph.node):
        new = onnx.NodeProto()
        new.CopyFrom(node)
        new.input[:] = [rename.get(i, i) for i in node.input]
        new.output[:] = [rename.get(o, o) for o in node.output]
        new.name = f"linear_{node.op_type}_{k}"
        nodes.append(new)
    inits = []
    for init in linear.graph.initializer:
        new = onnx.TensorProto()
        new.CopyFrom(init)
        new.name = rename[init.name]
        inits.append(new)
    return nodes, inits


def export_onnx(model: TextModel, cue_names: tuple[str, ...], name: str) -> onnx.ModelProto:
    """text -> ngram_logit; Concat(features, ngram_logit) -> calibrated linear model."""
    ngram = ngram_graph(model.ngram, text="text", out=NGRAM_TERM)
    names = [*cue_names, NGRAM_TERM]
    linear_nodes, linear_inits = _prefixed_linear(names, model)
    concat = helper.make_node("Concat", ["features", NGRAM_TERM], ["all_features"], axis=1)
    k = len(cue_names)
    graph = helper.make_graph(
        [*ngram.nodes, concat, *linear_nodes],
        name,
        inputs=[
            helper.make_tensor_value_info("text", TensorProto.STRING, ["batch", 1]),
            helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", k]),
        ],
        outputs=[
            helper.make_tensor_value_info("probability", TensorProto.FLOAT, ["batch", 1]),
            helper.make_tensor_value_info("contributions", TensorProto.FLOAT, ["batch", k + 1]),
        ],
        initializer=[*ngram.initializers, *linear_inits],
    )
    composed = helper.make_model(graph, opset_imports=opsets(OPSET), producer_name="veritas")
    composed.ir_version = 8  # readable by Triton's ONNX Runtime backend as well
    composed.doc_string = (
        f"{name}: word + character tf-idf n-gram log-odds stacked with linguistic cue rates"
    )
    composed.metadata_props.add(key="feature_names", value=",".join(cue_names))
    composed.metadata_props.add(key="contribution_names", value=",".join(names))
    onnx.checker.check_model(composed)
    return composed


def run_onnx(
    model: onnx.ModelProto | Path, texts: list[str], cues: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    source = str(model) if isinstance(model, Path) else model.SerializeToString()
    session = ort.InferenceSession(source, providers=["CPUExecutionProvider"])
    p, c = session.run(
        ["probability", "contributions"],
        {
            "text": np.array(texts, dtype=object).reshape(-1, 1),
            "features": cues.astype(np.float32),
        },
    )
    return p[:, 0], c


def onnx_vs_sklearn(
    onx: onnx.ModelProto, model: TextModel, texts: list[str], cues: np.ndarray
) -> dict[str, float]:
    """Largest |onnxruntime - numpy| over the texts, in probability and in contributions."""
    p, c = run_onnx(onx, texts, cues)
    return {
        "probability": float(np.abs(p - model.probability(texts, cues)).max()),
        "contributions": float(np.abs(c - model.contributions(texts, cues)).max()),
    }
