"""The plugin boundary: nodes of custom ONNX domains and the dtype of every tensor crossing them.

TensorRT's ONNX parser hands a node of a domain it does not import to a plugin registered under the
node's op type (the fallback plugin importer). ONNX has no schema for such a node, so nothing can say
which types the plugin takes: a plugin written for INT32 — every plugin older than TensorRT 9, which
had no INT64 — fails to build behind an INT64 tensor, and on TensorRT 8 the parser clamps the value
to INT32 before the plugin sees it. Each such node gets one finding listing every tensor that enters
or leaves it with its dtype (and interval), so the boundary is visible before a build.

Not plugins: the ONNX domains (``""``, ``ai.onnx``, ``ai.onnx.ml``), ONNX Runtime's contrib domain
``com.microsoft`` (ONNX Runtime kernels, not TensorRT plugins; its ops are judged, like any op
TensorRT lacks, by the build) and model-local functions (the parser inlines them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from trtready.analysis import OnnxAnalysis
from trtready.audit.findings import Finding, Kind, Layer, Role
from trtready.finding_ids import plugin_finding_id
from trtready.intervals import Interval
from trtready.intervals.onnx import AbsValue

if TYPE_CHECKING:
    import onnx_ir as ir

STANDARD_DOMAINS = frozenset({"", "ai.onnx", "ai.onnx.ml", "com.microsoft"})
# Ops whose operands TensorRT needs in one type: an INT32 beside an INT64 fails to build (mmdeploy#2758).
SAME_TYPE_OPS = frozenset({"Add", "Sub", "Mul", "Div", "Mod", "Pow", "Min", "Max", "Sum", "Mean", "Equal", "Less",
                           "LessOrEqual", "Greater", "GreaterOrEqual", "BitShift", "BitwiseAnd", "BitwiseOr",
                           "BitwiseXor", "Where", "Concat"})


def is_plugin(node: ir.Node, functions: set[tuple[str, str, str]]) -> bool:
    domain = node.domain or ""
    return domain not in STANDARD_DOMAINS and (domain, node.op_type, node.overload or "") not in functions


def _crossing(slot: int, v: ir.Value, env: dict[ir.Value, AbsValue | None]) -> dict[str, Any]:
    dtype = v.dtype.name.lower() if v.dtype is not None else "unknown"
    av = env.get(v)
    iv: Interval | None = av.hull if av is not None else None
    return {"slot": slot, "name": v.name or "?", "dtype": dtype, "interval": iv.to_json() if iv is not None else None,
            "fits_int32": iv.fits_int32() if iv is not None and dtype == "int64" else None}


def _mixed_pairs(node: ir.Node) -> list[dict[str, str]]:
    """The plugin's int64 (or untyped) outputs that meet an int64 tensor in a same-type op: a plugin that
    emits INT32 there (every plugin older than TensorRT 9) makes that op mix INT32 and INT64."""
    out = []
    for v in node.outputs:
        # an untyped output (no value_info for a custom op) is int64 where a same-type op pairs it with int64
        if v.dtype is not None and v.dtype.name != "INT64":
            continue
        for use in v.uses():
            user = use.node
            if user.domain not in ("", "ai.onnx") or user.op_type not in SAME_TYPE_OPS:
                continue
            others = [o for o in user.inputs if o is not None and o is not v and o.dtype is not None
                      and o.dtype.name == "INT64" and o.producer() is not node]
            if others:
                out.append({"output": v.name or "?", "node": f"{user.op_type}:{user.name or '?'}",
                            "other": others[0].name or "?"})
    return out


def plugin_findings(analysis: OnnxAnalysis) -> list[Finding]:
    """One ``plugin_boundary`` finding per plugin node, in every scope."""
    model = analysis.model
    functions = {(f.domain, f.name, f.overload or "") for f in model.functions.values()}
    env = analysis.values
    out: list[Finding] = []
    for graph in list(model.graphs()) + list(model.functions.values()):
        scope = "" if graph is model.graph else f"{getattr(graph, 'name', '') or 'subgraph'}/"
        for node in graph:
            if not is_plugin(node, functions):
                continue
            ins = [_crossing(i, v, env) for i, v in enumerate(node.inputs) if v is not None]
            outs = [_crossing(i, v, env) for i, v in enumerate(node.outputs)]
            wide = [c for c in ins if c["dtype"] == "int64"]
            known = []
            for v in node.inputs:
                av = env.get(v) if v is not None and v.dtype is not None and v.dtype.name == "INT64" else None
                if av is not None and av.hull is not None:
                    known.append(av.hull)
            # the values entering as int64, when every one of them is bounded
            hull = Interval.hull(known) if wide and len(known) == len(wide) else None
            label = f"{node.domain}::{node.op_type}"
            name = f"{scope}{node.name or label}"
            crossing = ("in: " + ", ".join(f"{c['name']} {c['dtype']}" for c in ins)
                        + "; out: " + ", ".join(f"{c['name']} {c['dtype']}" for c in outs))
            f = Finding(
                id=plugin_finding_id(name), layer=Layer.ONNX, tensor=name,
                dtype="int64" if wide else (ins[0]["dtype"] if ins else "unknown"), shape=None,
                where=f"{scope}{label} {node.name or ''}".strip() + f" ({crossing})", role=Role.INTERMEDIATE, producer=label,
                consumers=[f"{label}:{node.name or '?'}"], interval=hull,
                kind=Kind.PLUGIN_BOUNDARY,
                plugin={"domain": node.domain, "op": node.op_type, "inputs": ins, "outputs": outs,
                        "mixed": _mixed_pairs(node)},
            )
            f.notes.append(f"plugin boundary, {crossing}")
            if f.interval is not None:
                f.fits["int32"] = f.interval.fits_int32()
            out.append(f)
    return out
