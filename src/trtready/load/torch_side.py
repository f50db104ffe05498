"""PyTorch-side loaders: specs, ``.pt2``, TorchScript, checkpoints and safetensors.

torch is imported inside each function, so ONNX-only work never pays for it.
"""

from __future__ import annotations

import importlib
import os
import pickle
import sys
import warnings
import zipfile
from pathlib import Path
from typing import Any

from trtready.errors import BadInputError, UnsafeInputError
from trtready.limits import DEFAULT_LIMITS, Limits
from trtready.load.archive import check_zip
from trtready.load.detect import validate_safetensors_header
from trtready.load.pt2 import quiet_torch_logs, read_pt2
from trtready.load.spec import ModelSpec


def load_spec(spec: str) -> ModelSpec:
    """Import ``package.module:factory`` and call the factory (naming it is consent to run it)."""
    import torch

    mod_name, _, attr = spec.partition(":")
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:  # `python -m` semantics: the current folder is importable
        sys.path.insert(0, cwd)
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


def load_pt2(path: Path, limits: Limits = DEFAULT_LIMITS, trust_code: bool = False) -> tuple[Any, list[str]]:
    """The program of a ``.pt2`` and notes on how it was read.

    Without ``trust_code`` the archive is read as data by :func:`trtready.load.pt2.read_pt2` (torch's
    loader never sees it); with it, ``torch.export.load`` reads it, example inputs included.
    """
    import torch

    if not trust_code:
        return read_pt2(path, limits)
    check_zip(path, limits)
    try:
        with quiet_torch_logs():
            return torch.export.load(str(path)), ["read with torch.export.load (--trust-code)"]
    except MemoryError as e:
        raise BadInputError(f"{path}: out of memory while loading the .pt2 archive") from e
    except Exception as e:
        raise BadInputError(f"{path}: cannot load .pt2 archive ({type(e).__name__}: {_first(e)})") from e


def _first(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0][:200] if text else type(e).__name__


def load_torchscript(path: Path) -> Any:
    """``torch.jit.load``: runs the archive's code, so only under ``--trust-code``."""
    import torch

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return torch.jit.load(str(path), map_location="cpu")  # type: ignore[no-untyped-call]
    except Exception as e:
        raise BadInputError(f"{path}: cannot load TorchScript archive ({_first(e)})") from e


def _flatten_tensors(obj: Any) -> dict[str, Any]:
    """Tensors of a nested container by dotted path; iterative (nesting can be deep) and cycle-safe."""
    import torch

    out: dict[str, Any] = {}
    seen: set[int] = set()
    stack: list[tuple[str, Any]] = [("", obj)]
    while stack:
        prefix, cur = stack.pop()
        if isinstance(cur, torch.Tensor):
            out.setdefault(prefix or "tensor", cur)
            continue
        if id(cur) in seen:
            continue
        seen.add(id(cur))
        if isinstance(cur, dict):
            items = [(str(k), v) for k, v in cur.items()]
        elif isinstance(cur, (list, tuple)):
            items = [(str(i), v) for i, v in enumerate(cur)]
        else:
            continue
        for k, v in reversed(items):
            stack.append((f"{prefix}.{k}" if prefix else k, v))
    return out


def load_checkpoint(path: Path, trust_code: bool = False, limits: Limits = DEFAULT_LIMITS) -> tuple[dict[str, Any] | None, Any]:
    """``(tensors, module)``: a state_dict's tensors by dotted name, or a trusted pickled module.

    ``weights_only=True`` refuses anything but tensors and plain containers; a whole pickled
    ``nn.Module`` or an object with a ``__reduce__`` payload is refused unless ``trust_code``.
    """
    import torch

    if zipfile.is_zipfile(path):
        check_zip(path, limits)
    try:
        # Sparse tensors are checked as they load: an index outside its size would make any later
        # densifying write out of bounds (torch skips the check by default).
        with warnings.catch_warnings(), torch.sparse.check_sparse_tensor_invariants(True):  # type: ignore[no-untyped-call]
            warnings.simplefilter("ignore")
            obj = torch.load(str(path), map_location="cpu", weights_only=not trust_code)
    except pickle.UnpicklingError as e:
        if trust_code:
            raise BadInputError(f"{path}: cannot unpickle ({_first(e)})") from e
        culprit = ""
        for line in str(e).splitlines():
            if "GLOBAL" in line or "Unsupported" in line:
                culprit = f" ({line.strip().rstrip('.')[:160]})"
                break
        raise UnsafeInputError(
            f"{path}: the checkpoint holds pickled code or objects, not just tensors{culprit}; refused. "
            "Pass --trust-code only if you trust the file's author (it runs arbitrary code)"
        ) from e
    except MemoryError as e:
        raise BadInputError(f"{path}: out of memory while loading the checkpoint (declared sizes too large?)") from e
    except RecursionError as e:
        raise BadInputError(f"{path}: the checkpoint nests too deeply to load") from e
    except Exception as e:  # torch.load raises assorted errors on damaged files
        raise BadInputError(f"{path}: cannot load checkpoint ({_first(e)})") from e
    if isinstance(obj, torch.nn.Module):
        return None, obj
    tensors = _flatten_tensors(obj)
    if not tensors:
        raise BadInputError(f"{path}: the checkpoint holds no tensors")
    return tensors, None


def open_safetensors(path: Path, limits: Limits = DEFAULT_LIMITS) -> tuple[Any, dict[str, Any]]:
    """A ``safe_open`` handle after the header was checked, and the header; tensors are read on demand."""
    from safetensors import safe_open

    header = validate_safetensors_header(path, limits)
    try:
        return safe_open(str(path), framework="pt"), header
    except Exception as e:
        raise BadInputError(f"{path}: cannot read safetensors ({_first(e)})") from e
