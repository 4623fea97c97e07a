"""The production config.pbtxt of a Veritas model, written the same way for every model.

Every model follows one contract: input `features` FP32 [K] (plus `text` STRING [1] for the
text model), outputs `probability` FP32 [1] and `contributions` FP32 [C], dynamic batching,
and `parameters` that the services read at run time:
  feature_names       order of `features`
  contribution_names  order of `contributions` (defaults to feature_names)
  calibrated          "true" only when the probability was calibrated on the kind of input
                      the service sends the model
  card                repository path of the model card
  validated_auc       group-separated ROC AUC from the card (absent for cue models)
  caveat              one line every result of this model carries in its notes
The local python-backend config is derived from this one by veritas/triton_server.py.
"""

from __future__ import annotations

from collections.abc import Sequence

MAX_BATCH_SIZE = 64
QUEUE_DELAY_US = 500


def _tensor(name: str, data_type: str, dims: int) -> str:
    return f'  {{\n    name: "{name}"\n    data_type: {data_type}\n    dims: [ {dims} ]\n  }}'


def config_pbtxt(
    name: str,
    feature_names: Sequence[str],
    *,
    calibrated: bool,
    card: str,
    contribution_names: Sequence[str] | None = None,
    validated_auc: float | None = None,
    caveat: str = "",
    text_input: bool = False,
) -> str:
    contributions = list(contribution_names or feature_names)
    inputs = ([_tensor("text", "TYPE_STRING", 1)] if text_input else []) + [
        _tensor("features", "TYPE_FP32", len(feature_names))
    ]
    outputs = [
        _tensor("probability", "TYPE_FP32", 1),
        _tensor("contributions", "TYPE_FP32", len(contributions)),
    ]
    params = {
        "feature_names": ",".join(feature_names),
        "contribution_names": ",".join(contributions),
        "calibrated": "true" if calibrated else "false",
        "card": card,
    }
    if validated_auc is not None:
        params["validated_auc"] = f"{validated_auc:.4f}"
    if caveat:
        if '"' in caveat or "\n" in caveat:
            raise ValueError("caveat must be one line without double quotes")
        params["caveat"] = caveat
    parameters = "".join(
        f'parameters {{\n  key: "{key}"\n  value: {{ string_value: "{value}" }}\n}}\n'
        for key, value in params.items()
    )
    return (
        f'name: "{name}"\n'
        'platform: "onnxruntime_onnx"\n'
        f"max_batch_size: {MAX_BATCH_SIZE}\n"
        "input [\n" + ",\n".join(inputs) + "\n]\n"
        "output [\n" + ",\n".join(outputs) + "\n]\n"
        f"dynamic_batching {{\n  max_queue_delay_microseconds: {QUEUE_DELAY_US}\n}}\n" + parameters
    )
