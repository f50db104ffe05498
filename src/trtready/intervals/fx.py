"""Interval propagation over a torch.export graph (aten ops).

Bounds come from constants and state values, the ExportedProgram's ``range_constraints`` for
symbolic sizes (the ``--dynamic`` maximums), and user ``--input-range`` bounds. Anything without a
transfer function is unknown (None) and so never narrowed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from trtready.intervals import COMPARISONS, Interval, index_interval, int_hull

Env = dict[str, Interval | None]


def sym_bounds(x: Any, ranges: dict[Any, Any]) -> Interval | None:
    """Bounds of an int or SymInt, from the program's range constraints."""
    if isinstance(x, bool):
        return Interval(int(x), int(x))
    if isinstance(x, int):
        return Interval.point(x)
    node = getattr(x, "node", None)
    if node is None:
        return None
    try:
        from torch.utils._sympy.value_ranges import bound_sympy

        vr = bound_sympy(node.expr, ranges)
        lo, hi = vr.lower, vr.upper
        if lo.is_finite and hi.is_finite:
            return Interval(int(lo), int(hi))
    except Exception:  # sympy may not bound every expression; unknown is the safe answer
        return None
    return None


def _arg_iv(a: Any, env: Env, ranges: dict[Any, Any]) -> Interval | None:
    import torch.fx

    if isinstance(a, torch.fx.Node):
        return env.get(a.name)
    if isinstance(a, (int, float)) and not isinstance(a, bool):
        return Interval.point(a)
    if isinstance(a, bool):
        return Interval.point(int(a))
    return sym_bounds(a, ranges)


def _dim_size(node: Any, dim: int | None, ranges: dict[Any, Any]) -> Interval | None:
    val = node.meta.get("val")
    shape = getattr(val, "shape", None)
    if shape is None:
        return None
    if dim is None:  # flattened
        total = Interval.point(1)
        for s in shape:
            b = sym_bounds(s, ranges)
            if b is None:
                return None
            total = total * b
        return total
    return sym_bounds(shape[dim], ranges)


def _binary(fn: Callable[[Interval, Interval], Interval | None]) -> Callable[..., Interval | None]:
    def tf(n: Any, env: Env, ranges: dict[Any, Any]) -> Interval | None:
        a, b = (_arg_iv(x, env, ranges) for x in n.args[:2])
        return fn(a, b) if a is not None and b is not None else None

    return tf


def _unary(fn: Callable[[Interval], Interval | None]) -> Callable[..., Interval | None]:
    def tf(n: Any, env: Env, ranges: dict[Any, Any]) -> Interval | None:
        a = _arg_iv(n.args[0], env, ranges)
        return fn(a) if a is not None else None

    return tf


def _arange(n: Any, env: Env, ranges: dict[Any, Any]) -> Interval | None:
    args = [_arg_iv(a, env, ranges) for a in n.args[:3]]
    if any(a is None for a in args):
        return None
    start: Interval | None
    end: Interval | None
    step: Interval | None
    if len(args) == 1:
        start, end, step = Interval.point(0), args[0], Interval.point(1)
    else:
        start, end = args[0], args[1]
        step = args[2] if len(args) > 2 else Interval.point(n.kwargs.get("step", 1))
    assert start is not None and end is not None and step is not None
    if step.lo > 0:
        return Interval(start.lo, max(start.lo, end.hi - 1))
    if step.hi < 0:
        return Interval(min(start.hi, end.lo + 1), start.hi)
    return None


def _argmax(n: Any, env: Env, ranges: dict[Any, Any]) -> Interval | None:
    src = n.args[0]
    dim = n.args[1] if len(n.args) > 1 else n.kwargs.get("dim")
    size = _dim_size(src, dim, ranges)
    return index_interval(int(size.hi)) if size is not None else None


def _cumsum(n: Any, env: Env, ranges: dict[Any, Any]) -> Interval | None:
    a = _arg_iv(n.args[0], env, ranges)
    size = _dim_size(n.args[0], n.args[1], ranges)
    if a is None or size is None:
        return None
    length = int(size.hi)
    return Interval(min(0, a.lo * length), max(0, a.hi * length)) if length > 0 else Interval.point(0)


def _full(n: Any, env: Env, ranges: dict[Any, Any]) -> Interval | None:
    return _arg_iv(n.args[1], env, ranges)


def _clamp(n: Any, env: Env, ranges: dict[Any, Any]) -> Interval | None:
    a = _arg_iv(n.args[0], env, ranges)
    lo = n.args[1] if len(n.args) > 1 else n.kwargs.get("min")
    hi = n.args[2] if len(n.args) > 2 else n.kwargs.get("max")
    lo_iv = _arg_iv(lo, env, ranges) if lo is not None else None
    hi_iv = _arg_iv(hi, env, ranges) if hi is not None else None
    if a is None or (lo is not None and lo_iv is None) or (hi is not None and hi_iv is None):
        return None
    return a.clip(lo_iv.lo if lo_iv else None, hi_iv.hi if hi_iv else None)


def _where(n: Any, env: Env, ranges: dict[Any, Any]) -> Interval | None:
    a, b = (_arg_iv(x, env, ranges) for x in n.args[1:3])
    return Interval.hull([a, b]) if a is not None and b is not None else None


def _div(n: Any, env: Env, ranges: dict[Any, Any]) -> Interval | None:
    mode = n.kwargs.get("rounding_mode")
    a, b = (_arg_iv(x, env, ranges) for x in n.args[:2])
    if mode is None or a is None or b is None:
        return None
    return a.floordiv(b)


def _passthrough(n: Any, env: Env, ranges: dict[Any, Any]) -> Interval | None:
    return _arg_iv(n.args[0], env, ranges)


def _sym_size(n: Any, env: Env, ranges: dict[Any, Any]) -> Interval | None:
    return sym_bounds(n.meta.get("val"), ranges)


def _remainder(a: Interval, b: Interval) -> Interval | None:
    return a.mod(b)


def _compare(test: Callable[[Interval, Interval], bool | None]) -> Callable[..., Interval | None]:
    """A comparison: folded to a constant where the intervals decide it everywhere (bools as 0/1)."""

    def tf(n: Any, env: Env, ranges: dict[Any, Any]) -> Interval | None:
        a, b = (_arg_iv(x, env, ranges) for x in n.args[:2])
        if a is not None and b is not None and a.is_integral and b.is_integral:
            verdict = test(a, b)
            if verdict is not None:
                return Interval.point(int(verdict))
        return Interval(0, 1)

    return tf


_TRANSFER: dict[str, Callable[..., Interval | None]] = {
    "aten.add.Tensor": _binary(lambda a, b: a + b),
    "aten.add.Scalar": _binary(lambda a, b: a + b),
    "aten.sub.Tensor": _binary(lambda a, b: a - b),
    "aten.sub.Scalar": _binary(lambda a, b: a - b),
    "aten.rsub.Scalar": _binary(lambda a, b: b - a),
    "aten.mul.Tensor": _binary(lambda a, b: a * b),
    "aten.mul.Scalar": _binary(lambda a, b: a * b),
    "aten.neg.default": _unary(lambda a: -a),
    "aten.abs.default": _unary(lambda a: a.abs()),
    "aten.sign.default": _unary(lambda a: a.sign()),
    "aten.minimum.default": _binary(lambda a, b: a.min(b)),
    "aten.maximum.default": _binary(lambda a, b: a.max(b)),
    "aten.clamp.default": _clamp,
    "aten.clamp.Tensor": _clamp,
    "aten.floor_divide.default": _binary(lambda a, b: a.floordiv(b)),
    "aten.div.Tensor_mode": _div,
    "aten.div.Scalar_mode": _div,
    "aten.remainder.Scalar": _binary(_remainder),
    "aten.remainder.Tensor": _binary(_remainder),
    "aten.fmod.Scalar": _binary(_remainder),
    "aten.fmod.Tensor": _binary(_remainder),
    "aten.cumsum.default": _cumsum,
    "aten.arange.default": _arange,
    "aten.arange.start": _arange,
    "aten.arange.start_step": _arange,
    "aten.full.default": _full,
    "aten.full_like.default": _full,
    "aten.scalar_tensor.default": _passthrough,
    "aten.argmax.default": _argmax,
    "aten.argmin.default": _argmax,
    "aten.where.self": _where,
    "aten.sym_size.int": _sym_size,
    "aten.sym_numel.default": _sym_size,
}
for _op, _test in COMPARISONS.items():
    _TRANSFER[f"aten.{_op}.Tensor"] = _compare(_test)
    _TRANSFER[f"aten.{_op}.Scalar"] = _compare(_test)
for _name in (
    "aten._to_copy.default", "aten.to.dtype", "aten.to.dtype_layout", "aten.clone.default",
    "aten.lift_fresh_copy.default", "aten.view.default", "aten.reshape.default", "aten.expand.default",
    "aten.unsqueeze.default", "aten.squeeze.dim", "aten.squeeze.dims", "aten.squeeze.default",
    "aten.slice.Tensor", "aten.select.int", "aten.index_select.default", "aten.permute.default",
    "aten.t.default", "aten.transpose.int", "aten.contiguous.default", "aten.flatten.using_ints",
    "aten.amax.default", "aten.amin.default", "aten.max.default", "aten.min.default", "aten.detach.default",
    "aten.alias.default", "aten.repeat.default", "aten._assert_tensor_metadata.default", "aten.type_as.default",
):
    _TRANSFER[_name] = _passthrough


def propagate(ep: Any, inputs: dict[str, Interval] | None = None) -> Env:
    """Interval of every node's (integer or float) tensor value, keyed by node name."""
    import torch

    ranges = ep.range_constraints
    sig = ep.graph_signature
    state_of = {**sig.inputs_to_parameters, **sig.inputs_to_buffers, **sig.inputs_to_lifted_tensor_constants}
    values = {**ep.state_dict, **ep.constants}
    env: Env = {}
    for n in ep.graph.nodes:
        iv: Interval | None = None
        if n.op == "placeholder":
            if n.name in state_of:
                t = values.get(state_of[n.name])
                if isinstance(t, torch.Tensor) and t.device.type != "meta" and not t.is_floating_point():
                    iv = int_hull(t.detach().cpu().numpy())
            elif inputs and n.name in inputs:
                iv = inputs[n.name]
        elif n.op == "call_function":
            key = str(n.target)
            if key.startswith("<built-in function getitem>") or getattr(n.target, "__name__", "") == "getitem":
                iv = env.get(n.args[0].name) if hasattr(n.args[0], "name") else None
            elif key in _TRANSFER:
                try:
                    iv = _TRANSFER[key](n, env, ranges)
                except (TypeError, ValueError, IndexError, ZeroDivisionError):
                    iv = None
        if iv is None and _is_bool(n):
            iv = Interval(0, 1)  # a bool is 0 or 1 whatever produced it; casts of it keep that
        env[n.name] = iv
    return env


def _is_bool(n: Any) -> bool:
    import torch

    val = n.meta.get("val")
    return isinstance(val, torch.Tensor) and val.dtype == torch.bool
