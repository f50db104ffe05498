"""Demanded ranges: what valid inputs must respect for every index to stay inside its table.

An integer graph input that reaches the index operand of a table lookup — ONNX ``Gather``/
``GatherElements`` on a constant or bounded axis, ``aten.embedding``/``index_select``/``index`` —
through integer ops that preserve order cannot take a value that sends that index past the table:
PyTorch and ONNX Runtime raise on such an input, TensorRT returns zero rows (NVIDIA/TensorRT#4774).
Walking back from each index, a *demand* — an interval every element of a value must lie in for the
index to be valid — is carried to the ops' operands:

- moves (Identity, Reshape, Squeeze/Unsqueeze, Flatten, Transpose, Expand, Tile, Concat, widening
  integer Casts, a Slice that keeps every element): the same demand;
- ``y = x + c`` / ``x - c`` / ``c - x`` with ``c`` proved in ``C``: ``Y`` shifted by ``C``; ``-x``: ``-Y``;
- ``y = x * c`` with ``c`` proved ``>= 1`` (or ``<= -1``): ``|x| <= |y|`` on the same side of 0;
- an integer self-product ``y = x * x``: ``|x| <= isqrt(max Y)``;
- ``y = cumsum(x) * x`` (OPT's positions): with ``|y| <= P``, every partial sum is within ``P`` (where
  ``x`` is not 0, ``|cumsum| = |y| / |x| <= P``; where it is 0 the sum does not move), so
  ``|x| <= 2P``;
- ``y = cumsum(x)``: ``x`` is a difference of two partial sums, in ``[Y.lo - Y.hi, Y.hi - Y.lo]``.

Each rule is a necessary condition — an element outside the demand makes some index invalid — so
demands from several indices intersect. A demand is an **assumption about valid inputs, never a proof
about all inputs**: it is kept apart from proved intervals (:class:`Demand` carries the table, its
rows, the index and the path), stated in the report, and turned off by ``--strict``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from trtready.intervals import INT32_MAX, Interval
from trtready.intervals.fx import _schema_aliases, sym_bounds
from trtready.lazy import ir
from trtready.signature import program_input_names

if TYPE_CHECKING:
    import torch.fx
    from torch.export import ExportedProgram
    from torch.fx.node import Argument

    from trtready.intervals.fx import Ranges
    from trtready.intervals.onnx import AbsValue, DimBounds

ASSUMPTION = "valid inputs index inside the tables"


@dataclass(frozen=True)
class Demand:
    """What every valid value of an input lies in, and the lookup that demands it."""

    interval: Interval
    table: str  # the table read (initializer, parameter or tensor name)
    rows: int  # its size along the indexed axis (the largest the bounds allow)
    index: str  # the lookup: "Gather node_embedding_1" / "aten.embedding embedding_1"
    path: tuple[str, ...]  # ops from the input to the lookup, in order
    # Only moves on the path: every value in the interval is valid too (generated inputs may use it);
    # through arithmetic a demand is necessary, not sufficient.
    exact: bool = True
    lookups: tuple[str, ...] = ()  # every lookup whose validity this demand assumes (merged demands: all)

    def statement(self, name: str) -> str:
        via = " → ".join(self.path) if self.path else "directly"
        return (f"{name} assumed in {self.interval} ({ASSUMPTION}): {self.table} has {self.rows} rows, "
                f"read by {self.index} via {via}")

    def to_json(self) -> dict[str, Any]:
        return {"interval": self.interval.to_json(), "assumption": ASSUMPTION, "table": self.table,
                "rows": self.rows, "index": self.index, "path": list(self.path), "exact": self.exact,
                "lookups": list(self.lookups)}


def _meet(a: Interval, b: Interval) -> Interval | None:
    lo, hi = max(a.lo, b.lo), min(a.hi, b.hi)
    return Interval(lo, hi) if lo <= hi else None


def merge(old: Demand | None, new: Demand) -> Demand | None:
    """Two demands on one value: both hold for valid inputs, so their intersection does (the
    provenance shown is the narrower one's). None when they contradict: then nothing is assumed."""
    if old is None:
        return new
    met = _meet(old.interval, new.interval)
    if met is None:
        return None
    keep = new if (new.interval.hi - new.interval.lo) < (old.interval.hi - old.interval.lo) else old
    exact = keep.exact and met == keep.interval
    lookups = tuple(dict.fromkeys(old.lookups + new.lookups))
    return Demand(met, keep.table, keep.rows, keep.index, keep.path, exact, lookups)


def _bound(y: Interval) -> int:
    return int(max(abs(y.lo), abs(y.hi)))


def shift_add(y: Interval, c: Interval) -> Interval:
    """``x`` where ``x + c`` must lie in ``y`` for some ``c`` in ``c``."""
    return Interval(y.lo - c.hi, y.hi - c.lo)


def shift_sub(y: Interval, c: Interval) -> Interval:
    """``x`` where ``x - c`` must lie in ``y``."""
    return Interval(y.lo + c.lo, y.hi + c.hi)


def shift_rsub(y: Interval, c: Interval) -> Interval:
    """``x`` where ``c - x`` must lie in ``y``."""
    return Interval(c.lo - y.hi, c.hi - y.lo)


def scaled(y: Interval, c: Interval) -> Interval | None:
    """``x`` where ``x * c`` must lie in ``y``, for ``c`` proved away from 0 (``|x * c| >= |x|``, same side)."""
    if c.lo >= 1:
        return Interval(min(0, int(y.lo)), max(0, int(y.hi)))
    if c.hi <= -1:
        return Interval(min(0, -int(y.hi)), max(0, -int(y.lo)))
    return None


def self_product(y: Interval) -> Interval | None:
    if y.hi < 0:
        return None
    r = math.isqrt(int(y.hi))
    return Interval(-r, r)


def cumsum_product(y: Interval) -> tuple[Interval, Interval]:
    """(demand on ``x``, demand on ``cumsum(x)``) where ``cumsum(x) * x`` must lie in ``y``."""
    p = _bound(y)
    return Interval(-2 * p, 2 * p), Interval(-p, p)


def cumsum_input(y: Interval) -> Interval:
    return Interval(int(y.lo - y.hi), int(y.hi - y.lo))


# --- ONNX ------------------------------------------------------------------------------------------
_MOVES = {"Identity", "Reshape", "Squeeze", "Unsqueeze", "Flatten", "Transpose", "Expand", "Tile"}
_DOMAINS = ("", "ai.onnx")


def _op(node: ir.Node | None) -> str:
    return node.op_type if node is not None and node.domain in _DOMAINS else ""


def _axis_rows(data: ir.Value | None, axis: int, dims: DimBounds) -> int | None:
    """The largest size the bounds allow for ``data``'s axis (an int, or a bounded symbolic dim)."""
    if data is None or data.shape is None:
        return None
    rank = len(data.shape)
    axis = axis + rank if axis < 0 else axis
    if not 0 <= axis < rank:
        return None
    d = data.shape[axis]
    if isinstance(d, int):
        return d
    name = getattr(d, "value", None)
    return int(dims[name].hi) if name is not None and name in dims else None


def _name_of(v: ir.Value | None) -> str:
    return (v.name or "?") if v is not None else "?"


def _full_slice(node: ir.Node, env: dict[ir.Value, AbsValue | None], dims: DimBounds) -> bool:
    """A Slice that keeps every element: starts 0, steps 1, ends past each sliced axis."""
    ins = list(node.inputs) + [None] * 5
    data, starts, ends, axes, steps = ins[:5]

    def const(v: ir.Value | None) -> list[int] | None:
        av = env.get(v) if v is not None else None
        if av is None or av.elems is None or any(e.lo != e.hi for e in av.elems):
            return None
        return [int(e.lo) for e in av.elems]

    s, e = const(starts), const(ends)
    a = const(axes) if axes is not None else (list(range(len(s))) if s is not None else None)
    st = const(steps) if steps is not None else ([1] * len(s) if s is not None else None)
    if s is None or e is None or a is None or st is None or not (len(s) == len(e) == len(a) == len(st)):
        return False
    for start, end, axis, step in zip(s, e, a, st):
        rows = _axis_rows(data, axis, dims)
        if start != 0 or step != 1 or not (end >= INT32_MAX or (rows is not None and end >= rows)):
            return False
    return True


def onnx_demands(graph: ir.Graph, env: dict[ir.Value, AbsValue | None], dims: DimBounds) -> dict[str, Demand]:
    """The demand on each integer graph input of ``graph``'s main scope (see the module docstring).

    ``env`` holds the intervals proved without any demand: they bound the other operands.
    """
    demands: dict[ir.Value, Demand] = {}

    def put(v: ir.Value | None, iv: Interval | None, via: Demand, step: str, move: bool = False) -> None:
        if v is None or iv is None or v.dtype is None or not v.dtype.is_integer():
            return
        merged = merge(demands.get(v), Demand(iv, via.table, via.rows, via.index,
                                              (step, *via.path) if step else via.path, via.exact and (move or not step),
                                              via.lookups))
        if merged is not None:
            demands[v] = merged

    def iv(v: ir.Value | None) -> Interval | None:
        av = env.get(v) if v is not None else None
        return av.hull if av is not None and av.hull.is_integral else None

    nodes = list(graph)
    for node in nodes:  # the lookups
        op = _op(node)
        if op in ("Gather", "GatherElements") and len(node.inputs) > 1:
            attr = node.attributes.get("axis")
            axis = int(attr.value) if attr is not None else 0
            rows = _axis_rows(node.inputs[0], axis, dims)
            if rows is not None and rows > 0:
                label = f"{op} {node.name or ''}".strip()
                seed = Demand(Interval(-rows, rows - 1), _name_of(node.inputs[0]), rows, label, (), True, (label,))
                put(node.inputs[1], seed.interval, seed, "")
    for node in reversed(nodes):
        op = _op(node)
        outs = [demands.get(o) for o in node.outputs]
        y = outs[0] if outs else None
        if y is None:
            continue
        Y = y.interval
        label = f"{op} {node.name or ''}".strip()
        ins = list(node.inputs)
        if op in _MOVES and ins:
            put(ins[0], Y, y, label, move=True)
        elif op == "Concat":
            for v in ins:
                put(v, Y, y, label, move=True)
        elif op == "Slice" and ins and _full_slice(node, env, dims):
            put(ins[0], Y, y, label, move=True)
        elif op == "Cast" and ins and ins[0] is not None and ins[0].dtype is not None:
            src, dst = ins[0].dtype, node.outputs[0].dtype
            if src.is_integer() and dst is not None and dst.is_integer() and dst.itemsize >= src.itemsize \
                    and src != ir.DataType.BOOL:
                put(ins[0], Y, y, label, move=True)
        elif op == "Neg" and ins:
            put(ins[0], -Y, y, label)
        elif op in ("Add", "Sub", "Mul") and len(ins) == 2:
            a, b = ins
            if op == "Add":
                for x, other in ((a, b), (b, a)):
                    c = iv(other)
                    if c is not None:
                        put(x, shift_add(Y, c), y, label)
            elif op == "Sub":
                cb, ca = iv(b), iv(a)
                if cb is not None:
                    put(a, shift_sub(Y, cb), y, label)
                if ca is not None:
                    put(b, shift_rsub(Y, ca), y, label)
            elif a is b:
                put(a, self_product(Y), y, label)
            else:
                for x, other in ((a, b), (b, a)):
                    producer = other.producer() if other is not None else None
                    excl = producer.attributes.get("exclusive") if producer is not None else None
                    if _op(producer) == "CumSum" and producer is not None and producer.inputs[0] is x \
                            and (excl is None or not excl.value):
                        on_x, on_sum = cumsum_product(Y)
                        put(x, on_x, y, label)
                        put(other, on_sum, y, label)
                        break
                    c = iv(other)
                    if c is not None:
                        put(x, scaled(Y, c), y, label)
        elif op == "CumSum" and ins:
            excl = node.attributes.get("exclusive")
            if excl is None or not excl.value:
                put(ins[0], cumsum_input(Y), y, label)
    return {v.name: d for v, d in demands.items() if v.is_graph_input() and v.name}


# --- torch.export ------------------------------------------------------------------------------------
_FX_MOVES = {
    "aten.view.default", "aten.reshape.default", "aten._unsafe_view.default", "aten.unsqueeze.default",
    "aten.squeeze.dim", "aten.squeeze.dims", "aten.squeeze.default", "aten.expand.default", "aten.permute.default",
    "aten.transpose.int", "aten.t.default", "aten.clone.default", "aten.contiguous.default", "aten.alias.default",
    "aten.detach.default", "aten.flatten.using_ints", "aten.lift_fresh_copy.default", "aten.unflatten.int",
}
_FX_CASTS = {"aten._to_copy.default", "aten.to.dtype", "aten.to.dtype_layout", "aten.type_as.default"}


def _fx_int(n: Argument) -> bool:
    import torch
    import torch.fx

    val = n.meta.get("val") if isinstance(n, torch.fx.Node) else None
    return isinstance(val, torch.Tensor) and not val.is_floating_point() and not val.is_complex() \
        and val.dtype != torch.bool


def _fx_rows(table: Argument, dim: int, ranges: Ranges) -> int | None:
    import torch.fx

    val = table.meta.get("val") if isinstance(table, torch.fx.Node) else None
    shape = getattr(val, "shape", None)
    if shape is None or not -len(shape) <= dim < len(shape):
        return None
    b = sym_bounds(shape[dim], ranges)
    return int(b.hi) if b is not None else None


def fx_demands(ep: ExportedProgram, env: dict[str, Interval | None]) -> dict[str, Demand]:
    """The demand on each integer user input of an ExportedProgram (see the module docstring).

    ``env`` holds the node intervals proved without any demand. Values written in place anywhere in
    the program are never carried through (their value changes after it is read).
    """
    import torch.fx

    ranges = ep.range_constraints
    nodes = list(ep.graph.nodes)
    written: set[str] = set()
    for n in nodes:
        pos, writes = _schema_aliases(n.target) if n.op == "call_function" else (None, False)
        if writes and pos is not None and pos < len(n.args) and isinstance(n.args[pos], torch.fx.Node):
            written.add(n.args[pos].name)
    demands: dict[str, Demand] = {}

    def put(a: Argument, iv: Interval | None, via: Demand, step: str, move: bool = False) -> None:
        if not isinstance(a, torch.fx.Node) or iv is None or not _fx_int(a) or a.name in written:
            return
        merged = merge(demands.get(a.name), Demand(iv, via.table, via.rows, via.index,
                                                   (step, *via.path) if step else via.path,
                                                   via.exact and (move or not step), via.lookups))
        if merged is not None:
            demands[a.name] = merged

    def iv(a: Argument) -> Interval | None:
        if isinstance(a, torch.fx.Node):
            v = env.get(a.name)
            return v if v is not None and v.is_integral else None
        if isinstance(a, int) and not isinstance(a, bool):
            return Interval.point(a)
        return None

    def table_name(t: torch.fx.Node) -> str:
        sig = ep.graph_signature
        return str({**sig.inputs_to_parameters, **sig.inputs_to_buffers}.get(t.name, t.name))

    def seed(index: Argument, table: Argument, dim: int, lo_neg: bool, where: str) -> None:
        rows = _fx_rows(table, dim, ranges)
        if rows is None or rows <= 0 or not isinstance(table, torch.fx.Node):
            return
        d = Demand(Interval(-rows if lo_neg else 0, rows - 1), table_name(table), rows, where, (), True, (where,))
        put(index, d.interval, d, "")

    for n in nodes:  # the lookups
        key = str(n.target)
        where = f"{key.rsplit('.', 1)[0]} {n.name}"
        if key == "aten.embedding.default" and len(n.args) > 1:
            seed(n.args[1], n.args[0], 0, False, where)
        elif key == "aten.index_select.default" and len(n.args) > 2 and isinstance(n.args[1], int):
            seed(n.args[2], n.args[0], n.args[1], False, where)
        elif key == "aten.index.Tensor" and len(n.args) > 1 and isinstance(n.args[1], (list, tuple)):
            for k, idx in enumerate(n.args[1]):
                if idx is not None:
                    seed(idx, n.args[0], k, True, where)

    transfers: dict[str, Callable[[torch.fx.Node, Interval], list[tuple[Argument, Interval | None]]]] = {}

    def add(n: torch.fx.Node, Y: Interval) -> list[tuple[Argument, Interval | None]]:
        if n.kwargs.get("alpha", 1) != 1:
            return []
        a, b = n.args[:2]
        return [(x, shift_add(Y, c)) for x, o in ((a, b), (b, a)) if (c := iv(o)) is not None]

    def sub(n: torch.fx.Node, Y: Interval) -> list[tuple[Argument, Interval | None]]:
        if n.kwargs.get("alpha", 1) != 1:
            return []
        a, b = n.args[:2]
        out: list[tuple[Argument, Interval | None]] = []
        if (cb := iv(b)) is not None:
            out.append((a, shift_sub(Y, cb)))
        if (ca := iv(a)) is not None:
            out.append((b, shift_rsub(Y, ca)))
        return out

    def rsub(n: torch.fx.Node, Y: Interval) -> list[tuple[Argument, Interval | None]]:
        a, b = n.args[:2]  # b - a
        cb = iv(b)
        return [(a, shift_rsub(Y, cb))] if cb is not None and n.kwargs.get("alpha", 1) == 1 else []

    def mul(n: torch.fx.Node, Y: Interval) -> list[tuple[Argument, Interval | None]]:
        a, b = n.args[:2]
        if a is b:
            return [(a, self_product(Y))]
        for x, other in ((a, b), (b, a)):
            if isinstance(other, torch.fx.Node) and str(other.target) == "aten.cumsum.default" \
                    and other.args[0] is x:
                on_x, on_sum = cumsum_product(Y)
                return [(x, on_x), (other, on_sum)]
        return [(x, scaled(Y, c)) for x, o in ((a, b), (b, a)) if (c := iv(o)) is not None]

    def cast(n: torch.fx.Node, Y: Interval) -> list[tuple[Argument, Interval | None]]:
        import torch

        if not isinstance(n.args[0], torch.fx.Node):
            return []
        src, dst = n.args[0].meta.get("val"), n.meta.get("val")
        if not (isinstance(src, torch.Tensor) and isinstance(dst, torch.Tensor)):
            return []
        if src.dtype == torch.bool or not _fx_int(n.args[0]) or not _fx_int(n) or dst.dtype.itemsize < src.dtype.itemsize:
            return []
        return [(n.args[0], Y)]

    def slice_(n: torch.fx.Node, Y: Interval) -> list[tuple[Argument, Interval | None]]:
        start = n.args[2] if len(n.args) > 2 else n.kwargs.get("start")
        end = n.args[3] if len(n.args) > 3 else n.kwargs.get("end")
        step = n.args[4] if len(n.args) > 4 else n.kwargs.get("step", 1)
        dim = n.args[1] if len(n.args) > 1 else n.kwargs.get("dim", 0)
        if not isinstance(dim, int):
            return []
        rows = _fx_rows(n.args[0], dim, ranges)
        full_end = end is None or (isinstance(end, int) and (end >= INT32_MAX or (rows is not None and end >= rows)))
        return [(n.args[0], Y)] if start in (None, 0) and step == 1 and full_end else []

    def cat(n: torch.fx.Node, Y: Interval) -> list[tuple[Argument, Interval | None]]:
        tensors = n.args[0]
        return [(t, Y) for t in tensors] if isinstance(tensors, (list, tuple)) else []

    for key in _FX_MOVES:
        transfers[key] = lambda n, Y: [(n.args[0], Y)]
    for key in _FX_CASTS:
        transfers[key] = cast
    transfers.update({
        "aten.add.Tensor": add, "aten.add.Scalar": add, "aten.sub.Tensor": sub, "aten.sub.Scalar": sub,
        "aten.rsub.Scalar": rsub, "aten.rsub.Tensor": rsub, "aten.mul.Tensor": mul, "aten.mul.Scalar": mul,
        "aten.neg.default": lambda n, Y: [(n.args[0], -Y)],
        "aten.cumsum.default": lambda n, Y: [(n.args[0], cumsum_input(Y))],
        "aten.slice.Tensor": slice_,
        "aten.cat.default": cat,
    })
    for n in reversed(nodes):
        d = demands.get(n.name)
        key = str(n.target)
        tf = transfers.get(key)
        if d is None or tf is None or n.name in written:
            continue
        label = f"{key.rsplit('.', 1)[0]} {n.name}"
        move = key in _FX_MOVES or key in _FX_CASTS or key in ("aten.slice.Tensor", "aten.cat.default")
        for arg, req in tf(n, d.interval):
            put(arg, req, d, label, move)
    user_inputs = set(program_input_names(ep))
    return {name: d for name, d in demands.items() if name in user_inputs}
