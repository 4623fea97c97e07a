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
  validated_domains   comma-separated InputDomain names (common.proto) the validation data
                      covers; empty: none. Fusion counts the model as calibrated evidence only
                      for requests whose Options.domain is one of them
  domain_note         in words: what the validation data was (or why there is none)
The local python-backend config is derived from this one by tools/triton_server.py.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence

from veritas.v1 import common_pb2

MAX_BATCH_SIZE = 64
QUEUE_DELAY_US = 500
WIDTH = 92  # the cards' line width


def tensor(name: str, data_type: str, dims: Sequence[int]) -> str:
    """One entry of a config's `input` or `output` list."""
    shown = ", ".join(str(d) for d in dims)
    return f'  {{\n    name: "{name}"\n    data_type: {data_type}\n    dims: [ {shown} ]\n  }}'


def model_config(
    name: str,
    *,
    max_batch_size: int,
    inputs: Sequence[str],
    outputs: Sequence[str],
    queue_delay_us: int,
    parameters: Mapping[str, str],
    instance_kind: str | None = None,
) -> str:
    """A native ONNX Runtime config.pbtxt with dynamic batching: the layout every model here
    shares (these models and the face models of models/face/convert.py). `instance_kind`
    (KIND_CPU, KIND_GPU) adds one instance group; None leaves it to Triton."""
    instances = (
        f"instance_group [\n  {{\n    count: 1\n    kind: {instance_kind}\n  }}\n]\n"
        if instance_kind
        else ""
    )
    params = "".join(
        f'parameters {{\n  key: "{key}"\n  value: {{ string_value: "{value}" }}\n}}\n'
        for key, value in parameters.items()
    )
    return (
        f'name: "{name}"\n'
        'platform: "onnxruntime_onnx"\n'
        f"max_batch_size: {max_batch_size}\n"
        "input [\n" + ",\n".join(inputs) + "\n]\n"
        "output [\n" + ",\n".join(outputs) + "\n]\n" + instances + "dynamic_batching {\n"
        f"  max_queue_delay_microseconds: {queue_delay_us}\n}}\n" + params
    )


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
    validated_domains: Sequence[str] = (),
    domain_note: str = "",
) -> str:
    contributions = list(contribution_names or feature_names)
    inputs = ([tensor("text", "TYPE_STRING", [1])] if text_input else []) + [
        tensor("features", "TYPE_FP32", [len(feature_names)])
    ]
    outputs = [
        tensor("probability", "TYPE_FP32", [1]),
        tensor("contributions", "TYPE_FP32", [len(contributions)]),
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
        params["caveat"] = _one_line("caveat", caveat)
    params["validated_domains"] = domains_parameter(validated_domains)
    params["domain_note"] = _one_line("domain_note", domain_note)
    return model_config(
        name,
        max_batch_size=MAX_BATCH_SIZE,
        inputs=inputs,
        outputs=outputs,
        queue_delay_us=QUEUE_DELAY_US,
        parameters=params,
    )


def _one_line(key: str, value: str) -> str:
    if '"' in value or "\n" in value:
        raise ValueError(f"{key} must be one line without double quotes")
    return value


def domains_parameter(domains: Sequence[str]) -> str:
    """The `validated_domains` value: known InputDomain names, never UNSPECIFIED (an unknown
    input is inside no model's validation)."""
    known = set(common_pb2.InputDomain.keys()) - {"INPUT_DOMAIN_UNSPECIFIED"}
    for d in domains:
        if d not in known:
            raise ValueError(f"validated_domains: {d!r} is not one of {', '.join(sorted(known))}")
    return ",".join(domains)


def validated_domain_section(domains: Sequence[str], note: str) -> str:
    """The model card's "Validated domain" section, from the same values as the config."""
    stated = ", ".join(f"`{d}`" for d in domains) or "none"
    counted = (
        "Fusion counts this model as calibrated evidence only for requests whose "
        f"`options.domain` is {' or '.join(f'`{d}`' for d in domains)}. For any other "
        "request, and when the caller does not say (the default), its score is shown but "
        "weighs as an uncalibrated cue: it adds no precision and never makes a verdict."
        if domains
        else "Fusion never counts this model as calibrated evidence, whatever the request's "
        "`options.domain`: its score is shown but weighs as an uncalibrated cue: it adds no "
        "precision and never makes a verdict."
    )
    lines = [
        f"- `validated_domains` (config.pbtxt): {stated}",
        f"- `domain_note`: {note}",
    ]
    wrapped = [textwrap.fill(line, WIDTH, subsequent_indent="  ") for line in lines]
    return (
        "## Validated domain\n" + "\n".join(wrapped) + "\n\n" + textwrap.fill(counted, WIDTH) + "\n"
    )
