"""The one reader of ONNX operator schemas: which types each input and output slot allows.

Read from ``onnx.defs`` instead of a hand-copied list, so every opset is right: Reshape.shape,
Expand.shape, Unsqueeze.axes (opset 13+), Pad.pads, TopK.K, GatherND.indices require int64; Shape,
Size, ArgMax, NonZero always produce it. A slot *requires int64* when its type constraint allows
``tensor(int64)`` and not ``tensor(int32)``: there, and only there, narrowing is impossible by the
spec. An op without a schema here (a custom domain, a model-local function) has unknown types.

The audit flags such slots (``Finding.spec_int64``); the planner links the slots of one node bound
to one type parameter (:mod:`trtready.plan.onnx_plan`). Both ask this module.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

INT64 = "tensor(int64)"
INT32 = "tensor(int32)"


@dataclass(frozen=True)
class Slot:
    """One formal input or output: the type parameter it is bound to and the types that parameter allows."""

    param: str
    allowed: frozenset[str]

    @property
    def requires_int64(self) -> bool:
        return INT64 in self.allowed and INT32 not in self.allowed

    @property
    def takes_int32(self) -> bool:
        return INT32 in self.allowed


@dataclass(frozen=True)
class OpSlots:
    inputs: tuple[Slot, ...]
    outputs: tuple[Slot, ...]
    variadic_inputs: bool
    variadic_outputs: bool

    def input(self, index: int) -> Slot | None:
        return _pick(self.inputs, self.variadic_inputs, index)

    def output(self, index: int) -> Slot | None:
        return _pick(self.outputs, self.variadic_outputs, index)


def _pick(slots: tuple[Slot, ...], variadic: bool, index: int) -> Slot | None:
    if index < len(slots):
        return slots[index]
    return slots[-1] if variadic and slots else None


@functools.lru_cache(maxsize=4096)
def op_slots(op_type: str, domain: str, opset: int) -> OpSlots | None:
    """The slots of ``op_type`` at ``opset``; None when no schema is known (custom ops, local functions)."""
    import onnx.defs

    try:
        schema = onnx.defs.get_schema(op_type, opset, domain or "")
    except onnx.defs.SchemaError:
        return None
    constraints = {c.type_param_str: frozenset(c.allowed_type_strs) for c in schema.type_constraints}

    def slots(formal: Sequence[onnx.defs.OpSchema.FormalParameter]) -> tuple[Slot, ...]:
        return tuple(Slot(p.type_str, constraints.get(p.type_str, frozenset({p.type_str}))) for p in formal)

    variadic = onnx.defs.OpSchema.FormalParameterOption.Variadic
    return OpSlots(
        slots(schema.inputs),
        slots(schema.outputs),
        bool(schema.inputs) and schema.inputs[-1].option == variadic,
        bool(schema.outputs) and schema.outputs[-1].option == variadic,
    )


@functools.lru_cache(maxsize=4096)
def input_name(op_type: str, domain: str, opset: int, index: int) -> str | None:
    """The formal name of input ``index`` (``RotaryEmbedding`` 3 → ``position_ids``): target facts name
    inputs as the ONNX spec does. None without a schema or past the last (non-variadic) input."""
    import onnx.defs

    try:
        schema = onnx.defs.get_schema(op_type, opset, domain or "")
    except onnx.defs.SchemaError:
        return None
    return str(schema.inputs[index].name) if index < len(schema.inputs) else None


def input_requires_int64(op_type: str, domain: str, opset: int, index: int) -> bool:
    slots = op_slots(op_type, domain or "", opset)
    slot = slots.input(index) if slots is not None else None
    return slot is not None and slot.requires_int64


def output_requires_int64(op_type: str, domain: str, opset: int, index: int) -> bool:
    slots = op_slots(op_type, domain or "", opset)
    slot = slots.output(index) if slots is not None else None
    return slot is not None and slot.requires_int64


def int64_only_slots(opset: int) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """All (op, slot name) pairs that require int64 at ``opset`` in the default domain."""
    import onnx.defs

    inputs: list[tuple[str, str]] = []
    outputs: list[tuple[str, str]] = []
    names = sorted({s.name for s in onnx.defs.get_all_schemas_with_history() if s.domain == ""})
    for name in names:
        try:
            schema = onnx.defs.get_schema(name, opset, "")
        except onnx.defs.SchemaError:
            continue
        if schema.deprecated:
            continue
        slots = op_slots(name, "", opset)
        assert slots is not None
        inputs += [(name, p.name) for p, s in zip(schema.inputs, slots.inputs) if s.requires_int64]
        outputs += [(name, p.name) for p, s in zip(schema.outputs, slots.outputs) if s.requires_int64]
    return inputs, outputs
