"""State narrowing: apply the state decisions (:mod:`trtready.plan.state_plan`) to a module or a
state_dict. No pass class: a module's state is not a graph.

int64 → int32 and float64 → float32 parameters/buffers, on their owning module.

Works on nested names (``layer1.0.bn1.num_batches_tracked``): the tensor is replaced on the
submodule that owns it, which is what ``register_buffer`` on the root cannot do. Loading an
original int64 checkpoint afterwards works with ``load_state_dict`` (it copies into the int32
buffers); ``assign=True`` would bring int64 back.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, TypeVar

from trtready.plan import Action, Decision
from trtready.finding_ids import Layer, tensor_name

if TYPE_CHECKING:
    import torch

#: An ``nn.Module`` or a TorchScript ``ScriptModule``: the copy is of the same kind.
_M = TypeVar("_M", bound="torch.nn.Module")


def narrow_module_state(module: _M, decisions: list[Decision]) -> _M:
    """A deep copy of ``module`` with every state tensor decided ``narrow`` converted.

    ``module`` may be an ``nn.Module`` or a loaded TorchScript ``ScriptModule`` (``fix`` of a ``.ts``
    archive): both copy with ``copy.deepcopy`` and expose their tensors through ``_buffers`` and
    ``_parameters``, so one walk narrows either.
    """
    import torch

    narrowed = copy.deepcopy(module)
    for d in decisions:
        name = tensor_name(d.finding, Layer.STATE)
        if d.action is not Action.NARROW or name is None:
            continue
        owner_path, _, attr = name.rpartition(".")
        owner = _submodule(narrowed, owner_path)
        # A ScriptModule's ``_buffers``/``_parameters`` are wrappers without ``get``: membership, then index.
        t = owner._buffers[attr] if attr in owner._buffers else None
        p = owner._parameters[attr] if attr in owner._parameters else None
        if t is not None:
            owner._buffers[attr] = t.to(torch.int32 if t.dtype == torch.int64 else torch.float32)
        elif p is not None:
            new = p.detach().to(torch.int32 if p.dtype == torch.int64 else torch.float32)
            owner._parameters[attr] = torch.nn.Parameter(new, requires_grad=p.requires_grad and new.is_floating_point())
    return narrowed


def _submodule(root: torch.nn.Module, path: str) -> torch.nn.Module:
    """The submodule at dotted ``path``; a ScriptModule has no ``get_submodule``, so it is walked by name."""
    import torch

    if not isinstance(root, torch.jit.ScriptModule):
        return root.get_submodule(path) if path else root
    owner = root
    for part in path.split(".") if path else []:
        owner = getattr(owner, part)
    return owner


def narrow_state_dict(tensors: dict[str, torch.Tensor], decisions: list[Decision]) -> dict[str, torch.Tensor]:
    import torch

    chosen = {n for d in decisions if d.action is Action.NARROW and (n := tensor_name(d.finding, Layer.STATE))}
    out = {}
    for name, t in tensors.items():
        if name in chosen:
            t = t.to(torch.int32 if t.dtype == torch.int64 else torch.float32)
        out[name] = t
    return out
