"""Recognise a MODEL argument by its content, not its suffix (CLI.md, "MODEL").

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

from trtready.errors import BadInputError


class ModelKind(str, enum.Enum):
    SPEC = "spec"
    ONNX = "onnx"
    PT2 = "pt2"
    TORCHSCRIPT = "torchscript"
    CHECKPOINT = "checkpoint"
    SAFETENSORS = "safetensors"


_SPEC_RE = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*:[A-Za-z_][\w]*$")
_PICKLE_PROTOCOLS = {0x80}  # PROTO opcode opens every protocol-2+ pickle (legacy torch.save)


def looks_like_spec(model: str) -> bool:
    return bool(_SPEC_RE.match(model)) and not os.path.exists(model)


def _zip_kind(path: Path) -> ModelKind:
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
    except (zipfile.BadZipFile, OSError) as e:
        raise BadInputError(f"{path}: damaged zip archive ({e})") from e
    tails = {n.split("/", 1)[1] if "/" in n else n for n in names}
    if "archive_format" in tails or "models/model.json" in tails:
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


def validate_safetensors_header(path: Path) -> dict:
    """Parse the JSON header, checking every tensor's byte range lies inside the file."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        (n,) = struct.unpack("<Q", fh.read(8))
        try:
            header = json.loads(fh.read(n))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise BadInputError(f"{path}: corrupt safetensors header ({e.__class__.__name__})") from e
    if not isinstance(header, dict):
        raise BadInputError(f"{path}: corrupt safetensors header")
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            lo, hi = info["data_offsets"]
        except (KeyError, TypeError, ValueError) as e:
            raise BadInputError(f"{path}: safetensors entry {name!r} has no valid data_offsets") from e
        if not (0 <= lo <= hi and 8 + n + hi <= size):
            raise BadInputError(f"{path}: safetensors entry {name!r} lies beyond the end of the file (truncated?)")
    return header


def detect(model: str) -> ModelKind:
    """The kind of ``model``: a spec string or a file recognised from its first bytes."""
    if looks_like_spec(model):
        return ModelKind.SPEC
    path = Path(model)
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
        with open(path, "rb") as fh:
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
