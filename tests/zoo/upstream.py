"""The same steps without trtready: does ``torch.export`` / ``torch.onnx`` / ONNX Runtime / TensorRT take it?

A zoo failure is upstream only when the library that fails also fails on its own, called the way a
user would call it on the unmodified model. Each step here is that plain call:

- ``torch.export``: ``torch.export.export(model, args, kwargs, dynamic_shapes=…)``;
- ``torch.onnx``: ``torch.onnx.export(exported_program, dynamo=True)`` (the exporter trtready uses);
- ``onnxruntime``: the plain ONNX run on the example inputs, compared with PyTorch;
- ``tensorrt``: TensorRT-RTX's ONNX parser and builder, one optimization profile from the bounds;
- ``torch.onnx (dynamo=False)``: the older TorchScript-based exporter, whose file ``fix`` takes when the
  dynamo exporter fails.

Nothing here imports trtready: the bounds strings are read by a parser of their own.
"""

from __future__ import annotations

import re
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

_PART = re.compile(r"^\s*(\d+)\s*=\s*([A-Za-z_]\w*)\s*\[\s*(\d+)\s*:\s*(\d+)\s*\]\s*$")


@dataclass
class Dim:
    name: str
    lo: int
    hi: int


def parse_dims(dynamic: list[str] | None) -> dict[str, dict[int, Dim]]:
    """``['input_ids:0=batch[1:4],1=seq[2:32]']`` → ``{'input_ids': {0: Dim('batch', 1, 4), 1: …}}``."""
    out: dict[str, dict[int, Dim]] = {}
    for s in dynamic or []:
        name, _, rest = s.partition(":")
        for part in rest.split(","):
            m = _PART.match(part)
            if not m:
                raise ValueError(f"cannot read {part!r} in {s!r}")
            out.setdefault(name.strip(), {})[int(m[1])] = Dim(m[2], int(m[3]), int(m[4]))
    return out


def export_dynamic_shapes(dims: dict[str, dict[int, Dim]]) -> dict[str, dict[int, Any]]:
    """``torch.export`` ``dynamic_shapes`` by input name, one ``torch.export.Dim`` per dim name."""
    made: dict[str, Any] = {}
    shapes: dict[str, dict[int, Any]] = {}
    for inp, axes in dims.items():
        for axis, d in axes.items():
            if d.name not in made:
                made[d.name] = torch.export.Dim(d.name, min=d.lo, max=d.hi)
            shapes.setdefault(inp, {})[axis] = made[d.name]
    return shapes


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def first_line(e: BaseException) -> str:
    """One line for an exception: the innermost cause's first non-empty line, with its type.

    torch.onnx wraps the real error ("Cannot view a tensor with shape …") in a ConversionError whose
    own first line only says which export step failed.
    """
    while e.__cause__ is not None:
        e = e.__cause__
    text = next((ln.strip() for ln in _ANSI.sub("", str(e)).splitlines() if ln.strip()), "")
    return f"{type(e).__name__}: {text}"[:300]


def flat_outputs(out: Any) -> list[tuple[str, torch.Tensor]]:
    """(name, tensor) for a ModelOutput / dict / tuple result, named from its keys."""
    if isinstance(out, dict):  # ModelOutput is a dict
        return [(k, v) for k, v in out.items() if isinstance(v, torch.Tensor)]
    if isinstance(out, (tuple, list)):
        return [(f"output{i}", v) for i, v in enumerate(out) if isinstance(v, torch.Tensor)]
    return [("output0", out)]


@dataclass
class Step:
    ok: bool | None = None  # None: not reached (an earlier step failed)
    error: str = ""
    seconds: float = 0.0


@dataclass
class Upstream:
    torch_export: Step = field(default_factory=Step)
    torch_onnx: Step = field(default_factory=Step)
    onnxruntime: Step = field(default_factory=Step)
    ort_max_abs: float | None = None  # plain ONNX vs PyTorch on the example inputs
    tensorrt: Step = field(default_factory=Step)
    legacy_onnx: Step = field(default_factory=Step)
    legacy_ort_max_abs: float | None = None

    def first_failure(self) -> tuple[str, str] | None:
        """(step, error) of the first failing step of the dynamo path, or None when all passed."""
        for label, step in (("torch.export", self.torch_export), ("torch.onnx", self.torch_onnx),
                            ("onnxruntime", self.onnxruntime), ("tensorrt", self.tensorrt)):
            if step.ok is False:
                return label, step.error
        return None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _timed(step: Step, fn: Any) -> Any:
    t = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = fn()
        step.ok = True
        return out
    except Exception as e:
        step.ok, step.error = False, first_line(e)
        return None
    finally:
        step.seconds = round(time.perf_counter() - t, 2)


def ort_run(path: Path, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 4
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    names = {i.name for i in sess.get_inputs()}
    return sess.run(None, {k: v for k, v in feeds.items() if k in names})


def _max_abs(ref: list[tuple[str, torch.Tensor]], got: list[np.ndarray]) -> float:
    if len(ref) != len(got):
        raise AssertionError(f"{len(got)} outputs, PyTorch has {len(ref)}")
    return max(float(np.max(np.abs(r.numpy().astype(np.float64) - g.astype(np.float64)))) if r.numel() else 0.0
               for (_, r), g in zip(ref, got))


def export_legacy(spec: Any, path: Path, external_data: bool = False) -> Path:
    """The older exporter: ``torch.onnx.export(..., dynamo=False)`` with the spec's bounds as dynamic axes.

    The model goes in behind a positional ``forward`` (:mod:`tests.zoo.positional`): this exporter
    traces with TorchScript, which binds keyword inputs badly — BERT's fails with "got multiple
    values for argument 'use_cache'", and the decoders' files gain a ``logits_to_keep`` input.

    ``external_data`` re-saves the weights to a ``.data`` sidecar, as large models are written.
    """
    import onnx

    from tests.zoo.positional import wrap

    dims = parse_dims(spec.dynamic)
    module, args = wrap(spec)
    names = list(spec.kwargs or {}) or [f"input{i}" for i in range(len(args))]
    with torch.no_grad():
        outputs = [k for k, _ in flat_outputs(module(*args))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module, args, str(path), dynamo=False, opset_version=17,
            input_names=names, output_names=outputs,
            dynamic_axes={n: {axis: d.name for axis, d in dims.get(n, {}).items()} for n in names if n in dims},
        )
    if external_data:
        model = onnx.load(str(path))
        onnx.save_model(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                        location=path.name + ".data", size_threshold=0)
    return path


def _trt_logger(trt: Any) -> Any:
    """A TensorRT logger that keeps errors (for the one-line reason) instead of printing them."""

    class Logger(trt.ILogger):
        def __init__(self) -> None:
            super().__init__()
            self.errors: list[str] = []

        def log(self, severity: Any, msg: str) -> None:
            if severity <= trt.ILogger.Severity.ERROR:
                self.errors.append(msg)

    return Logger()


def _trt_build(path: Path, dims: dict[str, dict[int, Dim]], feeds: dict[str, np.ndarray]) -> None:
    import tensorrt_rtx as trt

    logger = _trt_logger(trt)
    builder = trt.Builder(logger)
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(path)):
        # The parser's own error names the node; the logger's API error says why (e.g. a pooling
        # window over TensorRT's kernel limit). Errors about CUDA are this machine having no GPU.
        why = next((m for m in logger.errors if "Error Code" in m and "Cuda" not in m), "")
        errs = [str(parser.get_error(i)) for i in range(parser.num_errors)]
        parts = (errs[0] if errs else "ONNX parser failed", why)
        raise RuntimeError(" — ".join(p.strip().splitlines()[0] for p in parts if p.strip()))
    config = builder.create_builder_config()
    profile = builder.create_optimization_profile()
    for i in range(network.num_inputs):
        name = network.get_input(i).name
        shape = list(feeds[name].shape)
        lo, hi = list(shape), list(shape)
        for axis, d in dims.get(name, {}).items():
            lo[axis], hi[axis] = d.lo, d.hi
        profile.set_shape(name, lo, shape, hi)
    config.add_optimization_profile(profile)
    if builder.build_serialized_network(network, config) is None:
        raise RuntimeError("engine build failed: " + (logger.errors[-1] if logger.errors else "no message"))


def check(spec: Any, tmp: Path, legacy: bool = True, build: bool = True) -> Upstream:
    """Every plain step on the unmodified model; a failing step leaves the later ones not reached."""
    res = Upstream()
    dims = parse_dims(spec.dynamic)
    kwargs = spec.kwargs or {}
    with torch.no_grad():
        ref = flat_outputs(spec.module(*spec.args, **kwargs))
    feeds = {k: v.numpy() for k, v in kwargs.items()}
    ep = _timed(res.torch_export, lambda: torch.export.export(
        spec.module, spec.args, kwargs, dynamic_shapes=export_dynamic_shapes(dims)))
    path = tmp / "plain.onnx"
    if ep is not None:
        prog = _timed(res.torch_onnx, lambda: torch.onnx.export(ep, dynamo=True, verbose=False))
        if prog is not None:
            prog.save(str(path))
            res.ort_max_abs = _timed(res.onnxruntime, lambda: _max_abs(ref, ort_run(path, feeds)))
            if build and res.onnxruntime.ok:
                _timed(res.tensorrt, lambda: _trt_build(path, dims, feeds))
    if legacy:
        old = tmp / "legacy.onnx"
        if _timed(res.legacy_onnx, lambda: export_legacy(spec, old)) is not None:
            try:
                res.legacy_ort_max_abs = _max_abs(ref, ort_run(old, feeds))
            except Exception as e:
                res.legacy_onnx.ok, res.legacy_onnx.error = False, "onnxruntime: " + first_line(e)
    return res
