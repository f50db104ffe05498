"""NarrowFloat64Pass: DOUBLE values, constants, Cast targets and I/O become FLOAT; unsafe ones refused."""

from __future__ import annotations

import numpy as np
import onnx_ir as ir
import pytest

from tests.onnx_models import planned, run
from trtready.errors import UnsafeNarrowingError
from trtready.passes.onnx_model import apply_plan

TEXT = """
<ir_version: 10, opset_import: ["" : 20]>
g (float[3] x) => (double[3] y)
<double[3] w = {0.1, 0.25, 3.0}> {
  d = Cast<to=11>(x)
  y = Mul(d, w)
}
"""


def test_doubles_become_floats_and_stay_close() -> None:
    model, n = planned(TEXT)
    feeds = {"x": np.array([1.0, -2.0, 3.5], dtype=np.float32)}
    before = run(model, feeds)[0]
    out = apply_plan(n)
    assert next(node for node in out.graph if node.op_type == "Cast").attributes["to"].value == ir.DataType.FLOAT
    assert out.graph.initializers["w"].const_value.dtype == ir.DataType.FLOAT
    after = run(out, feeds)[0]
    assert before.dtype == np.float64 and after.dtype == np.float32
    # float32 keeps 24 bits: relative error of one rounding of w plus one of the product (2 ulp).
    np.testing.assert_allclose(after, before, rtol=2 * 2**-24, atol=0)


def test_underflow_is_refused_unless_allowed() -> None:
    text = TEXT.replace("{0.1, 0.25, 3.0}", "{1e-50, 0.25, 3.0}")
    with pytest.raises(UnsafeNarrowingError, match="tensor w: 1 nonzero value\\(s\\) underflow"):
        planned(text)
    model, n = planned(text, allow_underflow=True)
    assert apply_plan(n).graph.initializers["w"].const_value.numpy()[0] == 0


def test_overflow_is_always_refused() -> None:
    with pytest.raises(UnsafeNarrowingError, match="beyond the float32 range"):
        planned(TEXT.replace("{0.1, 0.25, 3.0}", "{1e300, 0.25, 3.0}"), allow_underflow=True)


ROUND_TRIP = """
<ir_version: 10, opset_import: ["" : 20]>
g (int64[2] x) => (int64[2] y) {
  d = Cast<to=11>(x)
  y = Cast<to=7>(d)
}
"""


def test_doubles_carrying_large_integers_are_kept() -> None:
    from trtready.intervals import Interval
    from trtready.plan import Action

    x = np.array([16777217, 3], dtype=np.int64)  # 2**24 + 1 is not a float32
    model, n = planned(ROUND_TRIP, ranges={"x": Interval(0, 2**31)})
    assert {d.action for d in n.decisions if d.finding == "onnx:d"} == {Action.KEEP}
    before = run(model, {"x": x})[0]
    assert np.array_equal(run(apply_plan(n), {"x": x})[0], before)
    model, n = planned(ROUND_TRIP, ranges={"x": Interval(0, 2**24)})  # exact in float32: narrowed
    assert {d.action for d in n.decisions if d.finding == "onnx:d"} == {Action.NARROW}
