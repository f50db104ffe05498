"""PoolToReducePass and its matcher (plan/rewrites.py): an AveragePool/MaxPool whose windows tile its
input becomes a global pool or Reshape + Reduce — the same values in ONNX Runtime — and only where the
target cannot build the window; every near miss is left alone."""

from __future__ import annotations

import numpy as np
import onnx_ir as ir
import pytest
from onnx_ir.passes.common import RemoveUnusedNodesPass

from tests.onnx_models import run
from trtready.load.onnx_file import infer_shapes
from trtready.passes.onnx_model import apply_rewrites
from trtready.passes.check import FullCheckPass
from trtready.passes.pool_to_reduce import PoolToReducePass
from trtready.plan import Action
from trtready.plan.rewrites import find_pool_reductions
from trtready.targets import PROFILES

POOL = """
<ir_version: 10, opset_import: ["" : OPSET]>
g (float[N, 3, H, W] x) => (float y) {
  y = OP<ATTRS>(x)
}
"""


def _model(op: str, size: tuple[int, int], attrs: str, opset: int = 20) -> ir.Model:
    text = (POOL.replace("OPSET", str(opset)).replace("OP", op).replace("ATTRS", attrs)
            .replace("H, W", f"{size[0]}, {size[1]}"))
    return _inferred(text)


def _inferred(text: str) -> ir.Model:
    model = ir.from_onnx_text(text)
    for out in model.graph.outputs:  # declared without a shape: inference gives it
        out.shape = None
    infer_shapes(model)
    return model


def _rewrite_and_compare(model: ir.Model, size: tuple[int, int], expect_ops: list[str]) -> None:
    rng = np.random.default_rng(0)
    xs = [rng.standard_normal((n, 3, *size)).astype(np.float32) for n in (1, 2)]
    before = [run(model, {"x": x})[0] for x in xs]
    matches = find_pool_reductions(model)
    assert len(matches) == 1
    ir.passes.PassManager([PoolToReducePass(matches), RemoveUnusedNodesPass(), FullCheckPass()])(model)
    assert [n.op_type for n in model.graph] == expect_ops
    assert [v.name for v in model.graph.outputs] == ["y"], "the graph output keeps its name"
    for x, want in zip(xs, before):
        got = run(model, {"x": x})[0]
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("op, size, attrs, expect", [
    # EfficientNet's AvgPool2d(hidden_dim, ceil_mode=True) over a 1×1 map (transformers): one window, past the input
    ("AveragePool", (1, 1), "kernel_shape=[320, 320], strides=[320, 320], ceil_mode=1", ["GlobalAveragePool"]),
    ("AveragePool", (1, 1), "kernel_shape=[320, 320], strides=[320, 320], ceil_mode=1, count_include_pad=1",
     ["GlobalAveragePool"]),
    ("AveragePool", (7, 5), "kernel_shape=[7, 5]", ["GlobalAveragePool"]),  # kernel == input, stride 1
    ("AveragePool", (7, 5), "kernel_shape=[9, 6], strides=[4, 4], ceil_mode=1", ["GlobalAveragePool"]),
    ("MaxPool", (7, 5), "kernel_shape=[7, 5]", ["GlobalMaxPool"]),
    ("AveragePool", (6, 8), "kernel_shape=[3, 4], strides=[3, 4]", ["Reshape", "ReduceMean"]),  # tiles
    ("MaxPool", (6, 8), "kernel_shape=[2, 4], strides=[2, 4]", ["Reshape", "ReduceMax"]),
])
def test_the_pool_becomes_a_reduction_with_the_same_values(op: str, size: tuple[int, int], attrs: str,
                                                            expect: list[str]) -> None:
    _rewrite_and_compare(_model(op, size, attrs), size, expect)


def test_before_opset_18_reduce_takes_its_axes_as_an_attribute() -> None:
    _rewrite_and_compare(_model("AveragePool", (6, 8), "kernel_shape=[3, 4], strides=[3, 4]", opset=17), (6, 8),
                         ["Reshape", "ReduceMean"])


@pytest.mark.parametrize("op, size, attrs, why", [
    ("AveragePool", (7, 5), "kernel_shape=[3, 3]", "overlapping windows"),
    ("AveragePool", (7, 5), "kernel_shape=[7, 5], pads=[1, 1, 1, 1]", "padding changes what a window averages"),
    ("AveragePool", (7, 5), "kernel_shape=[9, 6], ceil_mode=0", "past the input without ceil_mode: no output"),
    ("AveragePool", (7, 5), "kernel_shape=[20, 5], strides=[4, 4], ceil_mode=1", "ceil_mode gives several windows"),
    ("AveragePool", (6, 8), "kernel_shape=[4, 4], strides=[4, 4]", "windows that do not divide the input"),
    ("MaxPool", (7, 5), "kernel_shape=[4, 3], dilations=[2, 2]", "dilated windows"),
    ("AveragePool", (7, 5), "kernel_shape=[7, 5], auto_pad=\"SAME_UPPER\"", "auto padding"),
])
def test_near_misses_are_left_alone(op: str, size: tuple[int, int], attrs: str, why: str) -> None:
    assert find_pool_reductions(_model(op, size, attrs)) == [], why


def test_a_dynamic_spatial_size_is_not_trusted() -> None:
    model = _inferred(POOL.replace("OPSET", "20").replace("OP", "AveragePool").replace("ATTRS", "kernel_shape=[7, 5]"))
    assert find_pool_reductions(model) == []


def test_max_pool_indices_in_use_are_left_alone() -> None:
    model = _inferred("""
    <ir_version: 10, opset_import: ["" : 20]>
    g (float[1, 3, 7, 5] x) => (float y, int64 i) { y, i = MaxPool<kernel_shape=[7, 5]>(x) }
    """)
    assert find_pool_reductions(model) == []


def test_only_windows_the_target_cannot_build_are_rewritten() -> None:
    """trt-rtx builds 2-D windows below 100 000 elements (measured): a 7×5 pool stays, 320×320 goes."""
    small = _model("AveragePool", (7, 5), "kernel_shape=[7, 5]")
    assert apply_rewrites(small, PROFILES["trt-rtx"]) == []
    assert [n.op_type for n in small.graph] == ["AveragePool"]
    big = _model("AveragePool", (1, 1), "kernel_shape=[320, 320], strides=[320, 320], ceil_mode=1")
    (decision,) = apply_rewrites(big, PROFILES["trt-rtx"])
    assert decision.action is Action.REWRITE and decision.finding == "op:onnx:AveragePool(y)"
    assert "102400" in decision.reason and "100000" in decision.reason
    assert [n.op_type for n in big.graph] == ["GlobalAveragePool"]
    # Torch-TensorRT has no recorded window limit: nothing to rewrite for it
    other = _model("AveragePool", (1, 1), "kernel_shape=[320, 320], strides=[320, 320], ceil_mode=1")
    assert apply_rewrites(other, PROFILES["torch-trt-dynamo"]) == []
