"""What each TensorRT target's ONNX parser and builder cannot build, as data with its source.

Keys are ONNX op types (default domain), or ``Op:variant`` for an op that builds except in one form:

- ``ScatterND:reduction`` / ``ScatterElements:reduction`` — a ``reduction`` other than ``none``;
- ``MaxPool:indices`` — a MaxPool whose second output (``Indices``) is used.

Values are the reason, ending with where the fact comes from. ``audit`` predicts from these tables
(``audit/ops.py``); nothing here is read by name of a target. The last tables are Torch-TensorRT's
dynamo converters, keyed by the ops of the ExportedProgram instead: the INT64 operands they cast to
INT32, and the ops whose Python int operands they make INT32 constants.

Sources:

- TensorRT-RTX: measured with ``tensorrt_rtx`` 1.7.1.116 on a CPU-only x86_64 machine, one
  single-node ONNX model per op (opset 20), parse then build (``tests/targets/test_measured_ops.py``
  repeats the measurement when the library is installed; docs/targets.md has the table).
- TensorRT 11.x, 10.x and 8.x: onnx/onnx-tensorrt ``docs/operators.md`` (the TensorRT 10.15 and 8.6
  tables, read from ``data/``), ops marked ``N`` and the forms their restrictions forbid; not measured
  here (see the comments on each table for what is left out).
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from importlib import resources
from types import MappingProxyType
from typing import Any, Mapping

_RTX = "measured: tensorrt_rtx 1.7.1"

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

# --- onnx-tensorrt's operator tables -------------------------------------------------------------------
# Parsed from copies of onnx/onnx-tensorrt ``docs/operators.md`` (tests/data/onnx_tensorrt/) by
# tools/gen_op_tables.py into data/onnx_tensorrt_<version>.json, each with its repo, path, commit and date.

@functools.lru_cache(maxsize=None)
def op_table(version: str) -> Mapping[str, Any]:
    """onnx-tensorrt's operator table for TensorRT ``version`` ("8.6", "10.1", "10.15"), as stored."""
    text = resources.files("trtready.targets").joinpath("data", f"onnx_tensorrt_{version}.json").read_text("utf-8")
    return MappingProxyType(json.loads(text))


def table_source(version: str) -> str:
    src = op_table(version)["source"]
    at = f"commit {src['commit'][:12]}" if src["commit"] else f"{src['ref']}, {src['date']}"
    return f"onnx-tensorrt docs/operators.md, TensorRT {version} table ({at}); not measured"


# Restrictions that forbid one form of an op: the text in the table's row, and the ``Op:variant`` key.
_VARIANTS = {
    "ScatterND": ("`reduction` other than `none` is not supported", "ScatterND:reduction",
                  "ScatterND: `reduction` other than `none` is not supported"),
    "MaxPool": ("`Indices` output tensor unsupported", "MaxPool:indices",
                "MaxPool: the `Indices` output is unsupported"),
}


def _unsupported(version: str, also_absent_from: str | None = None) -> dict[str, str]:
    """The table's ``N`` rows and the forms its restrictions forbid; with ``also_absent_from``, the ops
    marked ``N`` in that newer table that this one does not list at all (newer opsets than it parses)."""
    ops = op_table(version)["ops"]
    src = table_source(version)
    out = {op: f"listed as not supported [{src}]" for op, row in ops.items() if not row["supported"]}
    for op, (text, key, why) in _VARIANTS.items():
        if text in ops.get(op, {}).get("restrictions", ""):
            out[key] = f"{why} [{src}]"
    if also_absent_from is not None:
        newer = op_table(also_absent_from)["ops"]
        later = table_source(also_absent_from)
        out.update({op: f"not in the TensorRT {version} table (a newer opset); listed as not supported by "
                        f"{also_absent_from} [{later}]"
                    for op, row in newer.items() if not row["supported"] and op not in ops})
    return out


def int64_inputs(version: str) -> dict[str, dict[str, str]]:
    """Inputs the table says must be INT64 (``RotaryEmbedding``: "`position_ids` must be INT64"): op →
    input name → reason. The planner never narrows them, whatever the ONNX spec allows."""
    out: dict[str, dict[str, str]] = {}
    for op, row in op_table(version)["ops"].items():
        for name in re.findall(r"`(\w+)` must be INT64", row["restrictions"]):
            out.setdefault(op, {})[name] = f"{op}: `{name}` must be INT64 [{table_source(version)}]"
    return out


def op_types(version: str) -> dict[str, tuple[str, ...]]:
    """The table's "Supported Types" column per supported op (``NonZero``: FP32, FP16 in 10.15)."""
    return {op: tuple(row["types"]) for op, row in op_table(version)["ops"].items() if row["supported"]}


#: ONNX dtype name → the table's type name (DOUBLE is read as FLOAT: the parser casts it down).
TABLE_TYPE = MappingProxyType({"FLOAT": "FP32", "DOUBLE": "FP32", "FLOAT16": "FP16", "BFLOAT16": "BF16",
                               "INT32": "INT32", "INT64": "INT64", "INT8": "INT8", "UINT8": "UINT8", "BOOL": "BOOL"})

#: The types column is documentation, not the parser's check: NonZero is listed for FP32, FP16 only
#: (8.5 to 10.15), yet its importer accepts FLOAT, HALF, BF16, INT32, INT64, INT8 and BOOL
#: (``onnxOpImporters.cpp`` at 10.1-GA, 96e781103cfc; 8.6-GA's accepts FLOAT, HALF, INT32, INT8, BOOL).
#: A type outside the column is therefore reported, never predicted to fail.
TYPES_COLUMN_NOTE = ("the table's types column is not the parser's check (NonZero is listed for FP32, FP16, "
                     "yet onnx-tensorrt's 10.1 importer takes BOOL, INT32, INT64 and INT8 too)")

#: The newest table stored: TensorRT 10.15 (February 2026). No 11.x table was found; trt11 reads it too.
NEWEST_TABLE = "10.15"

#: TensorRT 10.x: the 10.15 table's ``N`` rows, ScatterND with a reduction, MaxPool with Indices.
TRT10_UNSUPPORTED: Mapping[str, str] = MappingProxyType(_unsupported(NEWEST_TABLE))

#: TensorRT 8.x: the 8.6 table's ``N`` rows (8.6 is the last 8.x: an op it cannot build, no 8.x
#: builds) and MaxPool with Indices, plus the ops of opsets 18+ that it does not list and 10.15 still
#: marks ``N`` (8.6 parses up to opset 17). Ops 8.6 lists as supported that earlier 8.x lack
#: (LayerNormalization, IsInf came with 8.6; NonZero with 8.5) are not predicted for those releases.
TRT8_UNSUPPORTED: Mapping[str, str] = MappingProxyType(_unsupported("8.6", also_absent_from=NEWEST_TABLE))

#: The types column per op: TensorRT 10.15 and 8.6.
TRT10_OP_TYPES: Mapping[str, tuple[str, ...]] = MappingProxyType(op_types(NEWEST_TABLE))
TRT8_OP_TYPES: Mapping[str, tuple[str, ...]] = MappingProxyType(op_types("8.6"))

#: Inputs TensorRT 10.15's parser requires INT64 (the planner keeps them; docs/targets.md).
TRT10_INT64_INPUTS: Mapping[str, Mapping[str, str]] = MappingProxyType(int64_inputs(NEWEST_TABLE))

#: Gather casts INT64 indices to INT32 when its data is not INT64: a narrowing the ONNX graph does not
#: show. onnx-tensorrt's Gather importer (``onnxOpImporters.cpp`` at 10.1-GA, commit 96e781103cfc:
#: "Int64 indices only supported for Int64 data" → ``castHelper(ctx, indices, DataType::kINT32)``) and
#: TensorRT's Gather layer documentation (10.14: "if indices are int64 and the data is not int64, the
#: indices will be cast to int32").
INT64_INDEX_CAST: Mapping[str, str] = MappingProxyType({
    "Gather": "TensorRT's parser casts INT64 Gather indices to INT32 when the data is not INT64 "
              "[onnx-tensorrt onnxOpImporters.cpp at 10.1-GA (96e781103cfc); TensorRT 10.14 Gather layer docs; "
              "not measured]",
})

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
    "trt11": "reported for TensorRT 6 and 8.4 (onnx/onnx-tensorrt#333, NVIDIA/TensorRT#2094); not measured",
    "trt10": "reported for TensorRT 6 and 8.4 (onnx/onnx-tensorrt#333, NVIDIA/TensorRT#2094); not measured",
    "trt8": "reported for TensorRT 6 and 8.4 (onnx/onnx-tensorrt#333, NVIDIA/TensorRT#2094); not measured",
})


@dataclass(frozen=True)
class OperandCast:
    """An operand a converter casts from INT64 to INT32 with no range check.

    ``index``: the operand is an index into an axis, so a value outside int32 is outside any axis shorter
    than 2**31 anyway (reported like an unproved index when not proved); else it is a value, which a
    value outside int32 makes wrong. ``int_result``: the cast happens only when the op's result is an
    integer (a float operand beside it makes the converter promote to float instead).
    """

    reason: str
    index: bool
    int_result: bool = False


_TTRT = "torch-tensorrt 2.13.0 py/torch_tensorrt/dynamo"
_WHERE = (f"the where converter makes both branches one type, and two integer branches become INT32 "
          f"[{_TTRT}/conversion/impl/condition/ops.py where → converter_utils.py "
          f"promote_trt_tensors_to_same_dtype]")

#: Torch-TensorRT's dynamo converters that cast an INT64 operand to INT32 with ``cast_trt_tensor`` and no
#: range check, by the op of the ExportedProgram and its schema argument: read in 2.13.0 and measured there
#: (tests/oracle/test_dynamo.py: the networks' Cast layers). ``masked_fill`` and ``index_copy`` reach the
#: converters through the decompositions Torch-TensorRT enables (``lowering/_decomposition_groups.py``):
#: ``where`` and ``index_put``; ``scatter_add`` through its own (``lowering/_decompositions.py``): ``scatter``.
#: Not cast: ``index``, ``index_select`` and ``embedding`` hand INT64 indices to TensorRT's gather layer as
#: they are. 2.14.0's select.py and condition/ops.py are the same files; its index_copy has a converter of
#: its own that casts the index too (impl/index_copy.py).
_DYNAMO_INT32_OPERANDS: dict[str, Mapping[str, OperandCast]] = {
    "aten.where": MappingProxyType({
        "self": OperandCast(_WHERE, index=False, int_result=True),
        "other": OperandCast(_WHERE, index=False, int_result=True),
    }),
    "aten.masked_fill": MappingProxyType({
        "self": OperandCast(f"masked_fill is decomposed to where; {_WHERE}", index=False, int_result=True),
    }),
    "aten.gather": MappingProxyType({
        "index": OperandCast(f"the gather converter casts its index to INT32 [{_TTRT}/conversion/impl/select.py "
                             f"gather]", index=True),
    }),
    "aten.scatter": MappingProxyType({
        "index": OperandCast(f"the scatter converter casts an INT64 index to INT32 [{_TTRT}/conversion/impl/"
                             f"select.py scatter]", index=True),
    }),
    "aten.scatter_add": MappingProxyType({
        "index": OperandCast(f"Torch-TensorRT decomposes scatter_add into scatter, whose converter casts an INT64 "
                             f"index to INT32 [{_TTRT}/lowering/_decompositions.py scatter_add_decomposition; "
                             f"conversion/impl/select.py scatter]", index=True),
    }),
    "aten.index_put": MappingProxyType({
        "indices": OperandCast(f"the index_put converter casts its concatenated indices to INT32 "
                               f"[{_TTRT}/conversion/impl/select.py index_put_converter]", index=True),
    }),
    "aten.index_copy": MappingProxyType({
        "index": OperandCast(f"index_copy is decomposed to index_put, whose converter casts its indices to "
                             f"INT32 [{_TTRT}/conversion/impl/select.py index_put_converter; 2.14.0: "
                             f"impl/index_copy.py casts it]", index=True),
    }),
}

#: The in-place forms are the same: Torch-TensorRT's lowering replaces each with its functional form
#: (``lowering/_decompositions.py`` ``replace_inplace_op``: index_put_, scatter_, scatter_add_; the in-place
#: masked_fill_ and index_copy_ are in the same decomposition group as their functional forms).
TORCH_TRT_DYNAMO_INT32_OPERANDS: Mapping[str, Mapping[str, OperandCast]] = MappingProxyType(
    _DYNAMO_INT32_OPERANDS | {f"{op}_": args for op, args in _DYNAMO_INT32_OPERANDS.items()
                              if op not in ("aten.where", "aten.gather")}
)


#: Torch-TensorRT's dynamo elementwise converters make a Python int operand a tensor with
#: ``to_torch`` (``conversion/converter_utils.py``: ``torch.tensor([value], dtype=torch.int32)``, before
#: any cast to the other operand's type), so an int outside int32 stops the conversion with PyTorch's own
#: error. Measured on 2.13.0 for each op below, one ``dynamo.compile`` each (``t + 2**40``, ``t - 2**40``,
#: ``t * 2**40``, ``t // 2**40``, ``t % 2**40``, ``torch.div(t, 2**40, rounding_mode=…)``, ``torch.fmod``,
#: ``t.clamp(max=2**40)``, ``2**40 - t``, ``t == 2**40``; a float tensor times ``2**40`` fails the same
#: way); tests/oracle/test_dynamo.py keeps ``+``, ``==`` and the demo's hash. 2.14.0's ``to_torch`` is the same.
PYTHON_INT_OVERFLOW = ("value cannot be converted to type int32 without overflow: Torch-TensorRT makes a Python "
                       "int operand an INT32 constant first [torch-tensorrt 2.13.0 py/torch_tensorrt/dynamo/"
                       "conversion/converter_utils.py to_torch]")
TORCH_TRT_DYNAMO_INT32_PYTHON_INTS: frozenset[str] = frozenset({
    "aten.add", "aten.sub", "aten.rsub", "aten.mul", "aten.div", "aten.floor_divide", "aten.remainder", "aten.fmod",
    "aten.clamp", "aten.eq",
})
