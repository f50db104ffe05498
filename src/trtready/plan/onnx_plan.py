"""Every keep / narrow / refuse decision for an ONNX graph, taken before anything is edited.

**INT64.** ONNX ties dtypes inside a node through type parameters (``Add``'s ``T``): the slots of
one node bound to one parameter form a *link set* computed in one dtype. The planner seeds an int64
region with every value that must stay int64 —

- it feeds a slot that requires int64 (Reshape.shape, Unsqueeze.axes, … :mod:`trtready.onnx_slots`)
  or comes from an always-int64 output (Shape, ArgMax, NonZero …),
- it feeds an input the target's parser requires INT64 (``TargetProfile.int64_inputs``, from
  onnx-tensorrt's table: RotaryEmbedding's ``position_ids``),
- it is a graph input/output kept at its dtype (``--io keep``),
- it is not proved to fit int32 (the analysis's intervals; a value read only where a guarded Where takes it
  is judged by its interval there, :class:`~trtready.intervals.onnx.Guards`),
- it sits next to a subgraph, a BitCast (width-tied), an op without a schema, or a value shape
  inference could not type,
- it is read by the node that reads a Shape output (ONNX Runtime mis-types a Cast placed directly on a
  Shape output; the Cast goes one node later) —

and closes it: a link set with an int64 output computes in int64 (its linked inputs join), and a link
set reading an int64 value that does not fit int32 computes in int64 (its outputs join). Everything
else may be int32. Where an int32 link set reads an int64 value (which then fits int32, by the
closure) a Cast is inserted; constants it reads get an int32 copy, so one constant shared with an
int64-only slot is split rather than tying the two together. Each connected int32 component is kept
only if it narrows more values than the Casts it needs (casting shape math down and back is no win);
a Gather it feeds counts as a Cast moved, not added — TensorRT's parser casts a Gather's int64
indices to INT32 itself — unless the edge Cast is a host-side one (of a shape value). Link sets
that read a kept value and produce nothing int64 (a comparison with a constant, a Gather's indices)
read one shared Cast of it where a Gather among them pays for it (:func:`_edge_readers`).

**Cast balance.** Weighed one by one, a component may still add Cast layers to the network that the
plan as a whole does not pay for: an int32 Range over a shape value costs two host-side Casts (the
size's, and the Cast of its size back to int64 that TensorRT's parser adds) where the int64 Range
costs one device-side Cast (the Gather's own index Cast). The planner predicts each narrowed
component's Casts (:func:`cast_delta`) and sums them against the Casts the plan's exact rewrites
already removed (``cast_credit``, counted by :func:`parser_casts`); while the sum is positive, a
Range over a shape value stays int64 and the component reads one Cast after it instead — the network
keeps its Cast count, and the Range's decision says why. Casts that narrowing in the PyTorch graph
removed are not counted: the balance errs on the side of fewer Casts.

**DOUBLE.** :func:`plan_doubles` — groups of DOUBLE values become FLOAT unless a value of the group
is width-tied.

**Decisions.** :func:`plan_onnx` turns the partition into one :class:`~trtready.plan.Decision` per
value (``onnx:NAME``, the id of its audit finding) and refuses, naming tensor, producer and value,
what the target cannot hold: a value not proved to fit on trt8/torch-trt-ts, any under ``--strict``,
graph I/O under ``--io int32``, int64 constants trt8 would clamp, float64 constants beyond float32
(or underflowing, unless allowed), UINT64 anywhere. Under ``--io int32`` an input computed on in int64
at once keeps its INT64 binding (an INT32 one would only add a Cast up); an int64 output becomes INT32
after ArgMax/ArgMin/TopK only, where the edge Cast replaces the one TensorRT's parser ends them with.
A decision on an input whose interval is an assumption about valid inputs says so.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import onnx_ir as ir

from trtready.errors import UnsafeNarrowingError
from trtready.intervals import Interval, float32_facts
from trtready.intervals.onnx import Guards
from trtready.onnx_slots import OpSlots, Slot, input_name, op_slots
from trtready.plan import Action, Decision, PlanOptions
from trtready.finding_ids import Layer, tensor_finding_id

if TYPE_CHECKING:
    from trtready.analysis import OnnxAnalysis
    from trtready.intervals.onnx import AbsValue
    from trtready.targets import TargetProfile

# Ops whose output dtype comes from an attribute the planner knows how to retarget.
RETARGETABLE = frozenset({"Cast", "ConstantOfShape"})
WIDTH_TIED = frozenset({"BitCast"})  # reinterpret bits: both sides keep their width


def is_constant(v: ir.Value) -> bool:
    """An initializer that is not a graph input, or a Constant node's output."""
    if v.is_graph_input():
        return False
    if v.is_initializer():
        return v.const_value is not None
    p = v.producer()
    return p is not None and p.op_type == "Constant" and p.domain in ("", "ai.onnx")


def clamp_exact_use(node: ir.Node, idx: int) -> bool:
    """Slice starts/ends: a bound beyond int32 (INT64_MAX as "to the end") clamps exactly."""
    return node.op_type == "Slice" and node.domain in ("", "ai.onnx") and idx in (1, 2)


@dataclass(eq=False)
class LinkSet:
    """The int64 slots of one node bound to one type parameter: computed in one dtype."""

    node: ir.Node
    ins: list[tuple[int, ir.Value]] = field(default_factory=list)  # (input index, value)
    outs: list[ir.Value] = field(default_factory=list)
    consts: list[tuple[int, ir.Value]] = field(default_factory=list)  # (input index, constant)


@dataclass(eq=False)
class Component:
    """A connected set of values that become int32 together (or stay int64 together)."""

    values: list[ir.Value]
    links: list[LinkSet]
    casts: list[ir.Value]  # int64 values this component reads: one Cast each
    narrow: bool = False
    reason: str = ""


@dataclass
class OnnxPlan:
    """The partition of one model, with the decision for every 64-bit value. Applies to ``model`` only."""

    model: ir.Model
    components: list[Component]
    kept: dict[ir.Value, str]  # why each int64 value stays int64
    values: list[ir.Value]  # every int64 value considered (main graph)
    doubles: list[ir.Value]  # DOUBLE values that become FLOAT (every scope)
    doubles_kept: dict[ir.Value, str] = field(default_factory=dict)
    decisions: list[Decision] = field(default_factory=list)
    const_links: list[LinkSet] = field(default_factory=list)  # parameters bound to constants only
    input_casts: list[ir.Value] = field(default_factory=list)  # --io int32: INT32 binding, Cast up inside
    output_casts: list[ir.Value] = field(default_factory=list)  # --io int32: Cast down to an INT32 binding
    fingerprint: tuple[int, ...] = ()  # the graph planned (analysis.graph_fingerprint): the passes check it
    _component_of: dict[ir.Value, Component] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self._component_of = {v: c for c in self.components for v in c.values}

    @property
    def narrowed_links(self) -> list[LinkSet]:
        return [ls for c in self.components if c.narrow for ls in c.links] + self.const_links

    @property
    def narrowed_values(self) -> list[ir.Value]:
        return [v for c in self.components if c.narrow for v in c.values]

    def reason_for(self, value: ir.Value) -> tuple[bool, str]:
        """``(narrowed, reason)`` for one int64 value."""
        c = self._component_of.get(value)
        if c is not None:
            return c.narrow, c.reason
        return False, self.kept.get(value, "not an int64 value of the main graph")


def _is_int64(v: ir.Value | None) -> bool:
    return v is not None and v.dtype == ir.DataType.INT64


def _label(v: ir.Value) -> str:
    p = v.producer()
    if p is not None:
        return f"{v.name} ({p.op_type} {p.name or ''})".replace(" )", ")")
    return f"{v.name} ({'graph input' if v.is_graph_input() else 'initializer'})"


def _untyped_params(node: ir.Node, slots: OpSlots | None) -> set[str]:
    """Type parameters of ``node`` bound to a value whose dtype is unknown: narrowing the others
    would make the node's operands disagree."""
    if slots is None:
        return set()
    out: set[str] = set()
    for seq, pick in ((node.inputs, slots.input), (node.outputs, slots.output)):
        for idx, v in enumerate(seq):
            slot = pick(idx)
            if v is not None and v.dtype is None and slot is not None:
                out.add(slot.param)
    return out


def _has_subgraph(node: ir.Node) -> bool:
    return any(a.type in (ir.AttributeType.GRAPH, ir.AttributeType.GRAPHS) for a in node.attributes.values())


def _keep_reason(node: ir.Node, kind: str, idx: int, slot: Slot | None, slots: OpSlots | None,
                 untyped: set[str]) -> str:
    if node.op_type in WIDTH_TIED:
        return f"{node.op_type} reinterprets the bits: its operands keep their width"
    if slots is None:
        return f"{node.op_type} ({node.domain or 'ai.onnx'}) has no schema here: its types are unknown"
    if slot is not None and slot.param in untyped:
        return (f"{node.op_type} {node.name or ''}: a value of the same type is untyped "
                "(shape inference could not type it)").replace(" :", ":")
    if kind == "in":
        return f"feeds {node.op_type} input {idx}, int64-only by the ONNX spec"
    if slot is not None and slot.requires_int64:
        return f"{node.op_type} output {idx} is int64 by the ONNX spec"
    return f"{node.op_type} output {idx} takes its dtype from an attribute"


def partition(model: ir.Model, env: dict[ir.Value, AbsValue | None], options: PlanOptions,
              guards: Guards | None = None, target_int64: Mapping[str, Mapping[str, str]] | None = None,
              cast_credit: int = 0) -> OnnxPlan:
    """The int32/int64 partition of the main graph's INT64 values (nothing is edited here).

    ``target_int64`` (op → input name → reason): inputs the target's parser requires INT64
    (``TargetProfile.int64_inputs``), kept whatever the ONNX spec allows. ``cast_credit``: Cast
    layers the plan already removed before narrowing (its exact rewrites), which narrowing may spend.
    """
    graph = model.graph
    opsets = dict(model.opset_imports)
    values: list[ir.Value] = []
    seen: set[ir.Value] = set()
    kept: dict[ir.Value, str] = {}
    links: list[LinkSet] = []
    const_links: list[LinkSet] = []
    producer_of: dict[ir.Value, LinkSet] = {}
    readers_of: dict[ir.Value, list[LinkSet]] = {}

    guards = guards or Guards()

    def fits(v: ir.Value) -> bool:
        av = env.get(v)
        if av is not None and av.hull.fits_int32():
            return True
        # Read only where a Where takes it: the elements outside that interval are never read.
        taken = guards.read_where_taken.get(v)
        return taken is not None and taken.fits_int32()

    def consider(v: ir.Value) -> None:
        if v not in seen:
            seen.add(v)
            values.append(v)

    def seed(v: ir.Value, why: str) -> None:
        kept.setdefault(v, why)

    for v in graph.inputs:
        if _is_int64(v):
            consider(v)
            if not options.io_int32:
                seed(v, "graph input: keeps its dtype (--io int32 narrows it)")
    for v in graph.outputs:
        if _is_int64(v) and not options.io_int32:
            seed(v, "graph output: keeps its dtype (--io int32 narrows it)")

    for node in graph:
        if node.op_type == "Constant" and node.domain in ("", "ai.onnx"):
            continue
        slots = op_slots(node.op_type, node.domain or "", opsets.get(node.domain or "", 1))
        sets: dict[str, LinkSet] = {}
        untyped = _untyped_params(node, slots)
        subgraph = _has_subgraph(node)
        retargetable = node.op_type in RETARGETABLE and node.domain in ("", "ai.onnx")
        required = (target_int64 or {}).get(node.op_type, {}) if node.domain in ("", "ai.onnx") else {}
        for kind, seq in (("in", node.inputs), ("out", node.outputs)):
            for idx, maybe in enumerate(seq):
                if maybe is None or not _is_int64(maybe):
                    continue
                v = maybe
                name = input_name(node.op_type, "", opsets.get("", 1), idx) if kind == "in" and required else None
                if name is not None and name in required:
                    if not is_constant(v):  # a constant read here is never linked: it stays int64
                        consider(v)
                        seed(v, f"feeds {node.op_type} input {idx} ({name}), which the target requires INT64: "
                                f"{required[name]}")
                    continue
                slot = None if slots is None else (slots.input(idx) if kind == "in" else slots.output(idx))
                dtype_attr = kind == "out" and ("dtype" in node.attributes or "to" in node.attributes)
                linkable = (
                    not subgraph and slot is not None and slot.takes_int32 and (not dtype_attr or retargetable)
                    and slot.param not in untyped and node.op_type not in WIDTH_TIED
                )
                if kind == "in" and is_constant(v):
                    if linkable and slot is not None:
                        sets.setdefault(slot.param, LinkSet(node)).consts.append((idx, v))
                    continue
                consider(v)
                if subgraph:
                    seed(v, f"read or made by {node.op_type} with a subgraph: not narrowed")
                elif not linkable or slot is None:
                    seed(v, _keep_reason(node, kind, idx, slot, slots, untyped))
                else:
                    ls = sets.setdefault(slot.param, LinkSet(node))
                    if kind == "in":
                        ls.ins.append((idx, v))
                        readers_of.setdefault(v, []).append(ls)
                    else:
                        ls.outs.append(v)
                        producer_of[v] = ls
        links.extend(ls for ls in sets.values() if ls.outs or ls.ins)
        # Gather's indices read from a constant (a pooler's ``hidden[:, 0]``): an int32 copy costs
        # nothing and takes one INT64 constant out of the network. Only there: ONNX shape inference
        # reads other constant inputs (Pad's axes, Reshape's shape) as int64 and rejects int32 copies.
        const_links.extend(ls for ls in sets.values() if not ls.outs and not ls.ins and ls.consts and all(
            (node.op_type, idx) in _CONST_INDEX_SLOTS and _const_fits(env.get(c), ls.node, idx)
            for idx, c in ls.consts))

    for v in values:
        if v not in kept and not fits(v):
            av = env.get(v)
            kept[v] = (
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
            av = env.get(c)
            if av is None or (not av.hull.fits_int32() and not clamp_exact_use(ls.node, idx)):
                why = f"reads constant {c.name} = {av.hull if av else '?'}, outside int32"
                for v in ls.outs:
                    seed(v, why)

    host = host_values(graph)
    while True:
        _close(kept, producer_of, readers_of, fits, guards)
        comps = _components(values, kept, links, host)
        rejected = [c for c in comps if not c.narrow]
        for comp in rejected:
            for v in comp.values:
                kept[v] = comp.reason
        if rejected:
            continue
        wide = _over_balance(comps, host, cast_credit)
        if wide is None:
            break
        for v in wide.outs:  # the component reads a Cast after the Range instead: partition again
            kept[v] = _wide_reason(wide, host, _balance(comps, host, cast_credit))
    edges = _edge_readers(kept, readers_of, comps, fits, env, host)
    doubles, doubles_kept = plan_doubles(model, env)
    return OnnxPlan(model, comps, kept, values, doubles, doubles_kept, const_links=const_links + edges)


_CONST_INDEX_SLOTS = frozenset({("Gather", 1), ("GatherElements", 1)})
# Ops whose int64 indices TensorRT's parser casts to INT32 itself: one Cast layer each, measured with
# TensorRT-RTX 1.7 for Gather and GatherND; GatherElements as :func:`_index_read` counts it.
_INDEX_CAST_OPS = frozenset({"Gather", "GatherElements", "GatherND"})


#: Cast layers TensorRT-RTX 1.7's parser makes for a Range over a shape value, measured on
#: ``Range(0, Squeeze(Shape(x)[0:1]), 1)``: int64, four helper Casts of its operands and size; int32
#: (reading a Cast of the size), five — the fifth casts its size back to int64.
_RANGE_CASTS = {ir.DataType.INT64: 4, ir.DataType.INT32: 5}


def parser_casts(graph: ir.Graph) -> int:
    """The Cast layers TensorRT's parser makes of ``graph`` where narrowing and the exact rewrites change
    them: Cast nodes between two types, the index Cast of a Gather reading int64 indices of a
    non-int64 table, and the helper Casts of a Range over a shape value (:data:`_RANGE_CASTS`). Not
    the whole network's count — the difference between two versions of one graph (before and after
    the plan's rewrites) is what it is for, and it errs low (broadcasts of int64 shape math are not
    counted)."""
    host = host_values(graph)
    count = 0
    for node in graph:
        if node.domain not in ("", "ai.onnx"):
            continue
        ins = [v for v in node.inputs if v is not None]
        if node.op_type == "Cast" and ins and node.outputs and ins[0].dtype != node.outputs[0].dtype:
            count += 1
        elif node.op_type in _INDEX_CAST_OPS and len(ins) > 1 and ins[1].dtype == ir.DataType.INT64 \
                and ins[0].dtype != ir.DataType.INT64:
            count += 1
        elif node.op_type == "Range" and node.outputs and any(v in host for v in ins):
            count += _RANGE_CASTS.get(node.outputs[0].dtype or ir.DataType.UNDEFINED, 0)
    return count


def _host_ranges(comp: Component, host: set[ir.Value]) -> list[LinkSet]:
    """Ranges of ``comp`` that would read a Cast of a shape value: int32, TensorRT's parser casts their
    size back to int64 on the host (measured with TensorRT-RTX 1.7, ``ShapeCastToInt64``)."""
    edge = {v for v in comp.casts if v in host}
    return [ls for ls in comp.links if ls.node.op_type == "Range" and ls.node.domain in ("", "ai.onnx")
            and ls.outs and any(v in edge for _, v in ls.ins)]


def cast_delta(comp: Component, host: set[ir.Value]) -> int:
    """Cast layers narrowing ``comp`` adds to the network (negative: removes): one per edge Cast, one
    per Range cast back by the parser, minus the index Casts of the Gathers it feeds (moved, not added)."""
    moved = sum(1 for ls in comp.links if _index_read(ls))
    return len(comp.casts) + len(_host_ranges(comp, host)) - moved


def _balance(comps: list[Component], host: set[ir.Value], credit: int) -> int:
    return sum(cast_delta(c, host) for c in comps if c.narrow) - credit


def _over_balance(comps: list[Component], host: set[ir.Value], credit: int) -> LinkSet | None:
    """While the narrowed components add more Casts than the plan removed, the Range over a shape value
    of the costliest one, to keep int64 (each such Range kept saves one Cast), else None."""
    if _balance(comps, host, credit) <= 0:
        return None
    for comp in sorted((c for c in comps if c.narrow), key=lambda c: -cast_delta(c, host)):
        ranges = _host_ranges(comp, host)
        if ranges:
            return ranges[0]
    return None


def _wide_reason(ls: LinkSet, host: set[ir.Value], balance: int) -> str:
    size = next((v.name for _, v in ls.ins if v in host), "?")
    return (f"Range over the shape value {size}: int32, it would cost two host-side Casts (the size's, and the "
            f"parser's Cast of its size back) where int64 it costs one device-side Cast after it; narrowed, the "
            f"plan would add {balance} Cast layer(s) more than it removes (never more Casts)")


def _index_read(ls: LinkSet) -> bool:
    """``ls`` is a Gather/GatherElements reading int64 indices of a non-int64 table: TensorRT's parser
    casts such indices to INT32 itself (its Gather docs), so narrowing them costs no Cast layer — it
    moves one."""
    node = ls.node
    data = node.inputs[0] if node.inputs else None
    return (not ls.outs and node.op_type in ("Gather", "GatherElements") and node.domain in ("", "ai.onnx")
            and any(idx == 1 for idx, _ in ls.ins) and data is not None and data.dtype != ir.DataType.INT64)


def _edge_readers(kept: dict[ir.Value, str], readers_of: dict[ir.Value, list[LinkSet]], comps: list[Component],
                  fits: Callable[[ir.Value], bool], env: dict[ir.Value, AbsValue | None],
                  host: set[ir.Value]) -> list[LinkSet]:
    """Readers of a kept int64 value that may read an int32 copy of it instead: link sets with no
    int64 output whose only int64 operand is that value (plus constants that fit).

    They are narrowed together behind one Cast of the value when that Cast is paid for: a narrowed
    component casts the value already, or a Gather among them moves the parser's index Cast and
    another reads an int64 constant (RoBERTa's ``input_ids == pad``), which then leaves the network.
    """
    cast = {v for c in comps if c.narrow for v in c.casts}
    out: list[LinkSet] = []
    for v in kept:
        if not fits(v) or v.is_graph_output() or v in host:
            continue  # a shape value's Cast would be a host-side one
        producer = v.producer()
        if producer is not None and producer.op_type in ("Shape", "Size"):
            continue  # ONNX Runtime mis-types a Cast placed on a Shape output (see partition)
        group = [ls for ls in readers_of.get(v, []) if not ls.outs and all(u is v for _, u in ls.ins)
                 and all(_const_fits(env.get(c), ls.node, i) for i, c in ls.consts)]
        gathers = [ls for ls in group if _index_read(ls)]
        constants = [ls for ls in group if ls.consts and not _index_read(ls)]
        if group and (v in cast or (gathers and constants)):
            out.extend(group)
    return out


def _const_fits(av: AbsValue | None, node: ir.Node, idx: int) -> bool:
    return av is not None and (av.hull.fits_int32() or clamp_exact_use(node, idx))


def _close(kept: dict[ir.Value, str], producer_of: dict[ir.Value, LinkSet],
           readers_of: dict[ir.Value, list[LinkSet]], fits: Callable[[ir.Value], bool], guards: Guards) -> None:
    """Grow the int64 region to a fixpoint (see the module docstring for the two rules).

    A value pulled in inherits the reason of the value that pulled it, so a whole chain of shape
    math reports the one slot that anchors it.
    """
    work = list(kept)
    while work:
        v = work.pop()
        why = kept[v]
        root = why if why.startswith("int64 chain") else f"int64 chain: {v.name} — {why}"
        ls = producer_of.get(v)
        if ls is not None:  # computed in int64: so are the values it is computed from
            for u in [u for _, u in ls.ins] + ls.outs:
                if u not in kept:
                    kept[u] = root
                    work.append(u)
        if not fits(v):  # too large to cast down: whoever reads it computes in int64
            for reader in readers_of.get(v, []):
                if _guarded_fit(reader, v, guards):
                    continue  # a Where branch that fits wherever it is taken: a Cast down is exact
                for u in reader.outs + [u for _, u in reader.ins]:
                    if u not in kept:
                        kept[u] = root
                        work.append(u)


def _guarded_fit(reader: LinkSet, v: ir.Value, guards: Guards) -> bool:
    """``v`` is read by ``reader`` only as a Where branch whose values fit int32 wherever the Where
    takes them: cast down, the positions it wraps are the ones the Where discards."""
    idxs = [idx for idx, u in reader.ins if u is v]
    if not idxs or reader.node.op_type != "Where":
        return False
    for idx in idxs:
        if (reader.node, idx) not in guards.branches:
            return False
        hull = guards.branches[(reader.node, idx)]
        if hull is not None and not hull.fits_int32():
            return False
    return True


def host_values(graph: ir.Graph) -> set[ir.Value]:
    """Values computed from shapes and constants only (Shape/Size outputs and what follows from them):
    TensorRT computes them on the host, as shape tensors, so a Cast of one is a host-side Cast."""
    host: set[ir.Value] = set()
    for node in graph:
        if node.domain not in ("", "ai.onnx"):
            continue
        if node.op_type in ("Shape", "Size"):
            host.update(node.outputs)
            continue
        ins = [v for v in node.inputs if v is not None]
        if ins and all(v in host or is_constant(v) for v in ins) and any(v in host for v in ins):
            host.update(node.outputs)
    return host


def _components(values: list[ir.Value], kept: dict[ir.Value, str], links: list[LinkSet],
                host: set[ir.Value] | None = None) -> list[Component]:
    free = [v for v in values if v not in kept]
    free_set = set(free)
    parent: dict[ir.Value, ir.Value] = {v: v for v in free}

    def find(x: ir.Value) -> ir.Value:
        while parent[x] is not x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    narrow_links = [
        ls for ls in links
        if (ls.outs and all(v in free_set for v in ls.outs)) or (not ls.outs and any(v in free_set for _, v in ls.ins))
    ]
    for ls in narrow_links:
        members = ls.outs + [v for _, v in ls.ins if v in free_set]
        for m in members[1:]:
            ra, rb = find(m), find(members[0])
            if ra is not rb:
                parent[ra] = rb
    by_root: dict[ir.Value, Component] = {}
    for v in free:
        by_root.setdefault(find(v), Component([], [], [])).values.append(v)
    cast_sets: dict[int, set[ir.Value]] = {}
    for ls in narrow_links:
        anchor = ls.outs[0] if ls.outs else next(v for _, v in ls.ins if v in free_set)
        comp = by_root[find(anchor)]
        comp.links.append(ls)
        casts = cast_sets.setdefault(id(comp), set())
        for _, v in ls.ins:
            if v not in free_set and v not in casts:
                casts.add(v)
                comp.casts.append(v)
    for comp in by_root.values():
        # A Gather reading int64 indices gets a Cast from TensorRT's parser: narrowed, that Cast moves to the
        # component's edge instead of adding one — unless the edge Cast would be a host-side one (a shape
        # value), which the planner never trades for a device-side one.
        device_only = not any(v in (host or set()) for v in comp.casts)
        saved = sum(1 for ls in comp.links if _index_read(ls)) if device_only else 0
        if len(comp.casts) - saved >= len(comp.values):
            comp.reason = f"would need {len(comp.casts)} Casts to narrow {len(comp.values)} value(s)"
        else:
            comp.narrow = True
            extra = f"; Cast from int64: {', '.join(v.name or '?' for v in comp.casts)}" if comp.casts else ""
            comp.reason = f"proved to fit int32{extra}"
    return list(by_root.values())


# --- DOUBLE ------------------------------------------------------------------------------------
_FLOAT32_EXACT_INT = 2**24
_INTEGER_TYPES = frozenset({
    ir.DataType.UINT8, ir.DataType.INT8, ir.DataType.UINT16, ir.DataType.INT16, ir.DataType.INT32,
    ir.DataType.INT64, ir.DataType.BOOL, ir.DataType.UINT32, ir.DataType.UINT64,
})
_RETYPED_BY_ATTR = frozenset({"Cast", "ConstantOfShape", "Constant", "EyeLike", "RandomNormal", "RandomUniform",
                              "RandomNormalLike", "RandomUniformLike", "Multinomial", "Bernoulli", "CastLike"})


def plan_doubles(model: ir.Model, env: dict[ir.Value, AbsValue | None]) -> tuple[list[ir.Value], dict[ir.Value, str]]:
    """Which DOUBLE values become FLOAT, in every scope: ``(narrowed, kept with why)``.

    DOUBLE values joined by a node (its DOUBLE inputs and outputs, and for a node with subgraphs
    their DOUBLE inputs/outputs too) change together. A group stays DOUBLE when one of its values
    meets a node whose DOUBLE width is fixed elsewhere — BitCast (reinterprets bits), a node with a
    DOUBLE tensor attribute (ai.onnx.ml TreeEnsemble's thresholds), an op without a schema here — or
    feeds an integer Cast with values float32 could change (integers past 2**24, or not integers).
    """
    parent: dict[ir.Value, ir.Value] = {}

    def find(x: ir.Value) -> ir.Value:
        parent.setdefault(x, x)
        while parent[x] is not x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(group: list[ir.Value]) -> None:
        roots = [find(v) for v in group]
        for r in roots[1:]:
            if r is not roots[0]:
                parent[r] = roots[0]

    pins: list[tuple[ir.Value, str]] = []
    opsets = dict(model.opset_imports)
    for graph in model.graphs():
        for v in list(graph.inputs) + list(graph.initializers.values()):
            if v.dtype == ir.DataType.DOUBLE:
                find(v)
        for node in graph:
            doubles = [v for v in list(node.inputs) + list(node.outputs) if v is not None and v.dtype == ir.DataType.DOUBLE]
            for attr in node.attributes.values():
                subgraphs = [attr.value] if attr.type == ir.AttributeType.GRAPH else (
                    list(attr.value) if attr.type == ir.AttributeType.GRAPHS else [])
                for g in subgraphs:
                    doubles += [v for v in list(g.inputs) + list(g.outputs) if v.dtype == ir.DataType.DOUBLE]
            if not doubles:
                continue
            union(doubles)
            why = _double_pin(node, opsets, env)
            if why:
                pins.append((doubles[0], why))
    pinned: dict[ir.Value, str] = {}
    for v, why in pins:
        pinned.setdefault(find(v), why)
    narrowed: list[ir.Value] = []
    kept: dict[ir.Value, str] = {}
    for v in list(parent):
        why = pinned.get(find(v))
        if why is None:
            narrowed.append(v)
        else:
            kept[v] = why
    return narrowed, kept


def _double_pin(node: ir.Node, opsets: dict[str, int], env: dict[ir.Value, AbsValue | None]) -> str | None:
    """Why the DOUBLE values at ``node`` cannot become FLOAT, or None."""
    op = node.op_type
    if op in WIDTH_TIED:
        return f"{op} {node.name or ''} reinterprets the bits of a float64: width-tied".replace("  ", " ")
    if op_slots(op, node.domain or "", opsets.get(node.domain or "", 1)) is None:
        return f"{op} ({node.domain or 'ai.onnx'}) has no schema here: its float64 operands are kept"
    if op not in _RETYPED_BY_ATTR:
        for name, attr in node.attributes.items():
            if attr.type == ir.AttributeType.TENSOR and attr.value.dtype == ir.DataType.DOUBLE:
                return f"{op} attribute {name} is a float64 tensor tied to its operands' type"
    to = node.attributes.get("to")
    if op == "Cast" and to is not None and ir.DataType(to.value) in _INTEGER_TYPES:
        v = node.inputs[0]
        producer = v.producer() if v is not None else None
        src = producer.inputs[0] if producer is not None and producer.op_type == "Cast" else None
        av = env.get(v) if v is not None else None
        integral = src is not None and src.dtype is not None and src.dtype.is_integer()
        small = av is not None and max(abs(av.hull.lo), abs(av.hull.hi)) <= _FLOAT32_EXACT_INT
        if not (integral and small):
            return (f"float64 kept: {v.name if v is not None else '?'} feeds an integer Cast and float32 could change "
                    "those integers (TensorRT would round it anyway; see the predictions)")
    return None


# --- decisions -------------------------------------------------------------------------------------
def _interval_text(iv: Interval | None) -> str:
    if iv is None:
        return "range not proved to fit int32"
    return f"reaches {iv.worst_int32_violation()}, outside int32"


def _what(v: ir.Value) -> str:
    producer = v.producer()
    if producer is not None:
        return f"{producer.op_type} {producer.name or ''}".strip()
    return "graph input" if v.is_graph_input() else "initializer"


def plan_onnx(analysis: OnnxAnalysis, profile: TargetProfile, options: PlanOptions = PlanOptions(),
              cast_credit: int = 0) -> OnnxPlan:
    """The partition and a decision for every INT64/DOUBLE value of the main graph; raises
    :class:`~trtready.errors.UnsafeNarrowingError` naming the first value that must be refused.
    ``cast_credit``: Cast layers the plan's rewrites removed (see the module's *Cast balance*)."""
    if not analysis.describes(analysis.model):
        raise ValueError("the analysis is of the graph before a rewrite: plan on OnnxAnalysis.of_rewritten()")
    model, env = analysis.model, analysis.values
    plan = partition(model, env, options, analysis.guards, profile.int64_inputs, cast_credit)
    plan.fingerprint = analysis.fingerprint
    decisions: list[Decision] = []
    refusals: list[str] = []
    for v in plan.values:
        narrowed, reason = plan.reason_for(v)
        fid = tensor_finding_id(Layer.ONNX, str(v.name))
        assumed = analysis.assumptions().get(v.name or "") if v.is_graph_input() else None
        if assumed:  # the interval is an assumption about valid inputs: said where it is used
            reason += f"; {assumed}"
        av = env.get(v)
        taken = analysis.guards.read_where_taken.get(v)
        if taken is not None and (av is None or not av.hull.fits_int32()):
            reason += f"; {taken} wherever read: a Where discards its other elements"
        if narrowed:
            decisions.append(Decision(fid, Action.NARROW, reason))
            continue
        producer = v.producer()
        uses = list(v.uses())
        clamp_exact = bool(uses) and not v.is_graph_output() and all(clamp_exact_use(u.node, u.idx) for u in uses)
        proved = av is not None and (av.hull.fits_int32() or clamp_exact)
        proved = proved or (taken is not None and taken.fits_int32())  # read only where a Where takes it
        if profile.dims_are_int32 and producer is not None and producer.op_type in ("Shape", "Size"):
            proved = True
        io = v.is_graph_input() or v.is_graph_output()
        forced = options.strict or (options.io_int32 and io)
        if not proved and (forced or not profile.handles_int64):
            why = "--strict" if options.strict else ("--io int32" if forced else f"{profile.name} cannot hold int64")
            msg = f"tensor {v.name} ({_what(v)}): {_interval_text(av.hull if av else None)}; {why}"
            if v.is_graph_input():
                msg += f" (if its values are known, say so: --input-range {v.name}:LO..HI)"
            refusals.append(msg)
            decisions.append(Decision(fid, Action.REFUSE, msg))
        elif options.io_int32 and io and v.is_graph_input() and not v.is_graph_output() and av is not None \
                and av.hull.fits_int32():
            # Proved, but computed in int64 inside (an int64-only slot, 64-bit arithmetic): an INT32 binding
            # would need a Cast up at once — one more Cast layer, the same INT64 tensor behind it.
            decisions.append(Decision(fid, Action.KEEP, f"binding proved {av.hull} fits int32, kept INT64 under "
                                                        f"--io int32: the model computes on it in int64 at once "
                                                        f"(an INT32 binding would only add a Cast up); {reason}"))
        elif options.io_int32 and io and av is not None and av.hull.fits_int32() and not v.is_graph_input() \
                and _ends_in_parser_cast(v):
            # --io int32 and proved, computed in int64 inside (ArgMax/TopK indices): the binding becomes INT32
            # with one exact Cast at the graph's edge, where TensorRT's parser ends these ops with a Cast anyway.
            plan.output_casts.append(v)
            decisions.append(Decision(fid, Action.NARROW, f"binding proved {av.hull} fits int32 (--io int32): INT32 "
                                                          f"with one Cast at the graph's edge; inside, {reason}"))
        elif options.io_int32 and io and av is not None and av.hull.fits_int32():
            decisions.append(Decision(fid, Action.KEEP, f"binding proved {av.hull} fits int32, kept INT64 under "
                                                        f"--io int32: it is computed in int64 and a Cast down at the "
                                                        f"edge would add a Cast layer; {reason}"))
        else:
            decisions.append(Decision(fid, Action.KEEP, reason))
    if not profile.handles_int64 or options.strict:
        refusals += _unsafe_constants(model, profile, options)
    refusals += _unsigned_64(model)
    decisions += [Decision(tensor_finding_id(Layer.ONNX, str(v.name)), Action.KEEP, why) for v, why in plan.doubles_kept.items()]
    for v in plan.doubles:
        fid = tensor_finding_id(Layer.ONNX, str(v.name))
        if v.const_value is not None:
            _, _exact, notes = float32_facts(v.const_value.numpy())
            bad = [n for n in notes if "beyond the float32" in n or ("underflow" in n and not options.allow_underflow)]
            if bad:
                msg = f"tensor {v.name}: {bad[0]} (float64 -> float32)"
                refusals.append(msg)
                decisions.append(Decision(fid, Action.REFUSE, msg))
                continue
        decisions.append(Decision(fid, Action.NARROW, "float64 -> float32 (TensorRT has no DOUBLE tensors)"))
    if refusals:
        raise UnsafeNarrowingError(f"refused: {refusals[0]}" + (f" (+{len(refusals) - 1} more)" if len(refusals) > 1 else ""))
    plan.decisions = decisions
    return plan


def _ends_in_parser_cast(v: ir.Value) -> bool:
    """ArgMax/ArgMin/TopK indices: TensorRT computes them in INT32 and its ONNX parser ends them with a
    Cast to INT64 (measured with TensorRT-RTX 1.7): a Cast down to an INT32 output takes that Cast's place."""
    p = v.producer()
    return p is not None and p.domain in ("", "ai.onnx") and (
        p.op_type in ("ArgMax", "ArgMin") or (p.op_type == "TopK" and v is p.outputs[1]))


def _unsigned_64(model: ir.Model) -> list[str]:
    """UINT64 values: no TensorRT can hold them, and unsigned arithmetic is not int32's (never narrowed)."""
    out = []
    for graph in model.graphs():
        candidates = list(graph.inputs) + list(graph.initializers.values()) + [o for n in graph for o in n.outputs]
        for v in dict.fromkeys(candidates):
            if v.dtype == ir.DataType.UINT64:
                out.append(f"tensor {v.name} ({_what(v)}): uint64 has no TensorRT type, and trtready does not narrow "
                           "unsigned tensors (their arithmetic differs from int32's)")
    return out


def _unsafe_constants(model: ir.Model, profile: TargetProfile, options: PlanOptions) -> list[str]:
    """int64 constants beyond int32 that the target would clamp where clamping is not exact."""
    import numpy as np

    out = []
    candidates = list(model.graph.initializers.values()) + [
        n.outputs[0] for n in model.graph if n.op_type == "Constant" and n.outputs
    ]
    for c in candidates:
        if c.dtype != ir.DataType.INT64 or not is_constant(c):
            continue
        uses = list(c.uses())
        if not uses or all(clamp_exact_use(u.node, u.idx) for u in uses):
            continue
        tensor = ir.convenience.get_const_tensor(c)
        if tensor is None:
            continue
        arr = np.asarray(tensor.numpy())
        if arr.size == 0:
            continue
        iv = Interval(int(arr.min()), int(arr.max()))
        if not iv.fits_int32():
            why = "--strict" if options.strict and profile.handles_int64 else f"{profile.name} would clamp it"
            out.append(f"constant {c.name} (read by {uses[0].node.op_type}): {_interval_text(iv)}; {why}")
    return out
