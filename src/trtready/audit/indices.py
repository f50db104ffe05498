"""Index bounds: every table lookup's index proved inside its axis, or an ``index_unproved`` finding.

TensorRT does not check gather indices: an index outside the axis reads zero rows (or whatever the
kernel finds; NVIDIA/TensorRT#4774), where PyTorch and ONNX Runtime raise. The interval analysis that
proves narrowing proves indices too. A lookup's index is *inside* when

- its interval lies in the axis's valid range for the smallest size the bounds allow (``[-N, N)`` for
  ONNX Gather/GatherElements/GatherND/ScatterND and PyTorch advanced indexing, ``[0, N)`` for
  ``embedding``/``index_select``/``gather``), or
- it counts positions of that same axis: ``Range(0, L, 1)`` with ``L`` read from a shape, ArgMax/TopK
  along an axis, moved by reshapes, casts and expands — and the data's axis is the same dimension
  (the same integer, or the same symbolic dim), or
- the lookup is one whose validity the analysis assumed (its index is what a demanded range was
  derived from: valid inputs index inside the tables).

Everything else is a finding of kind ``index_unproved`` naming the op, the index range and the axis
size, with each target's behaviour. It does not block readiness (it is a hazard of invalid inputs,
not of the conversion), but the terminal and the JSON report list it, and verification probes such
inputs where the graph allows it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from trtready.audit.findings import Finding, FindingId, Kind, Layer, Role
from trtready.finding_ids import index_finding_id
from trtready.intervals import Interval
from trtready.intervals.fx import sym_bounds
from trtready.rewrite_matchers import _const_int, _dim_read

if TYPE_CHECKING:
    import onnx_ir as ir
    import torch.fx

    from trtready.analysis import FxAnalysis, OnnxAnalysis

    # (index value, the data axis's size, the data axis): one part of a lookup's index
    _Part = tuple[ir.Value | None, int | ir.SymbolicDim | None, int]

_DOMAINS = ("", "ai.onnx")
_LOOKUPS = {"Gather": (1, "axis", True), "GatherElements": (1, "axis", True), "GatherND": (1, None, True),
            "ScatterND": (1, None, True), "ScatterElements": (1, "axis", True)}


def _dim_key(d: Any) -> Any:
    """An int, or the symbolic dim's name; None when unnamed."""
    if isinstance(d, int):
        return d
    return getattr(d, "value", None)


def _dim_bounds(d: Any, dims: dict[str, Interval]) -> Interval | None:
    if isinstance(d, int):
        return Interval.point(d)
    name = getattr(d, "value", None)
    return dims.get(name) if name is not None else None


def _onnx_counts(v: ir.Value | None, depth: int = 0) -> set[Any]:
    """Dims (ints or symbolic names) whose positions ``v`` counts: ``0 <= v < dim`` elementwise."""
    node = v.producer() if v is not None else None
    if node is None or node.domain not in _DOMAINS or depth > 32:
        return set()
    op = node.op_type
    if op in ("Unsqueeze", "Squeeze", "Reshape", "Expand", "Identity", "Flatten", "Transpose", "Tile", "Cast"):
        return _onnx_counts(node.inputs[0], depth + 1)
    if op in ("Add", "Sub") and len(node.inputs) == 2 and _const_int(node.inputs[1]) == 0:
        return _onnx_counts(node.inputs[0], depth + 1)
    if op == "Range" and len(node.inputs) == 3 and _const_int(node.inputs[0]) == 0 and _const_int(node.inputs[2]) == 1:
        limit = node.inputs[1]
        read = _dim_read(limit)
        cast = limit.producer() if limit is not None else None
        if read is None and cast is not None and cast.op_type == "Cast":
            read = _dim_read(cast.inputs[0])
        key = _dim_key(read) if read is not None else _const_int(limit)
        return {key} if key is not None else set()
    if op in ("ArgMax", "ArgMin") or (op == "TopK" and v is node.outputs[1]):
        x = node.inputs[0]
        attr = node.attributes.get("axis")
        axis = int(attr.value) if attr is not None else (0 if op != "TopK" else -1)
        if x is None or x.shape is None or not -len(x.shape) <= axis < len(x.shape):
            return set()
        key = _dim_key(x.shape[axis])
        return {key} if key is not None else set()
    return set()


def _onnx_axis_check(idx: ir.Value | None, iv: Interval | None, d: Any, dims: dict[str, Interval],
                     negative: bool) -> tuple[bool, Interval | None]:
    """(inside, the axis sizes allowed) for one index against one data axis."""
    sizes = _dim_bounds(d, dims)
    if _dim_key(d) is not None and _dim_key(d) in _onnx_counts(idx):
        return True, sizes
    if iv is None or sizes is None or not iv.is_integral:
        return False, sizes
    n = int(sizes.lo)
    return (-n if negative else 0) <= iv.lo and iv.hi <= n - 1, sizes


def _onnx_lookups(analysis: OnnxAnalysis) -> list[tuple[ir.Node, ir.Value, list[_Part]]]:
    """(node, index value, [(part, data dim, data axis) …]) for every lookup of the main graph."""
    out: list[tuple[ir.Node, ir.Value, list[_Part]]] = []
    for node in analysis.model.graph:
        spec = _LOOKUPS.get(node.op_type) if node.domain in _DOMAINS else None
        if spec is None or len(node.inputs) < 2 or node.inputs[0] is None or node.inputs[1] is None:
            continue
        data, idx = node.inputs[0], node.inputs[1]
        if data.shape is None:
            out.append((node, idx, [(idx, None, -1)]))
            continue
        rank = len(data.shape)
        if node.op_type in ("GatherND", "ScatterND"):
            attr = node.attributes.get("batch_dims")
            b = int(attr.value) if attr is not None else 0
            concat = idx.producer()
            parts: list[_Part] = []
            if concat is not None and concat.op_type == "Concat" and concat.domain in _DOMAINS:
                ax = concat.attributes.get("axis")
                pieces = list(concat.inputs)
                last = [p.shape[-1] if p is not None and p.shape is not None and len(p.shape) else None for p in pieces]
                if ax is not None and ax.value in (-1, (len(idx.shape) - 1) if idx.shape is not None else -1) \
                        and all(x == 1 for x in last) and b + len(pieces) <= rank:
                    parts = [(p, data.shape[b + j], b + j) for j, p in enumerate(pieces)]
            if not parts:
                k = idx.shape[-1] if idx.shape is not None and len(idx.shape) else None
                axes = range(b, b + k) if isinstance(k, int) and b + k <= rank else range(b, rank)
                parts = [(idx, data.shape[a], a) for a in axes]
            out.append((node, idx, parts))
            continue
        attr = node.attributes.get("axis")
        axis = int(attr.value) if attr is not None else 0
        axis = axis + rank if axis < 0 else axis
        out.append((node, idx, [(idx, data.shape[axis] if 0 <= axis < rank else None, axis)]))
    return out


def _assumed_lookups(analysis: OnnxAnalysis | FxAnalysis) -> set[str]:
    return {lk for d in (getattr(analysis, "demands", None) or {}).values() for lk in d.lookups}


def onnx_index_findings(analysis: OnnxAnalysis) -> tuple[list[Finding], dict[str, int]]:
    """Findings for the lookups of the main graph whose index is not proved inside; counts by status."""
    dims = analysis.dims
    assumed = _assumed_lookups(analysis)
    counts = {"proved": 0, "assumed": 0, "unproved": 0}
    findings = []
    for node, idx, parts in _onnx_lookups(analysis):
        label = f"{node.op_type} {node.name or ''}".strip()
        if label in assumed:
            counts["assumed"] += 1
            continue
        bad = []
        for part, d, axis in parts:
            iv = analysis.interval(part) if part is not None else None
            inside, sizes = (False, None) if d is None else _onnx_axis_check(part, iv, d, dims, True)
            if not inside:
                bad.append((part, iv, sizes, axis))
        if not bad:
            counts["proved"] += 1
            continue
        counts["unproved"] += 1
        part, iv, sizes, axis = bad[0]
        table = (node.inputs[0].name if node.inputs[0] is not None else None) or "?"
        findings.append(_finding("onnx", index_finding_id(Layer.ONNX, str(node.name or idx.name)), idx, label, table, axis, iv,
                                 sizes, True, _onnx_shape(idx), _onnx_dtype(idx)))
    return findings, counts


def _onnx_shape(v: ir.Value) -> list[int | str] | None:
    if v.shape is None:
        return None
    return [d if isinstance(d, int) else (d.value or "?") for d in v.shape]


def _onnx_dtype(v: ir.Value) -> str:
    return v.dtype.name.lower() if v.dtype is not None else "?"


def _finding(layer: str, fid: FindingId, idx: ir.Value | torch.fx.Node, label: str, table: str, axis: int, iv: Interval | None,
             sizes: Interval | None, negative: bool, shape: list[int | str] | None, dtype: str) -> Finding:
    rows = "unknown" if sizes is None else (str(sizes.lo) if sizes.lo == sizes.hi else f"{sizes.lo}..{sizes.hi}")
    valid = "[-N, N)" if negative else "[0, N)"
    where_rng = "?" if iv is None else str(iv)
    f = Finding(
        id=fid, layer=Layer(layer), tensor=str(getattr(idx, "name", idx)), dtype=dtype, shape=shape,
        where=label, role=Role.INTERMEDIATE, producer=None, consumers=[label.replace(" ", ":", 1)], interval=iv,
        kind=Kind.INDEX_UNPROVED,
        notes=[f"{label} reads {table} along axis {axis} ({rows} rows): index range {where_rng} not proved "
               f"inside {valid}"],
    )
    f.index = {"op": label.split(" ", 1)[0], "node": label.split(" ", 1)[-1], "table": table, "axis": axis,
               "rows": sizes.to_json() if sizes is not None else None, "negative_allowed": negative}
    return f


# --- torch.export -------------------------------------------------------------------------------------
def _fx_counts(node: torch.fx.node.Argument, depth: int = 0) -> set[str]:
    """Size expressions (as text) whose positions node ``node`` counts."""
    import torch.fx

    if not isinstance(node, torch.fx.Node) or node.op != "call_function" or depth > 32:
        return set()
    n = node
    key = str(n.target)
    moves = ("aten.view.", "aten.reshape.", "aten.unsqueeze.", "aten.squeeze.", "aten.expand.", "aten._to_copy.",
             "aten.to.", "aten.clone.", "aten.alias.", "aten.contiguous.", "aten.permute.", "aten.flatten.",
             "aten.slice.", "aten.select.")
    if key.startswith(moves):
        return _fx_counts(n.args[0], depth + 1)
    if key in ("aten.add.Tensor", "aten.add.Scalar", "aten.sub.Tensor", "aten.sub.Scalar") and n.args[1] == 0:
        return _fx_counts(n.args[0], depth + 1)  # an offset of 0 (a cache length of 0)
    if key == "aten.arange.default" or (key == "aten.arange.start" and n.args[0] == 0):
        end = n.args[0] if key == "aten.arange.default" else n.args[1]
        val = end.meta.get("val") if isinstance(end, torch.fx.Node) else end
        return {str(val)}
    if key in ("aten.argmax.default", "aten.argmin.default"):
        dim = n.args[1] if len(n.args) > 1 else n.kwargs.get("dim")
        x = n.args[0]  # the argmax's input: a tensor, so a node
        shape = getattr(x.meta.get("val"), "shape", None) if isinstance(x, torch.fx.Node) else None
        return {str(shape[dim])} if shape is not None and dim is not None else set()
    return set()


def fx_index_findings(analysis: FxAnalysis) -> tuple[list[Finding], dict[str, int]]:
    """As :func:`onnx_index_findings`, for aten.embedding/index_select/gather/index of a program."""
    import torch.fx

    ep = analysis.program
    ranges = ep.range_constraints
    assumed = _assumed_lookups(analysis)
    sig = ep.graph_signature
    names = {**sig.inputs_to_parameters, **sig.inputs_to_buffers}
    counts = {"proved": 0, "assumed": 0, "unproved": 0}
    findings = []
    for n in ep.graph.nodes:
        key = str(n.target)
        # (index node, data node, axis, negatives allowed): the call's arguments, nodes when they are tensors
        checks: list[tuple[torch.fx.node.Argument, torch.fx.node.Argument, int, bool]] = []
        if key == "aten.embedding.default" and len(n.args) > 1:
            checks = [(n.args[1], n.args[0], 0, False)]
        elif key in ("aten.index_select.default", "aten.gather.default") and len(n.args) > 2:
            checks = [(n.args[2], n.args[0], int(n.args[1]), False)]
        elif key == "aten.index.Tensor" and len(n.args) > 1:
            checks = [(i, n.args[0], k, True) for k, i in enumerate(n.args[1]) if i is not None]
        if not checks:
            continue
        label = f"{key.rsplit('.', 1)[0]} {n.name}"
        if label in assumed:
            counts["assumed"] += 1
            continue
        bad: list[tuple[torch.fx.Node, torch.fx.Node, int, bool, Interval | None]] = []
        for idx, data, axis, negative in checks:
            if not isinstance(idx, torch.fx.Node) or not isinstance(data, torch.fx.Node):
                continue
            shape = getattr(data.meta.get("val"), "shape", None)
            if shape is None or not -len(shape) <= axis < len(shape):
                bad.append((idx, data, axis, negative, None))
                continue
            size = shape[axis]
            sizes = sym_bounds(size, ranges)
            if str(size) in _fx_counts(idx):
                continue
            iv = analysis.interval(idx)
            if iv is not None and sizes is not None and iv.is_integral and \
                    (-int(sizes.lo) if negative else 0) <= iv.lo and iv.hi <= int(sizes.lo) - 1:
                continue
            bad.append((idx, data, axis, negative, sizes))
        if not bad:
            counts["proved"] += 1
            continue
        counts["unproved"] += 1
        idx, data, axis, negative, sizes = bad[0]
        val = idx.meta.get("val")
        dtype = str(getattr(val, "dtype", "?")).removeprefix("torch.")
        shape_ = [int(s) if isinstance(s, int) else str(s) for s in getattr(val, "shape", [])] if val is not None else None
        findings.append(_finding("fx", index_finding_id(Layer.FX, n.name), idx, label, str(names.get(data.name, data.name)), axis,
                                 analysis.interval(idx), sizes, negative, shape_, dtype))
    return findings, counts


def index_summary(counts: dict[str, int]) -> str:
    """One line for the report's notes."""
    total = sum(counts.values())
    return (f"{total} table lookup(s): {counts['proved']} index range(s) proved inside, {counts['assumed']} inside "
            f"for valid inputs (assumed), {counts['unproved']} not proved (index_unproved)")

