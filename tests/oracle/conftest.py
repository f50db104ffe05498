"""The oracle: trtready's Torch-TensorRT predictions checked against the real library.

Runs only in the oracle venv (``make oracle``: torch 2.13.0 CUDA build, tensorrt_rtx 1.5,
torch-tensorrt-rtx 2.13.0); ``make test`` leaves this folder out.

TEST SCAFFOLDING FOR A MACHINE WITHOUT A GPU. Nothing in ``src/`` patches torch or Torch-TensorRT;
everything that does is here, and each replacement says why:

- ``torch_tensorrt`` asks the GPU for its compute capability and the current device while it is
  imported; both are replaced before the import (``(8, 9)``, an RTX-class capability, and device 0).
- The dynamo frontend places submodules on ``to_torch_device(settings.device)``, a CUDA device: it is
  redirected to the CPU, and compilation runs with ``offload_module_to_cpu=True``.
- TensorRT-RTX builds engines on the CPU, but Torch-TensorRT then deserialises each engine to wrap it
  in a runtime module, which needs a GPU. :func:`dynamo_cpu` records every engine built (the network's
  I/O names and dtypes, the serialised size) and hands back a stand-in module that holds the engine's
  binding names and refuses to run. Everything up to and including the engine build is the real library.
  Before the build it also reads the network's layers (name, type, input and output dtypes): the Cast
  layers Torch-TensorRT's converters add are there, named after the converter that added them.

The TorchScript frontend's ``convert_method_to_trt_engine`` builds and returns serialised engines on the
CPU without help. Its C++ log (written on file descriptors 1/2) is captured to read what it decided:
the lowered graph, the estimated input types, the engine's input and output dtypes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import importlib.util
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

if importlib.util.find_spec("torch_tensorrt") is None:
    pytest.exit("tests/oracle needs the oracle venv with torch-tensorrt-rtx: run `make oracle`", returncode=4)

# --- import-time GPU queries (see the module docstring) ---------------------------------------------
torch.cuda.get_device_capability = lambda *a, **k: (8, 9)
torch.cuda.current_device = lambda: 0

import torch_tensorrt  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


# --- the TorchScript frontend ------------------------------------------------------------------------
@contextlib.contextmanager
def native_log() -> Iterator[list[str]]:
    """Capture what native code writes on fds 1 and 2 while the block runs; lines land in the list."""
    lines: list[str] = []
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        saved = [os.dup(1), os.dup(2)]
        try:
            os.dup2(tmp.fileno(), 1)
            os.dup2(tmp.fileno(), 2)
            yield lines
        finally:
            for fd, old in zip((1, 2), saved):
                os.dup2(old, fd)
                os.close(old)
            tmp.seek(0)
            lines.extend(tmp.read().decode(errors="replace").splitlines())


_ADD_INPUT = re.compile(r"Adding Input (\S+) \(named: [^)]*\): Input\(shape: \[[^\]]*\], dtype: (\w+)")
_LAYER_IO = re.compile(r"(input_\d+|output_\d+) \((\w+)\[")


@dataclasses.dataclass
class TsResult:
    """What ``convert_method_to_trt_engine`` did with one model."""

    built: bool
    error: str | None  # the exception's text, when it raised
    engine_inputs: dict[str, str]  # graph input name -> engine input dtype ("Long", "Float", …)
    engine_io: dict[str, str]  # engine binding -> dtype, from the engine's layer information
    graph_before: str  # the TorchScript graph given
    lowered: str  # the graph after Torch-TensorRT's lowering
    estimates: list[str]  # "Estimated input type is …" lines

    @property
    def error_head(self) -> str:
        return " / ".join(ln.strip() for ln in (self.error or "").splitlines()[:2] if ln.strip())


def ts_convert(module: torch.nn.Module, example: tuple[torch.Tensor, ...], *, dtypes: Any = "example",
               script: bool = False, **options: Any) -> TsResult:
    """Trace (or script) ``module`` and build a TensorRT engine with the TorchScript frontend.

    ``dtypes``: ``"example"`` gives each Input the example tensor's dtype, ``None`` gives no dtype
    (the frontend then estimates it), a tuple gives those dtypes.
    """
    module = module.eval()
    with torch.no_grad():
        ts = torch.jit.script(module) if script else torch.jit.trace(module, example, check_trace=False)
    if dtypes == "example":
        dtypes = tuple(t.dtype for t in example)
    inputs = [torch_tensorrt.Input(list(t.shape)) if dtypes is None else
              torch_tensorrt.Input(list(t.shape), dtype=d) for t, d in zip(example, dtypes or [None] * len(example))]
    return ts_convert_scripted(ts, inputs, **options)


def ts_convert_scripted(ts: Any, inputs: list[Any], **options: Any) -> TsResult:
    """``convert_method_to_trt_engine`` on a TorchScript module, with its native log read back."""
    from torch_tensorrt.ts import logging as ts_logging

    before = str(ts.inlined_graph)
    level = ts_logging.get_reportable_log_level()
    ts_logging.set_reportable_log_level(ts_logging.Level.Graph)
    error = None
    engine = None
    try:
        with native_log() as lines:
            try:
                engine = torch_tensorrt.ts.convert_method_to_trt_engine(ts, "forward", inputs=inputs, **options)
            except RuntimeError as e:
                error = str(e)
    finally:
        ts_logging.set_reportable_log_level(level)
    text = "\n".join(lines)
    lowered = text.split("Lowered Graph:", 1)[1].split("\nDEBUG", 1)[0] if "Lowered Graph:" in text else ""
    layer_info = text.split("Engine Layer Information:", 1)[1] if "Engine Layer Information:" in text else ""
    return TsResult(
        built=engine is not None and len(engine) > 0,
        error=error,
        engine_inputs=dict(_ADD_INPUT.findall(text)),
        engine_io=dict(_LAYER_IO.findall(layer_info)),
        graph_before=before,
        lowered=lowered,
        estimates=[ln.split("Estimated input type is", 1)[1].strip() for ln in lines if "Estimated input type is" in ln],
    )


# --- the dynamo frontend -----------------------------------------------------------------------------
@dataclasses.dataclass
class NetLayer:
    """One layer of the network Torch-TensorRT built, as TensorRT holds it (read before the engine build)."""

    # Torch-TensorRT names a layer after its converter ("[SELECT]-[aten_ops.where.self]-[/where_select]"),
    # the Cast layers it adds after the node ("Cast ITensor ids from … - [unknown_ir_ops]-[/wherelhs_cast]")
    name: str
    type: str  # trt.LayerType name: "CAST", "GATHER", "SCATTER", "SELECT", …
    inputs: list[tuple[str, str]]  # (tensor name, dtype name: "INT64", "INT32", …) of each input
    outputs: list[tuple[str, str]]


@dataclasses.dataclass
class BuiltEngine:
    inputs: list[tuple[str, str]]  # (name, dtype) of the network's inputs, as TensorRT holds them
    outputs: list[tuple[str, str]]
    nbytes: int
    layers: list[NetLayer] = dataclasses.field(default_factory=list)


class EngineStandIn(torch.nn.Module):
    """Takes the place of TorchTensorRTModule, whose construction deserialises the engine (GPU only)."""

    def __init__(self, serialized_engine: bytes, input_binding_names: list[str], output_binding_names: list[str],
                 name: str = "", **_: Any) -> None:
        super().__init__()
        self.engine_bytes = len(serialized_engine)
        self.input_binding_names = list(input_binding_names)
        self.output_binding_names = list(output_binding_names)

    def set_output_tensors_as_unowned(self, *_: Any) -> None:  # called by compile() on every TRT module
        pass

    def forward(self, *_: Any) -> Any:
        raise RuntimeError("engine stand-in: running a TensorRT engine needs a GPU")


class _HostEngine:
    """What deserialisation would have returned, reduced to what conversion reads from it."""

    def __init__(self, blob: Any) -> None:
        self._blob = blob

    def serialize(self) -> Any:
        return self._blob


@dataclasses.dataclass
class DynamoRun:
    engines: list[BuiltEngine]
    coverage: Any = None  # the DryRunTracker Torch-TensorRT fills while partitioning


@pytest.fixture
def dynamo_cpu(monkeypatch: pytest.MonkeyPatch) -> DynamoRun:
    """Let ``torch_tensorrt.dynamo`` run to engine build on the CPU (see the module docstring)."""
    import torch_tensorrt.dynamo._compiler as compiler
    from torch_tensorrt.dynamo.conversion import _conversion, _TRTInterpreter

    run = DynamoRun(engines=[])
    cpu = torch.device("cpu")
    monkeypatch.setattr(compiler, "to_torch_device", lambda device=None: cpu)

    network: dict[str, Any] = {}
    construct = _TRTInterpreter.TRTInterpreter._construct_trt_network_def

    def construct_and_record(self: Any) -> None:
        construct(self)
        net = self.ctx.net
        network["inputs"] = [(net.get_input(i).name, net.get_input(i).dtype.name) for i in range(net.num_inputs)]
        network["outputs"] = [(net.get_output(i).name, net.get_output(i).dtype.name) for i in range(net.num_outputs)]
        layers = (net.get_layer(i) for i in range(net.num_layers))
        network["layers"] = [NetLayer(layer.name, layer.type.name,
                                      [(t.name, t.dtype.name) for t in map(layer.get_input, range(layer.num_inputs))
                                       if t is not None],
                                      [(t.name, t.dtype.name) for t in map(layer.get_output, range(layer.num_outputs))])
                             for layer in layers]

    class Runtime:
        def __init__(self, logger: Any) -> None:
            pass

        def deserialize_cuda_engine(self, blob: Any) -> _HostEngine:
            run.engines.append(BuiltEngine(network["inputs"], network["outputs"], blob.nbytes, network["layers"]))
            return _HostEngine(blob)

    monkeypatch.setattr(_TRTInterpreter.TRTInterpreter, "_construct_trt_network_def", construct_and_record)
    monkeypatch.setattr(_TRTInterpreter.trt, "Runtime", Runtime)
    monkeypatch.setattr(_conversion, "TorchTensorRTModule", EngineStandIn)

    display = compiler.dryrun_stats_display

    def keep_tracker(tracker: Any, dryrun_enabled: bool) -> None:
        run.coverage = tracker
        display(tracker, dryrun_enabled)

    monkeypatch.setattr(compiler, "dryrun_stats_display", keep_tracker)

    compile_fn = torch_tensorrt.dynamo.compile

    @functools.wraps(compile_fn)  # inspect.signature still sees the real parameters
    def compile_on_cpu(*args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("offload_module_to_cpu", True)
        return compile_fn(*args, **kwargs)

    monkeypatch.setattr(torch_tensorrt.dynamo, "compile", compile_on_cpu)
    return run


def dynamo_compile(ep: Any, example: tuple[torch.Tensor, ...], **options: Any) -> Any:
    """``torch_tensorrt.dynamo.compile`` with static Inputs from the example (use with ``dynamo_cpu``)."""
    inputs = [torch_tensorrt.Input(shape=list(t.shape), dtype=t.dtype) for t in example]
    options.setdefault("min_block_size", 1)
    return torch_tensorrt.dynamo.compile(ep, arg_inputs=inputs, **options)


# --- the predicted-vs-real table -----------------------------------------------------------------------
@dataclasses.dataclass
class Row:
    case: str
    target: str
    predicted: str
    real: str
    agree: bool
    gap: str = ""  # why a case is a known gap (counted apart from agreement)


_ROWS = pytest.StashKey[list[Row]]()


@pytest.fixture
def oracle(request: pytest.FixtureRequest) -> Any:
    """``oracle(case, target, predicted, real, agree)`` records one row of docs/oracle.md."""
    rows = request.config.stash.setdefault(_ROWS, [])

    def record(case: str, target: str, predicted: str, real: str, agree: bool, gap: str = "") -> bool:
        rows.append(Row(case, target, predicted, real, bool(agree), gap))
        return bool(agree)

    return record


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """With TRTREADY_ORACLE_DOC set (``make oracle``), write the table the run produced."""
    dest = os.environ.get("TRTREADY_ORACLE_DOC")
    rows = session.config.stash.get(_ROWS, [])
    if not dest or not rows:
        return
    from importlib.metadata import version

    import trtready

    agreed = sum(r.agree for r in rows if not r.gap)
    counted = sum(1 for r in rows if not r.gap)
    lines = [
        "# The oracle: predicted vs real",
        "",
        "Generated by `make oracle` (tests/oracle/): each row compares what `trtready.audit(…, target=…)`",
        "predicts for a small model with what the real Torch-TensorRT does with it, on a machine without a",
        "GPU (the scaffolding is described in tests/oracle/conftest.py). Do not edit by hand.",
        "",
        f"- trtready {trtready.__version__}; torch {torch.__version__}; torch-tensorrt-rtx "
        f"{version('torch-tensorrt-rtx')}; tensorrt_rtx {version('tensorrt_rtx')}",
        f"- agreement: {agreed}/{counted} ({100 * agreed // max(counted, 1)} %)"
        + (f"; known gaps: {len(rows) - counted}" if len(rows) > counted else "")
        + f"; pytest exit status {exitstatus}",
        "",
        "| case | target | predicted | real | agree |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        verdict = "known gap" if r.gap else ("yes" if r.agree else "**NO**")
        lines.append(f"| {_cell(r.case)} | {r.target} | {_cell(r.predicted)} | {_cell(r.real)} | {verdict} |")
    gaps = [r for r in rows if r.gap]
    if gaps:
        lines += ["", "## Known gaps", ""] + [f"- {_cell(r.case)}: {_cell(r.gap)}" for r in gaps]
    path = Path(dest) if Path(dest).is_absolute() else ROOT / dest
    path.write_text("\n".join(lines) + "\n")
