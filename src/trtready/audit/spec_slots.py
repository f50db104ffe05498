"""ONNX operator slots whose schema allows only ``tensor(int64)``, read from ``onnx.defs``.

Reading the schemas (instead of copying a list) keeps the answer right for every opset: e.g.
Reshape.shape, Expand.shape, Tile.repeats, Pad.pads, TopK.K, GatherND.indices are int64-only
inputs; Shape, Size, ArgMax, NonZero outputs are always int64 (DESIGN.md).
"""

from __future__ import annotations

import functools

INT64 = "tensor(int64)"


def _allowed(schema: object, param: object) -> set[str]:
    type_str = param.type_str  # type: ignore[attr-defined]
    for c in schema.type_constraints:  # type: ignore[attr-defined]
        if c.type_param_str == type_str:
            return set(c.allowed_type_strs)
    return {type_str}


@functools.lru_cache(maxsize=4096)
def _schema_slots(op_type: str, opset: int, domain: str) -> tuple[tuple[bool, ...], tuple[bool, ...], bool, bool] | None:
    import onnx.defs

    try:
        schema = onnx.defs.get_schema(op_type, opset, domain)
    except Exception:  # unknown op or domain (custom ops): no spec constraint known
        return None
    ins = tuple(_allowed(schema, p) == {INT64} for p in schema.inputs)
    outs = tuple(_allowed(schema, p) == {INT64} for p in schema.outputs)
    var_in = bool(schema.inputs) and schema.inputs[-1].option == onnx.defs.OpSchema.FormalParameterOption.Variadic
    var_out = bool(schema.outputs) and schema.outputs[-1].option == onnx.defs.OpSchema.FormalParameterOption.Variadic
    return ins, outs, var_in, var_out


def _lookup(flags: tuple[bool, ...], variadic: bool, index: int) -> bool:
    if index < len(flags):
        return flags[index]
    return variadic and bool(flags) and flags[-1]


def input_is_int64_only(op_type: str, domain: str, opset: int, index: int) -> bool:
    slots = _schema_slots(op_type, opset, domain or "")
    return slots is not None and _lookup(slots[0], slots[2], index)


def output_is_int64_only(op_type: str, domain: str, opset: int, index: int) -> bool:
    slots = _schema_slots(op_type, opset, domain or "")
    return slots is not None and _lookup(slots[1], slots[3], index)


def int64_only_slots(opset: int) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """All (op, slot name) pairs that are int64-only at ``opset`` in the default domain."""
    import onnx.defs

    inputs: list[tuple[str, str]] = []
    outputs: list[tuple[str, str]] = []
    names = sorted({s.name for s in onnx.defs.get_all_schemas_with_history() if s.domain == ""})
    for name in names:
        try:
            schema = onnx.defs.get_schema(name, opset, "")
        except Exception:
            continue
        if schema.deprecated:
            continue
        inputs += [(name, p.name) for p in schema.inputs if _allowed(schema, p) == {INT64}]
        outputs += [(name, p.name) for p in schema.outputs if _allowed(schema, p) == {INT64}]
    return inputs, outputs
