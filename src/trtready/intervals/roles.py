"""Roles of integer graph inputs, read from how the graph uses them — never from their names.

An input that only indexes a table of N rows (ONNX ``Gather`` on axis 0 of an initializer,
``aten.embedding``) holds values in ``[0, N)`` for every valid input; one that only feeds a Where
condition or a comparison is a mask. The same roles drive interval proofs and the inputs that
verification generates (DESIGN.md, "Verification principles").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from trtready.intervals import Interval


@dataclass(frozen=True)
class InputRole:
    kind: str  # "index" | "mask" | "unknown"
    size: int | None = None  # rows of the table it indexes (kind == "index")
    why: str = ""

    @property
    def interval(self) -> Interval | None:
        if self.kind == "index" and self.size:
            return Interval(0, self.size - 1)
        if self.kind == "mask":
            return Interval(0, 1)
        return None


def _table_rows(v: Any) -> int | None:
    if v is None or v.const_value is None or v.shape is None or not v.shape.dims:
        return None
    rows = v.shape[0]
    return rows if isinstance(rows, int) else None


def onnx_input_roles(graph: Any) -> dict[str, InputRole]:
    """Role of each integer graph input of an onnx-ir graph."""
    roles: dict[str, InputRole] = {}
    for v in graph.inputs:
        if v.dtype is None or not v.dtype.is_integer():
            continue
        uses = list(v.uses())
        sizes: list[int] = []
        mask = bool(uses)
        uses = [u for u in uses if u.node.op_type not in ("Shape", "Size")]  # shape reads say nothing of values
        for use in uses:
            node, idx = use.node, use.idx
            axis = node.attributes.get("axis")
            if node.op_type == "Gather" and idx == 1 and (axis is None or axis.value == 0):
                rows = _table_rows(node.inputs[0])
                if rows is not None:
                    sizes.append(rows)
                    mask = False
                    continue
            to = node.attributes.get("to")
            if node.op_type == "Cast" and to is not None and to.value == 9:  # to BOOL: only zero/non-zero matters
                continue
            if node.op_type in ("Where",) and idx == 0:
                continue
            mask = False
            sizes = []
            break
        if sizes and len(sizes) == len(uses) and not mask:
            n = min(sizes)
            roles[v.name] = InputRole("index", n, f"indexes a table of {n} rows")
        elif mask:
            roles[v.name] = InputRole("mask", None, "used only as a condition")
        else:
            roles[v.name] = InputRole("unknown", None, "no bounding use")
    return roles


def fx_input_roles(ep: Any) -> dict[str, InputRole]:
    """Role of each integer user input of an ExportedProgram (``aten.embedding`` indices)."""
    import torch

    sig = ep.graph_signature
    state_of = {**sig.inputs_to_parameters, **sig.inputs_to_buffers}
    values = ep.state_dict
    roles: dict[str, InputRole] = {}
    user_inputs = set(sig.user_inputs)
    for n in ep.graph.nodes:
        if n.op != "placeholder" or n.name not in user_inputs:
            continue
        val = n.meta.get("val")
        if not isinstance(val, torch.Tensor) or val.is_floating_point() or val.dtype == torch.bool:
            continue
        sizes: list[int] = []
        ok = bool(n.users)
        for user in n.users:
            target = str(user.target)
            if target == "aten.sym_size.int":
                continue  # reading its shape says nothing about its values
            if target == "aten.embedding.default" and len(user.args) > 1 and user.args[1] is n:
                w = user.args[0]
                t = values.get(state_of.get(getattr(w, "name", ""), ""))
                wval = t if t is not None else getattr(w, "meta", {}).get("val")
                rows = wval.shape[0] if wval is not None else None
                if isinstance(rows, int):
                    sizes.append(rows)
                    continue
            ok = False
            break
        if ok and sizes:
            roles[n.name] = InputRole("index", min(sizes), f"indexes a table of {min(sizes)} rows")
        else:
            roles[n.name] = InputRole("unknown", None, "no bounding use")
    return roles


def ranges_from_roles(roles: dict[str, InputRole], user: dict[str, Interval] | None) -> dict[str, Interval]:
    """Input intervals: what the user stated wins; else what the role proves."""
    out = {name: r.interval for name, r in roles.items() if r.interval is not None}
    out.update(user or {})
    return out  # type: ignore[return-value]
