"""Load an ONNX file safely: parse, check the opset, confine external data to the model's folder.

External-data locations are checked *before* any library reads them: an absolute path, a ``..``
component or a symlink leading out of the folder is refused (TensorRT-RTX would only report a bare
UNSUPPORTED, and onnx would happily read ``/etc/passwd``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from trtready.errors import BadInputError, UnsafeInputError

if TYPE_CHECKING:
    import onnx
    import onnx_ir as ir


def _tensors(graph: "onnx.GraphProto") -> Iterator["onnx.TensorProto"]:
    yield from graph.initializer
    for node in graph.node:
        for attr in node.attribute:
            if attr.HasField("t"):
                yield attr.t
            yield from attr.tensors
            if attr.HasField("g"):
                yield from _tensors(attr.g)
            for g in attr.graphs:
                yield from _tensors(g)


def _all_tensors(proto: "onnx.ModelProto") -> Iterator["onnx.TensorProto"]:
    yield from _tensors(proto.graph)
    for fn in proto.functions:
        for node in fn.node:
            for attr in node.attribute:
                if attr.HasField("t"):
                    yield attr.t
                if attr.HasField("g"):
                    yield from _tensors(attr.g)


def check_external_data(proto: "onnx.ModelProto", model_path: Path) -> list[Path]:
    """Every external-data file the model names, each proved to lie inside the model's folder."""
    import onnx

    base = model_path.resolve().parent
    files: dict[Path, int] = {}
    for t in _all_tensors(proto):
        if t.data_location != onnx.TensorProto.EXTERNAL:
            continue
        info = {e.key: e.value for e in t.external_data}
        if not all(isinstance(x, str) for kv in info.items() for x in kv):
            raise BadInputError(f"{model_path}: tensor {t.name!r} has external-data fields that are not valid UTF-8")
        loc = info.get("location", "")
        if not loc:
            raise BadInputError(f"{model_path}: tensor {t.name!r} is external but names no location")
        rel = Path(loc)
        if rel.is_absolute() or loc.startswith(("/", "\\")) or ".." in rel.parts or ".." in loc.split("\\"):
            raise UnsafeInputError(
                f"{model_path}: tensor {t.name!r} points its external data at {loc!r}, outside the model's folder; refused"
            )
        target = (base / rel).resolve()
        if base not in target.parents:
            raise UnsafeInputError(
                f"{model_path}: external data {loc!r} of tensor {t.name!r} resolves outside the model's folder "
                f"(symlink to {target}); refused"
            )
        if not target.is_file():
            raise BadInputError(f"{model_path}: external data file {loc!r} of tensor {t.name!r} is missing")
        try:
            end = int(info.get("offset", 0)) + int(info["length"]) if "length" in info else 0
        except ValueError as e:
            raise BadInputError(f"{model_path}: tensor {t.name!r} has a malformed external-data offset/length") from e
        files[target] = max(files.get(target, 0), end)
    for f, end in files.items():
        if f.stat().st_size < end:
            raise BadInputError(f"{model_path}: external data file {f.name!r} is truncated ({f.stat().st_size} < {end} bytes)")
    return sorted(files)


def parse_onnx(path: Path) -> "onnx.ModelProto":
    """Parse and sanity-check the protobuf (without external data)."""
    import onnx
    from google.protobuf.message import DecodeError

    proto = onnx.ModelProto()
    try:
        data = path.read_bytes()
        proto.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError) as e:
        raise BadInputError(f"{path}: not a valid ONNX model (protobuf parse failed: truncated or corrupt)") from e
    except OSError as e:
        raise BadInputError(f"{path}: cannot read ({e.strerror})") from e
    if proto.ir_version <= 0 or not proto.HasField("graph") or not proto.opset_import:
        raise BadInputError(f"{path}: not an ONNX model (no graph, IR version or opset)")
    max_opset = onnx.defs.onnx_opset_version()
    for op in proto.opset_import:
        if op.domain in ("", "ai.onnx") and op.version > max_opset:
            raise BadInputError(
                f"{path}: opset {op.version} is newer than the installed onnx {onnx.__version__} supports "
                f"(max {max_opset}); upgrade onnx"
            )
    return proto


def full_check_failure(proto: "onnx.ModelProto") -> str | None:
    """First line of what ``onnx.checker.check_model(full_check=True)`` rejects, or None."""
    import onnx

    try:
        onnx.checker.check_model(proto, full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as e:
        return str(e).strip().splitlines()[0]
    return None


def _bad_string(msg: object) -> str | None:
    """The first string field holding bytes that are not UTF-8 (protobuf hands those back as bytes)."""
    from google.protobuf.descriptor import FieldDescriptor

    stack = [msg]
    while stack:
        m = stack.pop()
        for field, value in m.ListFields():  # type: ignore[attr-defined]
            if field.type == FieldDescriptor.TYPE_STRING:
                values = value if field.is_repeated else [value]
                if any(isinstance(v, bytes) for v in values):
                    return field.name
            elif field.type == FieldDescriptor.TYPE_MESSAGE:
                if field.is_repeated:
                    stack.extend(value)
                else:
                    stack.append(value)
    return None


def check_structure(proto: "onnx.ModelProto", path: Path) -> None:
    """The ONNX checker without external data: cycles, missing inputs, duplicate names, unknown ops."""
    import onnx

    bad = _bad_string(proto)
    if bad is not None:
        raise BadInputError(f"{path}: invalid ONNX model: a {bad!r} field is not valid UTF-8")
    try:
        onnx.checker.check_model(_with_io_shapes(proto))
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError, UnicodeDecodeError, ValueError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise BadInputError(f"{path}: invalid ONNX model: {first}") from e


def _with_io_shapes(proto: "onnx.ModelProto") -> "onnx.ModelProto":
    """A copy the structural checker can judge on its own.

    The checker wants a shape on every graph input/output, which exporters often omit (TensorRT and
    ONNX Runtime accept that): such I/O is marked rank-unknown. It also looks for external data
    relative to the working directory: external initializers, already confined to the model's folder
    by :func:`check_external_data`, are presented as graph inputs of the same type instead.
    """
    import onnx

    io = list(proto.graph.input) + list(proto.graph.output)
    external = [t for t in proto.graph.initializer if t.data_location == onnx.TensorProto.EXTERNAL]
    if not external and all(v.type.tensor_type.HasField("shape") or not v.type.HasField("tensor_type") for v in io):
        return proto
    probe = onnx.ModelProto()
    probe.CopyFrom(proto)
    for v in list(probe.graph.input) + list(probe.graph.output):
        if v.type.HasField("tensor_type") and not v.type.tensor_type.HasField("shape"):
            v.type.tensor_type.shape.SetInParent()
    if external:
        names = {t.name for t in external}
        declared = {v.name for v in probe.graph.input}
        kept = [t for t in probe.graph.initializer if t.name not in names]
        del probe.graph.initializer[:]
        probe.graph.initializer.extend(kept)
        for t in external:
            if t.name not in declared:
                probe.graph.input.append(onnx.helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)))
    return probe


def load_onnx(path: str | os.PathLike[str]) -> tuple["ir.Model", list[Path]]:
    """The model as an ``onnx_ir.Model`` with external data resolved lazily from its folder."""
    import onnx_ir as ir
    from onnx_ir.external_data import set_base_dir

    p = Path(path)
    proto = parse_onnx(p)
    try:
        data_files = check_external_data(proto, p)  # before anything else reads a location
    except UnicodeDecodeError as e:  # names are UTF-8 by the spec; a corrupt file may break that
        raise BadInputError(f"{p}: invalid ONNX model: a name is not valid UTF-8") from e
    check_structure(proto, p)
    try:
        model = ir.serde.deserialize_model(proto)
    except Exception as e:  # onnx-ir raises assorted errors on malformed graphs
        raise BadInputError(f"{p}: malformed ONNX graph ({e})") from e
    set_base_dir(model.graph, p.resolve().parent)
    return model, data_files
