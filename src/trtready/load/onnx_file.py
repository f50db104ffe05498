"""Load an ONNX file safely: parse, check the opset, confine external data to the model's folder.

External-data locations are checked *before* any library reads them: an absolute path, a ``..``
component or a symlink leading out of the folder is refused (TensorRT-RTX would only report a bare
UNSUPPORTED, and onnx would happily read ``/etc/passwd``).
"""

from __future__ import annotations

import contextlib
import gc
import math
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trtready.errors import BadInputError, UnsafeInputError, VerificationRunError
from trtready.lazy import ir, np, onnx
from trtready.limits import DEFAULT_LIMITS, Limits, limit_hint
from trtready.load.archive import check_elements, check_rank
from trtready.load.files import read_regular


@contextlib.contextmanager
def cycle_collection_paused() -> Iterator[None]:
    """Python's cycle collector paused while a graph's objects are built and analysed.

    Building 100k nodes makes millions of objects that all stay alive; each full collection walks
    every one of them, and the collector runs more often the more are made, so the time it takes
    grows faster than the graph (about a fifth of ``audit`` on a 30k-node graph, measured). Objects
    freed by reference counting are freed as usual; cycles wait until the block ends. Nested uses
    leave the outermost in charge.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _attr_tensors(attr: "onnx.AttributeProto") -> Iterator["onnx.TensorProto"]:
    """Tensors an attribute holds: ``t``/``tensors`` and the values and indices of sparse ones."""
    if attr.HasField("t"):
        yield attr.t
    yield from attr.tensors
    if attr.HasField("sparse_tensor"):
        yield attr.sparse_tensor.values
        yield attr.sparse_tensor.indices
    for sp in attr.sparse_tensors:
        yield sp.values
        yield sp.indices


def _attr_graphs(attr: "onnx.AttributeProto") -> list["onnx.GraphProto"]:
    return ([attr.g] if attr.HasField("g") else []) + list(attr.graphs)


def _all_graphs(proto: "onnx.ModelProto") -> Iterator["onnx.GraphProto"]:
    """The main graph and every subgraph (If/Loop/Scan bodies), including those inside function bodies,
    iteratively."""
    stack = [proto.graph]
    for fn in proto.functions:
        for node in fn.node:
            for attr in node.attribute:
                stack.extend(_attr_graphs(attr))
        for attr in fn.attribute_proto:
            stack.extend(_attr_graphs(attr))
    while stack:
        g = stack.pop()
        yield g
        for node in g.node:
            for attr in node.attribute:
                stack.extend(_attr_graphs(attr))


def _all_attributes(proto: "onnx.ModelProto") -> Iterator["onnx.AttributeProto"]:
    """Every attribute of every node, in every graph and function body (and functions' defaults)."""
    for g in _all_graphs(proto):
        for node in g.node:
            yield from node.attribute
    for fn in proto.functions:
        for node in fn.node:
            yield from node.attribute
        yield from fn.attribute_proto


def _all_tensors(proto: "onnx.ModelProto") -> Iterator["onnx.TensorProto"]:
    """Every tensor the file holds: initializers and sparse initializers (values and indices) of every
    graph, and every tensor attribute (Constant ``value``/``sparse_value``, …) in graphs and functions."""
    for g in _all_graphs(proto):
        yield from g.initializer
        for sp in g.sparse_initializer:
            yield sp.values
            yield sp.indices
    for attr in _all_attributes(proto):
        yield from _attr_tensors(attr)


def _is_external(t: "onnx.TensorProto") -> bool:
    return bool(t.data_location == onnx.TensorProto.EXTERNAL)


@dataclass(frozen=True)
class _ExternalRef:
    """Where one tensor's external data lies: a regular file inside the model's folder, and a byte span."""

    target: Path
    location: str
    offset: int
    length: int | None


def _external_ref(t: "onnx.TensorProto", model_path: Path, base: Path) -> _ExternalRef:
    """The confined location of ``t``'s external data, or the reason it is refused.

    Resolved against the model's folder ``base`` only (never the working folder): absolute paths,
    ``..`` and symlinks leading out are refused; the file must be a regular file (a FIFO or a device
    would block or never end).
    """
    info = {e.key: e.value for e in t.external_data}
    if not all(isinstance(x, str) for kv in info.items() for x in kv):
        raise BadInputError(f"{model_path}: tensor {t.name!r} has external-data fields that are not valid UTF-8")
    loc = info.get("location", "")
    if not loc:
        raise BadInputError(f"{model_path}: tensor {t.name!r} is external but names no location")
    rel = Path(loc)
    if (rel.is_absolute() or loc.startswith(("/", "\\")) or ".." in rel.parts or ".." in loc.split("\\")
            or "\x00" in loc):
        raise UnsafeInputError(
            f"{model_path}: tensor {t.name!r} points its external data at {loc!r}, outside the model's folder; refused"
        )
    target = (base / rel).resolve()
    if base not in target.parents:
        raise UnsafeInputError(
            f"{model_path}: external data {loc!r} of tensor {t.name!r} resolves outside the model's folder "
            f"(symlink to {target}); refused"
        )
    try:
        st = target.stat()
    except OSError:
        raise BadInputError(f"{model_path}: external data file {loc!r} of tensor {t.name!r} is missing") from None
    if not stat.S_ISREG(st.st_mode):
        raise BadInputError(f"{model_path}: external data file {loc!r} of tensor {t.name!r}: not a regular file")
    try:
        offset = int(info.get("offset", 0))
        length = int(info["length"]) if "length" in info else None
    except ValueError as e:
        raise BadInputError(f"{model_path}: tensor {t.name!r} has a malformed external-data offset/length") from e
    if offset < 0 or (length is not None and length < 0):
        raise BadInputError(f"{model_path}: tensor {t.name!r} has a negative external-data offset/length")
    return _ExternalRef(target, loc, offset, length)


def check_external_data(proto: "onnx.ModelProto", model_path: Path) -> list[Path]:
    """Every external-data file the model names — for dense and sparse initializers, tensor attributes
    (Constant values), in subgraphs and function bodies alike — each proved to lie inside the model's
    folder and to be long enough."""
    base = model_path.resolve().parent
    files: dict[Path, int] = {}
    for t in _all_tensors(proto):
        if not _is_external(t):
            continue
        ref = _external_ref(t, model_path, base)
        end = ref.offset + ref.length if ref.length is not None else 0
        files[ref.target] = max(files.get(ref.target, 0), end)
    for f, end in files.items():
        if f.stat().st_size < end:
            raise BadInputError(f"{model_path}: external data file {f.name!r} is truncated ({f.stat().st_size} < {end} bytes)")
    return sorted(files)


def read_external_tensor(t: "onnx.TensorProto", model_path: Path) -> "onnx.TensorProto":
    """A copy of ``t`` holding its external bytes, read from the model's folder under the same checks
    as :func:`check_external_data` (onnx's own reader would resolve the location against the working
    folder). The file is opened without following a final symlink and without blocking, and at most
    the tensor's declared byte size is read."""
    base = model_path.resolve().parent
    ref = _external_ref(t, model_path, base)
    itemsize = _ITEMSIZE.get(int(t.data_type))
    if itemsize is None:
        raise BadInputError(f"{model_path}: tensor {t.name!r} of type {t.data_type} cannot be stored externally")
    want = math.prod(int(d) for d in t.dims) * itemsize
    if ref.length is not None and ref.length != want:
        raise BadInputError(f"{model_path}: tensor {t.name!r} declares {want} bytes but its external data spans {ref.length}")
    try:
        fd = os.open(ref.target, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as e:
        raise BadInputError(f"{model_path}: cannot read external data {ref.location!r} ({e.strerror})") from e
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise BadInputError(f"{model_path}: external data file {ref.location!r}: not a regular file")
        data = os.pread(fd, want, ref.offset)
    finally:
        os.close(fd)
    if len(data) != want:
        raise BadInputError(f"{model_path}: external data file {ref.location!r} is truncated")
    out = onnx.TensorProto()
    out.CopyFrom(t)
    out.data_location = onnx.TensorProto.DEFAULT
    del out.external_data[:]
    out.raw_data = data
    return out


MAX_PROTOBUF_BYTES = 2**31  # protobuf's own ceiling for one message


# bytes per element of the types that can be stored as raw (and so external) data
_ITEMSIZE = {1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8, 14: 8, 15: 16, 16: 2,
             17: 1, 18: 1, 19: 1, 20: 1}


def parse_onnx(path: Path) -> "onnx.ModelProto":
    """Parse and sanity-check the protobuf (without external data)."""
    from google.protobuf.message import DecodeError

    proto = onnx.ModelProto()
    data = read_regular(path, MAX_PROTOBUF_BYTES, "protobuf (larger weights live in external data)")
    try:
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
    by :func:`check_external_data`, are presented as graph inputs of the same type instead. Other
    external tensors (subgraph initializers, Constant values, tensors in function bodies) get the
    location ``#external`` in the probe: the checker leaves locations starting with ``#`` unresolved,
    so it never looks for them in the working folder.
    """
    io = list(proto.graph.input) + list(proto.graph.output)
    external = [t for t in proto.graph.initializer if t.data_location == onnx.TensorProto.EXTERNAL]
    nested = sum(1 for t in _all_tensors(proto) if _is_external(t)) > len(external)
    if not external and not nested and all(
            v.type.tensor_type.HasField("shape") or not v.type.HasField("tensor_type") for v in io):
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
    if nested:
        for t in _all_tensors(probe):
            if _is_external(t):
                for e in t.external_data:
                    if e.key == "location":
                        e.value = "#external"
    return probe


def _type_shapes(t: "onnx.TypeProto") -> Iterator["onnx.TensorShapeProto"]:
    """The tensor shapes a type declares, including inside sequence, optional and map types."""
    stack = [t]
    while stack:
        cur = stack.pop()
        which = cur.WhichOneof("value")
        if which in ("tensor_type", "sparse_tensor_type"):
            inner = getattr(cur, which)
            if inner.HasField("shape"):
                yield inner.shape
        elif which in ("sequence_type", "optional_type"):
            stack.append(getattr(cur, which).elem_type)
        elif which == "map_type":
            stack.append(cur.map_type.value_type)


def check_graph_size(proto: "onnx.ModelProto", path: Path, limits: Limits = DEFAULT_LIMITS) -> None:
    """The node count over every graph, subgraph and function body, within the ``graph-nodes`` limit;
    checked on the protobuf, before onnx-ir or any analysis builds its own objects for each node."""
    nodes = sum(len(g.node) for g in _all_graphs(proto)) + sum(len(f.node) for f in proto.functions)
    if nodes > limits.graph_nodes:
        raise BadInputError(f"{path}: {nodes} nodes, over the limit of {limits.graph_nodes} ({limit_hint('graph-nodes')})")


def check_declared_sizes(proto: "onnx.ModelProto", path: Path, limits: Limits = DEFAULT_LIMITS) -> None:
    """Every static shape the file declares (I/O, value_info, initializers, constants) within the limits:
    the node count first, then each shape's rank (before its dims are even listed), then its elements."""
    check_graph_size(proto, path, limits)
    infos = [v for g in _all_graphs(proto) for v in list(g.input) + list(g.output) + list(g.value_info)]
    infos += [v for f in proto.functions for v in f.value_info]
    for v in infos:
        for shape in _type_shapes(v.type):
            check_rank(f"{path}: value {v.name!r}", len(shape.dim), limits)
            # a negative dim_value is an unknown size some exporters write: not a declared size
            dims = [d.dim_value for d in shape.dim if d.HasField("dim_value") and d.dim_value >= 0]
            check_elements(f"{path}: value {v.name!r}", dims, limits)
    for g in _all_graphs(proto):
        for t in g.initializer:
            check_elements(f"{path}: initializer {t.name!r}", t.dims, limits)
        for sp in g.sparse_initializer:
            check_elements(f"{path}: sparse initializer {sp.values.name!r}", sp.dims, limits)
    for attr in _all_attributes(proto):
        for sp in ([attr.sparse_tensor] if attr.HasField("sparse_tensor") else []) + list(attr.sparse_tensors):
            check_elements(f"{path}: sparse constant {sp.values.name or '(unnamed)'!r}", sp.dims, limits)
    for t in _all_tensors(proto):
        check_elements(f"{path}: constant tensor {t.name or '(unnamed)'!r}", t.dims, limits)


def densify_sparse(proto: "onnx.ModelProto", path: Path, limits: Limits = DEFAULT_LIMITS) -> list[str]:
    """Sparse initializers become dense ones (onnx-ir drops them; TensorRT and the narrowing passes
    work on dense tensors). Indices are checked against the dims; notes say what was densified."""
    from onnx import numpy_helper

    notes = []
    for g in _all_graphs(proto):
        if not len(g.sparse_initializer):
            continue
        for sp in g.sparse_initializer:
            name = sp.values.name
            dims = list(sp.dims)
            n = check_elements(f"{path}: sparse initializer {name!r}", dims, limits)
            # external values/indices are read from the model's folder, never the working folder
            values_t = read_external_tensor(sp.values, path) if _is_external(sp.values) else sp.values
            indices_t = read_external_tensor(sp.indices, path) if _is_external(sp.indices) else sp.indices
            try:
                values = numpy_helper.to_array(values_t).reshape(-1)
                idx = numpy_helper.to_array(indices_t).astype(np.int64)
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


def inference_proto(model: "ir.Model") -> "onnx.ModelProto":
    """The model as a protobuf for onnx shape inference: every initializer also a typed graph input,
    those over 1000 bytes withheld (inference needs their types, not their data; data propagation
    reads the small ones). The model itself is left as it was."""
    graph = model.graph
    inputs = list(graph.inputs)
    present = set(inputs)
    withheld: list[tuple[str, ir.Value, ir.TensorProtocol | None]] = []
    for name, v in list(graph.initializers.items()):
        tensor = _typed_initializer(v)
        if v not in present:
            graph.inputs.append(v)
        if tensor is None or tensor.nbytes > _BIG_INITIALIZER:
            withheld.append((name, v, tensor))
            v.const_value = None
            graph.initializers.pop(name)
    try:
        proto = ir.serde.serialize_model(model)
        _unsize_gathered_tables(proto, [v for _, v, _ in withheld])
        return proto
    finally:
        for name, v, tensor in withheld:
            v.const_value = tensor
            graph.initializers.add(v)
        graph.inputs.clear()
        graph.inputs.extend(inputs)


def _typed_initializer(v: "ir.Value") -> "ir.TensorProtocol | None":
    """An initializer's tensor; its value takes the tensor's shape and dtype where none was declared."""
    tensor = v.const_value
    if tensor is not None:
        v.shape = v.shape or ir.Shape(list(tensor.shape.numpy()))
        v.dtype = v.dtype or tensor.dtype
    return tensor


def _file_inference_proto(model: "ir.Model", source: "onnx.ModelProto") -> "onnx.ModelProto | None":
    """What :func:`inference_proto` makes, assembled from the protobuf ``model`` was just read from
    instead of serialising ``model`` again (as costly as parsing the file: a Python object per node).

    Only for a graph as the file states it — one graph, no subgraphs, every external tensor a main-graph
    initializer — with the same choices: which initializers are withheld is decided on ``model`` as
    there, and an initializer's input takes the tensor's shape and dtype where none was declared.
    None when the file is not such a graph; the caller serialises ``model`` then.
    """
    graph = model.graph
    if len(list(model.graphs())) != 1 or len(graph.initializers) != len(source.graph.initializer):
        return None
    if sum(1 for t in _all_tensors(source) if _is_external(t)) != sum(
            1 for t in source.graph.initializer if _is_external(t)):
        return None
    kept: set[str] = set()
    withheld: list[ir.Value] = []
    for name, v in graph.initializers.items():
        tensor = _typed_initializer(v)
        if tensor is None or tensor.nbytes > _BIG_INITIALIZER:
            withheld.append(v)
        else:
            kept.add(name)
    src = source.graph
    proto = onnx.ModelProto(ir_version=source.ir_version)
    proto.opset_import.extend(source.opset_import)
    proto.functions.extend(source.functions)
    g = proto.graph
    g.name = src.name
    g.node.extend(src.node)
    g.input.extend(src.input)
    g.output.extend(src.output)
    g.value_info.extend(src.value_info)
    g.initializer.extend(t for t in src.initializer if t.name in kept)
    declared = {i.name: i for i in g.input}
    for name, v in graph.initializers.items():
        dtype = v.dtype.value if v.dtype is not None else onnx.TensorProto.UNDEFINED
        dims = [d if isinstance(d, int) else d.value for d in v.shape] if v.shape is not None else None
        info = declared.get(name)
        if info is None:
            g.input.append(onnx.helper.make_tensor_value_info(name, dtype, dims))
        elif info.type.HasField("tensor_type"):
            tt = info.type.tensor_type
            tt.elem_type = tt.elem_type or dtype
            if not tt.HasField("shape") and dims is not None:
                for d in dims:
                    tt.shape.dim.add().dim_value = d
    _unsize_gathered_tables(proto, withheld)
    return proto


_LONG_TABLE = 1024  # elements


def _unsize_gathered_tables(proto: "onnx.ModelProto", withheld: list["ir.Value"]) -> None:
    """A withheld 1-D integer table read only as Gather's data along axis 0 gets a symbolic length.

    onnx's data propagation (``data_prop=True``) spends about 80 bytes per element of such a table
    declared with a fixed length — 1.3 GB for a 16M-entry position table whose values it is not even
    given (measured with onnx 1.23) — and the length cannot change any inferred shape there: Gather's
    output takes the indices' shape and the table's dims after the first.
    """
    names = set()
    for v in withheld:
        if (v.dtype is not None and v.dtype.is_integer() and v.shape is not None and len(v.shape) == 1
                and isinstance(v.shape[0], int) and v.shape[0] > _LONG_TABLE):
            uses = list(v.uses())
            if uses and all(u.node.op_type == "Gather" and u.node.domain in ("", "ai.onnx") and u.idx == 0
                            and _axis(u.node) == 0 for u in uses):
                names.add(v.name)
    if not names:
        return
    for i in proto.graph.input:
        if i.name in names:
            dim = i.type.tensor_type.shape.dim[0]
            dim.ClearField("dim_value")
            dim.dim_param = f"trtready_len_{i.name}"


def _axis(node: "ir.Node") -> int:
    a = node.attributes.get("axis")
    return int(a.value) if a is not None else 0


_VALUES_FOR_INFERENCE = 64  # integer inputs up to this many elements are handed to inference as values


def check_run_sizes(probe: "onnx.ModelProto", feeds: dict[str, Any], limits: Limits = DEFAULT_LIMITS) -> None:
    """Refuse inputs on which the model would make a tensor past ``tensor-elements`` (or ``tensor-rank``),
    before ONNX Runtime allocates it.

    ``probe`` comes from :func:`inference_proto`. The graph inputs get the feeds' concrete shapes;
    small integer inputs (the values shapes are usually computed from) become constants, so onnx
    shape inference with data propagation follows Shape → Concat/Add/… → Expand/ConstantOfShape/
    Reshape/Range to concrete sizes. What inference cannot follow (sizes computed from float values,
    reductions, loops) is left to ONNX Runtime's bounded arena (:mod:`trtready.verify.runners`).
    """
    from onnx import numpy_helper

    p = onnx.ModelProto()
    p.CopyFrom(probe)
    kept = []
    for v in p.graph.input:
        arr = feeds.get(v.name)
        if arr is None or not v.type.HasField("tensor_type"):
            kept.append(v)
            continue
        arr = np.asarray(arr)
        elem = v.type.tensor_type.elem_type
        if (elem in (onnx.TensorProto.INT64, onnx.TensorProto.INT32) and arr.dtype.kind in "iu" and arr.ndim <= 1
                and arr.size <= _VALUES_FOR_INFERENCE):
            want = np.int64 if elem == onnx.TensorProto.INT64 else np.int32
            p.graph.initializer.append(numpy_helper.from_array(arr.astype(want), v.name))
            continue
        given = onnx.ValueInfoProto()
        given.CopyFrom(v)
        shape = given.type.tensor_type.shape
        del shape.dim[:]
        for d in arr.shape:
            shape.dim.add().dim_value = int(d)
        kept.append(given)
    del p.graph.input[:]
    p.graph.input.extend(kept)
    try:
        inferred = onnx.shape_inference.infer_shapes(p, check_type=False, strict_mode=False, data_prop=True)
    except (onnx.shape_inference.InferenceError, onnx.checker.ValidationError, RuntimeError, ValueError):
        return  # nothing more is known than at load; the arena still bounds what runs
    producers = {out: node for g in _all_graphs(inferred) for node in g.node for out in node.output}
    shapes = ", ".join(f"{k} {tuple(np.shape(a))}" for k, a in list(feeds.items())[:4])
    for g in _all_graphs(inferred):
        for v in list(g.value_info) + list(g.output):
            for shp in _type_shapes(v.type):
                node = producers.get(v.name)
                where = f"{v.name!r} ({node.op_type} node {node.name or '(unnamed)'!r})" if node else repr(v.name)
                if len(shp.dim) > limits.tensor_rank:
                    raise VerificationRunError(
                        f"verification inputs ({shapes}) would make {where} of rank {len(shp.dim)}, over the "
                        f"tensor-rank limit of {limits.tensor_rank}; nothing was run ({limit_hint('tensor-rank')})")
                if not all(d.HasField("dim_value") and d.dim_value >= 0 for d in shp.dim):
                    continue
                n = math.prod(d.dim_value for d in shp.dim)
                if n > limits.tensor_elements:
                    raise VerificationRunError(
                        f"verification inputs ({shapes}) would make {where} of shape "
                        f"{tuple(d.dim_value for d in shp.dim)}: {n} elements, over the tensor-elements limit of "
                        f"{limits.tensor_elements}; nothing was run ({limit_hint('tensor-elements')})")


def infer_shapes(model: "ir.Model", limits: Limits = DEFAULT_LIMITS, source: "onnx.ModelProto | None" = None) -> None:
    """Annotate every value's type and shape (onnx shape inference with data propagation), once.

    onnx-ir's ShapeInferencePass does the same but tests ``initializer in graph.inputs`` on a list
    for every initializer, which is quadratic (100k initializers: hours); this keeps a set. A value
    whose inferred static shape exceeds the element limit is refused here, before anything runs.
    ``source``: the protobuf ``model`` was deserialised from, unchanged since (:func:`load_onnx`).
    """
    if model.meta.get(_INFERRED):
        return
    proto = _file_inference_proto(model, source) if source is not None else None
    if proto is None:
        proto = inference_proto(model)
    try:
        inferred = onnx.shape_inference.infer_shapes(proto, check_type=False, strict_mode=False, data_prop=True)
    except (onnx.shape_inference.InferenceError, onnx.checker.ValidationError, RuntimeError, ValueError):
        model.meta[_INFERRED] = True  # partial knowledge: values keep what the file declared
        return

    for name, value, shape, dtype in _inferred_types(model, inferred):
        if shape is not None and value.shape != shape:
            value.shape = shape
        if dtype is not None and value.dtype != dtype:
            value.dtype = dtype
        if value.shape is not None:
            check_rank(f"value {name!r} (inferred shape)", len(value.shape), limits)
            if all(isinstance(d, int) and d >= 0 for d in value.shape):
                check_elements(f"value {name!r} (inferred shape)", [d for d in value.shape if isinstance(d, int)], limits)
    model.meta[_INFERRED] = True


def _inferred_types(model: "ir.Model", inferred: "onnx.ModelProto") -> Iterator[tuple[str, "ir.Value", Any, Any]]:
    """(name, value, inferred shape, inferred dtype) for each value of ``model`` that inference typed.

    A model of one graph with tensor types only (what exporters write) is read straight from the
    inferred protobuf's value_info: deserialising the whole inferred model again with onnx-ir costs
    as much as loading the file (about half of ``audit``'s time on a 100k-node graph). Subgraphs
    and non-tensor types take onnx-ir's deserialiser, graph by graph.
    """
    g = inferred.graph
    infos = list(g.input) + list(g.output) + list(g.value_info)
    graphs = list(model.graphs())
    if len(graphs) == 1 and all(v.type.WhichOneof("value") == "tensor_type" for v in infos):
        types = {v.name: v.type.tensor_type for v in infos}
        main = model.graph
        values = [*main.inputs, *main.initializers.values(), *(o for n in main for o in n.outputs)]
        for value in dict.fromkeys(values):
            tt = types.get(value.name or "")
            if tt is None:
                continue
            shape = None
            if tt.HasField("shape"):
                shape = ir.Shape([d.dim_value if d.HasField("dim_value") else (d.dim_param or None)
                                  for d in tt.shape.dim])
            try:
                dtype = ir.DataType(tt.elem_type) if tt.elem_type else None
            except ValueError:  # a type this onnx-ir does not know: left as declared
                dtype = None
            yield value.name or "", value, shape, dtype
        return
    inferred_model = ir.serde.deserialize_model(inferred)
    for original, new in zip(graphs, inferred_model.graphs()):
        known = ir.convenience.create_value_mapping(new)
        for name, value in ir.convenience.create_value_mapping(original).items():
            other = known.get(name)
            if other is not None:
                yield name, value, other.shape, other.dtype


def _resolve_external(model: "ir.Model", base: Path) -> None:
    """External tensors read from the model's folder ``base`` (locations already confined there).

    Initializers, of the main graph and of subgraphs, stay lazy: writers copy them into the output's
    own data file. Tensors held in attributes (a Constant's ``value``, in any graph or function body)
    are read into memory now: writers do not move attribute data, and a relative location kept in an
    output would point into the output's folder (or, handed to ONNX Runtime as bytes, the working folder).
    """
    from onnx_ir.external_data import convert_tensors_from_external

    subgraphs: list[ir.Graph] = [model.graph]
    owners: list[ir.Graph | ir.Function] = [model.graph, *model.functions.values()]
    for g in owners:
        for node in ir.traversal.RecursiveGraphIterator(g):
            for attr in node.attributes.values():
                if attr.is_ref() or attr.value is None:
                    continue
                if attr.type == ir.AttributeType.GRAPH:
                    subgraphs.append(attr.value)
                elif attr.type == ir.AttributeType.GRAPHS:
                    subgraphs.extend(attr.value)
                if attr.type == ir.AttributeType.TENSOR and isinstance(attr.value, ir.ExternalTensor):
                    attr.value.base_dir = base
                    node.attributes[attr.name] = ir.AttrTensor(attr.name, convert_tensors_from_external([attr.value])[0])
                elif attr.type == ir.AttributeType.TENSORS and any(isinstance(t, ir.ExternalTensor) for t in attr.value):
                    for t in attr.value:
                        if isinstance(t, ir.ExternalTensor):
                            t.base_dir = base
                    node.attributes[attr.name] = ir.AttrTensors(attr.name, convert_tensors_from_external(list(attr.value)))
    for sub in subgraphs:
        for v in sub.initializers.values():
            if isinstance(v.const_value, ir.ExternalTensor):
                v.const_value.base_dir = base


def load_onnx(path: str | os.PathLike[str], limits: Limits = DEFAULT_LIMITS) -> tuple["ir.Model", list[Path], list[str]]:
    """The model as an ``onnx_ir.Model`` with external data resolved lazily from its folder, and notes.

    Order matters: sizes and external-data locations are checked on the protobuf before any
    library reads a tensor or a file.
    """
    p = Path(path)
    proto = parse_onnx(p)
    try:
        check_declared_sizes(proto, p, limits)
        data_files = check_external_data(proto, p)  # before anything else reads a location
    except UnicodeDecodeError as e:  # names are UTF-8 by the spec; a corrupt file may break that
        raise BadInputError(f"{p}: invalid ONNX model: a name is not valid UTF-8") from e
    notes = densify_sparse(proto, p, limits)
    check_structure(proto, p)
    with cycle_collection_paused():
        try:
            model = ir.serde.deserialize_model(proto)
        except Exception as e:  # onnx-ir raises assorted errors on malformed graphs
            raise BadInputError(f"{p}: malformed ONNX graph ({e})") from e
        _resolve_external(model, p.resolve().parent)
        infer_shapes(model, limits, source=proto)
    return model, data_files, notes
