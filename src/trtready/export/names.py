"""Readable, user-chosen names for ONNX graph inputs and outputs.

torch.onnx names outputs after FX nodes (``layer_norm_4``); Torch-TensorRT calls them ``output0``.
Nested outputs (dicts, transformers ``ModelOutput``s, tuples) get names from the ExportedProgram's
output pytree spec (``last_hidden_state``, ``hidden_states.0``); ``--output-names`` overrides them.
A requested name that some internal value already has is taken from it (the internal value is
renamed), which avoids the invalid models pytorch/pytorch#158094 describes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from trtready.errors import UsageError

if TYPE_CHECKING:
    import onnx_ir as ir
    from torch.export import ExportedProgram


def pytree_output_names(ep: ExportedProgram) -> list[str] | None:
    """Names from the output structure when it has keys (dict/dataclass/ModelOutput); else None."""
    import torch.utils._pytree as pytree

    spec = ep.call_spec.out_spec
    if spec is None:
        return None
    try:
        structure = pytree.tree_unflatten(list(range(spec.num_leaves)), spec)
        paths = pytree.tree_flatten_with_path(structure)[0]
    except Exception:  # a container that cannot be rebuilt from ints: keep the exporter's names
        return None
    names, keyed = [], False
    for path, _ in paths:
        parts = []
        for k in path:
            if isinstance(k, pytree.MappingKey):
                parts.append(str(k.key))
                keyed = True
            elif isinstance(k, pytree.GetAttrKey):
                parts.append(k.name)
                keyed = True
            elif isinstance(k, pytree.SequenceKey):
                parts.append(str(k.idx))
            else:
                parts.append(str(k))
        names.append(".".join(parts) or "output")
    return names if keyed else None


def apply_names(model: ir.Model, input_names: list[str] | None, output_names: list[str] | None) -> None:
    """Rename graph inputs/outputs in place; a count mismatch is a clear error."""
    from onnx_ir.passes.common import NameFixPass, OutputFixPass

    graph = model.graph
    inputs = [v for v in graph.inputs if v.name not in graph.initializers]
    for what, values, names in (("input", inputs, input_names), ("output", list(graph.outputs), output_names)):
        if names is None:
            continue
        if len(names) != len(values):
            raise UsageError(
                f"--{what}-names gives {len(names)} name(s) ({', '.join(names)}), but the model has "
                f"{len(values)} {what}(s) ({', '.join(v.name or '?' for v in values)})"
            )
        if len(set(names)) != len(names):
            raise UsageError(f"--{what}-names repeats a name: {', '.join(names)}")
    if output_names is not None:
        # One value returned twice, or an input returned as is, cannot carry two names: Identity nodes.
        OutputFixPass()(model)
    taken = _all_values(graph)
    for values, names in ((inputs, input_names), (list(graph.outputs), output_names)):
        if names is None:
            continue
        for v, new in zip(values, names):
            if v.name == new:
                continue
            other = taken.get(new)
            if other is not None and other is not v:
                other.name = f"{new}__internal"
                taken[other.name] = other
            if v.name is not None:
                taken.pop(v.name, None)
            v.name = new
            taken[new] = v
    NameFixPass()(model)
    for values, names in ((inputs, input_names), (list(graph.outputs), output_names)):
        if names is not None and [v.name for v in values] != names:  # pragma: no cover - NameFixPass keeps I/O names
            raise UsageError("could not apply the requested names")


def _all_values(graph: ir.Graph) -> dict[str, ir.Value]:
    out = {v.name: v for v in graph.inputs if v.name}
    out.update({n: v for n, v in graph.initializers.items()})
    for node in graph:
        out.update({v.name: v for v in node.outputs if v.name})
    return out
