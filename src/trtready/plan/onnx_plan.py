"""Which INT64 values of an ONNX graph become INT32: a partition into an int64 and an int32 region.

ONNX ties dtypes inside a node through type parameters (``Add``'s ``T``): the slots of one node
bound to one parameter form a *link set* that is computed in one dtype. The planner seeds the int64
region with every value that must stay int64 —

- feeds a slot whose schema allows only ``tensor(int64)`` (Reshape.shape, Unsqueeze.axes, …),
- comes from an always-int64 output (Shape, ArgMax, NonZero …) or is a graph input/output kept at
  its dtype,
- is not proved to fit int32 (interval analysis), or sits next to a subgraph —

and closes it: a link set with an int64 output computes in int64 (its linked inputs join), and a
link set reading an int64 value that does not fit int32 computes in int64 (its outputs join).
Everything else may be int32. Where an int32 link set reads an int64 value (which then fits int32,
by the closure) a Cast is inserted; constants it reads get an int32 copy, so one constant shared
with an int64-only slot is split rather than tying the two together. Each connected int32 component
is kept only if it narrows more values than the Casts it needs (DESIGN.md: casting shape
math down and back is not a win).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from trtready.intervals.onnx import AbsValue
from trtready.plan import PlanOptions

INT32 = "tensor(int32)"
# Ops whose output dtype comes from an attribute this planner knows how to retarget.
RETARGETABLE = {"Cast", "ConstantOfShape"}


@functools.lru_cache(maxsize=4096)
def _slot_params(op_type: str, domain: str, opset: int) -> tuple[Any, Any, bool, bool] | None:
    import onnx.defs

    try:
        schema = onnx.defs.get_schema(op_type, opset, domain)
    except Exception:  # unknown op/domain: every int64 slot is treated as fixed
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


WIDTH_TIED = {"BitCast"}  # reinterpret bits: both sides keep their width


def _untyped_params(node: Any, slots: Any) -> set[str]:
    """Type parameters of ``node`` bound to some value whose dtype is unknown (narrowing the others
    would make the node's operands disagree)."""
    if slots is None:
        return set()
    out = set()
    for seq, params, var in ((node.inputs, slots[0], slots[2]), (node.outputs, slots[1], slots[3])):
        for idx, v in enumerate(seq):
            if v is None or v.dtype is not None:
                continue
            param = _param(params, var, idx)
            if param is not None:
                out.add(param[0])
    return out


def _param(params: list[tuple[str, frozenset[str]]], variadic: bool, idx: int) -> tuple[str, frozenset[str]] | None:
    if idx < len(params):
        return params[idx]
    return params[-1] if variadic and params else None


def is_constant(v: Any) -> bool:
    """An initializer that is not a graph input, or a Constant node's output."""
    if v.is_graph_input():
        return False
    if v.is_initializer():
        return v.const_value is not None
    p = v.producer()
    return p is not None and p.op_type == "Constant" and p.domain in ("", "ai.onnx")


def clamp_exact_use(node: Any, idx: int) -> bool:
    """Slice starts/ends: a bound beyond int32 (INT64_MAX as "to the end") clamps exactly."""
    return node.op_type == "Slice" and node.domain in ("", "ai.onnx") and idx in (1, 2)


@dataclass(eq=False)
class LinkSet:
    """The int64 slots of one node bound to one type parameter: computed in one dtype."""

    node: Any
    ins: list[tuple[int, Any]] = field(default_factory=list)  # (input index, value)
    outs: list[Any] = field(default_factory=list)
    consts: list[tuple[int, Any]] = field(default_factory=list)  # (input index, constant)


@dataclass
class Component:
    """A connected set of values that become int32 together (or stay int64 together)."""

    values: list[Any]
    links: list[LinkSet]
    casts: list[Any]  # int64 values this component reads: one Cast each
    narrow: bool = False
    reason: str = ""


@dataclass
class OnnxPlan:
    """The partition, with a reason for every int64 value kept, and the DOUBLE values to narrow."""

    components: list[Component]
    kept: dict[int, str]  # id(value) -> why it stays int64
    values: dict[int, Any]  # id(value) -> every int64 value considered
    doubles: list[Any]  # DOUBLE values that become FLOAT (every scope)
    doubles_kept: dict[Any, str] = field(default_factory=dict)  # DOUBLE values that stay, with why
    _component_of: dict[int, Component] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self._component_of = {id(v): c for c in self.components for v in c.values}

    @property
    def narrowed_links(self) -> list[LinkSet]:
        return [ls for c in self.components if c.narrow for ls in c.links]

    @property
    def narrowed_values(self) -> list[Any]:
        return [v for c in self.components if c.narrow for v in c.values]

    def reason_for(self, value: Any) -> tuple[bool, str]:
        """``(narrowed, reason)`` for one value."""
        c = self._component_of.get(id(value))
        if c is not None:
            return c.narrow, c.reason
        return False, self.kept.get(id(value), "not an int64 value of the main graph")


def _is_int64(v: Any) -> bool:
    import onnx_ir as ir

    return v is not None and v.dtype == ir.DataType.INT64


def _label(v: Any) -> str:
    p = v.producer()
    if p is not None:
        return f"{v.name} ({p.op_type} {p.name or ''})".replace(" )", ")")
    return f"{v.name} ({'graph input' if v.is_graph_input() else 'initializer'})"


def plan_onnx(model: Any, env: dict[int, AbsValue | None], options: PlanOptions = PlanOptions()) -> OnnxPlan:
    """Partition the main graph's INT64 values (nothing is edited here)."""
    import onnx_ir as ir

    graph = model.graph
    opsets = dict(model.opset_imports)
    values: dict[int, Any] = {}
    kept: dict[int, str] = {}
    links: list[LinkSet] = []
    producer_of: dict[int, LinkSet] = {}
    readers_of: dict[int, list[LinkSet]] = {}

    def fits(v: Any) -> bool:
        av = env.get(id(v))
        return av is not None and av.hull.fits_int32()

    def seed(v: Any, why: str) -> None:
        kept.setdefault(id(v), why)

    for v in graph.inputs:
        if _is_int64(v):
            values[id(v)] = v
            if not options.io_int32:
                seed(v, "graph input: keeps its dtype (--io int32 narrows it)")
    for v in graph.outputs:
        if _is_int64(v) and not options.io_int32:
            seed(v, "graph output: keeps its dtype (--io int32 narrows it)")

    for node in graph:
        if node.op_type == "Constant" and node.domain in ("", "ai.onnx"):
            continue
        slots = _slot_params(node.op_type, node.domain or "", opsets.get(node.domain or "", 1))
        sets: dict[str, LinkSet] = {}
        untyped = _untyped_params(node, slots)
        subgraph = any(a.type in (ir.AttributeType.GRAPH, ir.AttributeType.GRAPHS) for a in node.attributes.values())
        retargetable = node.op_type in RETARGETABLE and node.domain in ("", "ai.onnx")
        for kind, seq in (("in", node.inputs), ("out", node.outputs)):
            for idx, v in enumerate(seq):
                if not _is_int64(v):
                    continue
                param = None
                if slots is not None:
                    params, var = (slots[0], slots[2]) if kind == "in" else (slots[1], slots[3])
                    param = _param(params, var, idx)
                dtype_attr = kind == "out" and ("dtype" in node.attributes or "to" in node.attributes)
                linkable = (
                    not subgraph and param is not None and INT32 in param[1] and (not dtype_attr or retargetable)
                    and param[0] not in untyped and node.op_type not in WIDTH_TIED
                )
                if kind == "in" and is_constant(v):
                    if linkable:
                        sets.setdefault(param[0], LinkSet(node)).consts.append((idx, v))  # type: ignore[index]
                    continue
                values[id(v)] = v
                if subgraph:
                    seed(v, f"read or made by {node.op_type} with a subgraph: not narrowed")
                elif not linkable:
                    if node.op_type in WIDTH_TIED:
                        seed(v, f"{node.op_type} reinterprets the bits: its operands keep their width")
                    elif param is not None and param[0] in untyped:
                        seed(v, f"{node.op_type} {node.name or ''}: a value of the same type is untyped "
                                "(shape inference could not type it)".replace(" :", ":"))
                    elif slots is None:
                        seed(v, f"{node.op_type} ({node.domain or 'ai.onnx'}) has no schema here: its types are unknown")
                    elif kind == "in":
                        seed(v, f"feeds {node.op_type} input {idx}, int64-only by the ONNX spec")
                    else:
                        seed(v, f"{node.op_type} output {idx} is int64 by the ONNX spec")
                else:
                    ls = sets.setdefault(param[0], LinkSet(node))  # type: ignore[index]
                    if kind == "in":
                        ls.ins.append((idx, v))
                        readers_of.setdefault(id(v), []).append(ls)
                    else:
                        ls.outs.append(v)
                        producer_of[id(v)] = ls
        links.extend(ls for ls in sets.values() if ls.outs or ls.ins)

    for vid, v in values.items():
        if vid not in kept and not fits(v):
            av = env.get(vid)
            kept[vid] = (
                f"range of {_label(v)} not proved" if av is None
                else f"{_label(v)} reaches {av.hull.worst_int32_violation()}, outside int32"
            )
    for ls in links:
        for _, v in ls.ins:
            producer = v.producer()
            if producer is not None and producer.op_type in ("Shape", "Size") and producer.domain in ("", "ai.onnx"):
                # Measured with ONNX Runtime 1.32: shape-data propagation keeps int64 through a Cast placed
                # on a Shape output, so a Range fed from it fails to load ("All inputs to 'Range' op must
                # be of the same type"). The node reading the Shape stays int64; the Cast comes after it.
                for out in ls.outs:
                    seed(out, f"reads {producer.op_type} output {v.name}: the Cast to int32 goes after it "
                              "(ONNX Runtime mis-types a Cast of a Shape output)")
        for idx, c in ls.consts:
            av = env.get(id(c))
            if av is None or (not av.hull.fits_int32() and not clamp_exact_use(ls.node, idx)):
                why = f"reads constant {c.name} = {av.hull if av else '?'}, outside int32"
                for v in ls.outs:
                    seed(v, why)

    components: list[Component] = []
    while True:
        _close(kept, values, producer_of, readers_of, fits)
        comps = _components(values, kept, links, producer_of, readers_of)
        rejected = False
        for c in comps:
            if c.narrow:
                continue
            for v in c.values:
                kept[id(v)] = c.reason
            rejected = True
        if not rejected:
            components = comps
            break
    doubles, doubles_kept = plan_doubles(model, env)
    return OnnxPlan(components, kept, values, doubles, doubles_kept)


def _close(kept: dict[int, str], values: dict[int, Any], producer_of: dict[int, LinkSet],
           readers_of: dict[int, list[LinkSet]], fits: Any) -> None:
    """Grow the int64 region to a fixpoint (see the module docstring for the two rules).

    A value pulled in inherits the reason of the value that pulled it, so a whole chain of shape
    math reports the one slot that anchors it.
    """
    work = list(kept)
    while work:
        vid = work.pop()
        why = kept[vid]
        root = why if why.startswith("int64 chain") else f"int64 chain: {values[vid].name} — {why}"
        ls = producer_of.get(vid)
        if ls is not None:  # computed in int64: so are the values it is computed from
            for u in [u for _, u in ls.ins] + ls.outs:
                if id(u) not in kept:
                    kept[id(u)] = root
                    work.append(id(u))
        if not fits(values[vid]):  # too large to cast down: whoever reads it computes in int64
            for reader in readers_of.get(vid, []):
                for u in reader.outs + [u for _, u in reader.ins]:
                    if id(u) not in kept:
                        kept[id(u)] = root
                        work.append(id(u))


def _components(values: dict[int, Any], kept: dict[int, str], links: list[LinkSet],
                producer_of: dict[int, LinkSet], readers_of: dict[int, list[LinkSet]]) -> list[Component]:
    free = {vid for vid in values if vid not in kept}
    parent = {vid: vid for vid in free}

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    narrow_links = [
        ls for ls in links
        if (ls.outs and all(id(v) in free for v in ls.outs)) or (not ls.outs and any(id(v) in free for _, v in ls.ins))
    ]
    for ls in narrow_links:
        members = [id(v) for v in ls.outs] + [id(v) for _, v in ls.ins if id(v) in free]
        for m in members[1:]:
            ra, rb = find(m), find(members[0])
            if ra != rb:
                parent[ra] = rb
    by_root: dict[int, Component] = {}
    for vid in free:
        by_root.setdefault(find(vid), Component([], [], [])).values.append(values[vid])
    for ls in narrow_links:
        anchor = ls.outs[0] if ls.outs else next(v for _, v in ls.ins if id(v) in free)
        comp = by_root[find(id(anchor))]
        comp.links.append(ls)
        for _, v in ls.ins:
            if id(v) not in free and all(c is not v for c in comp.casts):
                comp.casts.append(v)
    for comp in by_root.values():
        if len(comp.casts) >= len(comp.values):
            comp.reason = f"would need {len(comp.casts)} Casts to narrow {len(comp.values)} value(s)"
        else:
            comp.narrow = True
            extra = f"; Cast from int64: {', '.join(v.name for v in comp.casts)}" if comp.casts else ""
            comp.reason = f"proved to fit int32{extra}"
    return list(by_root.values())


def _all_values(graph: Any) -> list[Any]:
    out = list(graph.inputs) + list(graph.initializers.values())
    for node in graph:
        out.extend(node.outputs)
    seen: set[int] = set()
    unique = []
    for v in out:
        if id(v) not in seen:
            seen.add(id(v))
            unique.append(v)
    return unique


_FLOAT32_EXACT_INT = 2**24
_INTEGER_TYPES = {2, 3, 4, 5, 6, 7, 9, 12, 13}  # UINT8 INT8 UINT16 INT16 INT32 INT64 BOOL UINT32 UINT64
_RETYPED_BY_ATTR = {"Cast", "ConstantOfShape", "Constant", "EyeLike", "RandomNormal", "RandomUniform",
                    "RandomNormalLike", "RandomUniformLike", "Multinomial", "Bernoulli", "CastLike"}


def plan_doubles(model: Any, env: dict[int, AbsValue | None]) -> tuple[list[Any], dict[Any, str]]:
    """Which DOUBLE values become FLOAT, in every scope: ``(narrowed, kept with why)``.

    DOUBLE values joined by a node (its DOUBLE inputs and outputs, and for a node with subgraphs
    their DOUBLE inputs/outputs too) change together. A group stays DOUBLE when one of its values
    meets a node whose DOUBLE width is fixed elsewhere — BitCast (reinterprets bits), a node with a
    DOUBLE tensor attribute (ai.onnx.ml TreeEnsemble's thresholds), an op without a schema here — or
    feeds an integer Cast with values float32 could change (integers past 2**24, or not integers).
    """
    import onnx_ir as ir

    parent: dict[Any, Any] = {}

    def find(x: Any) -> Any:
        parent.setdefault(x, x)
        while parent[x] is not x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(values: list[Any]) -> None:
        roots = [find(v) for v in values]
        for r in roots[1:]:
            if r is not roots[0]:
                parent[r] = roots[0]

    pins: dict[Any, str] = {}
    opsets = dict(model.opset_imports)
    for graph in model.graphs():
        for v in list(graph.inputs) + list(graph.initializers.values()):
            if v.dtype == ir.DataType.DOUBLE:
                find(v)
        for node in graph:
            doubles = [v for v in list(node.inputs) + list(node.outputs) if v is not None and v.dtype == ir.DataType.DOUBLE]
            for attr in node.attributes.values():
                if attr.type == ir.AttributeType.GRAPH:
                    doubles += [v for v in list(attr.value.inputs) + list(attr.value.outputs) if v.dtype == ir.DataType.DOUBLE]
                elif attr.type == ir.AttributeType.GRAPHS:
                    doubles += [v for g in attr.value for v in list(g.inputs) + list(g.outputs) if v.dtype == ir.DataType.DOUBLE]
            if not doubles:
                continue
            union(doubles)
            why = _double_pin(node, opsets, env)
            if why:
                pins.setdefault(find(doubles[0]), why)
    groups: dict[Any, list[Any]] = {}
    for v in list(parent):
        groups.setdefault(find(v), []).append(v)
    narrowed, kept = [], {}
    for root, members in groups.items():
        why = next((pins[r] for r in pins if find(r) is root), None)
        if why is None:
            narrowed.extend(members)
        else:
            kept.update({v: why for v in members})
    return narrowed, kept


def _double_pin(node: Any, opsets: dict[str, int], env: dict[int, AbsValue | None]) -> str | None:
    """Why the DOUBLE values at ``node`` cannot become FLOAT, or None."""
    import onnx_ir as ir

    op = node.op_type
    if op in WIDTH_TIED:
        return f"{op} {node.name or ''} reinterprets the bits of a float64: width-tied".replace("  ", " ")
    if _slot_params(op, node.domain or "", opsets.get(node.domain or "", 1)) is None:
        return f"{op} ({node.domain or 'ai.onnx'}) has no schema here: its float64 operands are kept"
    if op not in _RETYPED_BY_ATTR:
        for name, attr in node.attributes.items():
            if attr.type == ir.AttributeType.TENSOR and attr.value.dtype == ir.DataType.DOUBLE:
                return f"{op} attribute {name} is a float64 tensor tied to its operands' type"
    to = node.attributes.get("to")
    if op == "Cast" and to is not None and to.value in _INTEGER_TYPES:
        v = node.inputs[0]
        producer = v.producer() if v is not None else None
        src = producer.inputs[0] if producer is not None and producer.op_type == "Cast" else None
        av = env.get(id(v)) if v is not None else None
        integral = src is not None and src.dtype is not None and src.dtype.is_integer()
        small = av is not None and max(abs(av.hull.lo), abs(av.hull.hi)) <= _FLOAT32_EXACT_INT
        if not (integral and small):
            return (f"float64 kept: {v.name if v is not None else '?'} feeds an integer Cast and float32 could change "
                    "those integers (TensorRT would round it anyway; see the predictions)")
    return None
