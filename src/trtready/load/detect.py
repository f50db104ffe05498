"""Recognise a MODEL argument by its content, not its suffix (docs/cli.md, "MODEL").

Only reads bytes: no torch, onnx or TensorRT import happens here.
"""

from __future__ import annotations

import enum
import json
import os
import re
import stat
import struct
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trtready.errors import BadInputError
from trtready.limits import DEFAULT_LIMITS
from trtready.load.archive import check_elements
from trtready.load.files import open_binary

if TYPE_CHECKING:
    from trtready.limits import Limits


class ModelKind(str, enum.Enum):
    SPEC = "spec"
    ONNX = "onnx"
    PT2 = "pt2"
    TORCHSCRIPT = "torchscript"
    CHECKPOINT = "checkpoint"
    SAFETENSORS = "safetensors"
    HF_CONFIG = "hf-config"  # ``hf:`` — a transformers config built without weights (load/hf_config.py)


_SPEC_RE = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*:[A-Za-z_][\w]*$")
_PICKLE_PROTOCOLS = {0x80}  # PROTO opcode opens every protocol-2+ pickle (legacy torch.save)


HF_PREFIX = "hf:"


def looks_like_spec(model: str) -> bool:
    return bool(_SPEC_RE.match(model)) and not os.path.exists(model) and not is_hf(model)


def is_hf(model: str) -> bool:
    """``hf:…``: a transformers config audited without weights (docs/cli.md, "Config-only audit")."""
    return isinstance(model, str) and model.startswith(HF_PREFIX)


def hf_config_path(model: str) -> Path | None:
    """The ``config.json`` an ``hf:`` model reads, or None when it names a config class.

    ``hf:REST`` is a path when REST exists, holds a path separator or ends in ``.json`` (so ``hf:./llama``
    is always the folder); otherwise REST is a transformers model type (``llama``) or config class
    (``LlamaConfig``). A folder stands for the ``config.json`` inside it.
    """
    rest = model[len(HF_PREFIX):]
    if not (rest and (os.path.lexists(rest) or "/" in rest or os.sep in rest or rest.endswith(".json"))):
        return None
    path = Path(rest)
    return path / "config.json" if path.is_dir() else path


def reads_file(model: str) -> bool:
    """Whether loading ``model`` reads a file (the jail's question): a path, or an ``hf:`` config file."""
    if is_hf(model):
        return hf_config_path(model) is not None
    return not looks_like_spec(model)


def _zip_kind(path: Path) -> ModelKind:
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as e:
        raise BadInputError(f"{path}: damaged zip archive ({e})") from e
    tails = {n.split("/", 1)[1] if "/" in n else n for n in names}
    if "archive_format" in tails or "models/model.json" in tails or "serialized_exported_program.json" in tails:
        return ModelKind.PT2
    if "constants.pkl" in tails and any(t.startswith("code/") for t in tails):
        return ModelKind.TORCHSCRIPT
    if "data.pkl" in tails:
        return ModelKind.CHECKPOINT
    raise BadInputError(f"{path}: a zip archive that is neither a .pt2, a TorchScript archive nor a torch checkpoint")


def _is_safetensors(head: bytes, size: int) -> bool:
    if len(head) < 10:
        return False
    (n,) = struct.unpack("<Q", head[:8])
    return 2 <= n <= size - 8 and head[8:9] == b"{"


_SAFETENSORS_ITEMSIZE = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "F8_E8M0": 1, "U16": 2, "I16": 2, "F16": 2,
    "BF16": 2, "U32": 4, "I32": 4, "F32": 4, "U64": 8, "I64": 8, "F64": 8, "C64": 8,
}
_SAFETENSORS_HEADER_MAX = 100 * 2**20  # the format's own reader refuses headers past 100 MB


def validate_safetensors_header(path: Path, limits: "Limits | None" = None) -> dict[str, Any]:
    """Parse the JSON header and check every entry: known dtype, bounded shape, a byte range inside
    the file whose length matches the shape."""
    limits = limits or DEFAULT_LIMITS
    size = path.stat().st_size
    with open(path, "rb") as fh:
        (n,) = struct.unpack("<Q", fh.read(8))
        if n > min(_SAFETENSORS_HEADER_MAX, size - 8):
            raise BadInputError(f"{path}: corrupt safetensors header (declares {n} header bytes)")
        try:
            header = json.loads(fh.read(n))
        except (UnicodeDecodeError, ValueError, RecursionError) as e:
            raise BadInputError(f"{path}: corrupt safetensors header ({e.__class__.__name__})") from e
    if not isinstance(header, dict):
        raise BadInputError(f"{path}: corrupt safetensors header")
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype, shape, (lo, hi) = info["dtype"], info["shape"], info["data_offsets"]
        except (KeyError, TypeError, ValueError) as e:
            raise BadInputError(f"{path}: safetensors entry {name!r} lacks dtype, shape or data_offsets") from e
        if dtype not in _SAFETENSORS_ITEMSIZE:
            raise BadInputError(f"{path}: safetensors entry {name!r} has unknown dtype {str(dtype)[:20]!r}")
        if not isinstance(shape, list) or not all(type(d) is int for d in shape):
            raise BadInputError(f"{path}: safetensors entry {name!r} has a malformed shape")
        if not all(type(x) is int for x in (lo, hi)) or not (0 <= lo <= hi and 8 + n + hi <= size):
            raise BadInputError(f"{path}: safetensors entry {name!r} lies beyond the end of the file (truncated?)")
        count = check_elements(f"{path}: safetensors entry {name!r}", shape, limits)
        if count * _SAFETENSORS_ITEMSIZE[dtype] != hi - lo:
            raise BadInputError(
                f"{path}: safetensors entry {name!r} declares {count} {dtype} values but spans {hi - lo} bytes"
            )
    return header


def detect(model: str) -> ModelKind:
    """The kind of ``model``: a spec string or a file recognised from its first bytes."""
    if looks_like_spec(model):
        return ModelKind.SPEC
    path = Path(model)
    if "\x00" in model:
        raise BadInputError(f"{model!r}: not a valid path (it holds a NUL byte)")
    try:
        st = path.stat()
    except FileNotFoundError:
        if ":" in model:
            raise BadInputError(f"{model}: no such file, and not a 'package.module:factory' spec") from None
        raise BadInputError(f"{model}: no such file") from None
    except OSError as e:
        raise BadInputError(f"{model}: cannot read ({e.strerror})") from e
    if stat.S_ISDIR(st.st_mode):
        raise BadInputError(f"{model}: is a directory; give a model file or a 'package.module:factory' spec")
    if not stat.S_ISREG(st.st_mode):
        raise BadInputError(f"{model}: not a regular file")
    if st.st_size == 0:
        raise BadInputError(f"{model}: empty file")

    try:
        with open_binary(path) as fh:  # non-blocking open: a FIFO swapped in after the stat cannot hang it
            head = fh.read(16)
    except OSError as e:
        raise BadInputError(f"{model}: cannot read ({e.strerror})") from e
    if head[:4] == b"PK\x03\x04":
        return _zip_kind(path)
    if head[:1] and head[0] in _PICKLE_PROTOCOLS:
        return ModelKind.CHECKPOINT
    if _is_safetensors(head, st.st_size):
        return ModelKind.SAFETENSORS
    # ONNX has no magic number: whatever is left is tried as an ONNX protobuf by its loader.
    return ModelKind.ONNX
