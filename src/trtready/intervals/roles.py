"""Roles of integer graph inputs, read from how the graph uses them — never from their names.

Each input's values are followed through ops that only move or retype them (views, reshapes,
expands, slices, casts, indexing *into* it) to the ops that consume them — the *sinks*:

- an **index** sink reads the value as a row number of a table of N rows (``aten.embedding``,
  ``index_select``; ONNX ``Gather`` on axis 0 of a constant). Valid inputs lie in ``[0, N)``.
- a **boolean** sink only asks whether a value is zero or compares it (comparisons, logical ops,
  ``where``'s condition, ``masked_fill``'s mask, a cast to bool): the result is a bool whatever
  the value, so such uses neither bound the input nor depend on its range.
- a **weight** sink scales floats by the value (its cast to float multiplied, divided or
  subtracted in float): the value is a 0/1 weight, and no integer is computed from it;
- a **count** sink counts its kept positions: ``cumsum``/``sum`` over it, or an integer product of it
  with a value computed from it (OPT's ``cumsum(m) * m``, BLOOM's ``(cumsum(m) - 1) * m``);
- a **mask arithmetic** sink computes other integers from it (an integer ``sub``, a product by a constant).

An integer *self-product* — the value (or a view of it) times itself, ``m * m`` or DeBERTa's outer
product ``m[:, None] * m[:, :, None]`` — is nonzero exactly where its factors are (for values of
int32, which is all a narrowed binding takes), so the walk follows it like a move: a product that only
reaches conditions keeps the mask boolean.

Roles: *index* (some index sink, the rest boolean) — ``[0, N)`` is used in proofs, as it holds for
every valid input; *mask* when every sink is boolean — ``[0, 1]`` may be used in proofs since only
truth values matter; *mask* (assumed 0/1) when the only other sinks are float weights, or counts of
a value the graph also reads as a condition — ``[0, 1]`` is an assumption about valid inputs there (a
weight of 7 is no mask; a mask the model tests for zero and counts is a tokenizer's 0/1 mask), stated
in the report like a demanded range and not made under ``--strict``; *mask* (generation only) when
other mask arithmetic appears, or counts without a condition — verification feeds tokenizer-style 0/1
masks, but proofs do not assume the values (``--input-range NAME:0..1`` states it); else *unknown*. The same roles drive interval proofs and
the inputs verification generates (docs/design.md, "Verification principles").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from trtready.intervals import Interval
from trtready.lazy import ir
from trtready.signature import program_input_names

if TYPE_CHECKING:
    import torch.fx
    from torch.export import ExportedProgram
    from torch.fx.node import Argument

#: A point of the walk: an onnx-ir value or a torch.fx node.
_P = TypeVar("_P")
#: One step from a point: ``("pass", None, next_point)`` or a sink ``(kind, rows, None)``.
Step = Callable[[_P], Iterable[tuple[str, int | None, _P | None]]]


@dataclass(frozen=True)
class InputRole:
    kind: str  # "index" | "mask" | "unknown"
    size: int | None = None  # rows of the table it indexes (kind == "index")
    why: str = ""
    proven: bool = True  # the role's interval may be used in proofs (see the module docstring)
    assumed: bool = False  # that interval is an assumption about valid inputs (a weight mask): not under --strict

    @property
    def interval(self) -> Interval | None:
        """The values every valid input takes, when proofs may rely on them."""
        if self.kind == "index" and self.size:
            return Interval(0, self.size - 1)
        if self.kind == "mask" and self.proven:
            return Interval(0, 1)
        return None

    def statement(self, name: str) -> str:
        """The assumption an assumed role makes, in one line (empty when it makes none)."""
        if not self.assumed:
            return ""
        return f"{name} assumed in [0, 1] (valid masks are 0/1): {self.why}"


def _decide(sinks: list[tuple[str, int | None]]) -> InputRole:
    """The role from the kinds of sinks reached:
    ``("index", rows) | ("bool", None) | ("weight", None) | ("count", None) | ("arith", None) | ("other", None)``."""
    kinds = {k for k, _ in sinks}
    if not sinks or "other" in kinds:
        return InputRole("unknown", None, "no bounding use")
    if "index" in kinds and not kinds & {"arith", "weight", "count"}:
        n = min(r for k, r in sinks if k == "index" and r is not None)
        return InputRole("index", n, f"indexes a table of {n} rows")
    if kinds == {"bool"}:
        return InputRole("mask", None, "used only as a condition")
    if kinds == {"weight"} or kinds == {"bool", "weight"}:
        return InputRole("mask", None, "used as a condition and as a 0/1 float weight, no integer computed from it",
                         assumed=True)
    if "bool" in kinds and "count" in kinds and kinds <= {"bool", "weight", "count"}:
        return InputRole("mask", None, "used as a condition and its kept positions counted (cumsum/sum), no other "
                         "integer computed from it", assumed=True)
    if "index" not in kinds:
        return InputRole("mask", None, "used as a 0/1 mask (values not assumed in proofs)", proven=False)
    return InputRole("unknown", None, "indexes a table and is used as a number")


def _walk(start: _P, step: Step[_P]) -> list[tuple[str, int | None]]:
    """Sinks reached from ``start``; ``step(value)`` yields ``("pass", None, next_value)`` or a sink."""
    sinks: list[tuple[str, int | None]] = []
    seen: set[int] = set()
    stack = [start]
    while stack:
        value = stack.pop()
        if id(value) in seen:
            continue
        seen.add(id(value))
        for kind, rows, nxt in step(value):
            if kind == "pass":
                if nxt is not None:
                    stack.append(nxt)
            elif kind != "skip":
                sinks.append((kind, rows))
    return sinks


# --- ONNX -------------------------------------------------------------------------------------
_ONNX_PASS = {"Reshape": 0, "Unsqueeze": 0, "Squeeze": 0, "Expand": 0, "Flatten": 0, "Transpose": 0, "Identity": 0,
              "Slice": 0, "Tile": 0, "Concat": None}
_ONNX_BOOL = {"Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "Not", "And", "Or", "Xor"}
_ONNX_ARITH = {"Mul", "Sub"}
_ONNX_COUNT = {"CumSum", "ReduceSum"}
_ONNX_WEIGHT = {"Mul", "Sub", "Div"}  # on floats: the value weights other floats


def _table_rows(v: ir.Value | None) -> int | None:
    if v is None or v.const_value is None or v.shape is None or not v.shape.dims:
        return None
    rows = v.shape[0]
    return rows if isinstance(rows, int) else None


def _is_float(v: ir.Value | None) -> bool:
    return v is not None and v.dtype is not None and v.dtype.is_floating_point()


def _onnx_step_in(reach: set[int], derived: set[int] | None = None) -> Step[ir.Value]:
    """``_onnx_step``, where an integer Mul of two values in ``reach`` (ids of values moved from the
    same input) is a self-product: followed like a move; and one of two values computed from it
    (``derived``) counts its positions."""

    def step(value: ir.Value) -> Iterable[tuple[str, int | None, ir.Value | None]]:
        for use in value.uses():
            node = use.node
            product = node.op_type == "Mul" and node.domain in ("", "ai.onnx") and len(node.inputs) == 2 \
                and not _is_float(node.outputs[0])
            if product and all(v is not None and id(v) in reach for v in node.inputs):
                yield "pass", None, node.outputs[0]
                continue
            if product and derived is not None and all(v is not None and id(v) in derived for v in node.inputs):
                yield "count", None, None  # OPT's cumsum(m) * m: the positions of the kept tokens
                continue
            yield from _onnx_use(node, use.idx)

    return step


def _onnx_step(value: ir.Value) -> Iterable[tuple[str, int | None, ir.Value | None]]:
    for use in value.uses():
        yield from _onnx_use(use.node, use.idx)


def _onnx_use(node: ir.Node, idx: int) -> Iterable[tuple[str, int | None, ir.Value | None]]:
    """What reading a value as input ``idx`` of ``node`` does with it."""
    op = node.op_type if node.domain in ("", "ai.onnx") else ""
    if op in ("Shape", "Size"):
        yield "skip", None, None  # shape reads say nothing of values
    elif op in _ONNX_PASS and (_ONNX_PASS[op] is None or idx == _ONNX_PASS[op]):
        yield "pass", None, node.outputs[0]
    elif op in ("Gather", "GatherElements", "GatherND") and idx == 0:
        yield "pass", None, node.outputs[0]  # indexing into it: the values move, unchanged
    elif op == "Cast":
        to = node.attributes.get("to")
        yield ("bool", None, None) if to is not None and to.value == ir.DataType.BOOL else ("pass", None, node.outputs[0])
    elif op == "Gather" and idx == 1:
        axis = node.attributes.get("axis")
        rows = _table_rows(node.inputs[0]) if axis is None or axis.value == 0 else None
        yield ("index", rows, None) if rows is not None else ("other", None, None)
    elif op in _ONNX_BOOL or (op == "Where" and idx == 0):
        yield "bool", None, None
    elif op in _ONNX_WEIGHT and _is_float(node.outputs[0]):
        yield "weight", None, None
    elif op in _ONNX_COUNT and idx == 0:
        yield "count", None, None
    elif op in _ONNX_ARITH:
        yield "arith", None, None
    else:
        yield "other", None, None


def _reach(start: _P, step: Step[_P]) -> set[int]:
    """Ids of the values ``step`` moves ``start`` to (``start`` included)."""
    seen: set[int] = set()
    stack = [start]
    while stack:
        value = stack.pop()
        if id(value) in seen:
            continue
        seen.add(id(value))
        stack.extend(nxt for kind, _, nxt in step(value) if kind == "pass" and nxt is not None)
    return seen


def _onnx_derived(value: ir.Value) -> set[int]:
    """Ids of every value computed from ``value`` (``value`` included)."""
    seen = {id(value)}
    stack = [value]
    while stack:
        for use in stack.pop().uses():
            for out in use.node.outputs:
                if id(out) not in seen:
                    seen.add(id(out))
                    stack.append(out)
    return seen


def onnx_input_roles(graph: ir.Graph) -> dict[str, InputRole]:
    """Role of each integer graph input of an onnx-ir graph."""
    roles: dict[str, InputRole] = {}
    for v in graph.inputs:
        if v.name is None or v.dtype is None or not (v.dtype.is_integer() or v.dtype.name == "BOOL"):
            continue
        roles[v.name] = _decide(_walk(v, _onnx_step_in(_reach(v, _onnx_step), _onnx_derived(v))))
    return roles


# --- torch.export ------------------------------------------------------------------------------
_FX_PASS = {
    "aten.view.default", "aten.reshape.default", "aten._unsafe_view.default", "aten.unsqueeze.default",
    "aten.squeeze.dim", "aten.squeeze.dims", "aten.squeeze.default", "aten.expand.default", "aten.slice.Tensor",
    "aten.select.int", "aten.permute.default", "aten.transpose.int", "aten.t.default", "aten.clone.default",
    "aten.contiguous.default", "aten.alias.default", "aten.detach.default", "aten.flatten.using_ints",
    "aten._to_copy.default", "aten.to.dtype", "aten.to.dtype_layout", "aten.to.device", "aten.lift_fresh_copy.default",
    "aten.index.Tensor", "aten.repeat.default", "aten.cat.default",
}
_FX_BOOL_PREFIX = ("aten.eq.", "aten.ne.", "aten.lt.", "aten.le.", "aten.gt.", "aten.ge.", "aten.logical_",
                   "aten.bitwise_", "aten.__and__.", "aten.__or__.", "aten.__xor__.", "aten.__invert__.",
                   "aten.any.", "aten.all.")
_FX_ARITH_PREFIX = ("aten.rsub.", "aten.sub.")
_FX_COUNT_PREFIX = ("aten.cumsum.", "aten.sum.")
_FX_WEIGHT_PREFIX = ("aten.mul.", "aten.div.", "aten.rsub.", "aten.sub.")  # with a float result
_FX_SKIP = {"aten.sym_size.int", "aten.sym_numel.default", "aten._assert_tensor_metadata.default"}


def _fx_step_for(ep: ExportedProgram, reach: set[int] | None = None,
                 derived: set[torch.fx.Node] | None = None) -> Step[torch.fx.Node]:
    """The walk's step over a program's nodes; ``reach`` (nodes moved from the same input) enables
    following integer self-products, ``derived`` (nodes computed from it at all) recognising products
    of two values computed from it as mask arithmetic."""
    import torch.fx

    sig = ep.graph_signature
    state_of = {**sig.inputs_to_parameters, **sig.inputs_to_buffers}
    values = ep.state_dict

    def rows_of(table: Argument) -> int | None:
        t = values.get(state_of.get(getattr(table, "name", ""), ""))
        val = t if t is not None else getattr(table, "meta", {}).get("val")
        rows = val.shape[0] if val is not None and len(val.shape) else None
        return rows if isinstance(rows, int) else None

    def step(node: torch.fx.Node) -> Iterable[tuple[str, int | None, torch.fx.Node | None]]:
        for user in node.users:
            target = str(user.target)
            position = next((i for i, a in enumerate(user.args)
                             if a is node or (isinstance(a, (list, tuple)) and any(x is node for x in a))), None)
            if user.op == "output":
                yield "other", None, None
            elif target in _FX_SKIP:
                yield "skip", None, None
            elif target == "aten.embedding.default" and position == 1:
                rows = rows_of(user.args[0])
                yield ("index", rows, None) if rows is not None else ("other", None, None)
            elif target == "aten.index_select.default" and position == 2:
                rows = rows_of(user.args[0])
                yield ("index", rows, None) if rows is not None else ("other", None, None)
            elif target == "aten._to_copy.default" and str(user.kwargs.get("dtype")) == "torch.bool":
                yield "bool", None, None
            elif target in _FX_PASS and position == 0:
                yield "pass", None, user
            elif getattr(user.target, "__name__", "") == "getitem":
                yield "pass", None, user
            elif target.startswith(_FX_BOOL_PREFIX) or (target == "aten.where.self" and position == 0) or (
                target.startswith("aten.masked_fill") and position == 1
            ):
                yield "bool", None, None
            elif target.startswith(_FX_WEIGHT_PREFIX) and _floating(user):
                yield "weight", None, None  # a float product weights something by the value: a 0/1 mask
            elif target.startswith(_FX_COUNT_PREFIX) and position == 0:
                yield "count", None, None
            elif target.startswith(_FX_ARITH_PREFIX):
                yield "arith", None, None
            elif target.startswith("aten.mul.") and reach is not None and all(
                    isinstance(a, torch.fx.Node) and id(a) in reach for a in user.args[:2]):
                yield "pass", None, user  # an integer self-product: nonzero exactly where its factors are
            elif target.startswith("aten.mul.") and derived is not None and all(
                    isinstance(a, torch.fx.Node) and a in derived for a in user.args[:2]):
                yield "count", None, None  # both factors computed from it: OPT's cumsum(m) * m counts kept positions
            else:
                yield "other", None, None

    return step


def _floating(node: torch.fx.Node) -> bool:
    val = node.meta.get("val")
    return getattr(val, "is_floating_point", lambda: False)()


def _derived(node: torch.fx.Node) -> set[torch.fx.Node]:
    """Every node computed from ``node`` (``node`` included)."""
    seen = {node}
    stack = [node]
    while stack:
        for user in stack.pop().users:
            if user not in seen:
                seen.add(user)
                stack.append(user)
    return seen


def fx_input_roles(ep: ExportedProgram) -> dict[str, InputRole]:
    """Role of each integer (or bool) user input of an ExportedProgram."""
    import torch

    user_inputs = set(program_input_names(ep))
    step = _fx_step_for(ep)
    roles: dict[str, InputRole] = {}
    for n in ep.graph.nodes:
        if n.op != "placeholder" or n.name not in user_inputs:
            continue
        val = n.meta.get("val")
        if not isinstance(val, torch.Tensor) or val.is_floating_point():
            continue
        roles[n.name] = _decide(_walk(n, _fx_step_for(ep, _reach(n, step), _derived(n))))
    return roles


def ranges_from_roles(roles: dict[str, InputRole], user: dict[str, Interval] | None,
                      assume_valid: bool = True) -> dict[str, Interval]:
    """Input intervals: what the user stated wins; else what the role proves (an assumed role's only
    when ``assume_valid``: ``--strict`` makes no assumption about valid inputs)."""
    out = {name: r.interval for name, r in roles.items()
           if r.interval is not None and (assume_valid or not r.assumed)}
    out.update(user or {})
    return out
