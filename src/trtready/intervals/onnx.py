"""Interval propagation over an ONNX graph (onnx-ir), in topological order.

Small 1-D integer tensors (shape vectors) also keep one interval per element, so that
``Shape -> Gather(1) -> Range`` is bounded by the sequence axis alone, not by the largest dim.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from trtready.intervals import INT64_MAX, Interval, index_interval

if TYPE_CHECKING:
    import onnx_ir as ir

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
    """Exact value of an initializer or a Constant's output (reads the tensor)."""
    import numpy as np
    import onnx_ir as ir

    try:
        t = ir.convenience.get_const_tensor(value)
    except (ValueError, TypeError):  # a malformed Constant: unknown
        return None
    if t is None:
        return None
    try:
        arr = np.asarray(t.numpy())
    except Exception:  # external data unreadable, exotic dtypes: unknown
        return None
    if arr.size == 0 or arr.dtype.kind not in "iub":
        if arr.dtype.kind == "f" and arr.size and np.isfinite(arr).all():
            return AbsValue(Interval(float(arr.min()), float(arr.max())))
        return None
    flat = arr.reshape(-1)
    if flat.size <= _MAX_ELEMS:
        return AbsValue.of([Interval.point(int(v)) for v in flat])
    return AbsValue(Interval(int(flat.min()), int(flat.max())))


def _dim(d: Any, dims: DimBounds) -> Interval | None:
    if isinstance(d, int):
        return Interval.point(d)
    name = getattr(d, "value", None)
    if name is not None and name in dims:
        return dims[name]
    return None


def _shape_elems(value: Any, dims: DimBounds) -> list[Interval | None] | None:
    shape = value.shape
    if shape is None:
        return None
    return [_dim(d, dims) for d in shape]


def _attr(node: Any, name: str, default: Any = None) -> Any:
    a = node.attributes.get(name)
    return a.value if a is not None else default


# --- transfer functions: (node, inputs' AbsValues, env-helpers) -> list of output AbsValues ------
Transfer = Callable[[Any, list[AbsValue | None], DimBounds], list[AbsValue | None]]


def _elementwise(fn: Callable[..., Interval | None]) -> Transfer:
    def tf(node: Any, ins: list[AbsValue | None], dims: DimBounds) -> list[AbsValue | None]:
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
        return [AbsValue(hull) if hull is not None else None]

    return tf


def _variadic(fn: Callable[[Interval, Interval], Interval]) -> Transfer:
    def tf(node: Any, ins: list[AbsValue | None], dims: DimBounds) -> list[AbsValue | None]:
        if not ins or any(a is None for a in ins):
            return [None]
        acc = ins[0].hull  # type: ignore[union-attr]
        for a in ins[1:]:
            acc = fn(acc, a.hull)  # type: ignore[union-attr]
        return [AbsValue(acc)]

    return tf


def _passthrough(node: Any, ins: list[AbsValue | None], dims: DimBounds) -> list[AbsValue | None]:
    return [ins[0] if ins else None]


def _keep_hull(node: Any, ins: list[AbsValue | None], dims: DimBounds) -> list[AbsValue | None]:
    return [AbsValue(ins[0].hull) if ins and ins[0] is not None else None]


def _shape(node: Any, ins: list[AbsValue | None], dims: DimBounds) -> list[AbsValue | None]:
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


def _size(node: Any, ins: list[AbsValue | None], dims: DimBounds) -> list[AbsValue | None]:
    elems = _shape_elems(node.inputs[0], dims)
    if elems is None or any(e is None for e in elems):
        return [None]
    total = Interval.point(1)
    for e in elems:
        total = total * e  # type: ignore[operator]
    return [AbsValue(total)]


def _axis_size(node: Any, dims: DimBounds) -> Interval | None:
    elems = _shape_elems(node.inputs[0], dims)
    if elems is None:
        return None
    axis = _attr(node, "axis", 0)
    axis = axis + len(elems) if axis < 0 else axis
    return elems[axis] if 0 <= axis < len(elems) else None


def _argmax(node: Any, ins: list[AbsValue | None], dims: DimBounds) -> list[AbsValue | None]:
    size = _axis_size(node, dims)
    iv = index_interval(int(size.hi)) if size is not None else None
    return [AbsValue(iv) if iv is not None else None]


def _topk(node: Any, ins: list[AbsValue | None], dims: DimBounds) -> list[AbsValue | None]:
    size = _axis_size(node, dims)
    iv = index_interval(int(size.hi)) if size is not None else None
    return [_keep_hull(node, ins, dims)[0], AbsValue(iv) if iv is not None else None]


def _gather(node: Any, ins: list[AbsValue | None], dims: DimBounds) -> list[AbsValue | None]:
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


def _slice(node: Any, ins: list[AbsValue | None], dims: DimBounds) -> list[AbsValue | None]:
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


def _concat(node: Any, ins: list[AbsValue | None], dims: DimBounds) -> list[AbsValue | None]:
    if not ins or any(a is None for a in ins):
        return [None]
    if all(a.elems is not None for a in ins):  # type: ignore[union-attr]
        return [AbsValue.of([e for a in ins for e in a.elems])]  # type: ignore[union-attr]
    return [AbsValue(Interval.hull([a.hull for a in ins]))]  # type: ignore[union-attr]


def _where(node: Any, ins: list[AbsValue | None], dims: DimBounds) -> list[AbsValue | None]:
    if len(ins) < 3 or ins[1] is None or ins[2] is None:
        return [None]
    return [AbsValue(Interval.hull([ins[1].hull, ins[2].hull]))]


def _clip(node: Any, ins: list[AbsValue | None], dims: DimBounds) -> list[AbsValue | None]:
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


def _div(node: Any, ins: list[AbsValue | None], dims: DimBounds) -> list[AbsValue | None]:
    if node.outputs[0].dtype is not None and not node.outputs[0].dtype.is_integer():
        return [None]
    return _elementwise(lambda a, b: a.floordiv(b))(node, ins, dims)


def _range(node: Any, ins: list[AbsValue | None], dims: DimBounds) -> list[AbsValue | None]:
    if len(ins) < 3 or any(a is None for a in ins):
        return [None]
    start, limit, delta = (a.hull for a in ins)  # type: ignore[union-attr]
    if delta.lo > 0:
        return [AbsValue(Interval(start.lo, max(start.lo, limit.hi - 1)))]
    if delta.hi < 0:
        return [AbsValue(Interval(min(start.hi, limit.lo + 1), start.hi))]
    return [None]


def _cumsum(node: Any, ins: list[AbsValue | None], dims: DimBounds) -> list[AbsValue | None]:
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


def _cast(node: Any, ins: list[AbsValue | None], dims: DimBounds) -> list[AbsValue | None]:
    import math

    x = ins[0] if ins else None
    to = node.outputs[0].dtype
    if x is None or to is None:
        return [None]
    if to.is_integer():
        if x.hull.is_integral:
            return [x]
        lo, hi = x.hull.lo, x.hull.hi
        if not (math.isfinite(lo) and math.isfinite(hi)):
            return [None]
        return [AbsValue(Interval(math.trunc(lo), math.trunc(hi)))]
    return [AbsValue(Interval(float(x.hull.lo), float(x.hull.hi)))]


def _constant_of_shape(node: Any, ins: list[AbsValue | None], dims: DimBounds) -> list[AbsValue | None]:
    import numpy as np

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
    "Mod": _elementwise(lambda a, b: a.mod(b)),
    "Div": _div,
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


def propagate(graph: ir.Graph, inputs: dict[str, Interval] | None = None, dims: DimBounds | None = None) -> Env:
    """Abstract value of every value of ``graph``'s main scope, keyed by value."""
    env: Env = {}
    dims = dims or {}
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
        else:
            outs = [None]
        for i, out in enumerate(node.outputs):
            env[out] = outs[i] if i < len(outs) else None
    return env
