"""IotaGatherPass and its matcher (plan/rewrites.py): a GatherND over an arange grid of its data's own
dims becomes an Unsqueeze of the data — the same values, checked in ONNX Runtime at several shapes —
and every near miss is left alone."""

from __future__ import annotations

import numpy as np
import onnx_ir as ir
import pytest
from onnx_ir.passes.common import RemoveUnusedNodesPass

from tests.onnx_models import run
from trtready.load.onnx_file import infer_shapes
from trtready.passes.check import FullCheckPass
from trtready.passes.iota_gather import IotaGatherPass
from trtready.plan import Action
from trtready.plan.rewrites import find_iota_gathers

# What torch.onnx writes for ``mask[arange(B)[:, None, None, None], arange(S)[None, None, None, :]]``.
GRID = """
<ir_version: 10, opset_import: ["" : 20]>
g (int64[B, S] mask_in) => (bool[B, 1, 1, S] y)
<int64 zero = {START}, int64 one = {STEP}, int64[3] ax_b = {1, 2, 3}, int64[3] ax_s = {0, 1, 2},
 int64[1] last = {-1}> {
  mask = Cast<to=9>(mask_in)
  sb = Shape<start=0, end=1>(mask_in)
  b = Squeeze(sb)
  ss = Shape<start=1, end=2>(mask_in)
  s = Squeeze(ss)
  rb = Range(zero, b, one)
  rs = Range(zero, s, one)
  ub = Unsqueeze(rb, ax_b)
  us = Unsqueeze(rs, ax_s)
  mx = Max(ub, us)
  grid = Shape(mx)
  eb = Expand(ub, grid)
  es = Expand(us, grid)
  ib = Unsqueeze(eb, last)
  is = Unsqueeze(es, last)
  ix = Concat<axis=-1>(FIRST, SECOND)
  y = GatherND<batch_dims=BD>(mask, ix)
}
"""


def _model(start: int = 0, step: int = 1, first: str = "ib", second: str = "is", batch_dims: int = 0) -> ir.Model:
    text = (GRID.replace("START", str(start)).replace("STEP", str(step)).replace("FIRST", first)
            .replace("SECOND", second).replace("BD", str(batch_dims)))
    model = ir.from_onnx_text(text)
    infer_shapes(model)
    return model


def _run(model: ir.Model, mask: np.ndarray) -> np.ndarray:
    return run(model, {"mask_in": mask})[0]


def test_the_gather_becomes_an_unsqueeze_with_the_same_values() -> None:
    model = _model()
    (match,) = find_iota_gathers(model)
    assert match.axes == (1, 2) and match.expand_to is None
    decision = match.decision()
    assert decision.action is Action.REMOVE and decision.finding == "onnx:ix"
    rng = np.random.default_rng(0)
    masks = [rng.integers(0, 2, shape, dtype=np.int64) for shape in ((1, 1), (2, 7), (4, 32))]
    before = [_run(model, m) for m in masks]
    ir.passes.PassManager([IotaGatherPass([match]), RemoveUnusedNodesPass(), FullCheckPass()])(model)
    ops = [n.op_type for n in model.graph]
    assert "GatherND" not in ops and "Range" not in ops and "Concat" not in ops and "Expand" not in ops
    assert ops.count("Unsqueeze") == 1
    for m, want in zip(masks, before):
        got = _run(model, m)
        assert got.dtype == want.dtype and got.shape == want.shape and np.array_equal(got, want)


@pytest.mark.parametrize("kwargs, why", [
    ({"start": 1}, "arange must start at 0"),
    ({"step": 2}, "step 2 skips elements"),
    ({"first": "is", "second": "ib"}, "the data's axes swapped: a transpose, not an unsqueeze"),
    ({"first": "ib", "second": "ib"}, "the batch arange used for the sequence axis"),
    ({"batch_dims": 1}, "batch_dims 1 changes what the indices address"),
])
def test_near_misses_are_left_alone(kwargs: dict[str, object], why: str) -> None:
    model = _model(**kwargs)  # type: ignore[arg-type]
    assert find_iota_gathers(model) == [], why


def test_a_range_over_another_inputs_dim_is_not_trusted() -> None:
    # same pattern, but the sequence arange counts a second input's dim that merely may equal S
    text = GRID.replace("(int64[B, S] mask_in)", "(int64[B, S] mask_in, int64[B, T] other)").replace(
        "ss = Shape<start=1, end=2>(mask_in)", "ss = Shape<start=1, end=2>(other)")
    text = (text.replace("START", "0").replace("STEP", "1").replace("FIRST", "ib").replace("SECOND", "is")
            .replace("BD", "0"))
    model = ir.from_onnx_text(text)
    infer_shapes(model)
    assert find_iota_gathers(model) == []
