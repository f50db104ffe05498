"""Module state as a flat list of entries: metadata up front, values only on demand.

The state audit reads dtype and shape for every tensor and values only for 64-bit ones; on the
meta device it reads none (DESIGN.md, performance principles).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_TORCH_DTYPE_NAMES = {"torch.int64": "int64", "torch.float64": "float64"}
_SAFETENSORS_DTYPES = {"I64": "int64", "F64": "float64"}


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


def _reader(t: Any) -> Callable[[], Any]:
    def read() -> Any:
        if t.device.type == "meta":
            return None
        return t.detach().cpu().numpy()

    return read


def entries_from_module(module: Any) -> list[StateEntry]:
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
                out.append(
                    StateEntry(
                        f"{prefix}.{name}" if prefix else name, _dtype_name(t), list(t.shape), role, mtype, _reader(t)
                    )
                )
    return out


def entries_from_torchscript(module: Any) -> list[StateEntry]:
    """A ScriptModule keeps ``_parameters``/``_buffers`` private; its named_* iterators work."""
    owners = {prefix: getattr(sub, "original_name", type(sub).__name__) for prefix, sub in module.named_modules()}
    out: list[StateEntry] = []
    for role, items in (("parameter", module.named_parameters()), ("buffer", module.named_buffers())):
        for name, t in items:
            owner = owners.get(name.rpartition(".")[0])
            out.append(StateEntry(name, _dtype_name(t), list(t.shape), role, owner, _reader(t)))
    return out


def entries_from_tensors(tensors: dict[str, Any]) -> list[StateEntry]:
    return [StateEntry(n, _dtype_name(t), list(t.shape), "tensor", None, _reader(t)) for n, t in tensors.items()]


def entries_from_safetensors(handle: Any) -> list[StateEntry]:
    out: list[StateEntry] = []
    for name in handle.keys():
        sl = handle.get_slice(name)
        dt = sl.get_dtype()
        dtype = _SAFETENSORS_DTYPES.get(dt, dt.lower())

        def read(name: str = name) -> Any:
            return handle.get_tensor(name).numpy()

        out.append(StateEntry(name, dtype, list(sl.get_shape()), "tensor", None, read))
    return out


def entries_from_exported(ep: Any) -> list[StateEntry]:
    """State of an ExportedProgram: its parameters, buffers and lifted tensor constants."""
    sig = ep.graph_signature
    roles = {**{n: "parameter" for n in sig.parameters}, **{n: "buffer" for n in sig.buffers}}
    out: list[StateEntry] = []
    for name, t in ep.state_dict.items():
        out.append(StateEntry(name, _dtype_name(t), list(t.shape), roles.get(name, "buffer"), None, _reader(t)))
    for name, t in ep.constants.items():
        if hasattr(t, "dtype"):
            out.append(StateEntry(name, _dtype_name(t), list(t.shape), "buffer", None, _reader(t)))
    return out
