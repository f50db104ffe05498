"""Which INT64 values of an ONNX graph can become INT32, in groups that must change together.

ONNX ties the dtypes of a node's inputs and outputs through type parameters (``Add``'s ``T``), so
values are narrowed in *groups*: the values joined by shared type parameters that accept int32.
Slots whose schema allows only ``tensor(int64)`` cut groups: an int64-only input becomes a *sink*
(a Cast back to int64 goes right before it) and an always-int64 output a *source* (a Cast down goes
right after it, only when its group is narrowed). A group is narrowed when every value in it is
proved to fit int32, none of it feeds an int64-only slot (that would be shape math cast back —
no win, DESIGN.md), and the Casts it needs do not outnumber the values it narrows.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from trtready.intervals import Interval
from trtready.intervals.onnx import AbsValue
from trtready.plan import PlanOptions

INT32, INT64 = "tensor(int32)", "tensor(int64)"
# Ops whose output dtype is set by an attribute this planner knows how to retarget.
RETARGETABLE = {"Cast", "Constant", "ConstantOfShape"}


@functools.lru_cache(maxsize=4096)
def _slot_params(op_type: str, domain: str, opset: int) -> tuple[list[tuple[str, frozenset[str]]], list[tuple[str, frozenset[str]]], bool, bool] | None:
    import onnx.defs

    try:
        schema = onnx.defs.get_schema(op_type, opset, domain)
    except Exception:
        return None
    constraints = {c.type_param_str: frozenset(c.allowed_type_strs) for c in schema.type_constraints}

    def params(formal: Any) -> list[tuple[str, frozenset[str]]]:
        return [(p.type_str, constraints.get(p.type_str, frozenset({p.type_str}))) for p in formal]

    variadic = onnx.defs.OpSchema.FormalParameterOption.Variadic
    return (
        params(schema.inputs),
        params(schema.outputs),
        bool(schema.inputs) and schema.inputs[-1].option == variadic,
        bool(schema.outputs) and schema.outputs[-1].option == variadic,
    )


def _param(params: list[tuple[str, frozenset[str]]], variadic: bool, idx: int) -> tuple[str, frozenset[str]] | None:
    if idx < len(params):
        return params[idx]
    return params[-1] if variadic and params else None


@dataclass
class Group:
    """Values that must share one integer dtype."""

    values: list[Any] = field(default_factory=list)
    sources: list[Any] = field(default_factory=list)  # int64 by spec or graph inputs: Cast down after
    sinks: list[tuple[Any, int]] = field(default_factory=list)  # (node, input index) int64-only uses
    outputs: list[Any] = field(default_factory=list)  # graph outputs kept int64: Cast back before
    consts: list[tuple[Any, int, Any]] = field(default_factory=list)  # (node, idx, constant) read in-group
    blockers: list[str] = field(default_factory=list)  # why it cannot be narrowed at all
    narrow: bool = False
    reason: str = ""
    unproved: tuple[str, str, Interval | None] | None = None  # (tensor, producer, interval)

    @property
    def casts_needed(self) -> int:
        return len(self.sources) + len(self.sinks) + len(self.outputs)

    @property
    def benefit(self) -> int:
        """Values that stop being INT64 at run time (sources stay int64 and get a Cast)."""
        fixed = {id(v) for v in self.sources}
        return sum(1 for v in self.values if id(v) not in fixed)


def is_constant(v: Any) -> bool:
    """An initializer that is not a graph input, or a Constant node's output.

    Constants are not group members: each narrowed use gets an int32 copy, so one constant shared
    by a narrowed slot and an int64-only slot is split instead of tying the two together.
    """
    if v.is_graph_input():
        return False
    if v.is_initializer():
        return v.const_value is not None
    p = v.producer()
    return p is not None and p.op_type == "Constant" and p.domain in ("", "ai.onnx") and not p.inputs


def clamp_exact_use(node: Any, idx: int) -> bool:
    """Slice starts/ends: a bound beyond int32 (INT64_MAX as "to the end") clamps exactly."""
    return node.op_type == "Slice" and node.domain in ("", "ai.onnx") and idx in (1, 2)


@dataclass
class OnnxPlan:
    groups: list[Group]
    by_value: dict[int, Group]
    doubles: list[Any]

    @property
    def narrowed(self) -> list[Any]:
        return [v for g in self.groups if g.narrow for v in g.values]

    def group_of(self, value: Any) -> Group | None:
        return self.by_value.get(id(value))


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, x: int) -> int:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[ra] = rb


def _is_int64(v: Any) -> bool:
    import onnx_ir as ir

    return v is not None and v.dtype == ir.DataType.INT64


def plan_onnx(model: Any, env: dict[int, AbsValue | None], options: PlanOptions = PlanOptions()) -> OnnxPlan:
    """Group the main graph's INT64 values and decide each group (nothing is edited here)."""
    import onnx_ir as ir

    graph = model.graph
    opsets = dict(model.opset_imports)
    uf = _UnionFind()
    values: dict[int, Any] = {}
    source_ids: set[int] = set()
    sinks: list[tuple[Any, Any, int]] = []  # (value, node, idx)
    blockers: dict[int, list[str]] = {}

    def note(v: Any) -> None:
        values.setdefault(id(v), v)
        uf.find(id(v))

    inputs = {id(v) for v in graph.inputs}
    for v in graph.inputs:
        if _is_int64(v):
            note(v)
            if not options.io_int32:
                source_ids.add(id(v))
    const_uses: list[tuple[int, Any, int, Any]] = []  # (rep id, node, idx, constant)
    for node in graph:
        if node.op_type == "Constant" and node.domain in ("", "ai.onnx"):
            continue
        slots = _slot_params(node.op_type, node.domain or "", opsets.get(node.domain or "", 1))
        reps: dict[str, int] = {}
        pending: list[tuple[str, int, Any]] = []
        outer = any(
            attr.type in (ir.AttributeType.GRAPH, ir.AttributeType.GRAPHS) for attr in node.attributes.values()
        )
        for kind, seq in (("in", node.inputs), ("out", node.outputs)):
            for idx, v in enumerate(seq):
                if not _is_int64(v):
                    continue
                param = None
                if slots is not None:
                    params, var = (slots[0], slots[2]) if kind == "in" else (slots[1], slots[3])
                    param = _param(params, var, idx)
                dtype_attr = kind == "out" and ("dtype" in node.attributes or "to" in node.attributes)
                retargetable = node.op_type in RETARGETABLE and node.domain in ("", "ai.onnx")
                linkable = param is not None and INT32 in param[1] and (not dtype_attr or retargetable)
                if kind == "in" and is_constant(v):
                    if linkable and not outer:
                        pending.append((param[0], idx, v))  # type: ignore[index]
                    continue
                note(v)
                if outer:
                    blockers.setdefault(id(v), []).append(f"used by {node.op_type} with a subgraph: not narrowed")
                elif linkable:
                    key = param[0]  # type: ignore[index]
                    if key in reps:
                        uf.union(id(v), reps[key])
                    else:
                        reps[key] = id(v)
                elif kind == "in":
                    sinks.append((v, node, idx))
                else:
                    source_ids.add(id(v))
        for key, idx, c in pending:
            if key in reps:
                const_uses.append((reps[key], node, idx, c))
    groups: dict[int, Group] = {}
    for vid, v in values.items():
        g = groups.setdefault(uf.find(vid), Group())
        g.values.append(v)
        if vid in source_ids:
            g.sources.append(v)
        g.blockers.extend(blockers.get(vid, []))
    for v, node, idx in sinks:
        groups[uf.find(id(v))].sinks.append((node, idx))
    for rep, node, idx, c in const_uses:
        groups[uf.find(rep)].consts.append((node, idx, c))
    outputs = {id(v) for v in graph.outputs}
    for vid, v in values.items():
        if vid in outputs and not options.io_int32:
            groups[uf.find(vid)].outputs.append(v)
    by_value = {vid: groups[uf.find(vid)] for vid in values}
    for g in groups.values():
        _decide(g, env, options)
    doubles = [v for v in _all_values(graph) if v.dtype == ir.DataType.DOUBLE]
    return OnnxPlan(list(groups.values()), by_value, doubles)


def _all_values(graph: Any) -> list[Any]:
    out = list(graph.inputs) + list(graph.initializers.values())
    for node in graph:
        out.extend(v for v in node.outputs)
    seen: set[int] = set()
    return [v for v in out if not (id(v) in seen or seen.add(id(v)))]  # type: ignore[func-returns-value]


def _producer(v: Any) -> str:
    p = v.producer()
    if p is not None:
        return f"{p.op_type} {p.name or ''}".strip()
    return "graph input" if v.is_graph_input() else "initializer"


def _decide(g: Group, env: dict[int, AbsValue | None], options: PlanOptions) -> None:
    for v in g.values:
        av = env.get(id(v))
        if av is None or not av.hull.fits_int32():
            g.unproved = (v.name, _producer(v), av.hull if av is not None else None)
            break
    else:
        for node, idx, c in g.consts:
            av = env.get(id(c))
            if av is None or (not av.hull.fits_int32() and not clamp_exact_use(node, idx)):
                g.unproved = (c.name, _producer(c), av.hull if av is not None else None)
                break
    if g.blockers:
        g.reason = g.blockers[0]
    elif g.unproved is not None:
        name, prod, iv = g.unproved
        g.reason = (
            f"range of {name} ({prod}) not proved" if iv is None
            else f"{name} ({prod}) reaches {iv.worst_int32_violation()}, outside int32"
        )
    elif g.sinks:
        node, idx = g.sinks[0]
        g.reason = f"feeds {node.op_type} input {idx}, int64-only by the ONNX spec (shape math stays int64)"
    elif g.benefit == 0:
        g.reason = "nothing to gain: only graph I/O or values int64 by the ONNX spec"
    elif g.casts_needed > g.benefit:
        g.reason = f"would need {g.casts_needed} Casts to narrow {g.benefit} value(s)"
    else:
        g.narrow = True
        hull = Interval.hull([env[id(v)].hull for v in g.values])  # type: ignore[union-attr]
        extra = f"; {g.casts_needed} Cast(s) at int64 boundaries" if g.casts_needed else ""
        g.reason = f"values {hull} fit int32{extra}"
