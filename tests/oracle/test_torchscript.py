"""Oracle, TorchScript frontend (``--target torch-trt-ts``): trtready's audit against
``torch_tensorrt.ts.convert_method_to_trt_engine``.

Each test builds a small module, asks ``trtready.audit`` what the target will do, runs the real
frontend, records one row of docs/oracle.md and asserts that prediction and reality agree.
"""

from __future__ import annotations

import textwrap
import warnings
from pathlib import Path

import pytest
import torch
from torch import nn

import trtready
from tests.conftest import run_cli
from tests.oracle.conftest import TsResult, ts_convert, ts_convert_scripted
from trtready.audit.findings import Outcome, Prediction
from trtready.targets import TORCH_TRT_FREEZE_ERROR, TORCH_TRT_TS_INT64_ERROR

TARGET = "torch-trt-ts"
KLONG = "Expected !dtype || dtype.value() != at::kLong"
CANNOT = "Cannot specify Int64 input for a model fully compiled in TRT"


def predict(model: nn.Module, example: tuple[torch.Tensor, ...]):
    return trtready.audit(trtready.ModelSpec(model.eval(), example), target=TARGET)


def prediction(report, finding_id: str) -> Prediction:
    return next(f.predictions[TARGET] for f in report.findings if f.id == finding_id)


def short(p: Prediction) -> str:
    return f"{p.outcome.value}: {p.message.split(' [', 1)[0]}"


def real_text(r: TsResult) -> str:
    if r.built:
        io = ", ".join(f"{k} {v}" for k, v in r.engine_io.items())
        return f"engine built ({io})" if io else "engine built"
    return f"RuntimeError: {r.error_head}"


def is_klong(r: TsResult) -> bool:
    return r.error is not None and KLONG in r.error and CANNOT in r.error


# --- models -------------------------------------------------------------------------------------------
class AddOffsets(nn.Module):
    """``x + offsets``: the int64 buffer is the first constant x meets."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("offsets", torch.arange(4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.offsets


class Nested(nn.Module):
    """The same buffer two modules down: ``block.inner.offsets``."""

    def __init__(self) -> None:
        super().__init__()
        self.block = nn.Sequential()
        self.block.inner = AddOffsets()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.block(x))


class LinearThenOffsets(nn.Module):
    """nn.Linear first: lowering turns it into matmul(x, t(W)) + const(b), so the buffer is still first."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(4, 4)
        self.register_buffer("offsets", torch.arange(4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x) + self.offsets


class ScaleThenOffsets(nn.Module):
    """x meets a float32 buffer first; the int64 buffer comes later."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("scale", torch.full((4,), 2.0))
        self.register_buffer("offsets", torch.arange(4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale + self.offsets


class Tokens(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(10, 4)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.embed(ids)


def conv_bn(depth: int) -> nn.Module:
    """Conv + BatchNorm wrapped ``depth - 1`` more times: num_batches_tracked at depth ``depth``."""
    torch.manual_seed(0)
    m: nn.Module = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    for _ in range(depth - 1):
        m = nn.Sequential(m)
    return m.eval()


X = torch.randn(2, 4)


# --- the kLong input-type check ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "case, model, finding",
    [
        ("int64 buffer at x's first use (top level)", AddOffsets, "state:offsets"),
        ("int64 buffer at x's first use (nested submodule)", Nested, "state:block.inner.offsets"),
        ("int64 buffer after nn.Linear (lowering hides Linear's weights)", LinearThenOffsets, "state:offsets"),
    ],
)
def test_int64_buffer_at_first_use_raises_the_klong_error(case: str, model: type, finding: str, oracle) -> None:
    torch.manual_seed(0)
    m = model().eval()
    p = prediction(predict(m, (X,)), finding)
    real = ts_convert(m, (X,))
    agree = (p.outcome is Outcome.ERROR) == is_klong(real) and (not is_klong(real) or TORCH_TRT_TS_INT64_ERROR.split(": ")[-1] in p.message)
    oracle(case, TARGET, short(p), real_text(real) + f"; estimated input type {', '.join(real.estimates)}", agree)
    assert agree
    assert "'x'" in p.message and "Long" in real.estimates
    # "whatever Input(dtype=…) and truncate_long_and_double say": neither changes the outcome
    assert is_klong(ts_convert(m, (X,), truncate_long_and_double=True))


def test_int64_input_meeting_an_int64_buffer(oracle) -> None:
    m = AddOffsets().eval()
    ids = torch.arange(8).reshape(2, 4)
    report = predict(m, (ids,))
    p_in, p_buf = prediction(report, "fx:x"), prediction(report, "state:offsets")
    real = ts_convert(m, (ids,))
    agree = p_in.outcome is Outcome.ERROR and p_buf.outcome is Outcome.ERROR and is_klong(real)
    oracle("int64 input meeting an int64 buffer", TARGET, short(p_in), real_text(real), agree)
    assert agree


def test_int64_buffer_met_after_a_float_constant(oracle) -> None:
    m = ScaleThenOffsets().eval()
    p = prediction(predict(m, (X,)), "state:offsets")
    plain = ts_convert(m, (X,))
    truncated = ts_convert(m, (X,), truncate_long_and_double=True)
    real = f"without truncation: {real_text(plain)}; with truncate_long_and_double: {real_text(truncated)}"
    agree = (p.outcome is Outcome.CAST and "needs truncate_long_and_double" in p.message
             and plain.error is not None and TORCH_TRT_FREEZE_ERROR in plain.error and truncated.built)
    oracle("int64 buffer met after a float32 constant", TARGET, short(p), real, agree)
    assert agree
    assert plain.estimates == ["Float"]


class LinearTimesTwo(nn.Module):
    """No 64-bit tensor anywhere in the module: ``* 2`` is a Python int."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x) * 2


def test_python_int_after_linear_is_a_known_gap(oracle) -> None:
    """torch.jit.trace records ``* 2`` as a 0-dim int64 tensor constant; behind nn.Linear it is the first
    constant x meets. torch.export keeps 2 a Python scalar, so trtready's audit has no tensor to flag."""
    torch.manual_seed(0)
    m = LinearTimesTwo().eval()
    report = predict(m, (X,))
    real = ts_convert(m, (X,))
    gap = ("torch.jit.trace turns a Python int operand into an int64 tensor constant ({2} in the lowered "
           "graph); trtready audits the torch.export graph, where it stays a scalar, so it predicts nothing")
    oracle("Python int `* 2` after nn.Linear (traced)", TARGET, f"ready ({report.verdict()})",
           real_text(real) + f"; estimated input type {', '.join(real.estimates)}", False, gap=gap)
    # the gap as documented: no prediction, the real error; a change on either side shows up here
    assert report.ready and not report.findings
    assert is_klong(real) and "prim::Constant[value={2}]" in real.lowered


# --- BatchNorm's num_batches_tracked -------------------------------------------------------------------
@pytest.mark.parametrize("depth", [1, 2, 3])
@pytest.mark.parametrize("frontend", ["trace", "script"])
def test_batchnorm_counter_is_frozen_away(depth: int, frontend: str, oracle) -> None:
    m = conv_bn(depth)
    image = torch.randn(1, 3, 8, 8)
    nbt = "state:" + "0." * (depth - 1) + "1.num_batches_tracked"
    p = prediction(predict(m, (image,)), nbt)
    real = ts_convert(m, (image,), script=frontend == "script")
    refs_before, refs_after = real.graph_before.count("num_batches_tracked"), real.lowered.count("num_batches_tracked")
    gpu_stop = real.error is not None and "NVIDIA driver" in real.error
    what = ("engine built" if real.built else
            "no kLong error; the build stops later, in the BatchNorm converter, which needs a GPU" if gpu_stop else
            real_text(real))
    agree = (p.outcome is Outcome.ERROR) == is_klong(real) and refs_after == 0
    oracle(f"BatchNorm num_batches_tracked, depth {depth} ({frontend})", TARGET, short(p),
           f"{what}; num_batches_tracked in the graph: {refs_before} before lowering, {refs_after} after", agree)
    assert agree
    assert real.built or gpu_stop  # nothing else stopped it
    assert real.lowered, "the lowered graph was not found in the log"
    if frontend == "script":
        assert refs_before > 0  # scripted BatchNorm reads it in its training branch; lowering drops it


# --- token ids into nn.Embedding -----------------------------------------------------------------------
_TRT_NAMES = {"int64": "Long", "float32": "Float", "int32": "Int"}


@pytest.mark.parametrize("given", [True, False], ids=["with dtype", "without dtype"])
def test_token_ids_into_embedding(given: bool, oracle) -> None:
    torch.manual_seed(0)
    m = Tokens().eval()
    ids = torch.randint(0, 10, (2, 5))
    report = predict(m, (ids,))
    p = prediction(report, "fx:ids")
    ids_finding = next(f for f in report.findings if f.id == "fx:ids")
    real = ts_convert(m, (ids,), dtypes="example" if given else None)
    expected = "Long" if given else _TRT_NAMES[ids_finding.first_use_dtype or "float32"]
    agree = p.outcome is Outcome.FINE and real.built and real.engine_inputs.get("ids") == expected
    oracle(f"int64 token ids into nn.Embedding, Input {'dtype=torch.int64' if given else 'without dtype'}",
           TARGET, short(p), f"{real_text(real)}; engine input ids: {real.engine_inputs.get('ids')}", agree)
    assert agree
    assert real.engine_io.get("input_0") == ("Int64" if given else "Float")


# --- the workaround: trtready fix --target torch-trt-ts ------------------------------------------------
MODELS_PY = textwrap.dedent('''
    import torch
    from torch import nn

    import trtready


    class Inner(nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("offsets", torch.arange(4))

        def forward(self, x):
            return x + self.offsets


    class Outer(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = Inner()
            self.register_buffer("bias", torch.tensor([3, 1, 4, 1]))

        def forward(self, x):
            return self.inner(x) + self.bias


    def spec():
        torch.manual_seed(0)
        return trtready.ModelSpec(Outer().eval(), (torch.randn(2, 4),))
''')


def test_fix_for_torch_trt_ts_makes_the_trace_build(tmp_path: Path, oracle) -> None:
    (tmp_path / "oracle_models.py").write_text(MODELS_PY)
    import importlib.util

    spec = importlib.util.spec_from_file_location("oracle_models", tmp_path / "oracle_models.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    model_spec = mod.spec()

    before_p = predict(model_spec.module, model_spec.args)
    before = ts_convert(model_spec.module, model_spec.args)
    assert not before_p.ready and is_klong(before)

    out = tmp_path / "fixed"
    r = run_cli("fix", "oracle_models:spec", "--target", TARGET, "-o", str(out), cwd=tmp_path)
    assert r.code == 0, r.stderr
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ts = torch.jit.load(str(out / "model.ts"))
    buffers = {n: b.dtype for n, b in ts.named_buffers()}
    import torch_tensorrt

    after = ts_convert_scripted(ts, [torch_tensorrt.Input([2, 4], dtype=torch.float32)])
    after_p = trtready.audit(str(out / "model.pt2"), target=TARGET)
    agree = after_p.ready == after.built and after.built
    oracle("`trtready fix --target torch-trt-ts`, then model.ts", TARGET,
           f"before: not ready ({before_p.verdict().split(';')[0]}); after fix: {after_p.verdict()}",
           f"before: {real_text(before).split(' / ')[0]}; model.ts: {real_text(after)}", agree)
    assert agree, (after_p.verdict(), after.error_head, buffers)
    assert buffers == {"inner.offsets": torch.int32, "bias": torch.int32}
