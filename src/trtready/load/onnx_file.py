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
from trtready.limits import DEFAULT_LIMITS, Limits

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
    """First line of what ``onnx.checker.check_model(full_check=True)`` rejects, or None.

    Checked on the same probe as :func:`check_structure` (external initializers as typed inputs,
    shape-less I/O as rank-unknown), so the answer does not depend on the working folder.
    """
    import onnx

    try:
        onnx.checker.check_model(_with_io_shapes(proto), full_check=True)
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
                    return str(field.name)
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


def _graphs(graph: "onnx.GraphProto") -> Iterator["onnx.GraphProto"]:
    """A graph and every subgraph in its nodes' attributes, iteratively."""
    stack = [graph]
    while stack:
        g = stack.pop()
        yield g
        for node in g.node:
            for attr in node.attribute:
                if attr.HasField("g"):
                    stack.append(attr.g)
                stack.extend(attr.graphs)


def check_declared_sizes(proto: "onnx.ModelProto", path: Path, limits: Limits = DEFAULT_LIMITS) -> None:
    """Every static shape the file declares (I/O, value_info, initializers, constants) within the limits."""
    from trtready.load.archive import check_elements

    graphs = list(_graphs(proto.graph)) + [g for f in proto.functions for n in f.node for a in n.attribute
                                           for g in ([a.g] if a.HasField("g") else []) + list(a.graphs)]
    for g in graphs:
        for v in list(g.input) + list(g.output) + list(g.value_info):
            if v.type.HasField("tensor_type") and v.type.tensor_type.HasField("shape"):
                # a negative dim_value is an unknown size some exporters write: not a declared size
                dims = [d.dim_value for d in v.type.tensor_type.shape.dim if d.HasField("dim_value") and d.dim_value >= 0]
                check_elements(f"{path}: value {v.name!r}", dims, limits)
        for t in g.initializer:
            check_elements(f"{path}: initializer {t.name!r}", list(t.dims), limits)
        for sp in g.sparse_initializer:
            check_elements(f"{path}: sparse initializer {sp.values.name!r}", list(sp.dims), limits)
    for t in _all_tensors(proto):
        check_elements(f"{path}: constant tensor {t.name or '(unnamed)'!r}", list(t.dims), limits)


def densify_sparse(proto: "onnx.ModelProto", path: Path, limits: Limits = DEFAULT_LIMITS) -> list[str]:
    """Sparse initializers become dense ones (onnx-ir drops them; TensorRT and the narrowing passes
    work on dense tensors). Indices are checked against the dims; notes say what was densified."""
    import numpy as np
    from onnx import numpy_helper

    from trtready.load.archive import check_elements

    notes = []
    for g in _graphs(proto.graph):
        if not len(g.sparse_initializer):
            continue
        for sp in g.sparse_initializer:
            name = sp.values.name
            dims = list(sp.dims)
            n = check_elements(f"{path}: sparse initializer {name!r}", dims, limits)
            try:
                values = numpy_helper.to_array(sp.values).reshape(-1)
                idx = numpy_helper.to_array(sp.indices).astype(np.int64)
            except (ValueError, TypeError) as e:
                raise BadInputError(f"{path}: sparse initializer {name!r} is malformed ({e})") from e
            if idx.ndim == 2 and len(dims) > 1:  # [NNZ, rank] coordinates
                if idx.shape[1] != len(dims) or (idx < 0).any() or (idx >= np.asarray(dims)).any():
                    raise BadInputError(f"{path}: sparse initializer {name!r} has indices outside its dims")
                idx = np.ravel_multi_index(tuple(idx.T), dims)
            idx = idx.reshape(-1)
            if idx.size != values.size or (idx < 0).any() or (idx >= max(n, 1)).any():
                raise BadInputError(f"{path}: sparse initializer {name!r} has indices outside its dims")
            dense = np.zeros(n, dtype=values.dtype)
            dense[idx] = values
            g.initializer.append(numpy_helper.from_array(dense.reshape(dims), name))
            notes.append(f"sparse initializer {name} densified ({values.size} of {n} values stored)")
        del g.sparse_initializer[:]
    return notes


_INFERRED = "trtready.shapes_inferred"
_BIG_INITIALIZER = 1000  # bytes: larger values are withheld from shape inference, as onnx-ir does


def infer_shapes(model: "ir.Model", limits: Limits = DEFAULT_LIMITS) -> None:
    """Annotate every value's type and shape (onnx shape inference with data propagation), once.

    onnx-ir's ShapeInferencePass does the same but tests ``initializer in graph.inputs`` on a list
    for every initializer, which is quadratic (100k initializers: hours); this keeps a set. A value
    whose inferred static shape exceeds the element limit is refused here, before anything runs.
    """
    import onnx
    import onnx_ir as ir

    if model.meta.get(_INFERRED):
        return
    graph = model.graph
    inputs = list(graph.inputs)
    present = set(inputs)
    withheld: list[tuple[str, ir.Value, ir.TensorProtocol | None]] = []
    for name, v in list(graph.initializers.items()):
        tensor = v.const_value
        if tensor is not None:
            v.shape = v.shape or ir.Shape(list(tensor.shape.numpy()))
            v.dtype = v.dtype or tensor.dtype
        if v not in present:
            graph.inputs.append(v)
        if tensor is None or tensor.nbytes > _BIG_INITIALIZER:
            withheld.append((name, v, tensor))
            v.const_value = None
            graph.initializers.pop(name)
    try:
        proto = ir.serde.serialize_model(model)
    finally:
        for name, v, tensor in withheld:
            v.const_value = tensor
            graph.initializers.add(v)
        graph.inputs.clear()
        graph.inputs.extend(inputs)
    try:
        inferred = onnx.shape_inference.infer_shapes(proto, check_type=False, strict_mode=False, data_prop=True)
    except (onnx.shape_inference.InferenceError, onnx.checker.ValidationError, RuntimeError, ValueError):
        model.meta[_INFERRED] = True  # partial knowledge: values keep what the file declared
        return
    inferred_model = ir.serde.deserialize_model(inferred)
    for original, new in zip(model.graphs(), inferred_model.graphs()):
        known = ir.convenience.create_value_mapping(new)
        for name, value in ir.convenience.create_value_mapping(original).items():
            other = known.get(name)
            if other is None:
                continue
            if other.shape is not None and value.shape != other.shape:
                value.shape = other.shape
            if other.dtype is not None and value.dtype != other.dtype:
                value.dtype = other.dtype
            if value.shape is not None and all(isinstance(d, int) and d >= 0 for d in value.shape):
                from trtready.load.archive import check_elements

                check_elements(f"value {name!r} (inferred shape)", [d for d in value.shape if isinstance(d, int)], limits)
    model.meta[_INFERRED] = True


def load_onnx(path: str | os.PathLike[str], limits: Limits = DEFAULT_LIMITS) -> tuple["ir.Model", list[Path], list[str]]:
    """The model as an ``onnx_ir.Model`` with external data resolved lazily from its folder, and notes.

    Order matters: sizes and external-data locations are checked on the protobuf before any
    library reads a tensor or a file.
    """
    import onnx_ir as ir
    from onnx_ir.external_data import set_base_dir

    p = Path(path)
    proto = parse_onnx(p)
    try:
        check_declared_sizes(proto, p, limits)
        data_files = check_external_data(proto, p)  # before anything else reads a location
    except UnicodeDecodeError as e:  # names are UTF-8 by the spec; a corrupt file may break that
        raise BadInputError(f"{p}: invalid ONNX model: a name is not valid UTF-8") from e
    notes = densify_sparse(proto, p, limits)
    check_structure(proto, p)
    try:
        model = ir.serde.deserialize_model(proto)
    except Exception as e:  # onnx-ir raises assorted errors on malformed graphs
        raise BadInputError(f"{p}: malformed ONNX graph ({e})") from e
    set_base_dir(model.graph, p.resolve().parent)
    infer_shapes(model, limits)
    return model, data_files, notes
