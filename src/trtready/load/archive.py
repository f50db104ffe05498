"""Zip archives (``.pt2``, torch checkpoints, TorchScript, ``.npz``) checked before any library opens them.

Only the central directory is read here: member names, declared sizes and compression. Python's
``zipfile`` and torch's reader both stop at a member's declared size, so bounding the declared
sizes bounds what unpacking can allocate.
"""

from __future__ import annotations

import math
import zipfile
from collections.abc import Sequence
from pathlib import Path

from trtready.errors import BadInputError
from trtready.lazy import np
from trtready.limits import DEFAULT_LIMITS, Limits, limit_hint

_RATIO_FLOOR = 1 << 20  # members smaller than this are not judged by their compression ratio


def check_zip(path: Path, limits: Limits = DEFAULT_LIMITS) -> list[zipfile.ZipInfo]:
    """The members of ``path`` after checking their count, names, sizes and compression ratios."""
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as e:
        raise BadInputError(f"{path}: damaged zip archive ({e})") from e
    if len(infos) > limits.archive_members:
        raise BadInputError(
            f"{path}: {len(infos)} zip members, over the limit of {limits.archive_members} "
            f"({limit_hint('archive-members')})"
        )
    total = 0
    for info in infos:
        name = info.filename
        if name.startswith(("/", "\\")) or ".." in name.replace("\\", "/").split("/"):
            raise BadInputError(f"{path}: zip member {name!r} has a path outside the archive")
        if info.flag_bits & 0x1:
            raise BadInputError(f"{path}: zip member {name!r} is encrypted")
        total += info.file_size
        if info.file_size > _RATIO_FLOOR:
            ratio = info.file_size / max(info.compress_size, 1)
            if ratio > limits.compression_ratio:
                raise BadInputError(
                    f"{path}: zip member {name!r} unpacks {info.compress_size} bytes to {info.file_size} "
                    f"(ratio {ratio:.0f}, limit {limits.compression_ratio}): a zip bomb? "
                    f"({limit_hint('compression-ratio')})"
                )
    if total > limits.archive_bytes:
        raise BadInputError(
            f"{path}: the archive unpacks to {total} bytes, over the limit of {limits.archive_bytes} "
            f"({limit_hint('archive-bytes')})"
        )
    return infos


def check_rank(what: str, rank: int, limits: Limits = DEFAULT_LIMITS) -> None:
    """A shape's number of dimensions within the ``tensor-rank`` limit."""
    if rank > limits.tensor_rank:
        raise BadInputError(
            f"{what}: declares a shape of rank {rank}, over the limit of {limits.tensor_rank} "
            f"({limit_hint('tensor-rank')})"
        )


def check_elements(what: str, shape: Sequence[int], limits: Limits = DEFAULT_LIMITS) -> int:
    """The element count of ``shape``, refused when its rank or count is over the limits or a dim is negative
    (the rank is checked before the dims are read)."""
    check_rank(what, len(shape), limits)
    dims = [int(d) for d in shape]
    if any(d < 0 for d in dims):
        raise BadInputError(f"{what}: negative dimension in shape {tuple(dims)}")
    n = math.prod(dims)
    if n > limits.tensor_elements:
        raise BadInputError(
            f"{what}: declares {n} elements (shape {tuple(dims)}), over the limit of {limits.tensor_elements} "
            f"({limit_hint('tensor-elements')})"
        )
    return n


def check_npz(path: Path, limits: Limits = DEFAULT_LIMITS) -> None:
    """Every ``.npy`` member's header: a plain dtype, a bounded shape, data that fits the member."""
    infos = check_zip(path, limits)
    with zipfile.ZipFile(path) as zf:
        for info in infos:
            if not info.filename.endswith(".npy"):
                continue
            try:
                with zf.open(info) as fh:
                    version = np.lib.format.read_magic(fh)
                    reader = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
                    shape, _fortran, dtype = reader(fh, max_header_size=10_000)
                    header = fh.tell()
            except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
                raise BadInputError(f"{path}: member {info.filename!r} is not a valid .npy array ({e})") from e
            if dtype.hasobject:
                raise BadInputError(f"{path}: member {info.filename!r} holds Python objects (pickles); refused")
            if dtype.kind == "V":
                raise BadInputError(f"{path}: member {info.filename!r} holds raw or structured records ({dtype.str}), "
                                    "not numbers or strings")
            n = check_elements(f"{path}: member {info.filename!r}", shape, limits)
            if header + n * dtype.itemsize > info.file_size:
                raise BadInputError(
                    f"{path}: member {info.filename!r} declares {n} elements of {dtype} but holds "
                    f"{info.file_size - header} bytes (truncated)"
                )
