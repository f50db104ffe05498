"""Interval propagation over a torch.export graph (aten ops), in program order.

Bounds come from constants and state values, the ExportedProgram's ``range_constraints`` for
symbolic sizes (the ``--dynamic`` maximums), and user ``--input-range`` bounds. Anything without a
transfer function is unknown (None) and so never narrowed.

Two refinements make real programs provable:

- **Constant parts are computed.** A node whose inputs are all known values (state, lifted
  constants, Python numbers, earlier computed nodes) and whose result is small (at most
  :data:`CONCRETE_ELEMENTS` elements) runs on CPU with those values, and its interval is exact. This
  is how BEiT's relative-position index — ``meshgrid``/``stack`` of aranges, shifted and scaled with
  in-place writes into views — gets its true range. Only deterministic ``aten`` kernels run;
  ``empty``-like tensors, whose values are undefined until written, are computed as zeros, which is
  what the ONNX translation gives them.
- **In-place writes widen what they write into.** Programs captured by ``torch.export`` keep in-place
  ops (``copy_``, ``fill_``, ``index_put_``, ``add_``, …) on tensors the program made itself. The
  walk follows aliasing from the operator schemas (a view's result aliases its input; an in-place
  op's result aliases what it writes), and a write widens the interval of every alias of the
  written storage from then on (a weak update: only part of it may be written). Nodes read before
  the write keep the interval they had.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from trtready.intervals import COMPARISONS, Interval, index_interval, int_hull

if TYPE_CHECKING:
    import sympy
    import torch.fx
    from torch.export import ExportedProgram
    from torch.fx.node import Argument, Target
    from torch.utils._sympy.value_ranges import ValueRanges

Env = dict[str, Interval | None]
#: The bounds of a program's symbolic sizes (``ExportedProgram.range_constraints``).
Ranges = dict["sympy.Symbol", "ValueRanges[sympy.Expr]"]
Multi = dict[str, list[Interval | None]]  # per-output intervals of ops that return several tensors
#: The interval of a node's value from its arguments' intervals and the program's range constraints.
Transfer = Callable[["torch.fx.Node", Env, "Ranges"], "Interval | None"]

#: Largest result (in elements) computed with real values when every input of a node is known.
CONCRETE_ELEMENTS = 1 << 16

# Kernels whose values are not a function of their inputs: never computed.
_RANDOM = ("rand", "bernoulli", "normal", "uniform", "dropout", "multinomial", "poisson", "exponential",
           "geometric", "cauchy", "log_normal")


def sym_bounds(x: object, ranges: Ranges) -> Interval | None:
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


def _arg_iv(a: Argument, env: Env, ranges: Ranges) -> Interval | None:
    import torch.fx

    if isinstance(a, torch.fx.Node):
        return env.get(a.name)
    if isinstance(a, (int, float)) and not isinstance(a, bool):
        return Interval.point(a)
    if isinstance(a, bool):
        return Interval.point(int(a))
    return sym_bounds(a, ranges)


def _dim_size(node: Argument, dim: Argument, ranges: Ranges) -> Interval | None:
    val = _meta_val(node)
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


def _meta_val(a: Argument) -> object:
    """The example value torch.export recorded for a node argument (None for a constant argument)."""
    import torch.fx

    return a.meta.get("val") if isinstance(a, torch.fx.Node) else None


def _binary(fn: Callable[[Interval, Interval], Interval | None]) -> Transfer:
    def tf(n: torch.fx.Node, env: Env, ranges: Ranges) -> Interval | None:
        a, b = (_arg_iv(x, env, ranges) for x in n.args[:2])
        return fn(a, b) if a is not None and b is not None else None

    return tf


def _unary(fn: Callable[[Interval], Interval | None]) -> Transfer:
    def tf(n: torch.fx.Node, env: Env, ranges: Ranges) -> Interval | None:
        a = _arg_iv(n.args[0], env, ranges)
        return fn(a) if a is not None else None

    return tf


def _arange(n: torch.fx.Node, env: Env, ranges: Ranges) -> Interval | None:
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
        step = args[2] if len(args) > 2 else _arg_iv(n.kwargs.get("step", 1), env, ranges)
    if start is None or end is None or step is None:
        return None
    if step.lo > 0:
        return Interval(start.lo, max(start.lo, end.hi - 1))
    if step.hi < 0:
        return Interval(min(start.hi, end.lo + 1), start.hi)
    return None


def _index_of(n: torch.fx.Node, ranges: Ranges, dim: Argument) -> Interval | None:
    """``[0, size)`` for an index along ``dim`` of the node's first argument (ArgMax, TopK, sort)."""
    size = _dim_size(n.args[0], dim, ranges)
    return index_interval(int(size.hi)) if size is not None else None


def _argmax(n: torch.fx.Node, env: Env, ranges: Ranges) -> Interval | None:
    dim = n.args[1] if len(n.args) > 1 else n.kwargs.get("dim")
    return _index_of(n, ranges, dim)


def _cumsum(n: torch.fx.Node, env: Env, ranges: Ranges) -> Interval | None:
    a = _arg_iv(n.args[0], env, ranges)
    size = _dim_size(n.args[0], n.args[1], ranges)
    if a is None or size is None:
        return None
    length = int(size.hi)
    return Interval(min(0, a.lo * length), max(0, a.hi * length)) if length > 0 else Interval.point(0)


def _sum(n: torch.fx.Node, env: Env, ranges: Ranges) -> Interval | None:
    """A sum over ``k`` elements, each in ``x``: within ``x * k`` for every ``k`` the dims allow."""
    x = _arg_iv(n.args[0], env, ranges)
    val = _meta_val(n.args[0])
    shape = getattr(val, "shape", None)
    if x is None or shape is None:
        return None
    dims = n.args[1] if len(n.args) > 1 else n.kwargs.get("dim")
    rank = len(shape)
    axes: list[int] = []
    if dims is None or (isinstance(dims, (list, tuple)) and not dims):
        axes = list(range(rank))
    else:
        for d in dims if isinstance(dims, (list, tuple)) else [dims]:
            if not isinstance(d, int):
                return None
            axes.append(d + rank if d < 0 else d)
    count = Interval.point(1)
    for axis in axes:
        b = sym_bounds(shape[axis], ranges) if 0 <= axis < rank else None
        if b is None:
            return None
        count = count * b
    if not x.is_integral:
        return None  # float sums round; not needed for integer proofs
    return x * count


def _full(n: torch.fx.Node, env: Env, ranges: Ranges) -> Interval | None:
    return _arg_iv(n.args[1], env, ranges)


def _constant(value: int) -> Transfer:
    def tf(n: torch.fx.Node, env: Env, ranges: Ranges) -> Interval | None:
        return Interval.point(value)

    return tf


def _clamp(n: torch.fx.Node, env: Env, ranges: Ranges) -> Interval | None:
    a = _arg_iv(n.args[0], env, ranges)
    lo = n.args[1] if len(n.args) > 1 else n.kwargs.get("min")
    hi = n.args[2] if len(n.args) > 2 else n.kwargs.get("max")
    lo_iv = _arg_iv(lo, env, ranges) if lo is not None else None
    hi_iv = _arg_iv(hi, env, ranges) if hi is not None else None
    if a is None or (lo is not None and lo_iv is None) or (hi is not None and hi_iv is None):
        return None
    return a.clip(lo_iv.lo if lo_iv else None, hi_iv.hi if hi_iv else None)


def _where(n: torch.fx.Node, env: Env, ranges: Ranges) -> Interval | None:
    a, b = (_arg_iv(x, env, ranges) for x in n.args[1:3])
    return Interval.hull([a, b]) if a is not None and b is not None else None


def _hull_of(values: list[Interval | None]) -> Interval | None:
    if not values or any(v is None for v in values):
        return None
    return Interval.hull([v for v in values if v is not None])


def _list_hull(n: torch.fx.Node, env: Env, ranges: Ranges) -> Interval | None:
    """cat/stack: every value comes from one of the listed tensors."""
    tensors = n.args[0]
    return _hull_of([_arg_iv(t, env, ranges) for t in tensors]) if isinstance(tensors, (list, tuple)) else None


def _fill_like(position: int) -> Transfer:
    """masked_fill / index_put / scatter (functional forms): the tensor's values or what is written."""

    def tf(n: torch.fx.Node, env: Env, ranges: Ranges) -> Interval | None:
        written = n.args[position] if len(n.args) > position else n.kwargs.get("value", n.kwargs.get("values"))
        return _hull_of([_arg_iv(n.args[0], env, ranges), _arg_iv(written, env, ranges)])

    return tf


def _div(n: torch.fx.Node, env: Env, ranges: Ranges) -> Interval | None:
    mode = n.kwargs.get("rounding_mode")
    a, b = (_arg_iv(x, env, ranges) for x in n.args[:2])
    if mode is None or a is None or b is None:
        return None
    return a.floordiv(b)


def _passthrough(n: torch.fx.Node, env: Env, ranges: Ranges) -> Interval | None:
    return _arg_iv(n.args[0], env, ranges)


def _sym_size(n: torch.fx.Node, env: Env, ranges: Ranges) -> Interval | None:
    return sym_bounds(n.meta.get("val"), ranges)


def _remainder(a: Interval, b: Interval) -> Interval | None:
    return a.mod(b)


def _compare(test: Callable[[Interval, Interval], bool | None]) -> Transfer:
    """A comparison: folded to a constant where the intervals decide it everywhere (bools as 0/1)."""

    def tf(n: torch.fx.Node, env: Env, ranges: Ranges) -> Interval | None:
        a, b = (_arg_iv(x, env, ranges) for x in n.args[:2])
        if a is not None and b is not None and a.is_integral and b.is_integral:
            verdict = test(a, b)
            if verdict is not None:
                return Interval.point(int(verdict))
        return Interval(0, 1)

    return tf


_TRANSFER: dict[str, Transfer] = {
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
    "aten.min.other": _binary(lambda a, b: a.min(b)),
    "aten.max.other": _binary(lambda a, b: a.max(b)),
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
    "aten.sum.dim_IntList": _sum,
    "aten.sum.default": _sum,
    "aten.arange.default": _arange,
    "aten.arange.start": _arange,
    "aten.arange.start_step": _arange,
    "aten.full.default": _full,
    "aten.full_like.default": _full,
    "aten.new_full.default": _full,
    "aten.zeros.default": _constant(0),
    "aten.zeros_like.default": _constant(0),
    "aten.new_zeros.default": _constant(0),
    "aten.ones.default": _constant(1),
    "aten.ones_like.default": _constant(1),
    "aten.new_ones.default": _constant(1),
    # Undefined until written; the ONNX translation fills them with zeros (module docstring).
    "aten.empty.memory_format": _constant(0),
    "aten.empty_like.default": _constant(0),
    "aten.new_empty.default": _constant(0),
    "aten.empty_strided.default": _constant(0),
    "aten.scalar_tensor.default": _passthrough,
    "aten.argmax.default": _argmax,
    "aten.argmin.default": _argmax,
    "aten.where.self": _where,
    "aten.sym_size.int": _sym_size,
    "aten.sym_numel.default": _sym_size,
    "aten.cat.default": _list_hull,
    "aten.stack.default": _list_hull,
    "aten.masked_fill.Scalar": _fill_like(2),
    "aten.masked_fill.Tensor": _fill_like(2),
    "aten.index_put.default": _fill_like(2),
    "aten.scatter.src": _fill_like(3),
    "aten.scatter.value": _fill_like(3),
    "aten.slice_scatter.default": _fill_like(1),
    "aten.select_scatter.default": _fill_like(1),
    "aten.fill.Scalar": lambda n, env, ranges: _arg_iv(n.args[1], env, ranges),
    "aten.fill.Tensor": lambda n, env, ranges: _arg_iv(n.args[1], env, ranges),
    "aten.copy.default": lambda n, env, ranges: _arg_iv(n.args[1], env, ranges),
    "aten.one_hot.default": _constant(0),  # replaced below: [0, 1]
}
_TRANSFER["aten.one_hot.default"] = lambda n, env, ranges: Interval(0, 1)
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
    "aten.index.Tensor", "aten.gather.default", "aten.unflatten.int", "aten.expand_as.default",
    "aten.view_as.default", "aten._unsafe_view.default", "aten.narrow.default", "aten.movedim.int",
    "aten.flip.default", "aten.roll.default", "aten.tril.default", "aten.triu.default",
    "aten._local_scalar_dense.default", "aten.item.default",
):
    _TRANSFER[_name] = _passthrough


def _multi(n: torch.fx.Node, env: Env, ranges: Ranges) -> list[Interval | None] | None:
    """Per-output intervals of ops returning several tensors (read through ``getitem``)."""
    key = str(n.target)
    if key in ("aten.topk.default", "aten.sort.default", "aten.sort.stable", "aten.max.dim", "aten.min.dim",
               "aten.kthvalue.default", "aten.mode.default"):
        if key == "aten.topk.default":
            dim = n.args[2] if len(n.args) > 2 else n.kwargs.get("dim", -1)
        elif key == "aten.sort.stable":
            dim = n.kwargs.get("dim", -1)
        elif key in ("aten.kthvalue.default",):
            dim = n.args[2] if len(n.args) > 2 else n.kwargs.get("dim", -1)
        else:
            dim = n.args[1] if len(n.args) > 1 else n.kwargs.get("dim", -1)
        return [_arg_iv(n.args[0], env, ranges), _index_of(n, ranges, dim)]
    if key in ("aten.meshgrid.default", "aten.meshgrid.indexing"):
        tensors = n.args[0]
        return [_arg_iv(t, env, ranges) for t in tensors] if isinstance(tensors, (list, tuple)) else None
    if key in ("aten.unbind.int", "aten.split.Tensor", "aten.split_with_sizes.default", "aten.chunk.default",
               "aten.tensor_split.sections", "aten.split.sizes"):
        count = len(n.meta.get("val") or [])
        return [_arg_iv(n.args[0], env, ranges)] * count
    return None


def _schema_aliases(target: Target) -> tuple[int | None, bool]:
    """``(argument index the result aliases, whether the op writes it)`` from the operator schema."""
    schema = getattr(target, "_schema", None)
    if schema is None or not schema.returns:
        return None, False
    ret = schema.returns[0].alias_info
    if ret is None:
        return None, False
    for i, a in enumerate(schema.arguments):
        info = a.alias_info
        if info is not None and set(info.before_set) & set(ret.before_set):
            return i, bool(info.is_write)
    return None, False


def _functional(target: str) -> str:
    """``aten.add_.Tensor`` → ``aten.add.Tensor``: the transfer of an in-place op's value."""
    ns, _, rest = target.partition(".")
    name, _, overload = rest.partition(".")
    return f"{ns}.{name.removesuffix('_')}.{overload}"


def _written(n: torch.fx.Node, env: Env, ranges: Ranges) -> Interval | None:
    """What an in-place op writes into its first argument."""
    key = str(n.target)
    name = key.split(".")[1] if key.count(".") >= 1 else key
    if name == "copy_":
        return _arg_iv(n.args[1], env, ranges)
    if name == "fill_":
        return _arg_iv(n.args[1], env, ranges)
    if name == "zero_":
        return Interval.point(0)
    if name == "index_put_":
        accumulate = n.args[3] if len(n.args) > 3 else n.kwargs.get("accumulate", False)
        return None if accumulate else _arg_iv(n.args[2], env, ranges)
    if name == "masked_fill_":
        return _arg_iv(n.args[2], env, ranges)
    if name in ("scatter_", "slice_scatter_", "select_scatter_"):
        return _arg_iv(n.args[-1], env, ranges)
    tf = _TRANSFER.get(_functional(key))
    if tf is None:
        return None
    try:
        return tf(n, env, ranges)
    except (TypeError, ValueError, IndexError, ZeroDivisionError, AttributeError):
        return None


def _value_hull(v: object) -> Interval | None:
    """Exact interval of a concrete tensor or Python number (None for floats with NaN/inf, or empty)."""
    import torch

    if isinstance(v, bool):
        return Interval.point(int(v))
    if isinstance(v, int):
        return Interval.point(v)
    if isinstance(v, float):
        return Interval.point(v) if math.isfinite(v) else None
    if not isinstance(v, torch.Tensor) or v.numel() == 0:
        return None
    if v.dtype == torch.bool or not (v.is_floating_point() or v.is_complex()):
        return int_hull(v.detach().to(torch.int64).numpy() if v.dtype == torch.bool else v.detach().numpy())
    if v.is_complex() or not bool(torch.isfinite(v).all()):
        return None
    return Interval(float(v.min()), float(v.max()))


def _small(v: object) -> bool:
    """A value a kernel may be run with: small CPU tensors and plain values (never a symbolic size)."""
    import torch

    if isinstance(v, torch.Tensor):
        return v.device.type == "cpu" and v.numel() <= CONCRETE_ELEMENTS
    if isinstance(v, (list, tuple)):
        return all(_small(x) for x in v)
    return not isinstance(v, (torch.SymInt, torch.SymFloat, torch.SymBool))


class _Walk:
    """One pass over the program: concrete values where known, intervals everywhere."""

    def __init__(self, ep: ExportedProgram, inputs: dict[str, Interval] | None) -> None:
        self.ep = ep
        self.ranges = ep.range_constraints
        self.inputs = inputs or {}
        self.env: Env = {}
        self.multi: Multi = {}
        self.concrete: dict[str, Any] = {}  # kernel results: tensors, Python numbers, lists of them
        self.root: dict[str, str] = {}  # node -> the node whose storage it shares
        self.members: dict[str, list[str]] = {}  # storage root -> nodes aliasing it
        self.seen: set[str] = set()  # nodes whose concrete value has been observed at least once

    # --- aliasing -------------------------------------------------------------------------------
    def _alias(self, name: str, of: str | None) -> None:
        root = self.root.get(of, of) if of is not None else name
        assert root is not None
        self.root[name] = root
        self.members.setdefault(root, []).append(name)

    def _storage(self, name: str) -> list[str]:
        return self.members.get(self.root.get(name, name), [name])

    # --- concrete values --------------------------------------------------------------------------
    def _observe(self, name: str) -> None:
        """Widen ``name``'s interval by its current concrete value (read now)."""
        if name in self.concrete and not isinstance(self.concrete[name], (list, tuple)):
            seen = _value_hull(self.concrete[name])
            if name not in self.seen:
                self.seen.add(name)
                self.env[name] = seen
                return
            old = self.env.get(name)
            self.env[name] = None if seen is None or old is None else Interval.hull([old, seen])

    def _try_concrete(self, n: torch.fx.Node) -> bool:
        import torch
        import torch.fx

        target = n.target
        if target is operator.getitem:
            src = n.args[0]
            if isinstance(src, torch.fx.Node) and isinstance(self.concrete.get(src.name), (list, tuple)):
                self.concrete[n.name] = self.concrete[src.name][n.args[1]]
                return True
            return False
        if not isinstance(target, torch._ops.OpOverload) or target.namespace != "aten":
            return False
        op = target.__name__
        if any(r in op for r in _RANDOM):
            return False
        val = n.meta.get("val")
        if isinstance(val, torch.Tensor) and not isinstance(val.numel(), int):
            return False
        if isinstance(val, torch.Tensor) and val.numel() > CONCRETE_ELEMENTS:
            return False
        missing: list[bool] = []

        def value_of(a: torch.fx.Node) -> Any:
            if a.name not in self.concrete:
                missing.append(True)
                return None
            return self.concrete[a.name]

        args = torch.fx.node.map_arg(n.args, value_of)
        kwargs = dict(torch.fx.node.map_arg(n.kwargs, value_of))
        if missing or not _small(list(args)) or not _small(list(kwargs.values())):
            return False
        if "device" in kwargs:
            kwargs["device"] = torch.device("cpu")
        empty = op.startswith(("empty", "new_empty"))
        try:
            with torch.no_grad():
                if empty and isinstance(val, torch.Tensor):
                    out: Any = torch.zeros(tuple(int(s) for s in val.shape), dtype=val.dtype)
                else:
                    out = target(*args, **kwargs)
        except Exception:  # a kernel that needs what the CPU lacks, a failed assertion: not computed
            return False
        if not _small(out if isinstance(out, (list, tuple)) else [out]):
            return False
        self.concrete[n.name] = out
        return True

    def _drop_concrete(self, name: str) -> None:
        """A storage written with values that are not known: its aliases are intervals from now on."""
        for m in self._storage(name):
            self._observe(m)
            self.concrete.pop(m, None)

    # --- the walk -----------------------------------------------------------------------------------
    def run(self) -> Env:
        import torch

        sig = self.ep.graph_signature
        state_of = {**sig.inputs_to_parameters, **sig.inputs_to_buffers, **sig.inputs_to_lifted_tensor_constants}
        values = {**self.ep.state_dict, **self.ep.constants}
        for n in self.ep.graph.nodes:
            if n.op == "placeholder":
                self._alias(n.name, None)
                iv: Interval | None = None
                if n.name in state_of:
                    t = values.get(state_of[n.name])
                    if isinstance(t, torch.Tensor) and t.device.type != "meta":
                        if t.numel() <= CONCRETE_ELEMENTS and t.device.type == "cpu":
                            self.concrete[n.name] = t.detach()
                        elif not t.is_floating_point():
                            iv = int_hull(t.detach().cpu().numpy()) if t.numel() else None
                elif n.name in self.inputs:
                    iv = self.inputs[n.name]
                self.env[n.name] = iv
                self._observe(n.name)
            elif n.op == "call_function":
                self._call(n)
            if n.op != "output" and self.env.get(n.name) is None and _is_bool(n):
                self.env[n.name] = Interval(0, 1)  # a bool is 0 or 1 whatever produced it; casts of it keep that
        for name in list(self.concrete):
            self._observe(name)
        return self.env

    def _call(self, n: torch.fx.Node) -> None:
        import torch.fx

        arg_nodes = [a for a in n.all_input_nodes]
        for a in arg_nodes:  # reads happen now: concrete inputs are observed at their current value
            self._observe(a.name)
        position, writes = _schema_aliases(n.target)
        of: str | None = None
        aliased = n.args[position] if position is not None and position < len(n.args) else None
        if isinstance(aliased, torch.fx.Node):
            of = aliased.name
        elif n.target is operator.getitem and isinstance(n.args[0], torch.fx.Node) \
                and _schema_aliases(n.args[0].target)[0] is not None:
            of = n.args[0].name  # an element of a view list (unbind, split) aliases the source; of topk's, not
        self._alias(n.name, of)
        if self._try_concrete(n):
            if writes and of is not None:
                for m in self._storage(of):
                    self._observe(m)  # the write changed every alias's values
            self._observe(n.name)
            if isinstance(self.concrete.get(n.name), (list, tuple)):
                self.multi[n.name] = [_value_hull(v) for v in self.concrete[n.name]]
            return
        if writes and of is not None:
            w = _written(n, self.env, self.ranges)
            self._drop_concrete(of)
            for m in self._storage(of):
                if m == n.name:
                    continue
                old = self.env.get(m)
                self.env[m] = None if old is None or w is None else Interval.hull([old, w])
            self.env[n.name] = self.env.get(of)
            return
        key = str(n.target)
        iv: Interval | None = None
        if n.target is operator.getitem:
            src = n.args[0]
            parts = self.multi.get(src.name) if isinstance(src, torch.fx.Node) else None
            if parts is not None and isinstance(n.args[1], int) and -len(parts) <= n.args[1] < len(parts):
                iv = parts[n.args[1]]
            elif isinstance(src, torch.fx.Node):
                iv = self.env.get(src.name)
        elif key in _TRANSFER:
            try:
                iv = _TRANSFER[key](n, self.env, self.ranges)
            except (TypeError, ValueError, IndexError, ZeroDivisionError, AttributeError):
                iv = None
        else:
            try:
                parts = _multi(n, self.env, self.ranges)
            except (TypeError, ValueError, IndexError, ZeroDivisionError, AttributeError):
                parts = None
            if parts is not None:
                self.multi[n.name] = parts
        if iv is None:
            import torch

            val = n.meta.get("val")
            if isinstance(val, (int, torch.SymInt)) and not isinstance(val, bool):
                iv = sym_bounds(val, self.ranges)  # size arithmetic (operator.mul on sizes, …)
        self.env[n.name] = iv


def propagate(ep: ExportedProgram, inputs: dict[str, Interval] | None = None) -> Env:
    """Interval of every node's (integer or float) tensor value, keyed by node name."""
    return _Walk(ep, inputs).run()


def _is_bool(n: torch.fx.Node) -> bool:
    import torch

    val = n.meta.get("val")
    return isinstance(val, torch.Tensor) and val.dtype == torch.bool
