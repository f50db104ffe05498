"""Per-target predictions: the seed case and the rest of the outcome table."""

from __future__ import annotations

import pytest

import trtready
from trtready.audit.findings import Finding, Layer, Outcome, Role
from trtready.audit.predict import predict
from trtready.intervals import Interval
from trtready.targets import PROFILES, TORCH_TRT_TS_INT64_ERROR

SEED_ERROR = "Cannot specify Int64 input for a model fully compiled in TRT"


@pytest.mark.parametrize("train", [False, True], ids=["eval", "train"])
def test_seed_case_names_num_batches_tracked_with_full_path(train: bool) -> None:
    import torch

    from trtready.demo.models import BnCnn

    torch.manual_seed(0)
    m = BnCnn()
    m.train(train)
    report = trtready.audit(trtready.ModelSpec(m, (torch.randn(2, 3, 16, 16),)), target="torch-trt-ts")
    assert not report.ready
    errors = {f.tensor: f.predictions["torch-trt-ts"] for f in report.findings
              if f.predictions["torch-trt-ts"].outcome is Outcome.ERROR}
    assert "layer1.0.bn1.num_batches_tracked" in errors
    msg = errors["layer1.0.bn1.num_batches_tracked"].message
    assert msg.startswith("Expected !dtype || dtype.value() != at::kLong") and SEED_ERROR in msg
    assert "'layer1.0.bn1.num_batches_tracked'" in msg
    assert "num_batches_tracked" in report.verdict()
    nbt = next(f for f in report.findings if f.tensor == "layer1.0.bn1.num_batches_tracked")
    assert nbt.used is train  # eval BN never reads it; the training graph increments it


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


def test_int64_input_is_an_error_only_for_torchscript_frontend() -> None:
    p = predict(_f("int64", Role.INPUT), PROFILES["torch-trt-ts"])
    assert p.outcome is Outcome.ERROR and p.message.startswith(TORCH_TRT_TS_INT64_ERROR)
    assert predict(_f("int64", Role.INPUT), PROFILES["trt10"]).message == "native INT64; bind an int64 buffer"


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
