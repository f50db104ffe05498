"""The network view of an ONNX file (parsed now) or of an engine (from its manifest)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from trtready.engine.manifest import manifest_path, read_manifest
from trtready.engine.network import NetworkView, inspect_network
from trtready.errors import BadInputError, first_line
from trtready.load import sha256_file
from trtready.load.detect import ModelKind, detect


def view_from_json(data: dict[str, Any]) -> NetworkView:
    return NetworkView(
        data["library"], data["version"], data["tensors_by_dtype"], list(data.get("int64_execution_names", [])),
        data["int64_shape_tensors"], data["cast_layers"], data["device_casts"], data["layers"],
        data.get("inputs", []), data.get("outputs", []),
    )


def view_of(path: Path, library: str | None = None) -> tuple[str, NetworkView]:
    """``(where the view comes from, view)``."""
    path = Path(path)
    mpath = manifest_path(path)
    kind = None if mpath.exists() else detect(str(path))  # engines have no magic number: the manifest says
    if kind is ModelKind.ONNX:
        from trtready.load.onnx_file import load_onnx

        load_onnx(path)  # the same safety checks as every ONNX input (external data confined)
        return f"parsed with {library or 'tensorrt_rtx/tensorrt'}", inspect_network(path, library)
    if not mpath.exists():
        raise BadInputError(
            f"{path}: an engine can only be deserialized on a supported GPU, and no manifest ({mpath.name}) "
            "records its network view"
        )
    data = read_manifest(mpath)

    if data.get("engine", {}).get("sha256") != sha256_file(path):
        raise BadInputError(f"{path}: does not match its manifest {mpath.name} (sha256 differs)")
    try:
        view = view_from_json({**data["network"], "inputs": data["io"]["inputs"], "outputs": data["io"]["outputs"]})
    except (KeyError, TypeError, ValueError) as e:
        raise BadInputError(f"{mpath}: malformed manifest: its network view lacks or mistypes {first_line(e)}") from e
    return f"engine: network view from {mpath.name} (engines are not deserialized without a supported GPU)", view
