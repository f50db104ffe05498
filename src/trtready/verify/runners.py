"""Runners: ONNX Runtime for ONNX files, PyTorch eager for modules and ExportedPrograms.

Both follow :class:`trtready.verify.run.Runner`: ``run(feeds) -> outputs`` and ``cancel()``.

Neither allocates past the ``tensor-elements`` limit on what is known before running: each run's
concrete input shapes go through shape propagation first (onnx shape inference with data
propagation; the ExportedProgram's symbolic node shapes), and a tensor over the limit is refused
naming its node and size. ONNX Runtime also allocates from an arena capped at ``tensor-elements``
× 8 bytes, so sizes only known while running (computed from float values, loops) fail at that cap
instead of exhausting the machine. A PyTorch kernel's allocation cannot be capped from outside:
sizes PyTorch only learns from tensor values stay unbounded.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trtready.errors import BadInputError, ExecutorGapError, VerificationRunError
from trtready.lazy import ir, np, onnx
from trtready.limits import DEFAULT_LIMITS, Limits, limit_hint
from trtready.load.onnx_file import check_run_sizes, infer_shapes, inference_proto

if TYPE_CHECKING:
    import onnx
    import onnx_ir as ir
    import torch
    from torch.export import ExportedProgram

    from trtready.load.capture import CallLayout

    # What ONNX Runtime is handed: an onnx-ir model in memory, the path of a file (external data is
    # found beside it), or a serialized model.
    OrtModel = ir.Model | str | Path | bytes

_BYTES_LIMIT = 1 << 30  # in-memory models above this are handed to ONNX Runtime as files
_ARENA_FULL = re.compile(r"Available memory of (\d+) is smaller than requested bytes of (\d+)")


def arena_bytes(limits: Limits) -> int:
    """The cap of ONNX Runtime's arena during verification: one tensor at the element limit in 64-bit."""
    return min(limits.tensor_elements * 8, 2**62)


def _ort() -> Any:
    """onnxruntime, quiet: its environment's own warnings are not the user's concern (failures are
    reported by trtready in one line). Importing it starts a telemetry client that, inside the jail
    (no chmod), prints that it cannot persist a device id straight to file descriptor 2 — so the
    import runs with that descriptor on /dev/null."""
    import os
    import sys

    if "onnxruntime" not in sys.modules:
        sys.stderr.flush()
        saved = os.dup(2)
        try:
            with open(os.devnull, "wb") as null:
                os.dup2(null.fileno(), 2)
                import onnxruntime  # noqa: F401
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    import onnxruntime as ort

    if not getattr(_ort, "ready", False):
        ort.disable_telemetry_events()
        ort.set_default_logger_severity(3)
        _ort.ready = True  # type: ignore[attr-defined]
    return ort


def _use_bounded_arena(opts: Any, limits: Limits) -> None:
    """Sessions built with ``opts`` allocate from the process's shared CPU arena, capped at
    :func:`arena_bytes` (registering again replaces the cap for sessions created afterwards)."""
    ort = _ort()

    info = ort.OrtMemoryInfo("Cpu", ort.OrtAllocatorType.ORT_ARENA_ALLOCATOR, 0, ort.OrtMemType.DEFAULT)
    ort.create_and_register_allocator(info, ort.OrtArenaCfg(arena_bytes(limits), -1, -1, -1))
    opts.add_session_config_entry("session.use_env_allocators", "1")


_ISLAND_OPS = 16  # distinct ops widened before a gap is taken as more than precision
_NO_KERNEL = re.compile(r"NOT_IMPLEMENTED : Could not find an implementation for (\w+)\((\d+)\) node with name '([^']*)'")


def _missing_kernel(e: BaseException, model: OrtModel | None) -> str | None:
    """``Mul(14) on bfloat16 at node 'node_mul'`` when ONNX Runtime lacks the kernel, else None.

    ONNX Runtime names the op, its opset and the node; the input types, which decide whether a kernel
    exists, are read from the model's node of that name when the model is at hand."""
    m = _NO_KERNEL.search(str(e))
    if m is None:
        return None
    op, version, node_name = m[1], m[2], m[3]
    types = ""
    try:
        if isinstance(model, ir.Model):
            for node in ir.traversal.RecursiveGraphIterator(model.graph):
                if node.name == node_name:
                    dtypes = sorted({str(v.dtype).lower() for v in node.inputs if v is not None and v.dtype is not None})
                    types = f" on {', '.join(dtypes)}" if dtypes else ""
                    break
    except Exception:  # noqa: BLE001 - the types only make the message more precise
        types = ""
    return f"{op}({version}){types} at node {node_name!r}"


def island_text(*runners: Any) -> str | None:
    """What the runners ran in float32 for want of a kernel, in one clause; None when nothing."""
    widened = sorted({w for r in runners if r is not None for w in getattr(r, "island", ())})
    if not widened:
        return None
    return (f"ONNX Runtime has no kernel for {'; '.join(widened)}: run in float32 (inputs cast up, results rounded "
            "back, as PyTorch's CPU kernels compute those types)")


def ort_label(base: str, runner: Any) -> str:
    """``base`` — "written ONNX (ONNX Runtime)" — naming the float32 island when ``runner`` ran one,
    so every comparison table shows it: "written ONNX (ONNX Runtime; Mul(14) in float32)"."""
    widened = getattr(runner, "island", None)
    if not widened or not base.endswith(")"):
        return island_label(base, runner)
    return f"{base[:-1]}; {', '.join(w.split(' on ')[0] for w in widened)} in float32)"


def island_label(base: str, runner: Any) -> str:
    """``base`` with " (ONNX Runtime; Mul(14) in float32)" appended when ``runner`` ran an island."""
    widened = getattr(runner, "island", None)
    return f"{base} (ONNX Runtime; {', '.join(w.split(' on ')[0] for w in widened)} in float32)" if widened else base


def _first(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0][:300] if text else type(e).__name__


class OrtRunner:
    """One CPU session per model; feeds are cast to the dtype each input declares.

    A model given as a path is loaded from it, so ONNX Runtime finds external data beside the file
    whatever the working folder. An in-memory onnx-ir model whose weights live in external files (or
    are large) is saved to a private temporary folder first: ONNX Runtime cannot resolve external
    data of a model handed over as bytes.
    """

    def __init__(self, model: OrtModel, input_map: dict[str, str] | None = None, *, limits: Limits = DEFAULT_LIMITS,
                 shapes_from: ir.Model | None = None) -> None:
        """``input_map`` renames feeds (forward's names → ONNX names after ``--input-names``).
        ``shapes_from`` is the onnx-ir model behind a ``model`` given as a path (its shapes are checked
        before each run); without it the file's protobuf is read for that."""
        ort = _ort()

        self._tmp: Path | None = None
        self.limits = limits
        self._probe = self._run_dependent(self._inference_proto(shapes_from if shapes_from is not None else model))
        self._checked: set[Any] = set()
        opts = ort.SessionOptions()
        opts.log_severity_level = 4  # failures are reported by trtready, in one line
        _use_bounded_arena(opts, limits)
        #: What ran in float32 because ONNX Runtime has no kernel for it ("Mul(14) on bfloat16 at 2 nodes"):
        #: a copy of the model was run, its low-precision nodes widened (passes/float_island.py).
        self.island: list[str] = []
        current = model
        while True:
            source = self._source(current)
            try:
                self.session = ort.InferenceSession(source, opts, providers=["CPUExecutionProvider"])
                break
            except MemoryError as e:
                raise VerificationRunError("ONNX Runtime ran out of memory loading the model") from e
            except Exception as e:
                described = current if not isinstance(current, (str, Path, bytes)) or shapes_from is None else shapes_from
                gap = _missing_kernel(e, described)
                if gap is None:
                    raise BadInputError(f"ONNX Runtime cannot load the model: {_first(e)}") from e
                widened = self._widen(described, e, fresh=current is model)
                if widened is None:
                    raise ExecutorGapError(gap) from e
                current = widened
            finally:
                if self._tmp is not None:
                    shutil.rmtree(self._tmp, ignore_errors=True)  # the session holds what it needs
                    self._tmp = None
        self.inputs = {i.name: i.type for i in self.session.get_inputs()}
        self.input_map = input_map or {}
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.run_options = ort.RunOptions()
        self.run_options.log_severity_level = 4

    def _widen(self, model: OrtModel, error: BaseException, *, fresh: bool) -> ir.Model | None:
        """A copy of ``model`` (``fresh``: not yet one of ours) whose nodes of the op ONNX Runtime has no
        kernel for run in float32, when that op reads a low-precision float; None when it does not (or
        after :data:`_ISLAND_OPS` widened ops: what is left is not a precision gap)."""
        from trtready.passes.float_island import LOW_FLOATS, FloatIslandPass

        m = _NO_KERNEL.search(str(error))
        if m is None or not isinstance(model, ir.Model) or len(self.island) >= _ISLAND_OPS:
            return None
        # ONNX Runtime names the node, but names need not be unique (or set): every node of the op that
        # reads a low-precision float is widened, one type at a time.
        copy = ir.from_proto(ir.to_proto(model)) if fresh else model
        if fresh:  # the types decide which nodes widen: a file without value_info gets them inferred

            infer_shapes(copy, self.limits)
        nodes = [n for n in ir.traversal.RecursiveGraphIterator(copy.graph) if n.op_type == m[1] and n.domain in ("", "ai.onnx")]
        named = [n for n in nodes if n.name == m[3]] if m[3] else []
        low = [v.dtype for n in named or nodes for v in n.inputs if v is not None and v.dtype in LOW_FLOATS]
        if not low:
            return None
        widen = FloatIslandPass(m[1], low[0])
        widen(copy)
        if widen.count == 0:
            return None
        self.island.append(f"{m[1]}({m[2]}) on {str(low[0]).lower()} at {widen.count} node{'s' * (widen.count > 1)}")
        return copy

    @staticmethod
    def _inference_proto(model: OrtModel) -> onnx.ModelProto | None:
        """The protobuf shape inference runs on (large initializers withheld), or None when unreadable."""
        if isinstance(model, ir.Model):
            return inference_proto(model)
        proto = onnx.ModelProto()
        try:
            if isinstance(model, bytes):
                proto.ParseFromString(model)
            else:
                from trtready.load.files import read_regular
                from trtready.load.onnx_file import MAX_PROTOBUF_BYTES

                proto.ParseFromString(read_regular(Path(model), MAX_PROTOBUF_BYTES, "protobuf"))
        except Exception:  # noqa: BLE001 - ONNX Runtime reports an unreadable model itself
            return None
        for t in proto.graph.initializer:  # inference needs types, not weights
            if len(t.raw_data) > 1000:
                proto.graph.input.append(onnx.helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)))
        kept = [t for t in proto.graph.initializer if len(t.raw_data) <= 1000]
        del proto.graph.initializer[:]
        proto.graph.initializer.extend(kept)
        return proto

    @staticmethod
    def _run_dependent(probe: onnx.ModelProto | None) -> onnx.ModelProto | None:
        """``probe`` when some size can depend on the inputs (a graph input with a dim not fixed, or an
        integer input whose values shapes may be computed from), else None: the sizes inferred at load
        are then already every size a run can make, as far as inference knows them."""
        if probe is None:
            return None
        integer = {onnx.TensorProto.INT64, onnx.TensorProto.INT32, onnx.TensorProto.INT16, onnx.TensorProto.INT8,
                   onnx.TensorProto.UINT64, onnx.TensorProto.UINT32, onnx.TensorProto.UINT16, onnx.TensorProto.UINT8}
        initializers = {t.name for t in probe.graph.initializer}
        for v in probe.graph.input:
            if v.name in initializers or not v.type.HasField("tensor_type"):
                continue
            t = v.type.tensor_type
            if t.elem_type in integer or not t.HasField("shape") or not all(d.HasField("dim_value") for d in t.shape.dim):
                return probe
        return None

    def _check_sizes(self, feeds: dict[str, np.ndarray]) -> None:
        """Shapes these feeds make, known before running, within the limits (once per distinct input)."""
        if self._probe is None:
            return
        key = tuple((k, a.shape, a.tobytes() if a.dtype.kind in "iu" and a.size <= 64 else None)
                    for k, a in sorted(feeds.items()))
        if key in self._checked:
            return

        check_run_sizes(self._probe, feeds, self.limits)
        self._checked.add(key)

    def _source(self, model: OrtModel) -> str | bytes:
        if isinstance(model, (str, Path)):
            return str(model)
        if isinstance(model, bytes):
            return model
        external = any(
            isinstance(v.const_value, ir.ExternalTensor) for g in model.graphs() for v in g.initializers.values()
        )
        size = sum(v.const_value.nbytes for g in model.graphs() for v in g.initializers.values() if v.const_value is not None)
        if not external and size < _BYTES_LIMIT:
            data: bytes = ir.serde.serialize_model(model).SerializeToString()
            return data
        self._tmp = Path(tempfile.mkdtemp(prefix="trtready-ort-"))
        path = self._tmp / "model.onnx"
        ir.save(model, path, external_data="model.onnx.data")
        return str(path)

    # numpy dtype names, not numpy's types: defining the class must not import numpy
    _ORT_TYPES = {
        "tensor(int64)": "int64", "tensor(int32)": "int32", "tensor(float)": "float32",
        "tensor(double)": "float64", "tensor(bool)": "bool", "tensor(float16)": "float16",
    }

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        cast = {}
        for name, arr in feeds.items():
            name = self.input_map.get(name, name)
            if name not in self.inputs:
                continue
            want = self._ORT_TYPES.get(self.inputs[name])
            cast[name] = arr.astype(want) if want is not None and arr.dtype != want else arr
        self._check_sizes(cast)
        self.run_options.terminate = False
        try:
            return list(self.session.run(None, cast, self.run_options))
        except MemoryError as e:
            raise VerificationRunError("ONNX Runtime ran out of memory running the model") from e
        except Exception as e:
            full = _ARENA_FULL.search(str(e))
            if full:
                raise VerificationRunError(
                    f"ONNX Runtime asked for {full.group(2)} bytes at once while running the model, past the "
                    f"{arena_bytes(self.limits)}-byte bound of a verification run (tensor-elements × 8 bytes; "
                    f"{limit_hint('tensor-elements')})") from None
            gap = _missing_kernel(e, None)
            if gap is not None:
                raise ExecutorGapError(gap) from e
            raise VerificationRunError(f"ONNX Runtime failed to run the model: {_first(e)}") from e

    def cancel(self) -> None:
        self.run_options.terminate = True


class TorchRunner:
    """Calls a module (or ``ExportedProgram.module()``) with named feeds placed by a
    :class:`~trtready.load.capture.CallLayout` (positional and keyword inputs alike)."""

    def __init__(self, module: torch.nn.Module, layout: CallLayout, *, program: ExportedProgram | None = None,
                 limits: Limits = DEFAULT_LIMITS) -> None:
        """``program`` is the ExportedProgram ``module`` computes (its node shapes are checked against
        the limits for each run's input shapes before any kernel runs)."""
        self.module = module
        self.layout = layout
        self.program = program
        self.limits = limits

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        import torch
        import torch.utils._pytree as pytree

        if self.program is not None:
            check_program_sizes(self.program, feeds, self.limits)
        try:
            args, kwargs = self.layout.arguments(feeds)
        except BadInputError as e:
            raise VerificationRunError(str(e)) from e
        try:
            with torch.no_grad():
                out = self.module(*args, **kwargs)
        except MemoryError as e:
            raise VerificationRunError("PyTorch ran out of memory running the model") from e
        except Exception as e:
            raise VerificationRunError(f"PyTorch failed to run the model: {_first(e)}") from e
        leaves = pytree.tree_leaves(out)
        return [_numpy(t) if isinstance(t, torch.Tensor) else np.asarray(t) for t in leaves]

    def cancel(self) -> None:
        """A PyTorch call cannot be interrupted from outside; the watcher stops waiting for it."""


def _numpy(t: Any) -> np.ndarray:
    """A tensor as numpy; dtypes numpy has no type for (bfloat16, float8) are widened to float32, which
    holds each of their values exactly."""
    import torch

    t = t.detach().cpu()
    if t.is_floating_point() and t.dtype not in (torch.float16, torch.float32, torch.float64):
        t = t.to(torch.float32)
    result: np.ndarray = t.numpy()
    return result


def check_program_sizes(program: ExportedProgram, feeds: dict[str, Any], limits: Limits = DEFAULT_LIMITS) -> None:
    """Refuse feeds on which ``program`` would make a tensor past ``tensor-elements``/``tensor-rank``.

    Every node of an ExportedProgram carries its output as a FakeTensor whose sizes are integers or
    sympy expressions over the input dims' symbols; the feeds' shapes bind those symbols, so each
    node's element count is known before a real kernel runs (``torch.ones((66000, 66000))`` is a node
    of 4,356,000,000 elements whatever the inputs). Sizes that depend on tensor values (unbacked
    symbols) are not known here.
    """
    import sympy
    import torch
    import torch.utils._pytree as pytree

    bindings: dict[Any, Any] = {}
    for node in program.graph.nodes:
        if node.op != "placeholder" or node.name not in feeds:
            continue
        val = node.meta.get("val")
        if not isinstance(val, torch.Tensor):
            continue
        for dim, size in zip(val.shape, np.shape(feeds[node.name])):
            if isinstance(dim, torch.SymInt) and isinstance(dim.node.expr, sympy.Symbol):
                bindings[dim.node.expr] = sympy.Integer(int(size))
    for node in program.graph.nodes:
        if node.op != "call_function":
            continue
        for val in pytree.tree_leaves(node.meta.get("val")):
            if not isinstance(val, torch.Tensor):
                continue
            where = f"node {node.name!r} ({node.target})"
            if val.dim() > limits.tensor_rank:
                raise VerificationRunError(
                    f"verification would make {where} of rank {val.dim()}, over the tensor-rank limit of "
                    f"{limits.tensor_rank}; nothing was run ({limit_hint('tensor-rank')})")
            dims: list[int] = []
            for d in val.shape:
                if isinstance(d, torch.SymInt):
                    expr = d.node.expr.xreplace(bindings)
                    if not expr.is_number:
                        break
                    dims.append(int(expr))
                else:
                    dims.append(int(d))
            else:
                n = 1
                for d in dims:
                    n *= d
                if n > limits.tensor_elements:
                    raise VerificationRunError(
                        f"verification would make {where} of shape {tuple(dims)}: {n} elements, over the "
                        f"tensor-elements limit of {limits.tensor_elements}; nothing was run "
                        f"({limit_hint('tensor-elements')})")
