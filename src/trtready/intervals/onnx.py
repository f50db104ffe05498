"""Interval propagation over an ONNX graph (onnx-ir), in topological order.

Small 1-D integer tensors (shape vectors) also keep one interval per element, so that
``Shape -> Gather(1) -> Range`` is bounded by the sequence axis alone, not by the largest dim.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from trtready.intervals import COMPARISONS, INT64_MAX, Interval, index_interval, monotone, true_div, truncate_to_int
from trtready.lazy import ir, np

_MAX_ELEMS = 16


@dataclass(frozen=True)
class AbsValue:
    """What is known of a tensor's values: their hull and, for short vectors, each element."""

    hull: Interval
    elems: tuple[Interval, ...] | None = None

    @classmethod
    def of(cls, elems: Sequence[Interval]) -> AbsValue | None:
        if not elems:
            return None
        return cls(Interval.hull(list(elems)), tuple(elems) if len(elems) <= _MAX_ELEMS else None)


Env = dict["ir.Value", AbsValue | None]
DimBounds = dict[str, Interval]  # symbolic dim name -> bounds


def _const(value: ir.Value) -> AbsValue | None:
    """Exact value of an initializer or a Constant's output (reads the tensor).

    A tensor held in an external-data file is summarised in chunks read from the file
    (:func:`_external_summary`) and the summary is kept on the value: the whole tensor is never
    mapped or copied, so a model of several GB is analysed in the memory of one chunk, and the
    propagations a run makes (demands, rewrites) read each file once.
    """
    try:
        t = ir.convenience.get_const_tensor(value)
    except (ValueError, TypeError):  # a malformed Constant: unknown
        return None
    if t is None:
        return None
    if isinstance(t, ir.ExternalTensor) and t.size > _MAX_ELEMS:
        cached = value.meta.get(_SUMMARY)
        if cached is not None and cached[0] is t:
            return cached[1]  # type: ignore[no-any-return]
        summary = _external_summary(t)
        if summary is not _UNREADABLE_BY_CHUNKS:
            value.meta[_SUMMARY] = (t, summary)
            return summary  # type: ignore[return-value]
    try:
        arr = np.asarray(t.numpy())
    except Exception:  # external data unreadable, exotic dtypes: unknown
        return None
    return _summary(arr)


def _summary(arr: np.ndarray[tuple[int, ...], np.dtype[np.generic]]) -> AbsValue | None:
    """Hull (and for short vectors each element) of an integer tensor; hull of a finite float one."""
    if arr.size == 0 or arr.dtype.kind not in "iub":
        if arr.dtype.kind == "f" and arr.size and np.isfinite(arr).all():
            return AbsValue(Interval(float(arr.min()), float(arr.max())))
        return None
    flat = arr.reshape(-1)
    if flat.size <= _MAX_ELEMS:
        return AbsValue.of([Interval.point(int(v)) for v in flat])
    return AbsValue(Interval(int(flat.min()), int(flat.max())))


_SUMMARY = "trtready.const_summary"
_CHUNK_BYTES = 16 << 20
_UNREADABLE_BY_CHUNKS = object()


def _external_summary(t: ir.ExternalTensor) -> AbsValue | None | object:
    """:func:`_summary` of an external tensor, read CHUNK_BYTES at a time from its file (its location
    was confined to the model's folder at load). Types numpy cannot read from raw bytes (4-bit,
    bfloat16, …) answer ``_UNREADABLE_BY_CHUNKS``: the caller falls back to the tensor's own reader."""
    try:
        dt = np.dtype(t.dtype.numpy()).newbyteorder("<")
    except (TypeError, ValueError, AttributeError):
        return _UNREADABLE_BY_CHUNKS
    if dt.kind not in "iubf" or t.dtype.bitwidth != 8 * dt.itemsize or dt.itemsize > 8:
        return _UNREADABLE_BY_CHUNKS
    total = t.size
    per_chunk = max(1, _CHUNK_BYTES // dt.itemsize)
    lo = hi = None
    try:
        with open(t.path, "rb") as f:
            f.seek(t.offset or 0)
            done = 0
            while done < total:
                n = min(per_chunk, total - done)
                buf = f.read(n * dt.itemsize)
                if len(buf) != n * dt.itemsize:
                    return None  # truncated: unknown (load has already refused such files)
                part = np.frombuffer(buf, dtype=dt)
                if dt.kind == "f" and not np.isfinite(part).all():
                    return None
                pmin, pmax = part.min().item(), part.max().item()
                lo = pmin if lo is None else min(lo, pmin)
                hi = pmax if hi is None else max(hi, pmax)
                done += n
    except OSError:
        return None
    if lo is None or hi is None:
        return None
    if dt.kind == "f":
        return AbsValue(Interval(float(lo), float(hi)))
    return AbsValue(Interval(int(lo), int(hi)))


def _dim(d: int | ir.SymbolicDim, dims: DimBounds) -> Interval | None:
    if isinstance(d, int):
        return Interval.point(d)
    name = getattr(d, "value", None)
    if name is not None and name in dims:
        return dims[name]
    return None


def _shape_elems(value: ir.Value | None, dims: DimBounds) -> list[Interval | None] | None:
    shape = value.shape if value is not None else None  # an omitted optional input has no shape
    if shape is None:
        return None
    return [_dim(d, dims) for d in shape]


def _attr(node: ir.Node, name: str, default: Any = None) -> Any:
    a = node.attributes.get(name)
    return a.value if a is not None else default


# --- transfer functions: (node, inputs' AbsValues, env-helpers) -> list of output AbsValues ------
Transfer = Callable[["ir.Node", list[AbsValue | None], DimBounds], list[AbsValue | None]]


def _elementwise(fn: Callable[..., Interval | None]) -> Transfer:
    def tf(node: ir.Node, ins: list[AbsValue | None], dims: DimBounds) -> list[AbsValue | None]:
        if any(a is None for a in ins) or not ins:
            return [None]
        vals = [a for a in ins if a is not None]
        if all(v.elems is not None for v in vals):
            lens = {len(v.elems) for v in vals if v.elems is not None}
            if len(lens - {1}) <= 1:
                n = max(lens)
                known = [v.elems for v in vals if v.elems is not None]
                rows = [[e[i if len(e) > 1 else 0] for e in known] for i in range(n)]
                out = [fn(*r) for r in rows]
                if all(o is not None for o in out):
                    return [AbsValue.of([o for o in out if o is not None])]
        hull = fn(*[v.hull for v in vals])
        if hull is None or math.isnan(hull.lo) or math.isnan(hull.hi):
            return [None]
        return [AbsValue(hull)]

    return tf


def _variadic(fn: Callable[[Interval, Interval], Interval]) -> Transfer:
    def tf(node: ir.Node, ins: list[AbsValue | None], dims: DimBounds) -> list[AbsValue | None]:
        if not ins or any(a is None for a in ins):
            return [None]
        acc = ins[0].hull  # type: ignore[union-attr]
        for a in ins[1:]:
            acc = fn(acc, a.hull)  # type: ignore[union-attr]
        return [AbsValue(acc)]

    return tf


def _passthrough(node: ir.Node, ins: list[AbsValue | None], dims: DimBounds) -> list[AbsValue | None]:
    return [ins[0] if ins else None]


def _keep_hull(node: ir.Node, ins: list[AbsValue | None], dims: DimBounds) -> list[AbsValue | None]:
    return [AbsValue(ins[0].hull) if ins and ins[0] is not None else None]


def _shape(node: ir.Node, ins: list[AbsValue | None], dims: DimBounds) -> list[AbsValue | None]:
    elems = _shape_elems(node.inputs[0], dims)
    if elems is None:
        return [None]
    rank = len(elems)
    start = _attr(node, "start", 0)
    end = _attr(node, "end", rank)
    start, end = (s + rank if s < 0 else s for s in (start, end))
    picked = elems[max(0, start) : min(rank, end)]
    if not picked:
        return [None]
    # An unbounded dim is still a size: [0, INT64_MAX] keeps the bounded elements usable.
    return [AbsValue.of([e if e is not None else Interval(0, INT64_MAX) for e in picked])]


def _size(node: ir.Node, ins: list[AbsValue | None], dims: DimBounds) -> list[AbsValue | None]:
    elems = _shape_elems(node.inputs[0], dims)
    if elems is None or any(e is None for e in elems):
        return [None]
    total = Interval.point(1)
    for e in elems:
        total = total * e  # type: ignore[operator]
    return [AbsValue(total)]


def _axis_size(node: ir.Node, dims: DimBounds) -> Interval | None:
    elems = _shape_elems(node.inputs[0], dims)
    if elems is None:
        return None
    axis = _attr(node, "axis", 0)
    axis = axis + len(elems) if axis < 0 else axis
    return elems[axis] if 0 <= axis < len(elems) else None


def _argmax(node: ir.Node, ins: list[AbsValue | None], dims: DimBounds) -> list[AbsValue | None]:
    size = _axis_size(node, dims)
    iv = index_interval(int(size.hi)) if size is not None else None
    return [AbsValue(iv) if iv is not None else None]


def _topk(node: ir.Node, ins: list[AbsValue | None], dims: DimBounds) -> list[AbsValue | None]:
    size = _axis_size(node, dims)
    iv = index_interval(int(size.hi)) if size is not None else None
    return [_keep_hull(node, ins, dims)[0], AbsValue(iv) if iv is not None else None]


def _gather(node: ir.Node, ins: list[AbsValue | None], dims: DimBounds) -> list[AbsValue | None]:
    data, idx = (ins + [None, None])[:2]
    if data is None:
        return [None]
    if data.elems is not None and idx is not None and idx.elems is not None and _attr(node, "axis", 0) == 0:
        n = len(data.elems)
        picked = []
        for i in idx.elems:
            if i.lo != i.hi or not -n <= i.lo < n:
                return [AbsValue(data.hull)]
            picked.append(data.elems[int(i.lo)])
        return [AbsValue.of(picked)]
    return [AbsValue(data.hull)]


def _slice(node: ir.Node, ins: list[AbsValue | None], dims: DimBounds) -> list[AbsValue | None]:
    data = ins[0] if ins else None
    if data is None:
        return [None]
    if data.elems is not None and len(ins) >= 3 and all(a is not None and a.elems for a in ins[1:3]):
        starts, ends = ins[1].elems, ins[2].elems  # type: ignore[union-attr]
        steps = ins[4].elems if len(ins) > 4 and ins[4] is not None else None
        if starts is not None and ends is not None and len(starts) == 1 and starts[0].lo == starts[0].hi \
                and ends[0].lo == ends[0].hi and (
            steps is None or (len(steps) == 1 and steps[0].lo == steps[0].hi)
        ):
            step = int(steps[0].lo) if steps else 1
            if step != 0:
                picked = list(data.elems)[slice(int(starts[0].lo), int(ends[0].lo), step)]
                if picked:
                    return [AbsValue.of(picked)]
    return [AbsValue(data.hull)]


def _concat(node: ir.Node, ins: list[AbsValue | None], dims: DimBounds) -> list[AbsValue | None]:
    if not ins or any(a is None for a in ins):
        return [None]
    if all(a.elems is not None for a in ins):  # type: ignore[union-attr]
        return [AbsValue.of([e for a in ins for e in a.elems])]  # type: ignore[union-attr]
    return [AbsValue(Interval.hull([a.hull for a in ins]))]  # type: ignore[union-attr]


def _where(node: ir.Node, ins: list[AbsValue | None], dims: DimBounds) -> list[AbsValue | None]:
    if len(ins) < 3:
        return [None]
    t = _truth(ins[0])
    if t is not None:  # the condition is proved: only one side is ever read
        return [ins[1] if t else ins[2]]
    if ins[1] is None or ins[2] is None:
        return [None]
    return [AbsValue(Interval.hull([ins[1].hull, ins[2].hull]))]


def _clip(node: ir.Node, ins: list[AbsValue | None], dims: DimBounds) -> list[AbsValue | None]:
    x = ins[0] if ins else None
    if x is None:
        return [None]
    lo = ins[1] if len(ins) > 1 else None
    hi = ins[2] if len(ins) > 2 else None
    if (len(ins) > 1 and node.inputs[1] is not None and lo is None) or (
        len(ins) > 2 and node.inputs[2] is not None and hi is None
    ):
        return [None]
    return [AbsValue(x.hull.clip(lo.hull.lo if lo else None, hi.hull.hi if hi else None))]


def _div(node: ir.Node, ins: list[AbsValue | None], dims: DimBounds) -> list[AbsValue | None]:
    dtype = node.outputs[0].dtype
    if dtype is not None and dtype.is_floating_point():
        return _elementwise(true_div)(node, ins, dims)
    if dtype is not None and not dtype.is_integer():
        return [None]
    return _elementwise(lambda a, b: a.floordiv(b))(node, ins, dims)


def _float_fn(fn: Callable[[Interval], Interval | None]) -> Transfer:
    """A float-only function of one input (Log, Exp, Sqrt, Floor, Ceil, Reciprocal)."""

    def tf(node: ir.Node, ins: list[AbsValue | None], dims: DimBounds) -> list[AbsValue | None]:
        x = ins[0] if ins else None
        dtype = node.outputs[0].dtype
        if x is None or dtype is None or not dtype.is_floating_point():
            return [None]
        out = fn(x.hull)
        return [AbsValue(out) if out is not None else None]

    return tf


def _log(x: Interval) -> Interval | None:
    if x.lo < 0:
        return None  # NaN somewhere
    return monotone(x, lambda v: math.log(v) if v > 0 else -math.inf)


def _exp(x: Interval) -> Interval:
    def exp(v: float) -> float:
        try:
            return math.exp(v)
        except OverflowError:
            return math.inf

    return monotone(x, exp)


def _sqrt(x: Interval) -> Interval | None:
    return monotone(x, math.sqrt) if x.lo >= 0 else None


def _reciprocal(x: Interval) -> Interval | None:
    return true_div(Interval.point(1.0), x)


def _pow(node: ir.Node, ins: list[AbsValue | None], dims: DimBounds) -> list[AbsValue | None]:
    """A non-negative base to a constant exponent: monotone in the base."""
    if len(ins) < 2 or ins[0] is None or ins[1] is None:
        return [None]
    base, e = ins[0].hull, ins[1].hull
    dtype = node.outputs[0].dtype
    if e.lo != e.hi or base.lo < 0 or dtype is None or not dtype.is_floating_point():
        return [None]
    p = float(e.lo)
    if p < 0 and base.lo == 0:
        return [None]

    def power(v: float) -> float:
        try:
            return math.pow(v, p)
        except OverflowError:
            return math.inf

    return [AbsValue(monotone(base, power, increasing=p >= 0))]


_BOOL = Interval(0, 1)


def _truth(x: AbsValue | None) -> bool | None:
    """True/False when a bool value is proved constant, else None."""
    if x is None or x.hull.lo != x.hull.hi:
        return None
    return bool(x.hull.lo)


def _compare(test: Callable[[Interval, Interval], bool | None]) -> Transfer:
    """A comparison: always a bool, folded to a constant where the intervals decide it everywhere."""

    def tf(node: ir.Node, ins: list[AbsValue | None], dims: DimBounds) -> list[AbsValue | None]:
        a, b = (ins + [None, None])[:2]
        if a is not None and b is not None and a.hull.is_integral and b.hull.is_integral:
            verdict = test(a.hull, b.hull)
            if verdict is not None:
                return [AbsValue(Interval.point(int(verdict)))]
        return [AbsValue(_BOOL)]

    return tf


_COMPARE = {"Less": "lt", "LessOrEqual": "le", "Greater": "gt", "GreaterOrEqual": "ge", "Equal": "eq"}


def _not(node: ir.Node, ins: list[AbsValue | None], dims: DimBounds) -> list[AbsValue | None]:
    t = _truth(ins[0] if ins else None)
    return [AbsValue(Interval.point(int(not t))) if t is not None else AbsValue(_BOOL)]


def _logical(op: str) -> Transfer:
    def tf(node: ir.Node, ins: list[AbsValue | None], dims: DimBounds) -> list[AbsValue | None]:
        ts = [_truth(a) for a in ins[:2]]
        if op == "And" and False in ts or op == "Or" and True in ts:
            return [AbsValue(Interval.point(int(op == "Or")))]
        if None not in ts and len(ts) == 2:
            a, b = ts
            out = {"And": a and b, "Or": a or b, "Xor": a != b}[op]
            return [AbsValue(Interval.point(int(bool(out))))]
        return [AbsValue(_BOOL)]

    return tf


def _always_bool(node: ir.Node, ins: list[AbsValue | None], dims: DimBounds) -> list[AbsValue | None]:
    return [AbsValue(_BOOL)]


def _range(node: ir.Node, ins: list[AbsValue | None], dims: DimBounds) -> list[AbsValue | None]:
    if len(ins) < 3 or any(a is None for a in ins):
        return [None]
    start, limit, delta = (a.hull for a in ins)  # type: ignore[union-attr]
    if delta.lo > 0:
        return [AbsValue(Interval(start.lo, max(start.lo, limit.hi - 1)))]
    if delta.hi < 0:
        return [AbsValue(Interval(min(start.hi, limit.lo + 1), start.hi))]
    return [None]


def _cumsum(node: ir.Node, ins: list[AbsValue | None], dims: DimBounds) -> list[AbsValue | None]:
    if not ins or ins[0] is None or len(ins) < 2 or ins[1] is None or ins[1].hull.lo != ins[1].hull.hi:
        return [None]
    elems = _shape_elems(node.inputs[0], dims)
    if elems is None:
        return [None]
    axis = int(ins[1].hull.lo)
    axis = axis + len(elems) if axis < 0 else axis
    if not 0 <= axis < len(elems) or elems[axis] is None:
        return [None]
    n = int(elems[axis].hi)  # type: ignore[union-attr]
    x = ins[0].hull
    return [AbsValue(Interval(min(0, x.lo * n, x.lo), max(0, x.hi * n, x.hi)))]


def _cast(node: ir.Node, ins: list[AbsValue | None], dims: DimBounds) -> list[AbsValue | None]:

    x = ins[0] if ins else None
    to_attr = _attr(node, "to")
    to = ir.DataType(to_attr) if to_attr is not None else node.outputs[0].dtype
    if x is None and node.inputs and node.inputs[0] is not None and node.inputs[0].dtype == ir.DataType.BOOL:
        x = AbsValue(_BOOL)  # a bool is 0 or 1, whatever else is known of it
    if x is None or to is None:
        return [None]
    if to.is_integer() or to == ir.DataType.BOOL:
        if to == ir.DataType.BOOL:
            return [AbsValue(_BOOL)] if x.hull.lo != x.hull.hi else [AbsValue(Interval.point(int(x.hull.lo != 0)))]
        if x.hull.is_integral:
            return [x]
        iv = truncate_to_int(x.hull)
        return [AbsValue(iv) if iv is not None else None]
    return [AbsValue(Interval(float(x.hull.lo), float(x.hull.hi)))]


def _constant_of_shape(node: ir.Node, ins: list[AbsValue | None], dims: DimBounds) -> list[AbsValue | None]:
    t = _attr(node, "value")
    if t is None:
        return [AbsValue(Interval.point(0.0 if node.outputs[0].dtype and node.outputs[0].dtype.is_floating_point() else 0))]
    arr = np.asarray(t.numpy()).reshape(-1)
    v = arr[0].item()
    return [AbsValue(Interval.point(v))]


TRANSFER: dict[str, Transfer] = {
    "Add": _elementwise(lambda a, b: a + b),
    "Sub": _elementwise(lambda a, b: a - b),
    "Mul": _elementwise(lambda a, b: a * b),
    "Neg": _elementwise(lambda a: -a),
    "Abs": _elementwise(lambda a: a.abs()),
    "Sign": _elementwise(lambda a: a.sign()),
    "Mod": _elementwise(lambda a, b: a.mod(b)),
    "Div": _div,
    "Log": _float_fn(_log),
    "Exp": _float_fn(_exp),
    "Sqrt": _float_fn(_sqrt),
    "Floor": _float_fn(lambda x: monotone(x, math.floor)),
    "Ceil": _float_fn(lambda x: monotone(x, math.ceil)),
    "Reciprocal": _float_fn(_reciprocal),
    "Pow": _pow,
    **{op: _compare(COMPARISONS[short]) for op, short in _COMPARE.items()},
    "Not": _not,
    "And": _logical("And"),
    "Or": _logical("Or"),
    "Xor": _logical("Xor"),
    "IsNaN": _always_bool,
    "IsInf": _always_bool,
    "Min": _variadic(lambda a, b: a.min(b)),
    "Max": _variadic(lambda a, b: a.max(b)),
    "Clip": _clip,
    "CumSum": _cumsum,
    "Range": _range,
    "Shape": _shape,
    "Size": _size,
    "Gather": _gather,
    "Slice": _slice,
    "Concat": _concat,
    "Where": _where,
    "Cast": _cast,
    "ArgMax": _argmax,
    "ArgMin": _argmax,
    "TopK": _topk,
    "ConstantOfShape": _constant_of_shape,
    "Identity": _passthrough,
    "Reshape": _passthrough,
    "Unsqueeze": _passthrough,
    "Squeeze": _passthrough,
    "Flatten": _passthrough,
    "Expand": _keep_hull,
    "Tile": _keep_hull,
    "Transpose": _keep_hull,
    "GatherElements": _keep_hull,
    "GatherND": _keep_hull,
    "ReduceMax": _keep_hull,
    "ReduceMin": _keep_hull,
}


def _narrower(a: Interval, b: Interval) -> bool:
    return a.lo >= b.lo and a.hi <= b.hi and a != b


# Ops whose output element at a position depends only on their inputs' elements at the same
# (broadcast) position: a condition on x restricts x's value in the branch computed through them.
_ELEMENTWISE = frozenset({
    "Add", "Sub", "Mul", "Div", "Neg", "Abs", "Sign", "Min", "Max", "Clip", "Log", "Exp", "Sqrt", "Floor", "Ceil",
    "Reciprocal", "Pow", "Cast", "Identity", "Not", "And", "Or", "Xor", "Where", "Less", "LessOrEqual",
    "Greater", "GreaterOrEqual", "Equal", "Mod",
})
_MAX_CONE = 64
_FLIP = {"Less": "Greater", "Greater": "Less", "LessOrEqual": "GreaterOrEqual", "GreaterOrEqual": "LessOrEqual"}
_NEGATE = {"Less": "GreaterOrEqual", "GreaterOrEqual": "Less", "Greater": "LessOrEqual", "LessOrEqual": "Greater"}


def _restrict(x: Interval, op: str, c: Interval) -> Interval | None:
    """``x`` where ``x OP c`` holds for the constant ``c`` (None when it never holds)."""
    one = 1 if x.is_integral and c.is_integral else 0
    lo, hi = x.lo, x.hi
    if op == "Less":
        hi = min(hi, c.hi - one)
    elif op == "LessOrEqual":
        hi = min(hi, c.hi)
    elif op == "Greater":
        lo = max(lo, c.lo + one)
    elif op == "GreaterOrEqual":
        lo = max(lo, c.lo)
    return Interval(lo, hi) if lo <= hi else None


def _guard(cond: ir.Value, env: Env) -> tuple[ir.Value, str, Interval] | None:
    """``cond`` as ``x OP c`` with ``c`` a proved constant (through Not), else None."""
    node = cond.producer()
    negate = False
    while node is not None and node.op_type == "Not" and node.domain in ("", "ai.onnx"):
        negate, node = not negate, node.inputs[0].producer() if node.inputs[0] is not None else None
    if node is None or node.domain not in ("", "ai.onnx") or node.op_type not in _FLIP or len(node.inputs) != 2:
        return None
    a, b = node.inputs
    op = node.op_type
    cb = env.get(b) if b is not None else None
    ca = env.get(a) if a is not None else None
    if cb is not None and cb.hull.lo == cb.hull.hi and a is not None:
        x, c = a, cb.hull
    elif ca is not None and ca.hull.lo == ca.hull.hi and b is not None:
        x, c, op = b, ca.hull, _FLIP[op]
    else:
        return None
    return x, (_NEGATE[op] if negate else op), c


def _refined(branch: ir.Value, x: ir.Value, bound: Interval, env: Env, dims: DimBounds,
             order: dict[ir.Node, int]) -> tuple[AbsValue | None, set[ir.Node], Env] | None:
    """``branch`` recomputed with ``x`` restricted to ``bound``, with the cone it was recomputed
    through and each cone value's interval there (None when the cone is too large or a rule fails).

    The elementwise producers above ``branch`` (reached through elementwise ops only, at most
    ``_MAX_CONE``) are re-evaluated in graph order; every other value keeps its unrestricted interval,
    which is wider and so still sound.
    """
    if branch is x:
        return AbsValue(bound), set(), {}
    cone: set[ir.Node] = set()
    stack = [branch.producer()]
    while stack:
        n = stack.pop()
        if n is None or n in cone or n.domain not in ("", "ai.onnx") or n.op_type not in _ELEMENTWISE:
            continue
        if len(cone) >= _MAX_CONE:
            return None
        cone.add(n)
        stack.extend(v.producer() for v in n.inputs if v is not None and v is not x)
    local: dict[ir.Value, AbsValue | None] = {x: AbsValue(bound)}
    for n in sorted(cone, key=lambda n: order.get(n, -1)):
        ins = [local.get(v, env.get(v)) if v is not None else None for v in n.inputs]
        try:
            outs = TRANSFER[n.op_type](n, ins, dims)
        except (TypeError, ValueError, IndexError, AttributeError, ZeroDivisionError, OverflowError):
            return None
        for i, out in enumerate(n.outputs):
            local[out] = outs[i] if i < len(outs) else None
    return local.get(branch, env.get(branch)), cone, local


# Ops that read a tensor's shape, never its values.
_SHAPE_ONLY = frozenset({"Shape", "Size"})
# Integer ops that can trap on a value a narrower type wraps (a divisor that becomes 0): a value read by
# one is not followed as read only where its Where takes it.
_TRAPS = frozenset({"Div", "Mod"})


def _read_where_taken(where: ir.Node, idx: int, cone: set[ir.Node], local: Env,
                      order: dict[ir.Node, int]) -> dict[ir.Value, Interval]:
    """Cone values whose every element that is read ends up in ``where``'s branch ``idx`` at a
    position where the Where takes it, with their interval there.

    A value qualifies when each reader is that branch slot, a Shape/Size (which reads no values), or
    a cone node (elementwise) whose outputs all qualify — walked from the Where back, in reverse graph
    order. An elementwise node reads its inputs at the broadcast of the output position, and a value
    computed from the guard's ``x`` has every axis ``x`` varies on, so the guard at a position of the
    Where depends only on the element of the value it reads. Elements read elsewhere are never read:
    what they hold (a float ``-inf`` cast to an integer) cannot reach a result.
    """
    only: set[ir.Value] = set()
    out: dict[ir.Value, Interval] = {}
    for n in sorted(cone, key=lambda n: order.get(n, -1), reverse=True):
        for v in n.outputs:
            if v.is_graph_output():
                continue
            ok = True
            for use in v.uses():
                u, i = use.node, use.idx
                standard = u.domain in ("", "ai.onnx")
                if (u is where and i == idx) or (standard and u.op_type in _SHAPE_ONLY):
                    continue
                traps = u.op_type in _TRAPS and any(o.dtype is not None and o.dtype.is_integer() for o in u.outputs)
                if u in cone and not traps and all(o in only for o in u.outputs if o.uses() or o.is_graph_output()):
                    continue
                ok = False
                break
            if ok:
                only.add(v)
                av = local.get(v)
                if av is not None:
                    out[v] = av.hull
    return out


@dataclass
class Guards:
    """What the guarded Wheres prove (:func:`propagate` fills it)."""

    # (Where, branch input) -> the branch's values where the Where takes it (None: never taken).
    branches: dict[tuple[ir.Node, int], Interval | None] = field(default_factory=dict)
    # A value whose every element that is read reaches a Where's branch where it is taken -> its values
    # there. The planner may narrow it when that interval fits: the other elements are never read.
    read_where_taken: dict[ir.Value, Interval] = field(default_factory=dict)


def _guarded_where(node: ir.Node, env: Env, dims: DimBounds, order: dict[ir.Node, int],
                   guards: Guards | None = None) -> AbsValue | None:
    """``Where(x OP c, a, b)``: ``a`` only where ``x OP c`` holds, ``b`` only where it does not.

    Each branch is recomputed with ``x`` restricted accordingly, so a value the condition discards
    (T5's ``log(0)`` at relative position 0, taken only where ``x < max_exact`` picks the other side)
    does not widen the result. Sound only through elementwise ops, where a position of the branch
    reads ``x`` at the same broadcast position as the condition does.
    """
    cond, a, b = node.inputs[0], node.inputs[1], node.inputs[2]
    if cond is None or a is None or b is None:
        return None
    guard = _guard(cond, env)
    if guard is None:
        return None
    x, op, c = guard
    xv = env.get(x)
    if xv is None:
        return None
    sides = []
    taken: dict[int, Interval | None] = {}
    reads: dict[int, dict[ir.Value, Interval]] = {}
    for idx, branch, holds in ((1, a, op), (2, b, _NEGATE[op])):
        bound = _restrict(xv.hull, holds, c)
        if bound is None:
            taken[idx] = None  # this side is never taken
            continue
        refined = _refined(branch, x, bound, env, dims, order)
        if refined is None:
            return None
        val, cone, local = refined
        if val is None:
            return None
        taken[idx] = val.hull
        sides.append(val.hull)
        reads[idx] = _read_where_taken(node, idx, cone, local, order)
    if guards is not None:
        guards.branches.update({(node, idx): hull for idx, hull in taken.items()})
        for found in reads.values():
            guards.read_where_taken.update(found)
    return AbsValue(Interval.hull(sides)) if sides else None


def propagate(graph: ir.Graph, inputs: dict[str, Interval] | None = None, dims: DimBounds | None = None,
              guards: Guards | None = None) -> Env:
    """Abstract value of every value of ``graph``'s main scope, keyed by value.

    ``guards``, when given, receives for each guarded Where the values of each branch where it is
    taken (None: never taken): the planner may cast such a branch down even if it is wider elsewhere.
    """
    env: Env = {}
    dims = dims or {}
    order: dict[ir.Node, int] | None = None
    for v in graph.inputs:
        iv = (inputs or {}).get(v.name or "")
        env[v] = AbsValue(iv) if iv is not None else None
    for v in graph.initializers.values():
        if env.get(v) is None:
            env[v] = _const(v)
    for node in graph:
        ins = [env.get(v) if v is not None else None for v in node.inputs]
        outs: list[AbsValue | None]
        if node.op_type == "Constant" and node.domain in ("", "ai.onnx"):
            outs = [_const(node.outputs[0])]
        elif node.domain in ("", "ai.onnx") and node.op_type in TRANSFER:
            try:
                outs = TRANSFER[node.op_type](node, ins, dims)
            except (TypeError, ValueError, IndexError, AttributeError, ZeroDivisionError, OverflowError):
                outs = [None]
            if node.op_type == "Where" and len(node.inputs) == 3 and _truth(ins[0]) is None:
                if order is None:
                    order = {n: i for i, n in enumerate(graph)}
                guarded = _guarded_where(node, env, dims, order, guards)
                if guarded is not None and (outs[0] is None or _narrower(guarded.hull, outs[0].hull)):
                    outs = [guarded]
        else:
            outs = [None]
        for i, out in enumerate(node.outputs):
            env[out] = outs[i] if i < len(outs) else None
    return env
