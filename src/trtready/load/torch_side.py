"""PyTorch-side loaders: specs, ``.pt2``, TorchScript, checkpoints and safetensors.

torch is imported inside each function, so ONNX-only work never pays for it.
"""

from __future__ import annotations

import importlib
import pickle
import warnings
from pathlib import Path
from typing import Any

from trtready.errors import BadInputError, UnsafeInputError
from trtready.load.spec import ModelSpec


def load_spec(spec: str) -> ModelSpec:
    """Import ``package.module:factory`` and call the factory (naming it is consent to run it)."""
    import torch

    mod_name, _, attr = spec.partition(":")
    try:
        mod = importlib.import_module(mod_name)
    except ImportError as e:
        raise BadInputError(f"{spec}: cannot import module {mod_name!r} ({e})") from e
    factory = getattr(mod, attr, None)
    if factory is None or not callable(factory):
        raise BadInputError(f"{spec}: module {mod_name!r} has no callable {attr!r}")
    try:
        out = factory()
    except Exception as e:
        raise BadInputError(f"{spec}: the factory raised {type(e).__name__}: {e}") from e
    if isinstance(out, ModelSpec):
        result = out
    elif isinstance(out, tuple) and len(out) in (2, 3):
        result = ModelSpec(out[0], out[1], out[2] if len(out) == 3 else None)
    else:
        raise BadInputError(
            f"{spec}: the factory must return (module, args), (module, args, kwargs) or a ModelSpec, "
            f"not {type(out).__name__}"
        )
    if not isinstance(result.module, torch.nn.Module):
        raise BadInputError(f"{spec}: the factory's module is a {type(result.module).__name__}, not a torch.nn.Module")
    if not isinstance(result.args, tuple):
        result.args = (result.args,)
    if result.kwargs is not None and not isinstance(result.kwargs, dict):
        raise BadInputError(f"{spec}: the factory's kwargs must be a dict")
    return result


def load_pt2(path: Path) -> Any:
    import torch

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return torch.export.load(str(path))
    except Exception as e:
        raise BadInputError(f"{path}: cannot load .pt2 archive ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})") from e


def load_torchscript(path: Path) -> Any:
    import torch

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return torch.jit.load(str(path), map_location="cpu")
    except Exception as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise BadInputError(f"{path}: cannot load TorchScript archive ({first})") from e


def _flatten_tensors(obj: Any, prefix: str, out: dict[str, Any]) -> None:
    import torch

    if isinstance(obj, torch.Tensor):
        out[prefix] = obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            _flatten_tensors(v, f"{prefix}.{k}" if prefix else str(k), out)
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            _flatten_tensors(v, f"{prefix}.{i}" if prefix else str(i), out)


def load_checkpoint(path: Path, trust_code: bool = False) -> tuple[dict[str, Any] | None, Any]:
    """``(tensors, module)``: a state_dict's tensors by dotted name, or a trusted pickled module.

    ``weights_only=True`` refuses anything but tensors and plain containers; a whole pickled
    ``nn.Module`` or an object with a ``__reduce__`` payload is refused unless ``trust_code``.
    """
    import torch

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            obj = torch.load(str(path), map_location="cpu", weights_only=not trust_code)
    except pickle.UnpicklingError as e:
        if trust_code:
            raise BadInputError(f"{path}: cannot unpickle ({str(e).splitlines()[0]})") from e
        text = str(e)
        culprit = ""
        for line in text.splitlines():
            if "GLOBAL" in line or "Unsupported" in line:
                culprit = f" ({line.strip().rstrip('.')})"
                break
        raise UnsafeInputError(
            f"{path}: the checkpoint holds pickled code or objects, not just tensors{culprit}; refused. "
            "Pass --trust-code only if you trust the file's author (it runs arbitrary code)"
        ) from e
    except (RuntimeError, EOFError, ValueError, OSError, AttributeError, ModuleNotFoundError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise BadInputError(f"{path}: cannot load checkpoint ({first})") from e
    if isinstance(obj, torch.nn.Module):
        return None, obj
    tensors: dict[str, Any] = {}
    _flatten_tensors(obj, "", tensors)
    if not tensors:
        raise BadInputError(f"{path}: the checkpoint holds no tensors")
    return tensors, None


def open_safetensors(path: Path) -> Any:
    """A ``safe_open`` handle after the header was checked; tensors are read only on demand."""
    from safetensors import safe_open

    from trtready.load.detect import validate_safetensors_header

    validate_safetensors_header(path)
    try:
        return safe_open(str(path), framework="pt")
    except Exception as e:
        raise BadInputError(f"{path}: cannot read safetensors ({e})") from e
