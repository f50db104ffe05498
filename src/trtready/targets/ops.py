"""What each TensorRT target's ONNX parser and builder cannot build, as data with its source.

Keys are ONNX op types (default domain), or ``Op:variant`` for an op that builds except in one form:

- ``ScatterND:reduction`` / ``ScatterElements:reduction`` — a ``reduction`` other than ``none``;
- ``MaxPool:indices`` — a MaxPool whose second output (``Indices``) is used.

Values are the reason, ending with where the fact comes from. ``audit`` predicts from these tables
(``audit/ops.py``); nothing here is read by name of a target.

Sources:

- TensorRT-RTX: measured with ``tensorrt_rtx`` 1.7.1.116 on a CPU-only x86_64 machine, one
  single-node ONNX model per op (opset 20), parse then build (``tests/targets/test_measured_ops.py``
  repeats the measurement when the library is installed; docs/targets.md has the table).
- TensorRT 10.x and 8.x: onnx/onnx-tensorrt ``docs/operators.md`` (the TensorRT 10.15 and 8.5
  tables), ops marked ``N``; not measured here (see the comments on each table for what is left out).
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

_RTX = "measured: tensorrt_rtx 1.7.1"
_ORT10 = "onnx-tensorrt docs/operators.md, TensorRT 10.15 table; not measured"
_ORT8 = "onnx-tensorrt docs/operators.md, TensorRT 8.5 and 10.15 tables; not measured"

_NO_IMPORTER = "the ONNX parser rejects the node (no importer)"


def _table(reasons: dict[str, str], ops: list[str], why: str, source: str) -> dict[str, str]:
    reasons.update({op: f"{why} [{source}]" for op in ops})
    return reasons


#: TensorRT-RTX 1.7: every entry was parsed and built on its own; all fail at parse.
TRT_RTX_UNSUPPORTED: Mapping[str, str] = MappingProxyType(_table(
    {
        "NonZero": f"NonZero needs a plugin TensorRT-RTX does not ship (\"NonZero plugin creator version 1 "
                   f"was not found\") [{_RTX}]",
        "DFT": f"DFT needs a plugin TensorRT-RTX does not ship (\"Plugin not found\") [{_RTX}]",
        "ScatterND:reduction": f"ScatterND with a reduction is rejected (\"ScatterND with reduction is not "
                               f"supported\") [{_RTX}]",
        "ScatterElements:reduction": f"ScatterElements with a reduction is rejected (\"Unsupported reduction "
                                     f"type\") [{_RTX}]",
        "MaxPool:indices": f"MaxPool with its Indices output is rejected (\"doesn't support more than 1 outputs "
                           f"for MaxPool nodes\") [{_RTX}]",
        "NonMaxSuppression": f"NonMaxSuppression parses but the build fails (\"has no runners that implement "
                             f"it\") [{_RTX}]",
    },
    ["Unique", "Compress", "BitwiseAnd", "BitwiseOr", "BitwiseXor", "BitwiseNot", "BitShift", "Det",
     "Bernoulli", "Multinomial", "MaxUnpool", "MaxRoiPool", "Col2Im", "AffineGrid", "CenterCropPad",
     "MatMulInteger", "ConvInteger", "QLinearConv", "QLinearMatMul", "DynamicQuantizeLinear",
     "NegativeLogLikelihoodLoss", "SoftmaxCrossEntropyLoss", "MelWeightMatrix", "TfIdfVectorizer",
     "SequenceConstruct", "SequenceEmpty", "SequenceAt", "SplitToSequence", "ConcatFromSequence",
     "Optional", "StringNormalizer"],
    _NO_IMPORTER, _RTX,
))

#: TensorRT 10.15, from onnx-tensorrt's operator table (``N`` rows, and the stated restrictions).
TRT10_UNSUPPORTED: Mapping[str, str] = MappingProxyType(_table(
    {
        "ScatterND:reduction": f"ScatterND: `reduction` other than `none` is not supported [{_ORT10}]",
        "MaxPool:indices": f"MaxPool: the `Indices` output is unsupported [{_ORT10}]",
    },
    ["AffineGrid", "Bernoulli", "BitShift", "BitwiseAnd", "BitwiseNot", "BitwiseOr", "BitwiseXor", "Col2Im",
     "CenterCropPad", "Compress", "ConcatFromSequence", "ConvInteger", "DFT", "Det", "DynamicQuantizeLinear",
     "ImageDecoder", "MatMulInteger", "MaxRoiPool", "MaxUnpool", "MelWeightMatrix", "Multinomial",
     "NegativeLogLikelihoodLoss", "Optional", "OptionalGetElement", "OptionalHasElement", "QLinearConv",
     "QLinearMatMul", "RegexFullMatch", "SequenceAt", "SequenceConstruct", "SequenceEmpty", "SequenceErase",
     "SequenceInsert", "SequenceLength", "SequenceMap", "SoftmaxCrossEntropyLoss", "SplitToSequence",
     "StringConcat", "StringNormalizer", "StringSplit", "TfIdfVectorizer", "Unique"],
    "listed as not supported", _ORT10,
))

#: TensorRT 8.x, from onnx-tensorrt's operator tables: the ops marked ``N`` in the 8.5 table that are
#: still ``N`` in 10.15 (none of them was added in between, so none builds on any 8.x), and the
#: opset 18–20 ops 10.15 marks ``N`` (8.x parses up to opset 17). Ops ``N`` in 8.5 but supported by
#: 10.15 (LayerNormalization, IsInf, Hardmax, STFT, the window functions) may have come with 8.6: not
#: predicted. NonZero is listed as supported from 8.5 on (``N`` in the 8.4 table).
TRT8_UNSUPPORTED: Mapping[str, str] = MappingProxyType(_table(
    {"MaxPool:indices": f"MaxPool: the `Indices` output is unsupported [{_ORT8}]"},
    ["Bernoulli", "BitShift", "Compress", "ConcatFromSequence", "ConvInteger", "DFT", "Det",
     "DynamicQuantizeLinear", "MatMulInteger", "MaxRoiPool", "MaxUnpool", "MelWeightMatrix", "Multinomial",
     "NegativeLogLikelihoodLoss", "Optional", "OptionalGetElement", "OptionalHasElement", "QLinearConv",
     "QLinearMatMul", "SequenceAt", "SequenceConstruct", "SequenceEmpty", "SequenceErase", "SequenceInsert",
     "SequenceLength", "SequenceMap", "SoftmaxCrossEntropyLoss", "SplitToSequence", "StringNormalizer",
     "TfIdfVectorizer", "Unique", "AffineGrid", "BitwiseAnd", "BitwiseNot", "BitwiseOr", "BitwiseXor",
     "CenterCropPad", "Col2Im"],
    "listed as not supported", _ORT8,
))

#: Pooling layers (AveragePool, MaxPool, LpPool): the window's volume (product of kernel dims) must be
#: below this, per number of spatial dims. Measured on TensorRT-RTX 1.7.1: 2-D windows up to 99 999
#: build and 100 000 fails (``volume(windowSize) < maxKernelDimsProduct(nbDims)``), 3-D windows up to
#: 31 622 775 build and 31 622 776 fails; a 1-D pool is built as 2-D (99 999 builds, 100 000 fails).
#: GlobalAveragePool / GlobalMaxPool become reductions and have no such limit.
TRT_RTX_POOL_WINDOW: Mapping[int, int] = MappingProxyType({1: 100_000, 2: 100_000, 3: 31_622_776})

#: TensorRT 8.x/10.x: the same 2-D check is reported (onnx/onnx-tensorrt#333 on TensorRT 6,
#: NVIDIA/TensorRT#2094 on 8.4: pools of 317×317 and more fail); 3-D not known, not predicted.
TRT_POOL_WINDOW_REPORTED: Mapping[int, int] = MappingProxyType({1: 100_000, 2: 100_000})

POOL_WINDOW_SOURCES: Mapping[str, str] = MappingProxyType({
    "trt-rtx": _RTX,
    "trt10": "reported for TensorRT 6 and 8.4 (onnx/onnx-tensorrt#333, NVIDIA/TensorRT#2094); not measured",
    "trt8": "reported for TensorRT 6 and 8.4 (onnx/onnx-tensorrt#333, NVIDIA/TensorRT#2094); not measured",
})
