"""Keep / narrow / refuse decisions for an ONNX graph (plan.onnx_plan.plan_onnx)."""

from __future__ import annotations

import pytest

from tests.onnx_models import planned
from trtready.errors import UnsafeNarrowingError
from trtready.intervals import Interval
from trtready.plan import Action

_OUT_OF_RANGE_OUTPUT = """
<ir_version: 8, opset_import: ["" : 17]>
g (int64[2] x) => (int64[2] y) {
    k = Constant <value = int64[1] {1099511627776}> ()
    y = Add (x, k)
}
"""


def _plan(text: str, target: str, ranges: dict[str, Interval]):
    return planned(text, ranges, target=target)[1]


def test_out_of_range_graph_output_is_refused_where_int64_cannot_stay() -> None:
    """A value read by nothing but the graph's output is not a Slice bound: clamping it is not exact."""
    with pytest.raises(UnsafeNarrowingError, match=r"tensor y \(Add\): reaches 1099511627779"):
        _plan(_OUT_OF_RANGE_OUTPUT, "trt8", {"x": Interval(0, 3)})


def test_out_of_range_graph_output_is_kept_where_int64_stays() -> None:
    decisions = {d.finding: d for d in _plan(_OUT_OF_RANGE_OUTPUT, "trt-rtx", {"x": Interval(0, 3)}).decisions}
    assert decisions["onnx:y"].action is Action.KEEP
