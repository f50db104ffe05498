"""MaskedAssignmentPass and its matcher (plan/rewrites.py): the NonZero → ScatterND that torch.onnx
writes for ``x[mask] = value`` becomes ``Where(mask, value, x)`` — the same values in ONNX Runtime, on
random, empty and full masks — and every near miss is left alone."""

from __future__ import annotations

import numpy as np
import onnx_ir as ir
import pytest
from onnx_ir.passes.common import RemoveUnusedNodesPass

from tests.onnx_models import run
from trtready.load.onnx_file import infer_shapes
from trtready.passes.check import FullCheckPass
from trtready.passes.masked_assignment import MaskedAssignmentPass
from trtready.plan import Action
from trtready.plan.rewrites import find_masked_assignments

# torch.onnx 2.13 for ``hidden[~mask] = VALUE`` with hidden [B, S, 4] (B dynamic) and mask [B, S].
ASSIGN = """
<ir_version: 10, opset_import: ["" : 20]>
g (float[B, 5, 4] hidden, bool[B, 5] mask) => (float[B, 5, 4] y)
<int64[1] minus_one = {-1}, int64[1] two = {2}, int64[1] three = {3}, int64[1] zero = {0}, VALUE_INIT> {
  keep = Not(mask)
  m1 = Unsqueeze(keep, minus_one)
  shape = Shape(hidden)
  full = Expand(m1, shape)
  nz = NonZero(full)
  idx = Transpose<perm=[1, 0]>(nz)
  flat = Reshape(keep, minus_one)
  ones = Cast<to=7>(flat)
  count = ReduceSum<keepdims=1>(ones)
  trailing = Slice(shape, two, three, zero)
  sel = Concat<axis=0>(count, trailing)
  expanded = Expand(value, sel)
  upd = Reshape(expanded, minus_one)
  y = ScatterND<REDUCTION>(hidden, idx, upd)
}
"""


def _model(value: str = "float value = {0.0}", reduction: str = "reduction=\"none\"", text: str = ASSIGN) -> ir.Model:
    model = ir.from_onnx_text(text.replace("VALUE_INIT", value).replace("REDUCTION", reduction))
    infer_shapes(model)
    return model


def _masks(batch: int, rng: np.random.Generator) -> list[np.ndarray]:
    random = rng.integers(0, 2, (batch, 5)).astype(bool)
    return [random, np.zeros((batch, 5), bool), np.ones((batch, 5), bool)]


def _check_same(model: ir.Model, feeds_list: list[dict[str, np.ndarray]]) -> None:
    before = [run(model, feeds)[0] for feeds in feeds_list]
    matches = find_masked_assignments(model)
    assert len(matches) == 1
    ir.passes.PassManager([MaskedAssignmentPass(matches), RemoveUnusedNodesPass(), FullCheckPass()])(model)
    ops = [n.op_type for n in model.graph]
    assert "NonZero" not in ops and "ScatterND" not in ops and ops.count("Where") == 1
    assert not any(v.dtype == ir.DataType.INT64 and v.producer() is not None and v.producer().op_type != "Shape"
                   for n in model.graph for v in n.outputs), "the int64 positions and counts are gone"
    for feeds, want in zip(feeds_list, before):
        got = run(model, feeds)[0]
        assert got.dtype == want.dtype and got.shape == want.shape and np.array_equal(got, want)


@pytest.mark.parametrize("value", [
    "float value = {0.0}",  # hidden[~mask] = 0
    "float[1] value = {-2.5}",  # one element, rank 1
    "float[4] value = {1.0, 2.0, 3.0, 4.0}",  # one value per trailing position: the same for every row
    "float[1, 4] value = {1.0, 2.0, 3.0, 4.0}",  # with a leading 1
])
def test_the_assignment_becomes_a_where_with_the_same_values(value: str) -> None:
    model = _model(value)
    rng = np.random.default_rng(0)
    feeds = [{"hidden": rng.standard_normal((b, 5, 4)).astype(np.float32), "mask": m}
             for b in (1, 3) for m in _masks(b, rng)]
    _check_same(model, feeds)


def test_the_decisions_name_the_nonzero() -> None:
    (match,) = find_masked_assignments(_model())
    rewrite, remove = match.decisions()
    assert rewrite.action is Action.REWRITE and rewrite.finding == "op:onnx:NonZero(nz)"
    assert remove.action is Action.REMOVE and remove.finding == "onnx:nz"
    assert "Where(full, value, hidden)" in rewrite.reason


def test_a_constant_trailing_shape_and_a_graph_output_name() -> None:
    # static shapes, as torch.onnx writes them: the trailing dims folded into a constant
    text = (ASSIGN.replace("float[B, 5, 4] hidden, bool[B, 5] mask", "float[2, 5, 4] hidden, bool[2, 5] mask")
            .replace("=> (float[B, 5, 4] y)", "=> (float[2, 5, 4] y)")
            .replace("  trailing = Slice(shape, two, three, zero)\n", "")
            .replace("sel = Concat<axis=0>(count, trailing)", "sel = Concat<axis=0>(count, four)")
            .replace("int64[1] zero = {0},", "int64[1] zero = {0}, int64[1] four = {4},"))
    model = _model("float[4] value = {1.0, 2.0, 3.0, 4.0}", text=text)
    rng = np.random.default_rng(1)
    _check_same(model, [{"hidden": rng.standard_normal((2, 5, 4)).astype(np.float32), "mask": m}
                        for m in _masks(2, rng)])
    assert [v.name for v in model.graph.outputs] == ["y"]


def test_an_accumulating_scatter_is_left_alone() -> None:
    assert find_masked_assignments(_model(reduction="reduction=\"add\"")) == []


def test_a_value_per_selected_row_is_left_alone() -> None:
    # x[mask] = rows: one row per true position, not a broadcast: no Where computes it
    text = ASSIGN.replace("bool[B, 5] mask)", "bool[B, 5] mask, float[K, 4] value)").replace(", VALUE_INIT>", ">")
    model = ir.from_onnx_text(text.replace("REDUCTION", "reduction=\"none\""))
    infer_shapes(model)
    assert find_masked_assignments(model) == []


def test_a_mask_that_varies_along_the_trailing_axis_is_left_alone() -> None:
    # the positions come from a full [B, 5, 4] mask, the count from another one: updates need not line up
    text = (ASSIGN.replace("bool[B, 5] mask)", "bool[B, 5] mask, bool[B, 5, 4] full)")
            .replace("  full = Expand(m1, shape)\n", ""))
    model = _model("float[4] value = {1.0, 2.0, 3.0, 4.0}", text=text)
    assert find_masked_assignments(model) == []


def test_a_mask_of_another_shape_is_left_alone() -> None:
    # NonZero over a mask that is not proved to have hidden's shape (its own symbolic dims)
    text = (ASSIGN.replace("bool[B, 5] mask)", "bool[B, 5] mask, bool[P, Q, R] full)")
            .replace("  full = Expand(m1, shape)\n", ""))
    assert find_masked_assignments(_model(text=text)) == []


def test_a_float_mask_is_left_alone() -> None:
    # NonZero of a float tensor selects its nonzero values: Where needs a bool condition
    text = (ASSIGN.replace("bool[B, 5] mask)", "bool[B, 5] mask, float[B, 5, 4] full)")
            .replace("  full = Expand(m1, shape)\n", ""))
    assert find_masked_assignments(_model(text=text)) == []
