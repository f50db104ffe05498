"""Ops a target cannot build: one op finding per node, on the torch.export graph and on the ONNX graph.

``audit`` of a PyTorch model stops at the torch.export graph (the ONNX translation is the costly step),
so the FX side predicts what the translation will contain: each aten op below becomes the ONNX ops
listed (torch.onnx 2.13 with onnxscript's torch_lib; ``tests/audit/test_ops.py`` exports each one and
checks). The ONNX side reads the nodes themselves. Whether a target builds them is data in its profile
(``targets/ops.py``); :func:`trtready.audit.predict.op_problems` compares the two.

A finding is made for a node only when some target cannot build it; where fix/convert can rewrite it
exactly (``rewrite_matchers.py``), the finding names the rewrite, else what the user can change.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from trtready.audit.findings import Finding, Kind, Layer, OpUse, Role, op_finding_id
from trtready.audit.predict import op_problems
from trtready.bounds import DimBound
from trtready.lazy import ir
from trtready.rewrite_matchers import find_masked_assignments, find_pool_reductions, node_label
from trtready.targets import PROFILES

if TYPE_CHECKING:
    import onnx_ir as ir
    import torch.fx
    from torch.export import ExportedProgram

_POOLS = ("AveragePool", "MaxPool", "LpPool")

# What the user can change, per ONNX op, when no exact rewrite applies.
_DATA_DEPENDENT = ("its output shape depends on the values (NonZero): keep shapes fixed — torch.where(mask, "
                   "value, x) or a multiplied mask instead of boolean indexing, a fixed-size topk instead of "
                   "nonzero")
_REMEDY = {
    "NonZero": _DATA_DEPENDENT,
    "Unique": "unique has a data-dependent shape: compute it outside the engine, or with a fixed-size topk/sort",
    "ScatterND:reduction": "an accumulating scatter (index_add / index_put(accumulate=True)): TensorRT-RTX "
                           "builds it without the reduction only; use a one-hot matmul or scatter into zeros and add",
    "ScatterElements:reduction": "scatter_add / scatter_reduce: use a one-hot matmul or a dense reduction instead",
    "MaxPool:indices": "the pooling indices are not available: use max_pool without return_indices",
    "BitwiseAnd": "integer bitwise ops have no TensorRT layer: use bool tensors (logical ops build) or arithmetic",
    "BitwiseOr": "integer bitwise ops have no TensorRT layer: use bool tensors (logical ops build) or arithmetic",
    "BitwiseXor": "integer bitwise ops have no TensorRT layer: use bool tensors (logical ops build) or arithmetic",
    "BitwiseNot": "integer bitwise ops have no TensorRT layer: use bool tensors (logical ops build) or arithmetic",
}
_POOL_REMEDY = ("pool in smaller windows, or when the window covers the whole input use x.mean(dims) / "
                "x.amax(dims) (GlobalAveragePool / ReduceMean build without a window limit)")


def _remedy(ops: tuple[str, ...], pool: str | None) -> str:
    for op in ops:
        if op in _REMEDY:
            return _REMEDY[op]
    return _POOL_REMEDY if pool else ""


def _blocked_somewhere(use: OpUse) -> bool:
    return any(op_problems(use, p) for p in PROFILES.values())


# --- the torch.export graph ----------------------------------------------------------------------------

_FX_SIMPLE: dict[str, tuple[str, ...]] = {
    "aten.nonzero": ("NonZero",),
    "aten.argwhere": ("NonZero",),
    "aten.masked_scatter": ("NonZero",),
    "aten._unique2": ("Unique",),
    "aten.unique_dim": ("Unique",),
    "aten.unique_consecutive": ("Unique",),
    "aten.linalg_det": ("Det",),
    "aten.bernoulli": ("Bernoulli",),
    "aten.multinomial": ("Multinomial",),
    "aten.col2im": ("Col2Im",),
    "aten.cross_entropy_loss": ("SoftmaxCrossEntropyLoss",),
    "aten.scatter_add": ("ScatterElements:reduction",),
    "aten.scatter_reduce": ("ScatterElements:reduction",),
    "aten.index_add": ("ScatterND:reduction",),
    "aten.max_unpool2d": ("MaxPool:indices",),
    "aten.max_unpool3d": ("MaxPool:indices",),
}
_FX_BITWISE = {"and": "BitwiseAnd", "or": "BitwiseOr", "xor": "BitwiseXor"}


def _short(target: Any) -> str:
    s = str(target)
    return s.rsplit(".", 1)[0] if s.startswith("aten.") else getattr(target, "__name__", s)


def _val(a: Any) -> Any:
    return a.meta.get("val") if hasattr(a, "meta") else None


def _dim_eq(a: Any, b: Any) -> bool:
    """Two sizes proved equal: the same integer, or the same symbol (never a guard on a SymInt)."""
    if isinstance(a, int) and isinstance(b, int):
        return a == b
    return not isinstance(a, int) and not isinstance(b, int) and str(a) == str(b)


def _static(dims: Any) -> list[int] | None:
    out = []
    for d in dims:
        if not isinstance(d, int):
            return None
        out.append(int(d))
    return out


def _pool_rewrite(sizes: list[int] | None, kernel: list[int], stride: list[int], padding: list[int],
                  dilation: list[int], ceil_mode: bool, op: str) -> str | None:
    """The rewrite ``PoolAsReduce`` will prove on the translated node (rewrite_matchers.py), or None."""
    if sizes is None or any(padding) or any(d != 1 for d in dilation):
        return None
    kind = "Average" if op == "AveragePool" else "Max"
    if all(k == h or (ceil_mode and h < k < h + s) for h, k, s in zip(sizes, kernel, stride)):
        return f"Global{kind}Pool (its window covers the whole {'×'.join(map(str, sizes))} input)"
    if all(s == k and h % k == 0 for h, k, s in zip(sizes, kernel, stride)):
        return (f"Reshape + Reduce{'Mean' if kind == 'Average' else 'Max'} (its {'×'.join(map(str, kernel))} "
                f"windows tile the {'×'.join(map(str, sizes))} input)")
    return None


def _per_axis(v: Any, n: int, default: int) -> list[int]:
    if v is None or (isinstance(v, (list, tuple)) and len(v) == 0):
        return [default] * n
    items = list(v) if isinstance(v, (list, tuple)) else [v]
    items = [int(x) for x in items]
    return items * n if len(items) == 1 else items


def _fx_pool(n: torch.fx.Node, op: str) -> OpUse | None:
    """avg_pool{1,2,3}d / max_pool{1,2,3}d[_with_indices] / adaptive pools: the ONNX pooling window."""
    x = _val(n.args[0]) if n.args else None
    if x is None:
        return None
    name = op.removeprefix("aten.")
    m = re.search(r"pool(\d)d", name)
    if m is None:
        return None
    spatial = int(m.group(1))
    sizes = _static(list(x.shape)[-spatial:])
    pool = "MaxPool" if "max" in name else "AveragePool"
    args = list(n.args) + [None] * 8
    if name.startswith("adaptive_"):
        out = _per_axis(args[1], spatial, 1)
        if sizes is None or all(o == 1 for o in out) or any(h % o for h, o in zip(sizes, out)):
            return None  # a reduction, or GatherND + ReduceMean: no pooling window
        kernel = [h // o for h, o in zip(sizes, out)]
        stride, padding, dilation, ceil_mode = kernel, [0] * spatial, [1] * spatial, False
    else:
        kernel = _per_axis(args[1], spatial, 1)
        stride = _per_axis(args[2], spatial, 0) if args[2] not in (None, []) else kernel
        padding = _per_axis(args[3], spatial, 0)
        if pool == "MaxPool":
            dilation = _per_axis(args[4], spatial, 1)
            ceil_mode = bool(args[5] or n.kwargs.get("ceil_mode", False))
        else:
            dilation = [1] * spatial
            ceil_mode = bool(args[4] or n.kwargs.get("ceil_mode", False))
            if args[6] is not None or n.kwargs.get("divisor_override") is not None:
                return None  # divisor_override: not an AveragePool
    ops: tuple[str, ...] = ()
    if name.endswith("_with_indices") and any(
            u.op == "call_function" and len(u.args) > 1 and u.args[1] == 1 for u in n.users):
        ops = ("MaxPool:indices",)
    window = math.prod(kernel)
    rewrite = None if ops else _pool_rewrite(sizes, kernel, stride, padding, dilation, ceil_mode, pool)
    what = f"{op} ({'×'.join(map(str, kernel))} window) becomes {pool} in the ONNX translation"
    return OpUse(what, ops, pool, window, spatial, rewrite, "" if rewrite else _remedy(ops, pool))


def _index_put(n: torch.fx.Node, op: str) -> OpUse | None:
    """``x[mask] = v`` (index_put with a boolean index): NonZero + ScatterND; a Where when ``v`` is one
    value or the same for every selected row (the shapes MaskedAssignment proves on the translation)."""
    args: list[Any] = list(n.args) + [None, None, None]  # an aten call's arguments: read by position, checked as used
    x, indices, values, accumulate = _val(args[0]), args[1], _val(args[2]), bool(args[3] or n.kwargs.get("accumulate"))
    masks = [i for i in (indices or []) if i is not None and getattr(_val(i), "dtype", None) is not None
             and str(_val(i).dtype) == "torch.bool"]
    if not masks or x is None or values is None:
        return None
    ops = ("NonZero",) + (("ScatterND:reduction",) if accumulate else ())
    what = f"{op} with a boolean mask (x[mask] = value) becomes NonZero + ScatterND in the ONNX translation"
    rewrite = None
    if len(indices) == 1 and not accumulate:
        r, k = x.dim(), _val(indices[0]).dim()
        vshape, trailing = list(values.shape), list(x.shape)[k:]
        if all(_dim_eq(d, 1) for d in vshape) and len(vshape) <= r:
            rewrite = "Where(mask, value, x): the value is one element"
        elif trailing and (len(vshape) <= len(trailing) or (len(vshape) == len(trailing) + 1 and _dim_eq(vshape[0], 1))) \
                and all(_dim_eq(a, 1) or _dim_eq(a, b) for a, b in zip(reversed(vshape), reversed(trailing))):
            rewrite = "Where(mask, value, x): the value is the same for every selected row"
    remedy = "" if rewrite else ("the value differs per selected position: write torch.where(mask[..., None], "
                                 "value, x) with value laid out like x")
    return OpUse(what, ops, rewrite=rewrite, remedy=remedy)


def _fx_use(n: torch.fx.Node) -> OpUse | None:
    op = _short(n.target)
    name = op.removeprefix("aten.")
    if "pool" in name and ("avg_pool" in name or "max_pool" in name):
        return _fx_pool(n, op)
    if op in ("aten.index_put", "aten.index_put_"):
        return _index_put(n, op)
    if op == "aten.index":
        idx: Any = n.args[1] if len(n.args) > 1 else []  # the index list: nodes and None
        if any(i is not None and str(getattr(_val(i), "dtype", "")) == "torch.bool" for i in idx or []):
            return OpUse(f"{op} with a boolean mask (x[mask]) becomes NonZero + GatherND in the ONNX translation",
                         ("NonZero",), remedy=_DATA_DEPENDENT)
        return None
    if op == "aten.where" and len(n.args) == 1:
        return OpUse(f"{op}(condition) becomes NonZero in the ONNX translation", ("NonZero",), remedy=_DATA_DEPENDENT)
    if op.startswith("aten.fft_"):
        return OpUse(f"{op} becomes DFT in the ONNX translation", ("DFT",), remedy="")
    stem = name.strip("_").removeprefix("bitwise_")
    if stem in _FX_BITWISE or stem == "not":
        out = _val(n)
        if out is None or str(out.dtype) == "torch.bool":
            return None  # And/Or/Xor/Not on bool build
        onnx_op = _FX_BITWISE.get(stem, "BitwiseNot")
        return OpUse(f"{op} on {str(out.dtype).removeprefix('torch.')} becomes {onnx_op} in the ONNX translation",
                     (onnx_op,), remedy=_remedy((onnx_op,), None))
    if op in _FX_SIMPLE:
        ops = _FX_SIMPLE[op]
        return OpUse(f"{op} becomes {' + '.join(o.split(':')[0] for o in ops)} in the ONNX translation", ops,
                     remedy=_remedy(ops, None))
    return None


def fx_op_findings(ep: ExportedProgram, bounds: list[DimBound] | None = None) -> list[Finding]:
    """One op finding per torch.export node whose ONNX translation some target cannot build."""
    import torch

    from trtready.audit.fx import symbol_names, user_frame

    names = symbol_names(ep, bounds or [])

    user_outputs = set(ep.graph_signature.user_outputs)
    findings = []
    for n in ep.graph.nodes:
        if n.op != "call_function":
            continue
        use = _fx_use(n)
        if use is None or not _blocked_somewhere(use):
            continue
        val = _val(n)
        out = val[0] if isinstance(val, (tuple, list)) and val else val
        source = user_frame(n.meta.get("stack_trace"))
        findings.append(Finding(
            id=op_finding_id(Layer.FX, n.name), layer=Layer.FX, tensor=n.name,
            dtype=str(out.dtype).removeprefix("torch.") if isinstance(out, torch.Tensor) else "?",
            shape=[int(s) if isinstance(s, int) else names.get(str(s), str(s)) for s in out.shape]
            if isinstance(out, torch.Tensor) else None,
            where=source or n.name, role=Role.OUTPUT if n.name in user_outputs else Role.INTERMEDIATE,
            producer=_short(n.target), consumers=[f"{_short(u.target)}:{u.name}" for u in n.users if u.op != "output"],
            source=source, kind=Kind.OP_UNSUPPORTED, op=use,
        ))
    return findings


# --- the ONNX graph ------------------------------------------------------------------------------------

def onnx_use(node: ir.Node) -> OpUse | None:
    """What ``node`` asks of a target (default domain only; custom ops are not judged)."""
    if node.domain not in ("", "ai.onnx"):
        return None
    op = node.op_type
    ops: list[str] = [op]
    red = node.attributes.get("reduction")
    if op in ("ScatterND", "ScatterElements") and red is not None and red.value != "none":
        ops.append(f"{op}:reduction")
    if op == "MaxPool" and len(node.outputs) > 1 and (node.outputs[1].uses() or node.outputs[1].is_graph_output()):
        ops.append("MaxPool:indices")
    pool = window = spatial = None
    if op in _POOLS:
        k = node.attributes.get("kernel_shape")
        if k is not None and k.type == ir.AttributeType.INTS and k.value:
            pool, window, spatial = op, math.prod(int(x) for x in k.value), len(k.value)
    first = node.inputs[0] if node.inputs else None
    return OpUse(f"{op} {node.name or '(unnamed)'}", tuple(ops), pool, window, spatial,
                 remedy=_remedy(tuple(ops), pool),
                 input_dtype=first.dtype.name if first is not None and first.dtype is not None else None)


def labeled_nodes(model: ir.Model) -> Iterator[tuple[str, ir.Node]]:
    """``(label, node)`` for every node of every scope; the label is the op finding's ``tensor``."""

    scopes: list[ir.Graph | ir.Function] = [*model.graphs(), *model.functions.values()]
    for graph in scopes:
        scope = "" if graph is model.graph else f"{getattr(graph, 'name', '') or 'subgraph'}/"
        for node in graph:
            yield f"{scope}{node_label(node)}", node


def onnx_op_findings(model: ir.Model) -> list[Finding]:
    """One op finding per ONNX node (every scope) that some target cannot build; main-graph nodes a
    proved rewrite removes name it (``rewrite_matchers.py``)."""
    import dataclasses

    from trtready.audit.onnx_graph import _shape, _source

    rewrites: dict[ir.Node, str] = {}
    for m in find_masked_assignments(model):
        rewrites[m.nonzero] = m.rewrite
    for p in find_pool_reductions(model):
        rewrites[p.node] = p.rewrite
    findings = []
    for label, node in labeled_nodes(model):
        use = onnx_use(node)
        if use is None or not _blocked_somewhere(use):
            continue
        if node in rewrites:
            use = dataclasses.replace(use, rewrite=rewrites[node], remedy="")
        out = node.outputs[0] if node.outputs else None
        dtype = out.dtype.name.lower() if out is not None and out.dtype is not None else "?"
        scope = label[: -len(node_label(node))]
        findings.append(Finding(
            id=op_finding_id(Layer.ONNX, label), layer=Layer.ONNX, tensor=label, dtype=dtype,
            shape=_shape(out) if out is not None else None, where=f"{scope}{node.op_type} {node.name or ''}".strip(),
            role=Role.INTERMEDIATE, producer=node.op_type,
            consumers=[f"{u.node.op_type}:{u.node.name or '?'}" for o in node.outputs for u in o.uses()],
            source=_source(node), kind=Kind.OP_UNSUPPORTED, op=use,
        ))
    return findings
