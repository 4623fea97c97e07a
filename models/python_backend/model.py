"""Serve the `model.onnx` beside this file from Triton's python backend with onnxruntime.

Why: the tritonserver shipped in the nvidia-pytriton wheel has only the python backend, while
production Triton serves the same `model.onnx` natively (`platform: "onnxruntime_onnx"`).
This one generic model.py is copied next to every model.onnx by
`tools.triton_server.prepare_local_repository`, so the local server exposes the identical
tensors. Each execute() concatenates the inputs of every request in the dynamic batch, runs the
session once and splits the outputs back per request: that is what makes batching pay.
Errors become per-request TritonError responses; the model never crashes the server.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import triton_python_backend_utils as pb_utils

_STRING = "TYPE_STRING"


def _decode_strings(array: np.ndarray) -> np.ndarray:
    """Triton hands TYPE_STRING as an object array of bytes; onnxruntime wants str."""
    flat = [
        item.decode("utf-8", errors="replace") if isinstance(item, bytes) else str(item)
        for item in array.reshape(-1)
    ]
    return np.array(flat, dtype=object).reshape(array.shape)


class TritonPythonModel:
    """One ONNX model behind Triton's python backend."""

    def initialize(self, args: dict[str, Any]) -> None:
        config = json.loads(args["model_config"])
        self.batching = int(config.get("max_batch_size", 0)) > 0
        self.inputs = [(i["name"], i["data_type"]) for i in config.get("input", [])]
        self.outputs = [
            (o["name"], pb_utils.triton_string_to_numpy(o["data_type"]))
            for o in config.get("output", [])
        ]
        path = Path(args["model_repository"]) / str(args["model_version"]) / "model.onnx"
        if not path.exists():  # some Triton versions pass the version directory itself
            path = Path(__file__).resolve().parent / "model.onnx"
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(
            str(path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self.onnx_inputs = {i.name: i.type for i in self.session.get_inputs()}

    def _feeds(self, request: Any) -> dict[str, np.ndarray]:
        feeds = {}
        for name, data_type in self.inputs:
            tensor = pb_utils.get_input_tensor_by_name(request, name)
            if tensor is None:
                raise ValueError(f"missing input {name!r}")
            array = tensor.as_numpy()
            if data_type == _STRING:
                array = _decode_strings(array)
            elif "float" in self.onnx_inputs.get(name, "") and array.dtype != np.float32:
                array = array.astype(np.float32)
            feeds[name] = array
        return feeds

    def _run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        names = [name for name, _ in self.outputs]
        results = self.session.run(names, feeds)
        return [
            np.asarray(r).astype(dtype, copy=False)
            for r, (_, dtype) in zip(results, self.outputs, strict=True)
        ]

    def _response(self, arrays: list[np.ndarray]) -> Any:
        tensors = [
            pb_utils.Tensor(name, np.ascontiguousarray(a))
            for (name, _), a in zip(self.outputs, arrays, strict=True)
        ]
        return pb_utils.InferenceResponse(output_tensors=tensors)

    @staticmethod
    def _error(exc: Exception) -> Any:
        return pb_utils.InferenceResponse(
            output_tensors=[], error=pb_utils.TritonError(f"{type(exc).__name__}: {exc}")
        )

    def _one(self, request: Any) -> Any:
        try:
            return self._response(self._run(self._feeds(request)))
        except Exception as exc:  # noqa: BLE001 - any failure is this request's error
            return self._error(exc)

    def execute(self, requests: list[Any]) -> list[Any]:
        if not self.batching or len(requests) == 1:
            return [self._one(r) for r in requests]
        try:
            per_request = [self._feeds(r) for r in requests]
            sizes = [next(iter(f.values())).shape[0] for f in per_request]
            feeds = {
                name: np.concatenate([f[name] for f in per_request], axis=0)
                for name, _ in self.inputs
            }
            results = self._run(feeds)
        except Exception:  # noqa: BLE001 - isolate the bad request(s) by running one by one
            return [self._one(r) for r in requests]
        bounds = np.cumsum(sizes)[:-1]
        split = [np.split(r, bounds, axis=0) for r in results]
        return [self._response([parts[i] for parts in split]) for i in range(len(requests))]

    def finalize(self) -> None:
        self.session = None
