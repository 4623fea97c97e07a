"""The Helm chart serves the face models (models/face) on GPU instances only when it has GPUs.

About the chart, so it lives with the chart's tests; models/face/tests checks the models and
their two configs themselves.
"""

from __future__ import annotations

from tests.test_helm import load_values, render


def test_the_chart_puts_the_face_models_on_the_gpu_only_with_gpus() -> None:
    """values-gpu.yaml: Triton loads configs/gpu.pbtxt (KIND_GPU); default values: not."""

    def triton_args(values_name: str) -> list[str]:
        docs = render(load_values(values_name))
        (deployment,) = [
            d
            for d in docs
            if d["kind"] == "Deployment" and d["metadata"]["name"].endswith("-triton")
        ]
        return list(deployment["spec"]["template"]["spec"]["containers"][0]["args"])

    assert "--model-config-name=gpu" in triton_args("gpu")
    assert not any(a.startswith("--model-config-name") for a in triton_args("default"))
    assert not any(a.startswith("--model-config-name") for a in triton_args("dev"))
