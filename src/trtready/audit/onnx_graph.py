"""ONNX graph audit: every INT64/DOUBLE initializer, graph input/output and intermediate value."""

from __future__ import annotations

from typing import Any

from trtready.audit.findings import Finding, Layer, Role
from trtready.audit.spec_slots import input_is_int64_only, output_is_int64_only
from trtready.bounds import DimBound
from trtready.intervals import Interval
from trtready.intervals.onnx import AbsValue, propagate

_DTYPES = {"INT64": "int64", "DOUBLE": "float64", "UINT64": "uint64"}
_STACK_KEYS = ("pkg.torch.onnx.stack_trace", "stack_trace")


def infer_shapes(model: Any) -> None:
    """Annotate value types/shapes in place (once per model; see :func:`trtready.load.onnx_file.infer_shapes`)."""
    from trtready.load.onnx_file import infer_shapes as infer

    infer(model)


def dim_bounds(model: Any, bounds: list[DimBound]) -> dict[str, Interval]:
    """Map the graph inputs' symbolic dim names to the ``--dynamic`` bounds given for them."""
    by_name = {v.name: v for v in model.graph.inputs}
    dims: dict[str, Interval] = {}
    for b in bounds:
        v = by_name.get(b.input)
        if v is None or v.shape is None or b.axis >= len(v.shape):
            continue
        d = v.shape[b.axis]
        if not isinstance(d, int) and getattr(d, "value", None):
            dims[d.value] = b.interval
    return dims


def _onnx_dtype(value: Any) -> str | None:
    dt = value.dtype
    return _DTYPES.get(dt.name) if dt is not None else None


def _shape(value: Any) -> list[int | str] | None:
    if value.shape is None:
        return None
    return [d if isinstance(d, int) else (d.value or "?") for d in value.shape]


def _node_label(node: Any) -> str:
    return f"{node.op_type}:{node.name or '?'}"


def _source(node: Any) -> str | None:
    from trtready.audit.fx import user_frame

    for key in _STACK_KEYS:
        trace = node.metadata_props.get(key)
        if trace:
            return user_frame(trace)
    return None


def _iter_graphs(model: Any) -> list[Any]:
    import onnx_ir as ir

    graphs = [model.graph]
    for node in ir.traversal.RecursiveGraphIterator(model.graph):
        for attr in node.attributes.values():
            if attr.type == ir.AttributeType.GRAPH:
                graphs.append(attr.value)
            elif attr.type == ir.AttributeType.GRAPHS:
                graphs.extend(attr.value)
    graphs.extend(model.functions.values())
    return graphs


def audit_onnx(model: Any, input_ranges: dict[str, Interval] | None = None, bounds: list[DimBound] | None = None) -> list[Finding]:
    """Findings for every 64-bit value in every scope (main graph, subgraphs, functions)."""
    from trtready.intervals.roles import onnx_input_roles, ranges_from_roles

    infer_shapes(model)
    opsets = dict(model.opset_imports)
    ranges = ranges_from_roles(onnx_input_roles(model.graph), input_ranges)
    env = propagate(model.graph, ranges, dim_bounds(model, bounds or []))
    findings: list[Finding] = []
    seen: set[int] = set()
    for graph in _iter_graphs(model):
        scope = "" if graph is model.graph else f"{getattr(graph, 'name', '') or 'subgraph'}/"
        inputs = {id(v) for v in graph.inputs}
        outputs = {id(v) for v in graph.outputs}
        initializers = {id(v) for v in getattr(graph, "initializers", {}).values()}
        values = list(graph.inputs) + list(getattr(graph, "initializers", {}).values())
        for node in graph:
            values.extend(node.outputs)
        for v in values:
            if id(v) in seen:
                continue
            seen.add(id(v))
            dtype = _onnx_dtype(v)
            if dtype is None:
                continue
            findings.append(_finding(v, dtype, scope, opsets, env, inputs, outputs, initializers))
    return findings


def _finding(
    v: Any,
    dtype: str,
    scope: str,
    opsets: dict[str, int],
    env: dict[int, AbsValue | None],
    inputs: set[int],
    outputs: set[int],
    initializers: set[int],
) -> Finding:
    node = v.producer()
    notes: list[str] = []
    spec = False
    if node is not None:
        idx = list(node.outputs).index(v)
        if output_is_int64_only(node.op_type, node.domain, opsets.get(node.domain or "", 1), idx):
            spec = True
            notes.append(f"{node.op_type} output {idx} is int64 by the ONNX spec")
    consumers = []
    uses = list(v.uses())
    for use in uses:
        user, idx = use.node, use.idx
        consumers.append(_node_label(user))
        if input_is_int64_only(user.op_type, user.domain, opsets.get(user.domain or "", 1), idx):
            spec = True
            notes.append(f"feeds {user.op_type} input {idx}, int64-only by the ONNX spec")
    if id(v) in outputs:
        consumers.append("output")
    if id(v) in inputs:
        role, where = Role.INPUT, "graph input"
    elif id(v) in initializers:
        role, where = Role.INITIALIZER, "initializer"
    elif node is not None and node.op_type == "Constant":
        role, where = Role.CONSTANT, f"Constant {node.name or ''}".strip()
    else:
        role = Role.OUTPUT if id(v) in outputs else Role.INTERMEDIATE
        where = f"{node.op_type} {node.name or ''}".strip() if node is not None else "?"
    source = _source(node) if node is not None else None
    av = env.get(id(v))
    f = Finding(
        id=f"onnx:{scope}{v.name}",
        layer=Layer.ONNX,
        tensor=f"{scope}{v.name}",
        dtype=dtype,
        shape=_shape(v),
        where=f"{scope}{where}",
        role=role,
        producer=node.op_type if node is not None else None,
        consumers=consumers,
        interval=av.hull if av is not None else None,
        spec_int64=spec,
        source=source,
        notes=notes,
        clamp_exact=bool(uses) and id(v) not in outputs and all(
            u.node.op_type == "Slice" and u.idx in (1, 2) for u in uses
        ),
    )
    if f.interval is not None:
        if dtype in ("int64", "uint64"):
            f.fits["int32"] = f.interval.fits_int32()
    if dtype == "float64" and v.const_value is not None:
        from trtready.intervals import float32_facts

        try:
            values = v.const_value.numpy()
        except Exception:  # unreadable external data: exactness stays unknown
            values = None
        if values is not None:
            f.interval, f.fits["float32"], more = float32_facts(values)
            f.notes.extend(more)
    return f
