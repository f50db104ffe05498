"""PyTorch graph audit through torch.export: producers, user file:line, intervals."""

from __future__ import annotations

import inspect

import torch

import trtready
from trtready.audit.findings import Layer, Role
from trtready.audit.fx import user_frame
from trtready.demo import models


def _line_of(snippet: str) -> int:
    lines, start = inspect.getsourcelines(models)
    return next(i + 1 for i, line in enumerate(lines) if snippet in line)


def test_token_model_int64_nodes_with_source_lines_and_intervals() -> None:
    report = trtready.audit("trtready.demo:token_model", target="trt8")
    fx = {f.tensor: f for f in report.findings if f.layer is Layer.FX}
    arange, argmax, ids = fx["arange"], fx["argmax"], fx["input_ids"]
    assert arange.producer == "aten.arange" and arange.source.endswith(f"models.py:{_line_of('torch.arange(')}")
    assert (arange.interval.lo, arange.interval.hi) == (0, 63)  # seq bound [1:64] from the spec
    assert arange.consumers == ["aten.embedding:embedding_1"]
    assert argmax.role is Role.OUTPUT and (argmax.interval.lo, argmax.interval.hi) == (0, 4)
    assert argmax.source.endswith(f"models.py:{_line_of('argmax(')}")
    assert ids.role is Role.INPUT and ids.shape == ["batch", "seq"]  # the spec's --dynamic names


def test_hash_model_overflowing_int32_is_found_exactly() -> None:
    report = trtready.audit("trtready.demo:hash_model")
    fx = {f.tensor: f for f in report.findings if f.layer is Layer.FX}
    assert fx["mul"].interval.hi == (2**31 - 2) * models.HashEmbedding.MULTIPLIER
    assert fx["remainder"].interval.hi == 2**40 - 1
    assert fx["remainder_1"].fits["int32"] is True


def test_bert_export_lists_int64_with_producers_and_library_lines() -> None:
    from tests.conftest import tiny_bert

    model, args = tiny_bert()
    report = trtready.audit(trtready.ModelSpec(model, args), dynamic=["input_ids:0=b[1:8],1=s[2:64]",
                                                                      "attention_mask:0=b[1:8],1=s[2:64]"])
    fx = [f for f in report.findings if f.layer is Layer.FX and f.dtype == "int64"]
    assert {f.tensor for f in fx} >= {"input_ids", "attention_mask"}
    produced = [f for f in fx if f.producer is not None]
    assert produced, "BERT computes int64 index math"
    assert all(f.source and "transformers/models/bert/modeling_bert.py:" in f.source for f in produced if f.source)
    assert any(f.source for f in produced)
    state = {f.tensor for f in report.findings if f.layer is Layer.STATE}
    assert "embeddings.position_ids" in state or "embeddings.token_type_ids" in state


def test_user_frame_skips_torch_and_site_packages() -> None:
    trace = (
        'File "/home/u/proj/model.py", line 12, in forward\n    y = f(x)\n'
        'File "/venv/lib/python3.11/site-packages/torch/nn/functional.py", line 99, in f\n'
    )
    assert user_frame(trace) == "/home/u/proj/model.py:12" or user_frame(trace).endswith("model.py:12")
    lib_only = 'File "/venv/lib/python3.11/site-packages/transformers/models/x.py", line 5, in forward\n'
    assert user_frame(lib_only) == "transformers/models/x.py:5"
    assert user_frame(None) is None


def test_meta_device_model_is_audited_without_values() -> None:
    with torch.device("meta"):
        m = models.BnCnn().eval()
        x = torch.randn(2, 3, 32, 32)
    report = trtready.audit(trtready.ModelSpec(m, (x,)), target="torch-trt-ts")
    state = [f for f in report.findings if f.layer is Layer.STATE]
    assert len(state) == 5 and all(f.interval is None for f in state)
    assert report.result.layers["fx"] == "done"
    # the graph still tells what Torch-TensorRT sees: eval BatchNorm never reads its counter
    assert all(f.used is False and f.first_use_of == [] for f in state) and report.ready
