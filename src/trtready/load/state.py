"""Module state as a flat list of entries: metadata up front, values only on demand.

The state audit reads dtype and shape for every tensor and values only for 64-bit ones; on the
meta device it reads none (docs/design.md, performance principles). Declared sizes are checked against
the limits when an entry is made, before any value is read: a zero-stride view can declare 2**40
elements over one stored value.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from trtready.errors import BadInputError
from trtready.lazy import np
from trtready.limits import DEFAULT_LIMITS, Limits
from trtready.load.archive import check_elements

if TYPE_CHECKING:
    import torch
    from torch.export import ExportedProgram

_TORCH_DTYPE_NAMES = {"torch.int64": "int64", "torch.float64": "float64", "torch.uint64": "uint64"}
_SAFETENSORS_DTYPES = {"I64": "int64", "F64": "float64", "U64": "uint64"}
WIDE_DTYPES = ("int64", "float64", "uint64")


@dataclass
class StateEntry:
    """One parameter or buffer."""

    name: str  # fully qualified, e.g. ``layer1.0.bn1.num_batches_tracked``
    dtype: str  # numpy-style name (``int64``, ``float32``, …)
    shape: list[int]
    role: str  # "parameter" | "buffer" | "tensor" (state_dict entries: unknown which)
    module_type: str | None
    read: Callable[[], Any]  # -> numpy array, or None when no values exist (meta device)


def _dtype_name(t: Any) -> str:
    s = str(t.dtype)
    return _TORCH_DTYPE_NAMES.get(s, s.removeprefix("torch."))


def _reader(name: str, t: Any) -> Callable[[], Any]:
    """Values as numpy; sparse tensors by their stored values (the rest are zeros)."""

    def read() -> Any:
        import torch

        if t.device.type == "meta":
            return None
        try:
            if t.layout != torch.strided:
                values = t.coalesce().values() if t.layout == torch.sparse_coo else t.values()
                dense_zero = t._nnz() < t.numel()
                arr = values.detach().cpu().numpy()
                return np.concatenate([arr.reshape(-1), np.zeros(1, arr.dtype)]) if dense_zero else arr
            return t.detach().cpu().numpy()
        except (RuntimeError, TypeError, ValueError) as e:
            raise BadInputError(f"tensor {name}: cannot read its values ({str(e).splitlines()[0][:120]})") from e

    return read


def _entry(name: str, t: Any, role: str, owner: str | None, limits: Limits) -> StateEntry:
    import torch

    if t.layout == torch.strided:  # sparse tensors declare big shapes legitimately: their values are stored
        check_elements(f"tensor {name}", tuple(t.shape), limits)
    return StateEntry(name, _dtype_name(t), list(t.shape), role, owner, _reader(name, t))


def entries_from_module(module: torch.nn.Module, limits: Limits = DEFAULT_LIMITS) -> list[StateEntry]:
    """Parameters and buffers with the type of the submodule that owns each (nested names work)."""
    out: list[StateEntry] = []
    seen: set[int] = set()
    for prefix, sub in module.named_modules():
        mtype = getattr(sub, "original_name", None) or type(sub).__name__
        for role, store in (("parameter", sub._parameters), ("buffer", sub._buffers)):
            for name, t in store.items():
                if t is None or id(t) in seen:
                    continue
                seen.add(id(t))
                out.append(_entry(f"{prefix}.{name}" if prefix else name, t, role, mtype, limits))
    return out


def entries_from_torchscript(module: torch.jit.ScriptModule, limits: Limits = DEFAULT_LIMITS) -> list[StateEntry]:
    """A loaded ScriptModule (``--trust-code``) keeps ``_parameters``/``_buffers`` private; its named_* iterators work."""
    owners = {prefix: getattr(sub, "original_name", type(sub).__name__) for prefix, sub in module.named_modules()}
    out: list[StateEntry] = []
    for role, items in (("parameter", module.named_parameters()), ("buffer", module.named_buffers())):
        for name, t in items:
            out.append(_entry(name, t, role, owners.get(name.rpartition(".")[0]), limits))
    return out


def entries_from_archive(entries: list[tuple[str, Any, str, str | None]], limits: Limits = DEFAULT_LIMITS) -> list[StateEntry]:
    """Entries of a TorchScript archive read as data (:mod:`trtready.load.torchscript`)."""
    return [_entry(name, t, role, owner, limits) for name, t, role, owner in entries]


def entries_from_tensors(tensors: dict[str, Any], limits: Limits = DEFAULT_LIMITS) -> list[StateEntry]:
    return [_entry(n, t, "tensor", None, limits) for n, t in tensors.items()]


def entries_from_safetensors(handle: Any, header: dict[str, Any]) -> list[StateEntry]:
    """Entries from a checked header (:func:`trtready.load.detect.validate_safetensors_header`)."""
    out: list[StateEntry] = []
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = _SAFETENSORS_DTYPES.get(info["dtype"], info["dtype"].lower())

        def read(name: str = name) -> Any:
            try:
                return handle.get_tensor(name).numpy()
            except Exception as e:  # safetensors raises its own error types
                raise BadInputError(f"tensor {name}: cannot read its values ({str(e)[:120]})") from e

        out.append(StateEntry(name, dtype, list(info["shape"]), "tensor", None, read))
    return out


def entries_from_exported(ep: ExportedProgram, limits: Limits = DEFAULT_LIMITS) -> list[StateEntry]:
    """State of an ExportedProgram: its parameters, buffers and lifted tensor constants."""
    sig = ep.graph_signature
    roles = {**{n: "parameter" for n in sig.parameters}, **{n: "buffer" for n in sig.buffers}}
    out: list[StateEntry] = []
    for name, t in ep.state_dict.items():
        out.append(_entry(name, t, roles.get(name, "buffer"), None, limits))
    for name, t in ep.constants.items():
        if hasattr(t, "dtype"):
            out.append(_entry(name, t, "buffer", None, limits))
    return out
