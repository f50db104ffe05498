"""ONNX graph audit: every INT64/DOUBLE initializer, graph input/output and intermediate value."""

from __future__ import annotations

from typing import TYPE_CHECKING

from trtready.analysis import OnnxAnalysis
from trtready.audit.findings import Finding, Layer, Role, mark_assumed
from trtready.audit.fx import user_frame
from trtready.finding_ids import tensor_finding_id
from trtready.intervals import float32_facts
from trtready.intervals.onnx import AbsValue
from trtready.onnx_slots import input_requires_int64, output_requires_int64

if TYPE_CHECKING:
    import onnx_ir as ir

_DTYPES = {"INT64": "int64", "DOUBLE": "float64", "UINT64": "uint64"}
_STACK_KEYS = ("pkg.torch.onnx.stack_trace", "stack_trace")


def _index_may_exceed_int32(user: ir.Node) -> bool:
    """``user`` is a Gather whose data is not INT64 and whose axis is not statically within int32: a
    valid index there may not fit int32 (on a shorter axis every valid one does; an invalid one is an
    index finding of its own)."""
    data = user.inputs[0]
    if user.op_type != "Gather" or user.domain not in ("", "ai.onnx") or data is None:
        return False
    if data.dtype is not None and data.dtype.name == "INT64":
        return False
    axis_attr = user.attributes.get("axis")
    axis = axis_attr.as_int() if axis_attr is not None else 0
    dims = list(data.shape) if data.shape is not None else None
    if dims is None or not -len(dims) <= axis < len(dims):
        return True
    dim = dims[axis]
    return not (isinstance(dim, int) and dim <= 2**31)


def _onnx_dtype(value: ir.Value) -> str | None:
    dt = value.dtype
    return _DTYPES.get(dt.name) if dt is not None else None


def _shape(value: ir.Value) -> list[int | str] | None:
    if value.shape is None:
        return None
    return [d if isinstance(d, int) else (d.value or "?") for d in value.shape]


def _node_label(node: ir.Node) -> str:
    return f"{node.op_type}:{node.name or '?'}"


def _source(node: ir.Node) -> str | None:
    for key in _STACK_KEYS:
        trace = node.metadata_props.get(key)
        if trace:
            return user_frame(trace)
    return None


def audit_onnx(analysis: OnnxAnalysis) -> list[Finding]:
    """Findings for every 64-bit value in every scope: main graph, subgraphs, model-local functions."""
    model = analysis.model
    opsets = dict(model.opset_imports)
    findings: list[Finding] = []
    seen: set[ir.Value] = set()
    scopes: list[ir.Graph | ir.Function] = [*model.graphs(), *model.functions.values()]
    for graph in scopes:
        scope = "" if graph is model.graph else f"{getattr(graph, 'name', '') or 'subgraph'}/"
        inputs, outputs = set(graph.inputs), set(graph.outputs)
        in_order: list[ir.Value] = list(getattr(graph, "initializers", {}).values())  # the file's order, not a set's
        initializers = set(in_order)
        values = list(graph.inputs) + in_order
        for node in graph:
            values.extend(node.outputs)
        for v in values:
            if v in seen:
                continue
            seen.add(v)
            dtype = _onnx_dtype(v)
            if dtype is None:
                continue
            findings.append(_finding(v, dtype, scope, opsets, analysis.values, inputs, outputs, initializers))
    mark_assumed(findings, analysis, Layer.ONNX)
    return findings


def _finding(
    v: ir.Value,
    dtype: str,
    scope: str,
    opsets: dict[str, int],
    env: dict[ir.Value, AbsValue | None],
    inputs: set[ir.Value],
    outputs: set[ir.Value],
    initializers: set[ir.Value],
) -> Finding:
    node = v.producer()
    notes: list[str] = []
    spec = False
    if node is not None:
        idx = list(node.outputs).index(v)
        if output_requires_int64(node.op_type, node.domain, opsets.get(node.domain or "", 1), idx):
            spec = True
            notes.append(f"{node.op_type} output {idx} is int64 by the ONNX spec")
    consumers = []
    index_of_narrow_data = []
    uses = list(v.uses())
    for use in uses:
        user, idx = use.node, use.idx
        consumers.append(_node_label(user))
        if idx == 1 and _index_may_exceed_int32(user):
            index_of_narrow_data.append(_node_label(user))
        if input_requires_int64(user.op_type, user.domain, opsets.get(user.domain or "", 1), idx):
            spec = True
            notes.append(f"feeds {user.op_type} input {idx}, int64-only by the ONNX spec")
    if v in outputs:
        consumers.append("output")
    if v in inputs:
        role, where = Role.INPUT, "graph input"
    elif v in initializers:
        role, where = Role.INITIALIZER, "initializer"
    elif node is not None and node.op_type == "Constant":
        role, where = Role.CONSTANT, f"Constant {node.name or ''}".strip()
    else:
        role = Role.OUTPUT if v in outputs else Role.INTERMEDIATE
        where = f"{node.op_type} {node.name or ''}".strip() if node is not None else "?"
    source = _source(node) if node is not None else None
    av = env.get(v)
    f = Finding(
        id=tensor_finding_id(Layer.ONNX, f"{scope}{v.name}"),
        layer=Layer.ONNX,
        tensor=f"{scope}{v.name}",
        dtype=dtype,
        shape=_shape(v),
        where=f"{scope}{where}",
        role=role,
        producer=node.op_type if node is not None else None,
        consumers=consumers,
        index_of_narrow_data=index_of_narrow_data,
        interval=av.hull if av is not None else None,
        spec_int64=spec,
        source=source,
        notes=notes,
        clamp_exact=bool(uses) and v not in outputs and all(
            u.node.op_type == "Slice" and u.idx in (1, 2) for u in uses
        ),
    )
    if f.interval is not None:
        if dtype in ("int64", "uint64"):
            f.fits["int32"] = f.interval.fits_int32()
    if dtype == "float64" and v.const_value is not None:
        try:
            values = v.const_value.numpy()
        except Exception:  # unreadable external data: exactness stays unknown
            values = None
        if values is not None:
            f.interval, f.fits["float32"], more = float32_facts(values)
            f.notes.extend(more)
    return f
