"""Per-target predictions: the seed case and the rest of the outcome table."""

from __future__ import annotations

import pytest

import trtready
from trtready.audit.findings import Finding, Layer, Outcome, Role
from trtready.audit.predict import predict
from trtready.intervals import Interval
from trtready.targets import PROFILES, TORCH_TRT_TS_INT64_ERROR

SEED_ERROR = "Cannot specify Int64 input for a model fully compiled in TRT"


def _installed(monkeypatch: pytest.MonkeyPatch, dists: dict[str, str]) -> None:
    """Pretend these distributions are installed (package metadata is all the targets read)."""
    import importlib.metadata

    real = importlib.metadata.version

    def version(dist: str) -> str:
        if dist in dists:
            return dists[dist]
        if dist.startswith("torch-tensorrt"):
            raise importlib.metadata.PackageNotFoundError(dist)
        return real(dist)

    monkeypatch.setattr(importlib.metadata, "version", version)


def _bn_cnn_report(train: bool):
    import torch

    from trtready.demo.models import BnCnn

    torch.manual_seed(0)
    m = BnCnn()
    m.train(train)
    return trtready.audit(trtready.ModelSpec(m, (torch.randn(2, 3, 16, 16),)), target="torch-trt-ts")


@pytest.mark.parametrize("train", [False, True], ids=["eval", "train"])
def test_seed_case_before_2_13_names_num_batches_tracked_with_full_path(monkeypatch, train: bool) -> None:
    _installed(monkeypatch, {"torch-tensorrt": "2.5.0"})
    report = _bn_cnn_report(train)
    assert not report.ready and str(report.target.release) == "torch-tensorrt 2.5.0 (installed)"
    errors = {f.tensor: f.predictions["torch-trt-ts"] for f in report.findings
              if f.predictions["torch-trt-ts"].outcome is Outcome.ERROR}
    assert "layer1.0.bn1.num_batches_tracked" in errors
    msg = errors["layer1.0.bn1.num_batches_tracked"].message
    assert msg.startswith("Expected !dtype || dtype.value() != at::kLong") and SEED_ERROR in msg
    assert "'layer1.0.bn1.num_batches_tracked'" in msg and "releases before 2.13.0 are not measured" in msg
    assert "num_batches_tracked" in report.verdict()
    nbt = next(f for f in report.findings if f.tensor == "layer1.0.bn1.num_batches_tracked")
    assert nbt.used is train  # eval BN never reads it; the training graph increments it


@pytest.mark.parametrize("installed", [{}, {"torch-tensorrt-rtx": "2.13.0"}, {"torch-tensorrt": "2.14.1"}])
def test_seed_case_from_2_13_batchnorm_counter_is_frozen_away(monkeypatch, installed: dict[str, str]) -> None:
    _installed(monkeypatch, installed)
    report = _bn_cnn_report(train=False)
    assert report.ready
    release = report.target.release
    assert release.installed is bool(installed)
    assert (release.dist, release.version) == (next(iter(installed.items())) if installed else ("torch-tensorrt-rtx", "2.13.0"))
    nbt = next(f for f in report.findings if f.tensor == "layer1.0.bn1.num_batches_tracked")
    p = nbt.predictions["torch-trt-ts"]
    assert p.outcome is Outcome.FINE and "lowering freezes the module" in p.message and str(release) in p.message


def _audit_ts(module, *args):
    return trtready.audit(trtready.ModelSpec(module.eval(), args), target="torch-trt-ts")


def _pred(report, finding_id: str):
    return next(f.predictions["torch-trt-ts"] for f in report.findings if f.id == finding_id)


def _offsets_module(first: str):
    """An int64 buffer read by forward, behind ``first``: "" (nothing), "linear" or "scale"."""
    import torch
    from torch import nn

    class M(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.proj = nn.Linear(4, 4)
            self.register_buffer("scale", torch.full((4,), 2.0))
            self.register_buffer("offsets", torch.arange(4))

        def forward(self, x):
            if first == "linear":
                x = self.proj(x)
            elif first == "scale":
                x = x * self.scale
            return x + self.offsets

    return M()


@pytest.mark.parametrize("first", ["", "linear"])
def test_int64_buffer_first_met_by_an_input_is_the_klong_error(first: str) -> None:
    import torch

    report = _audit_ts(_offsets_module(first), torch.randn(2, 4))
    offsets = next(f for f in report.findings if f.id == "state:offsets")
    p = _pred(report, "state:offsets")
    assert offsets.first_use_of == ["x"]  # nn.Linear's weights are no constant the search sees
    assert p.outcome is Outcome.ERROR and p.message.startswith(TORCH_TRT_TS_INT64_ERROR)
    assert "graph input 'x'" in p.message and "whatever Input(dtype=" in p.message


def test_int64_buffer_met_after_a_float_constant_needs_truncation() -> None:
    import torch

    report = _audit_ts(_offsets_module("scale"), torch.randn(2, 4))
    assert next(f for f in report.findings if f.id == "state:offsets").first_use_of == []
    p = _pred(report, "state:offsets")
    assert p.outcome is Outcome.CAST and p.message.startswith("needs truncate_long_and_double")
    assert "Unable to freeze tensor of type Int64/Float64" in p.message


def test_nested_buffer_is_found_by_its_full_name() -> None:
    import torch
    from torch import nn

    inner = _offsets_module("")
    outer = nn.Sequential(nn.Sequential(inner), nn.ReLU())
    report = _audit_ts(outer, torch.randn(2, 4))
    assert next(f for f in report.findings if f.id == "state:0.0.offsets").first_use_of == ["input"]  # Sequential's
    assert _pred(report, "state:0.0.offsets").outcome is Outcome.ERROR


def test_int64_input_typed_from_its_first_constant() -> None:
    import torch
    from torch import nn

    ids = torch.randint(0, 10, (2, 5))
    embedding = _audit_ts(nn.Embedding(10, 4), ids)
    f = next(f for f in embedding.findings if f.role is Role.INPUT)
    assert f.first_use_dtype == "float32" and any("'weight'" in n for n in f.notes)
    p = f.predictions["torch-trt-ts"]
    assert p.outcome is Outcome.FINE and "Input(dtype=torch.int64)" in p.message and "float32" in p.message
    with_buffer = _audit_ts(_offsets_module(""), torch.arange(8).reshape(2, 4))
    assert _pred(with_buffer, "fx:x").outcome is Outcome.ERROR


def test_input_only_inside_a_list_meets_no_constant() -> None:
    """TorchScript wraps list operands in a ListConstruct, which outputs no tensor: the search stops."""
    import torch
    from torch import nn

    class Cat(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("tail", torch.arange(3))

        def forward(self, ids):
            return torch.cat([ids, self.tail])

    report = _audit_ts(Cat(), torch.arange(4))
    assert next(f for f in report.findings if f.id == "state:tail").first_use_of == []
    assert next(f for f in report.findings if f.id == "fx:ids").first_use_dtype is None


def test_dynamo_rtx_build_runs_cumsum_in_pytorch(monkeypatch) -> None:
    import torch
    from torch import nn

    class Positions(nn.Module):
        def forward(self, mask):
            return mask.cumsum(1) - 1

    mask = torch.ones(2, 5, dtype=torch.int64)
    rtx = trtready.audit(trtready.ModelSpec(Positions(), (mask,)), target="torch-trt-dynamo")
    p = next(f.predictions["torch-trt-dynamo"] for f in rtx.findings if f.producer == "aten.cumsum")
    assert p.outcome is Outcome.CAST and "runs in PyTorch" in p.message
    _installed(monkeypatch, {"torch-tensorrt": "2.13.0"})  # the CUDA build has the converter
    cuda = trtready.audit(trtready.ModelSpec(Positions(), (mask,)), target="torch-trt-dynamo")
    assert all(f.predictions["torch-trt-dynamo"].outcome is Outcome.FINE for f in cuda.findings)


def test_unused_buffer_is_fine_for_onnx_targets() -> None:
    report = trtready.audit("trtready.demo:bn_cnn", target="trt8")
    assert report.ready
    assert all(f.predictions["trt8"].message.startswith("not read by forward") for f in report.findings)


def _f(dtype: str, role: Role = Role.INTERMEDIATE, iv: Interval | None = None, **kw) -> Finding:
    return Finding(id="x", layer=Layer.ONNX, tensor="t", dtype=dtype, shape=[2], where="w", role=role,
                   interval=iv, **kw)


@pytest.mark.parametrize(
    "target, iv, outcome",
    [
        ("trt8", Interval(0, 10), Outcome.CAST),
        ("trt8", Interval(0, 2**40), Outcome.CLAMP),
        ("trt8", None, Outcome.CLAMP),
        ("trt10", Interval(0, 2**40), Outcome.FINE),
        ("trt-rtx", None, Outcome.FINE),
        ("torch-trt-dynamo", Interval(0, 2**40), Outcome.FINE),
        ("torch-trt-ts", Interval(0, 10), Outcome.CAST),
        ("torch-trt-ts", Interval(-(2**40), 0), Outcome.CLAMP),
    ],
)
def test_int64_intermediate_outcomes(target: str, iv: Interval | None, outcome: Outcome) -> None:
    assert predict(_f("int64", iv=iv), PROFILES[target]).outcome is outcome


def test_int64_input_is_an_error_for_torchscript_frontend_only_when_typed_long() -> None:
    long = predict(_f("int64", Role.INPUT, first_use_dtype="int64"), PROFILES["torch-trt-ts"])
    assert long.outcome is Outcome.ERROR and long.message.startswith(TORCH_TRT_TS_INT64_ERROR)
    assert predict(_f("int64", Role.INPUT, first_use_dtype="float32"), PROFILES["torch-trt-ts"]).outcome is Outcome.FINE
    assert predict(_f("int64", Role.INPUT), PROFILES["trt10"]).message == "native INT64; bind an int64 buffer"


def test_int64_state_without_a_graph_is_predicted_an_error() -> None:
    """No graph (a checkpoint): which constant an input meets first is unknown; predict the error."""
    state = Finding(id="s", layer=Layer.STATE, tensor="b", dtype="int64", shape=[], where="w", role=Role.BUFFER)
    p = predict(state, PROFILES["torch-trt-ts"])
    assert p.outcome is Outcome.ERROR and "no graph to tell" in p.message


def test_float64_outcomes() -> None:
    exact = _f("float64", iv=Interval(0.5, 2.0), fits={"float32": True})
    lossy = _f("float64", iv=Interval(0.1, 2.0), fits={"float32": False})
    huge = _f("float64", iv=Interval(0.0, 1e300))
    assert predict(exact, PROFILES["trt10"]).outcome is Outcome.CAST
    assert predict(lossy, PROFILES["trt-rtx"]).outcome is Outcome.PRECISION_LOSS
    assert "without a message" in predict(lossy, PROFILES["trt-rtx"]).message
    assert predict(huge, PROFILES["trt10"]).outcome is Outcome.CLAMP
    assert predict(lossy, PROFILES["torch-trt-dynamo"]).message.startswith("needs truncate_double")


def test_verdicts_of_the_demo_models() -> None:
    assert not trtready.audit("trtready.demo:hash_model", target="trt8")
    assert trtready.audit("trtready.demo:hash_model", target="trt-rtx")
    assert not trtready.audit("trtready.demo:float64_buffer", target="trt10")
