"""Measured in the network TensorRT-RTX's parser builds: narrowing removes INT64 execution tensors."""

from __future__ import annotations

import warnings
from pathlib import Path

import onnx_ir as ir
import pytest

import trtready
from trtready.bounds import parse_dynamic
from trtready.engine.network import inspect_network
from trtready.export.onnx_export import translate
from trtready.load.capture import capture


def _before_after(spec: trtready.ModelSpec, tmp: Path):
    bounds = parse_dynamic(spec.dynamic)
    base = tmp / "base.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ir.save(translate(capture(spec.module, spec.args, {}, bounds), bounds), str(base))
    assert trtready.fix(spec, tmp / "out", target="trt-rtx")
    return inspect_network(base), inspect_network(tmp / "out" / "model.onnx")


def test_token_model_never_more_casts(tmp_path: Path) -> None:
    """The token model's index math is arange(seq): narrowed, the size would be cast on the host and the
    parser would cast the int32 Range's shape back (8 -> 9 Cast layers). It stays int64: never more Casts."""
    from trtready.demo import token_model

    before, after = _before_after(token_model(), tmp_path)
    assert after.cast_layers <= before.cast_layers and after.device_casts <= before.device_casts
    assert len(after.int64_execution) <= len(before.int64_execution) and after.int64_shape <= before.int64_shape
    assert "arange" in after.int64_execution  # kept wide, with the reason in the decision
    assert [o["dtype"] for o in after.outputs] == [o["dtype"] for o in before.outputs]  # argmax stays INT64


def test_dynamic_bert_fewer_int64_execution_tensors(tmp_path: Path) -> None:
    from tests.conftest import tiny_bert

    model, args = tiny_bert()
    spec = trtready.ModelSpec(model, args, dynamic=["input_ids:0=batch[1:8],1=seq[2:64]",
                                                    "attention_mask:0=batch[1:8],1=seq[2:64]"])
    before, after = _before_after(spec, tmp_path)
    assert len(after.int64_execution) < len(before.int64_execution)
    assert after.cast_layers <= before.cast_layers
    assert after.int64_shape < before.int64_shape  # the mask's index grid is gone (IotaGatherPass)
    assert sorted(after.int64_execution) == ["attention_mask", "input_ids"]  # kept I/O only


def test_parser_rejection_names_the_node(tmp_path: Path) -> None:
    model = ir.from_onnx_text("""
    <ir_version: 10, opset_import: ["" : 20, "com.example" : 1]>
    g (float[4] x) => (float[4] y) { y = com.example.Mystery(x) }
    """)
    path = tmp_path / "m.onnx"
    ir.save(model, str(path))
    with pytest.raises(trtready.BadInputError, match="parser rejected the model: node .*Mystery"):
        inspect_network(path)


def test_effect_says_none_smaller_or_mixed() -> None:
    from trtready.engine.network import NetworkView, effect

    def view(exec_names: list[str], shape: int, casts: int, layers: int) -> NetworkView:
        return NetworkView("tensorrt_rtx", "1", {"INT64": len(exec_names) + shape}, exec_names, shape, casts, 0, layers)

    before = view(["a", "b"], 10, 5, 40)
    assert effect(before, view(["a", "b"], 10, 5, 40)) == "none"
    assert effect(before, view(["a"], 10, 5, 39)) == "smaller"
    assert effect(before, view(["a"], 11, 5, 39)) == "mixed"  # one more INT64 shape tensor
    assert effect(before, view([], 8, 6, 30)) == "mixed"  # one more Cast layer
