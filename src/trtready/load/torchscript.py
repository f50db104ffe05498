"""The tensors of a TorchScript archive, read without running the archive.

``torch.jit.load`` is code execution: it compiles ``code/`` and calls each class's ``__setstate__``
(which may, say, ``torch.from_file(path, True, …)`` and so create any file). The state audit needs
only names, owner types, dtypes and values, all of which ``data.pkl``/``constants.pkl`` hold as
plain pickles of ``__torch__.*`` objects around ``torch._utils._rebuild_tensor_v2`` calls. A
restricted unpickler rebuilds exactly those: every ``__torch__`` class becomes an inert
:class:`ScriptObjectState`, storages are read from their zip records (their declared sizes checked
against the records), and any other global is refused. Which attributes are parameters and which
are buffers is read from the ``__parameters__``/``__buffers__`` lists in ``code/`` as text.

Writing a narrowed TorchScript archive needs the real module, so ``fix`` of a TorchScript file
requires ``--trust-code`` (loading then happens through ``torch.jit.load``).
"""

from __future__ import annotations

import ast
import io
import pickle
import re
import zipfile
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trtready.errors import BadInputError, UnsafeInputError
from trtready.lazy import np
from trtready.limits import DEFAULT_LIMITS, Limits
from trtready.load.archive import check_elements, check_zip

_STORAGE_DTYPES = {
    "DoubleStorage": "float64", "FloatStorage": "float32", "HalfStorage": "float16", "BFloat16Storage": "bfloat16",
    "LongStorage": "int64", "IntStorage": "int32", "ShortStorage": "int16", "CharStorage": "int8",
    "ByteStorage": "uint8", "BoolStorage": "bool",
}


class ScriptObjectState:
    """A ``__torch__`` object as pickled: its qualified class name and its attributes (inert)."""

    qualname = "__torch__.?"

    def __init__(self) -> None:
        self.state: dict[str, Any] = {}

    def __setstate__(self, state: Any) -> None:  # pickle's BUILD: store, never run the class's own
        self.state = state if isinstance(state, dict) else {"__state__": state}

    @property
    def type_name(self) -> str:
        return self.qualname.rsplit(".", 1)[-1]


class _Storage:
    def __init__(self, dtype: str) -> None:
        self.dtype = dtype


def _identity(x: Any = None, *_: Any) -> Any:
    return x


class _Unpickler(pickle.Unpickler):
    """Rebuilds tensors and inert script objects; refuses every other global."""

    def __init__(self, data: bytes, records: dict[str, zipfile.ZipInfo], zf: zipfile.ZipFile, folder: str,
                 path: Path, limits: Limits) -> None:
        super().__init__(io.BytesIO(data))
        self.records, self.zf, self.folder, self.path, self.limits = records, zf, folder, path, limits
        self.classes: dict[str, type[ScriptObjectState]] = {}

    def find_class(self, module: str, name: str) -> Any:
        if module == "__torch__" or module.startswith("__torch__."):
            qualname = f"{module}.{name}"
            if qualname not in self.classes:
                self.classes[qualname] = type(name, (ScriptObjectState,), {"qualname": qualname})
            return self.classes[qualname]
        if module == "torch" and name in _STORAGE_DTYPES:
            return _Storage(_STORAGE_DTYPES[name])
        if module == "torch._utils" and name in ("_rebuild_tensor_v2", "_rebuild_tensor"):
            return self._rebuild
        if module == "torch._utils" and name == "_rebuild_parameter":
            return lambda data, requires_grad, hooks=None: data
        if module == "collections" and name == "OrderedDict":
            return OrderedDict
        if module == "torch.jit._pickle" and name.startswith(("build_", "restore_type_tag")):
            return _identity
        if module == "torch" and name == "device":
            return str
        raise UnsafeInputError(
            f"{self.path}: the TorchScript archive pickles {module}.{name}, which is not plain tensor data; "
            "refused. Pass --trust-code only if you trust the file's author (torch.jit.load runs its code)"
        )

    def persistent_load(self, pid: Any) -> Any:
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage" and isinstance(pid[1], _Storage)):
            raise BadInputError(f"{self.path}: malformed storage reference in the TorchScript archive")
        _, storage, key, _location, numel = pid
        info = self.records.get(f"{self.folder}{key}")
        if info is None:
            raise BadInputError(f"{self.path}: storage {key!r} is missing from the TorchScript archive")
        import torch

        itemsize = torch.empty(0, dtype=getattr(torch, storage.dtype)).element_size()
        if not isinstance(numel, int) or numel < 0 or numel * itemsize > info.file_size:
            raise BadInputError(f"{self.path}: storage {key!r} declares {numel} elements but holds {info.file_size} bytes")
        data = self.zf.read(info)[: numel * itemsize]
        flat = torch.from_numpy(np.frombuffer(bytearray(data), dtype=np.uint8).copy())
        return flat.view(getattr(torch, storage.dtype)) if numel else torch.empty(0, dtype=getattr(torch, storage.dtype))

    def _rebuild(self, storage: Any, offset: int, size: Any, stride: Any, *_: Any) -> Any:
        size, stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)
        if len(size) != len(stride):
            raise BadInputError(f"{self.path}: a tensor of the TorchScript archive has {len(size)} sizes and "
                                f"{len(stride)} strides")
        check_elements(f"{self.path}: a tensor of the TorchScript archive", size, self.limits)
        if size and any(d == 0 for d in size):
            return storage.new_empty(size)
        reach = int(offset) + sum((d - 1) * s for d, s in zip(size, stride))
        if int(offset) < 0 or any(s < 0 for s in stride) or reach >= max(storage.numel(), 1):
            raise BadInputError(f"{self.path}: a tensor view reaches beyond its storage")
        return storage.as_strided(size, stride, int(offset))


def _class_members(code: str, module: str) -> dict[str, tuple[set[str], set[str]]]:
    """``{qualname: (parameters, buffers)}`` from the ``__parameters__``/``__buffers__`` lines."""
    out: dict[str, tuple[set[str], set[str]]] = {}
    current = None
    for line in code.splitlines():
        m = re.match(r"^class (\w+)\(", line)
        if m:
            current = f"{module}.{m[1]}"
            out[current] = (set(), set())
            continue
        m = re.match(r"^\s+__(parameters|buffers)__ = (\[.*\])\s*$", line)
        if m and current is not None:
            try:
                names = ast.literal_eval(m[2])
            except (ValueError, SyntaxError):
                continue
            out[current][0 if m[1] == "parameters" else 1].update(str(n) for n in names)
    return out


@dataclass
class TorchScriptState:
    """(name, tensor, role, owner type) for every tensor of the archive, in pickle order."""

    entries: list[tuple[str, Any, str, str | None]]


def read_torchscript(path: Path, limits: Limits = DEFAULT_LIMITS) -> TorchScriptState:
    """Tensors of the module tree and of ``constants.pkl``; nothing from ``code/`` is executed."""
    infos = check_zip(path, limits)
    records = {(i.filename.split("/", 1)[1] if "/" in i.filename else i.filename): i for i in infos}
    members: dict[str, tuple[set[str], set[str]]] = {}
    with zipfile.ZipFile(path) as zf:
        for tail, info in records.items():
            if tail.startswith("code/") and tail.endswith(".py"):
                module = tail[len("code/"):-len(".py")].replace("/", ".")
                try:
                    members.update(_class_members(zf.read(info).decode("utf-8", "replace"), module))
                except (zipfile.BadZipFile, OSError, ValueError) as e:
                    raise BadInputError(f"{path}: cannot read {tail} ({e})") from e
        root = _unpickle(path, zf, records, "data.pkl", "data/", limits)
        constants = _unpickle(path, zf, records, "constants.pkl", "constants/", limits) if "constants.pkl" in records else ()
    entries: list[tuple[str, Any, str, str | None]] = []
    _collect(root, "", members, entries)
    for i, t in enumerate(constants if isinstance(constants, (tuple, list)) else ()):
        if _is_tensor(t):
            entries.append((f"CONSTANTS.c{i}", t, "buffer", None))
    return TorchScriptState(entries)


def _unpickle(path: Path, zf: zipfile.ZipFile, records: dict[str, zipfile.ZipInfo], name: str, folder: str,
              limits: Limits) -> Any:
    info = records.get(name)
    if info is None:
        raise BadInputError(f"{path}: a TorchScript archive without {name}")
    try:
        return _Unpickler(zf.read(info), records, zf, folder, path, limits).load()
    except (BadInputError, UnsafeInputError):
        raise
    except RecursionError as e:
        raise BadInputError(f"{path}: {name} nests too deeply to read") from e
    except Exception as e:  # malformed pickles raise assorted errors
        raise BadInputError(f"{path}: cannot read {name} ({type(e).__name__}: {str(e)[:120]})") from e


def _is_tensor(x: Any) -> bool:
    import torch

    return isinstance(x, torch.Tensor)


def _collect(root: Any, prefix: str, members: dict[str, tuple[set[str], set[str]]],
             out: list[tuple[str, Any, str, str | None]]) -> None:
    """Walk the object tree iteratively; a cycle or a shared object is visited once."""
    seen: set[int] = set()
    stack: list[tuple[Any, str, str | None]] = [(root, prefix, None)]
    while stack:
        obj, name, owner = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, ScriptObjectState):
            params, buffers = members.get(obj.qualname, (set(), set()))
            state = obj.state if isinstance(obj.state, dict) else {}
            for attr, value in reversed(list(state.items())):
                full = f"{name}.{attr}" if name else str(attr)
                if _is_tensor(value):
                    if id(value) in seen:
                        continue
                    seen.add(id(value))
                    role = "parameter" if attr in params else "buffer" if attr in buffers else "tensor"
                    out.append((full, value, role, obj.type_name))
                else:
                    stack.append((value, full, obj.type_name))
        elif isinstance(obj, (list, tuple)):
            for i, value in reversed(list(enumerate(obj))):
                full = f"{name}.{i}" if name else str(i)
                if _is_tensor(value):
                    out.append((full, value, "tensor", owner))
                else:
                    stack.append((value, full, owner))
        elif isinstance(obj, dict):
            for key, value in reversed(list(obj.items())):
                full = f"{name}.{key}" if name else str(key)
                if _is_tensor(value):
                    out.append((full, value, "tensor", owner))
                else:
                    stack.append((value, full, owner))
    out.sort(key=lambda e: e[0])
