"""Rewrites that take int64 tensors out of index paths: a Cast moved before the move it follows, a
batch gather as GatherElements, an integer ArgMax as TopK. Each is checked against ONNX Runtime on the
original graph (integers exactly), on graphs that match and graphs that do not."""

from __future__ import annotations

import numpy as np
import onnx
import onnx_ir as ir
import pytest

from tests.onnx_models import planned, run
from trtready.analysis import OnnxAnalysis
from trtready.passes.onnx_model import apply_rewrites
from trtready.plan import Action
from trtready.plan.index_rewrites import find_batch_gathers, find_cast_first, find_integer_argmax


def _ops(model: ir.Model) -> list[str]:
    return [n.op_type for n in model.graph]


def _rewritten(text: str) -> tuple[ir.Model, ir.Model, list]:
    before = ir.from_onnx_text(text)
    OnnxAnalysis.of(before)  # shapes inferred, as every run has them
    model = ir.from_onnx_text(text)
    OnnxAnalysis.of(model)
    decisions = apply_rewrites(model)
    onnx.checker.check_model(ir.serde.serialize_model(model), full_check=True)
    return before, model, decisions


CAST_FIRST = """
<ir_version: 10, opset_import: ["" : 20]>
g (int64[N, S] mask, float[N, S, 4] h) => (bool[N, 1, S] keep, float[N, S, 4] y)
<int64[3] shape = {0, 1, -1}, int64[1] two = {2}> {
  v = Reshape(mask, shape)
  keep = Cast<to=9>(v)
  u = Unsqueeze(mask, two)
  w = Cast<to=1>(u)
  y = Mul(h, w)
}
"""


def test_a_cast_after_a_move_goes_first_and_computes_the_same() -> None:
    before, model, decisions = _rewritten(CAST_FIRST)
    assert len(find_cast_first(before)) == 2
    assert {d.finding for d in decisions} == {"onnx:v", "onnx:u"} and all(d.action is Action.REMOVE for d in decisions)
    ints = [v for n in model.graph for v in n.outputs if v.dtype == ir.DataType.INT64]
    assert ints == []  # no int64 tensor is computed any more: the mask is cast where it enters
    rng = np.random.default_rng(0)
    feeds = {"mask": rng.integers(0, 3, (2, 5)).astype(np.int64), "h": rng.standard_normal((2, 5, 4)).astype(np.float32)}
    assert all(np.array_equal(a, b) for a, b in zip(run(before, feeds), run(model, feeds)))


def test_a_move_with_two_readers_or_an_int64_cast_is_left_alone() -> None:
    text = CAST_FIRST.replace("  keep = Cast<to=9>(v)\n", "  keep = Cast<to=9>(v)\n  twice = Cast<to=1>(v)\n")
    assert [m.move.op_type for m in find_cast_first(ir.from_onnx_text(text))] == ["Unsqueeze"]


POOLED = """
<ir_version: 10, opset_import: ["" : 20]>
g (float[N, S, 4] h, int32[N, S] ids) => (float[N, 4] pooled)
<int64 zero = {0}, int64 one = {1}, int64[1] last = {-1}> {
  shape = Shape(h)
  n = Gather<axis=0>(shape, zero)
  rows = Range(zero, n, one)
  best = ArgMax<axis=-1, keepdims=0>(ids)
  r = Unsqueeze(rows, last)
  c = Unsqueeze(best, last)
  grid = Concat<axis=-1>(r, c)
  pooled = GatherND(h, grid)
}
"""


def test_a_batch_gather_becomes_gather_elements_and_an_integer_argmax_a_topk() -> None:
    before, model, decisions = _rewritten(POOLED)
    assert len(find_batch_gathers(before)) == 1 and len(find_integer_argmax(before)) == 1
    assert "GatherND" not in _ops(model) and "ArgMax" not in _ops(model) and "Range" not in _ops(model)
    assert {"GatherElements", "TopK"} <= set(_ops(model))
    assert [d.finding for d in decisions] == ["onnx:grid"]
    rng = np.random.default_rng(1)
    for n, s in ((1, 1), (3, 7), (4, 16)):
        ids = rng.integers(0, 5, (n, s)).astype(np.int32)  # ties everywhere: the first largest wins in both
        feeds = {"h": rng.standard_normal((n, s, 4)).astype(np.float32), "ids": ids}
        assert np.array_equal(run(before, feeds)[0], run(model, feeds)[0])


def test_the_pooled_index_is_narrowed_behind_one_cast_after_the_topk() -> None:
    _, model, _ = _rewritten(POOLED)
    _, plan = planned(model, dynamic=["h:0=n[1:8],1=s[1:64]"])
    narrowed = {v.name for v in plan.narrowed_values}
    topk = next(n for n in model.graph if n.op_type == "TopK")
    elements = next(n for n in model.graph if n.op_type == "GatherElements")
    assert elements.inputs[1].name in narrowed  # GatherElements reads int32 indices
    assert topk.outputs[1].name not in narrowed  # TopK's indices are int64 by the spec: one Cast after it


@pytest.mark.parametrize("change", [
    ("ArgMax<axis=-1, keepdims=0>(ids)", "ArgMax<axis=-1, keepdims=0, select_last_index=1>(ids)"),  # last index
    ("n = Gather<axis=0>(shape, zero)", "n = Gather<axis=0>(shape, one)"),  # the rows count another axis
])
def test_no_rewrite_without_its_proof(change: tuple[str, str]) -> None:
    text = POOLED.replace(*change)
    model = ir.from_onnx_text(text)
    OnnxAnalysis.of(model)
    if "select_last_index" in change[1]:
        assert find_integer_argmax(model) == []
    else:
        assert find_batch_gathers(model) == []


def test_a_float_argmax_is_left_alone() -> None:
    text = """
    <ir_version: 10, opset_import: ["" : 20]>
    g (float[N, S] x) => (int64[N] best) { best = ArgMax<axis=1, keepdims=0>(x) }
    """
    assert find_integer_argmax(ir.from_onnx_text(text)) == []
