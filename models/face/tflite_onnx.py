"""A small TFLite -> ONNX converter for the float CNNs MediaPipe's face models are made of.

Why it exists: `tflite2onnx==0.4.1` converts BlazeFace but fails on MediaPipe's 468-point
`face_landmark.tflite` (an IndexError in its layout pass: it cannot propagate NHWC->NCHW
through that graph). That graph uses only seven TFLite operators (DEQUANTIZE of float16
weights, CONV_2D, DEPTHWISE_CONV_2D, PRELU, ADD, MAX_POOL_2D, PAD), all 4-D and static in
their spatial sizes, so a direct translation is short: the whole graph runs in NCHW, the
input is transposed once, weights are re-laid out (OHWI -> OIHW; depthwise 1HWC -> C1HW),
TFLite's SAME padding becomes explicit ONNX pads computed from the static shapes, fused
activations become nodes. Anything else raises `Unsupported` naming the operator; the
converted graph is checked against the LiteRT interpreter by `convert.py`, never trusted.

Needs the `tflite` flatbuffer bindings and `onnx` (the conversion venv of convert.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx
import tflite
from onnx import TensorProto, helper, numpy_helper

# TFLite enums (schema.fbs), by value.
_TYPES = {0: np.float32, 1: np.float16, 2: np.int32, 3: np.uint8, 4: np.int64}
_SAME, _VALID = 0, 1
_ACT_NONE, _ACT_RELU, _ACT_RELU6 = 0, 1, 3
_OPS = {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}


class Unsupported(ValueError):
    """An operator or option this converter does not translate."""


@dataclass
class _Graph:
    nodes: list[onnx.NodeProto] = field(default_factory=list)
    initializers: dict[str, np.ndarray] = field(default_factory=dict)
    shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)  # NCHW, batch 1
    count: int = 0

    def name(self, hint: str) -> str:
        self.count += 1
        return f"{hint}_{self.count}"

    def const(self, hint: str, value: np.ndarray) -> str:
        name = self.name(hint)
        self.initializers[name] = value
        return name

    def node(self, op: str, inputs: list[str], hint: str, **attrs: Any) -> str:
        out = self.name(hint)
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out


def _options(op: Any, cls: Any) -> Any:
    table = op.BuiltinOptions()
    opts = cls()
    opts.Init(table.Bytes, table.Pos)
    return opts


def _same_pads(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TensorFlow's SAME padding for one axis: the odd pixel goes after."""
    effective = (kernel - 1) * dilation + 1
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


def _pads(
    padding: int,
    hw: tuple[int, int],
    kernel: tuple[int, int],
    stride: tuple[int, int],
    dilation: tuple[int, int] = (1, 1),
) -> list[int]:
    if padding == _VALID:
        return [0, 0, 0, 0]
    if padding != _SAME:
        raise Unsupported(f"padding {padding}")
    (t, b), (left, r) = (_same_pads(hw[i], kernel[i], stride[i], dilation[i]) for i in (0, 1))
    return [t, left, b, r]


def _conv_out(size: int, kernel: int, stride: int, pad: int, dilation: int = 1) -> int:
    return (size + pad - ((kernel - 1) * dilation + 1)) // stride + 1


class Converter:
    """One TFLite flatbuffer (first subgraph) to one ONNX graph with a dynamic batch."""

    def __init__(self, data: bytes) -> None:
        self.model = tflite.Model.GetRootAsModel(data, 0)
        if self.model.SubgraphsLength() != 1:
            raise Unsupported("more than one subgraph")
        self.sub = self.model.Subgraphs(0)
        self.g = _Graph()
        self.names: dict[int, str] = {}  # TFLite tensor index -> ONNX value name
        self.consts: dict[int, np.ndarray] = {}  # TFLite constant tensors (NHWC layout)

    # --- tensors ------------------------------------------------------------------------

    def _tensor(self, index: int) -> Any:
        return self.sub.Tensors(index)

    def _shape(self, index: int) -> tuple[int, ...]:
        return tuple(int(d) for d in self._tensor(index).ShapeAsNumpy())

    def _buffer(self, index: int) -> np.ndarray | None:
        t = self._tensor(index)
        raw = self.model.Buffers(t.Buffer()).DataAsNumpy()
        if isinstance(raw, int) or raw.size == 0:
            return None
        dtype = _TYPES.get(t.Type())
        if dtype is None:
            raise Unsupported(f"tensor type {t.Type()}")
        return np.frombuffer(raw.tobytes(), dtype=dtype).reshape(self._shape(index))

    def _const(self, index: int) -> np.ndarray:
        if index in self.consts:
            return self.consts[index]
        value = self._buffer(index)
        if value is None:
            raise Unsupported(f"tensor {self._tensor(index).Name()!r} is not a constant")
        return value

    # --- operators ----------------------------------------------------------------------

    def _activation(self, value: str, act: int) -> str:
        if act == _ACT_NONE:
            return value
        if act == _ACT_RELU:
            return self.g.node("Relu", [value], "relu")
        if act == _ACT_RELU6:
            lo = self.g.const("zero", np.array(0, np.float32))
            hi = self.g.const("six", np.array(6, np.float32))
            return self.g.node("Clip", [value, lo, hi], "relu6")
        raise Unsupported(f"fused activation {act}")

    def _conv(self, op: Any, depthwise: bool) -> str:
        x_i, w_i, b_i = (int(i) for i in op.InputsAsNumpy()[:3])
        x = self.names[x_i]
        _, c, h, w = self.g.shapes[x]
        weights = self._const(w_i).astype(np.float32)
        if depthwise:
            opts = _options(op, tflite.DepthwiseConv2DOptions)
            kh, kw, out_c = weights.shape[1:]
            if out_c != c:
                raise Unsupported("depth multiplier != 1")
            kernel = weights.reshape(kh, kw, out_c).transpose(2, 0, 1)[:, None]
            group = c
        else:
            opts = _options(op, tflite.Conv2DOptions)
            out_c, kh, kw, _ = weights.shape
            kernel = weights.transpose(0, 3, 1, 2)
            group = 1
        stride = (opts.StrideH(), opts.StrideW())
        dilation = (opts.DilationHFactor(), opts.DilationWFactor())
        pads = _pads(opts.Padding(), (h, w), (kh, kw), stride, dilation)
        inputs = [x, self.g.const("w", np.ascontiguousarray(kernel))]
        if b_i >= 0:
            inputs.append(self.g.const("b", self._const(b_i).astype(np.float32)))
        y = self.g.node(
            "Conv",
            inputs,
            "conv",
            kernel_shape=[kh, kw],
            strides=list(stride),
            dilations=list(dilation),
            pads=pads,
            group=group,
        )
        oh = _conv_out(h, kh, stride[0], pads[0] + pads[2], dilation[0])
        ow = _conv_out(w, kw, stride[1], pads[1] + pads[3], dilation[1])
        self.g.shapes[y] = (1, out_c, oh, ow)
        out = self._activation(y, opts.FusedActivationFunction())
        self.g.shapes[out] = self.g.shapes[y]
        return out

    def _prelu(self, op: Any) -> str:
        x_i, a_i = (int(i) for i in op.InputsAsNumpy()[:2])
        x = self.names[x_i]
        alpha = self._const(a_i).astype(np.float32).reshape(-1)  # per channel (last axis)
        slope = self.g.const("alpha", alpha.reshape(-1, 1, 1))
        y = self.g.node("PRelu", [x, slope], "prelu")
        self.g.shapes[y] = self.g.shapes[x]
        return y

    def _add(self, op: Any) -> str:
        a, b = (self.names[int(i)] for i in op.InputsAsNumpy()[:2])
        if self.g.shapes[a] != self.g.shapes[b]:
            raise Unsupported("ADD with broadcasting")
        y = self.g.node("Add", [a, b], "add")
        self.g.shapes[y] = self.g.shapes[a]
        out = self._activation(y, _options(op, tflite.AddOptions).FusedActivationFunction())
        self.g.shapes[out] = self.g.shapes[a]
        return out

    def _max_pool(self, op: Any) -> str:
        x = self.names[int(op.InputsAsNumpy()[0])]
        _, c, h, w = self.g.shapes[x]
        opts = _options(op, tflite.Pool2DOptions)
        kernel, stride = (opts.FilterHeight(), opts.FilterWidth()), (opts.StrideH(), opts.StrideW())
        pads = _pads(opts.Padding(), (h, w), kernel, stride)
        y = self.g.node(
            "MaxPool", [x], "maxpool", kernel_shape=list(kernel), strides=list(stride), pads=pads
        )
        oh = _conv_out(h, kernel[0], stride[0], pads[0] + pads[2])
        ow = _conv_out(w, kernel[1], stride[1], pads[1] + pads[3])
        self.g.shapes[y] = (1, c, oh, ow)
        out = self._activation(y, opts.FusedActivationFunction())
        self.g.shapes[out] = self.g.shapes[y]
        return out

    def _pad(self, op: Any) -> str:
        x_i, p_i = (int(i) for i in op.InputsAsNumpy()[:2])
        x = self.names[x_i]
        nhwc = self._const(p_i).astype(np.int64)  # [[n0, n1], [h0, h1], [w0, w1], [c0, c1]]
        if nhwc[0].any():
            raise Unsupported("PAD of the batch axis")
        nchw = nhwc[[0, 3, 1, 2]]
        pads = self.g.const("pads", np.concatenate([nchw[:, 0], nchw[:, 1]]))
        y = self.g.node("Pad", [x, pads], "pad", mode="constant")
        n, c, h, w = self.g.shapes[x]
        self.g.shapes[y] = (
            n,
            c + int(nchw[1].sum()),
            h + int(nchw[2].sum()),
            w + int(nchw[3].sum()),
        )
        return y

    def _dequantize(self, op: Any) -> None:
        """float16 weights stored compactly: folded into float32 constants."""
        x_i, y_i = int(op.InputsAsNumpy()[0]), int(op.OutputsAsNumpy()[0])
        self.consts[y_i] = self._const(x_i).astype(np.float32)

    # --- the graph ----------------------------------------------------------------------

    def convert(self, input_name: str = "input_nchw") -> tuple[_Graph, list[str]]:
        """The graph from an NCHW float input named `input_name` to its outputs (NCHW).

        Returns the graph pieces (nodes, initializers) and the ONNX names of the TFLite
        outputs, in order; `wrap` turns them into a model."""
        (inp,) = (int(i) for i in self.sub.InputsAsNumpy())
        n, h, w, c = self._shape(inp)
        self.names[inp] = input_name
        self.g.shapes[input_name] = (1, c, h, w)
        handlers = {
            "CONV_2D": lambda op: self._conv(op, depthwise=False),
            "DEPTHWISE_CONV_2D": lambda op: self._conv(op, depthwise=True),
            "PRELU": self._prelu,
            "ADD": self._add,
            "MAX_POOL_2D": self._max_pool,
            "PAD": self._pad,
        }
        for i in range(self.sub.OperatorsLength()):
            op = self.sub.Operators(i)
            code = self.model.OperatorCodes(op.OpcodeIndex())
            name = _OPS.get(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()), "?")
            if name == "DEQUANTIZE":
                self._dequantize(op)
                continue
            if name not in handlers:
                raise Unsupported(f"operator {name}")
            out = handlers[name](op)
            self.names[int(op.OutputsAsNumpy()[0])] = out
        outputs = [self.names[int(i)] for i in self.sub.OutputsAsNumpy()]
        return self.g, outputs

    def input_hwc(self) -> tuple[int, int, int]:
        (inp,) = (int(i) for i in self.sub.InputsAsNumpy())
        _, h, w, c = self._shape(inp)
        return h, w, c


def initializers(g: _Graph) -> list[onnx.TensorProto]:
    return [numpy_helper.from_array(v, k) for k, v in g.initializers.items()]


def float_input(name: str, shape: list[int | str], elem: int = TensorProto.FLOAT) -> Any:
    return helper.make_tensor_value_info(name, elem, shape)
