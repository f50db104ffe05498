"""InsertBoundaryCastsPass: one exact Cast per int64 value read by narrowed nodes."""

from __future__ import annotations

import numpy as np
import onnx
import onnx_ir as ir

from tests.passes.helpers import planned, run
from trtready.intervals import Interval
from trtready.passes.boundary_casts import InsertBoundaryCastsPass
from trtready.passes.narrow_int64 import NarrowInt64Pass

TEXT = """
<ir_version: 10, opset_import: ["" : 20]>
g (int64[4] a, float[50, 2] t) => (float[4, 2] y, float[4, 2] z, int64[4] k)
<int64 two = {2}, int64 three = {3}> {
  k = Mul(a, two)
  b = Add(a, two)
  c = Add(b, three)
  d = Mul(a, three)
  e = Add(d, two)
  y = Gather(t, c)
  z = Gather(t, e)
}
"""


def test_one_cast_per_value_even_with_two_narrowed_readers() -> None:
    model, n = planned(TEXT, ranges={"a": Interval(0, 9)})
    feeds = {"a": np.arange(4, dtype=np.int64) * 3, "t": np.random.default_rng(0).standard_normal((50, 2)).astype(np.float32)}
    before = run(model, feeds)
    NarrowInt64Pass(n.plan)(model)
    result = InsertBoundaryCastsPass(n.plan)(model)
    assert result.modified
    casts = [node for node in model.graph if node.op_type == "Cast"]
    assert len(casts) == 1 and casts[0].inputs[0].name == "a"
    assert list(model.graph)[0] is casts[0]  # a graph input: the Cast goes first
    readers = {u.node.op_type + ":" + u.node.outputs[0].name for u in casts[0].outputs[0].uses()}
    assert readers == {"Add:b", "Mul:d"}
    assert next(node for node in model.graph if node.outputs[0].name == "k").inputs[0].name == "a"  # k kept: output
    onnx.checker.check_model(ir.serde.serialize_model(model), full_check=True)
    after = run(model, feeds)
    assert all(np.array_equal(x, y) for x, y in zip(before, after))
    assert after[2].dtype == np.int64  # the int64 graph output keeps its dtype
