"""Writing results safely: never over an input, never over an existing file without --force,
never half-written (temp files in the destination folder, fsync, rename).

An ONNX model and its external-data file are one artifact: both are written into a temporary folder
beside the destination under their final names (the data file's name is stored inside the model),
then renamed into place, data first.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from trtready.errors import BadInputError, UsageError

# Past this many bytes of initializers the weights go to a ``.data`` file beside the model.
EXTERNAL_DATA_THRESHOLD = 256 * 1024 * 1024


def check_output(out: Path, inputs: Iterable[Path], force: bool) -> None:
    out_r = out.resolve()
    for p in inputs:
        if Path(p).resolve() == out_r:
            raise UsageError(f"{out}: is an input; refusing to overwrite it (choose another -o)")
    if out.exists() and not force:
        raise UsageError(f"{out}: already exists (use --force to overwrite)")
    parent = out_r.parent
    if not parent.exists():
        raise BadInputError(f"{out}: folder {parent} does not exist")
    if not parent.is_dir():
        raise BadInputError(f"{out}: {parent} is not a folder")
    if not os.access(parent, os.W_OK):
        raise BadInputError(f"{out}: folder {parent} is not writable")


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def save_onnx_atomic(model: Any, path: Path, external_threshold: int | None = None) -> list[Path]:
    """Write ``model`` to ``path`` (+ ``path.data`` when its weights exceed the threshold).

    Protobuf cannot hold more than 2 GB, so large weights must live in the data file; the threshold
    (``EXTERNAL_DATA_THRESHOLD`` by default) is well below that.
    """
    import onnx_ir as ir

    path = Path(path)
    if external_threshold is None:
        external_threshold = EXTERNAL_DATA_THRESHOLD
    total = sum(
        (v.const_value.nbytes if v.const_value is not None else 0) for v in model.graph.initializers.values()
    )
    data_name = path.name + ".data" if total > external_threshold else None
    tmpdir = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        tmp_model = tmpdir / path.name
        if data_name:
            # Materialise weights first: ir.save would otherwise read the tensors it is replacing.
            ir.save(model, tmp_model, external_data=data_name, size_threshold_bytes=1024)
        else:
            ir.save(model, tmp_model)
        written = [tmpdir / data_name] if data_name else []
        for f in written + [tmp_model]:
            with open(f, "rb+") as fh:
                os.fsync(fh.fileno())
        finals: list[Path] = []
        try:
            for f in written + [tmp_model]:  # data first: a model never points at a missing file
                os.replace(f, path.parent / f.name)
                finals.append(path.parent / f.name)
        except BaseException:
            for f in finals:  # a data file without its model is a half-written artifact
                f.unlink(missing_ok=True)
            raise
        _fsync_dir(path.parent)
        return finals
    except OSError as e:
        raise BadInputError(f"{path}: cannot write ({e.strerror})") from e
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


def replace_atomic(src_tmp: Path, dest: Path) -> None:
    with open(src_tmp, "rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(src_tmp, dest)
    _fsync_dir(dest.parent)


def write_bytes_atomic(data: bytes, dest: Path) -> None:
    """Temp file in the destination folder, fsync, rename: ``dest`` is whole or absent."""
    dest = Path(dest)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, dest)
        _fsync_dir(dest.parent)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
