"""State and graph narrowing applied to an ExportedProgram itself, without capturing it again.

The narrowed program is the audit's program with the narrowed state tensors in its ``state_dict`` /
``constants``, the planned source nodes given ``dtype=torch.int32`` (:class:`NarrowFxInt64Pass`'s
change, on the lifted graph), and every node's ``meta["val"]`` propagated again with fake tensors
from the placeholders, in the program's own fake mode and shape environment. The ops are the
program's: a second ``torch.export`` of the same ops would only recompute the metadata, at the
cost of a whole capture.

Anything this cannot do exactly returns None and the caller captures again: a narrowed state
tensor the program does not lift, a shape that comes out different from the audit's (the dtype is
all narrowing may change), or an op whose fake propagation fails.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from trtready.plan import Action, Decision
from trtready.finding_ids import Layer, tensor_name

if TYPE_CHECKING:
    import torch.fx
    from torch.export import ExportedProgram


def narrow_program(ep: ExportedProgram, decisions: list[Decision], sources: list[str]) -> ExportedProgram | None:
    """The narrowed copy of ``ep`` (``ep`` is left as it is), or None when only a re-capture will do."""
    import torch
    from torch._guards import detect_fake_mode
    from torch.export.graph_signature import InputKind
    from torch.fx.passes.shape_prop import _extract_tensor_metadata

    chosen = {n for d in decisions if d.action is Action.NARROW and (n := tensor_name(d.finding, Layer.STATE))}
    gm = copy.deepcopy(ep.graph_module)
    placeholders = [n for n in gm.graph.nodes if n.op == "placeholder"]
    old_vals = {n.name: n.meta.get("val") for n in gm.graph.nodes}
    fake_mode = detect_fake_mode([v for v in old_vals.values() if v is not None])
    if fake_mode is None:
        return None
    state, constants = dict(ep.state_dict), dict(ep.constants)
    by_name = {n.name: n for n in placeholders}
    lifted = {s.target: s for s in ep.graph_signature.input_specs
              if s.kind in (InputKind.PARAMETER, InputKind.BUFFER, InputKind.CONSTANT_TENSOR)}
    if not chosen <= set(lifted):
        return None
    for name in chosen:
        spec = lifted[name]
        store = state if name in state else constants
        old = store[name]
        new = old.detach().to(torch.int32 if old.dtype == torch.int64 else torch.float32)
        if spec.kind is InputKind.PARAMETER:
            new = torch.nn.Parameter(new, requires_grad=old.requires_grad and new.is_floating_point())
        store[name] = new
        node = by_name[spec.arg.name]
        with fake_mode:
            node.meta["val"] = node.meta["val"].to(new.dtype)
    changed = {by_name[lifted[name].arg.name] for name in chosen}
    wanted = set(sources)
    for n in gm.graph.nodes:
        if n.op == "call_function" and n.name in wanted:
            n.kwargs = {**n.kwargs, "dtype": torch.int32}
            changed.add(n)
    # ``.to(device)``/``.to(dtype)`` in library code leaves dtype assertions in the program (RoBERTa's
    # token_type_ids buffer): they assert the dtype narrowing just changed. They are checks, not compute.
    for n in list(gm.graph.nodes):
        if n.op == "call_function" and str(n.target) == "aten._assert_tensor_metadata.default" and not n.users:
            gm.graph.erase_node(n)
    gm.graph.lint()
    gm.recompile()
    # Only what reads a value whose dtype changed is propagated again (an embedding of int32 indices
    # gives the float rows it gave before): the rest keeps the capture's values.
    affected: list[Any] = []
    dirty = set(changed)
    try:
        with fake_mode:
            for n in gm.graph.nodes:
                if n.op != "call_function" or not (n in dirty or any(a in dirty for a in n.all_input_nodes)):
                    continue
                args, kwargs = torch.fx.node.map_arg((n.args, n.kwargs), lambda a: a.meta["val"])
                n.meta["val"] = n.target(*args, **kwargs)
                affected.append(n)
                if _dtypes(n.meta["val"]) != _dtypes(old_vals.get(n.name)):
                    dirty.add(n)
    except Exception:  # noqa: BLE001 - an op fake propagation cannot redo: the caller captures again
        return None
    if not _same_shapes(affected, old_vals):
        return None
    for n in affected:  # the other per-node record of the value, kept in step with it
        if "tensor_meta" in n.meta and isinstance(n.meta.get("val"), torch.Tensor):
            n.meta["tensor_meta"] = _extract_tensor_metadata(n.meta["val"])
    try:
        return ep._update(gm, copy.deepcopy(ep.graph_signature), state_dict=state, constants=constants)
    except Exception:  # noqa: BLE001 - the program's verifier refuses it: the caller captures again
        return None


def _same_shapes(nodes: list[torch.fx.Node], old_vals: dict[str, Any]) -> bool:
    """Every node's value has the shape (and symbols) the audit's capture gave it: narrowing changes dtypes only."""
    import torch

    def shape(v: Any) -> Any:
        if isinstance(v, torch.Tensor):
            return ("t", tuple(str(s) for s in v.shape))
        if isinstance(v, list | tuple):
            return tuple(shape(x) for x in v)
        if isinstance(v, torch.SymInt | torch.SymFloat | torch.SymBool):
            return ("s", str(v))
        return ("v", type(v).__name__)

    for n in nodes:
        if old_vals.get(n.name) is not None and shape(n.meta.get("val")) != shape(old_vals[n.name]):
            return False
    return True


def _dtypes(v: Any) -> Any:
    import torch

    if isinstance(v, torch.Tensor):
        return v.dtype
    if isinstance(v, list | tuple):
        return tuple(_dtypes(x) for x in v)
    return type(v).__name__
