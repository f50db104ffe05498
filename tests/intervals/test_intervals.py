"""Interval arithmetic and ONNX propagation: exact bounds, overflow visible, unknown stays unknown."""

from __future__ import annotations

import numpy as np
import onnx_ir as ir
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trtready.intervals import INT32_MAX, Interval
from trtready.intervals.onnx import propagate
from tests.intervals.helpers import propagate_and_run

ints = st.integers(-(2**40), 2**40)


@st.composite
def intervals(draw):
    a, b = draw(ints), draw(ints)
    return Interval(min(a, b), max(a, b))


@settings(max_examples=200, deadline=None)
@given(intervals(), intervals(), st.data())
def test_arithmetic_contains_every_result(a: Interval, b: Interval, data) -> None:
    x = data.draw(st.integers(a.lo, a.hi))
    y = data.draw(st.integers(b.lo, b.hi))
    for iv, v in [(a + b, x + y), (a - b, x - y), (a * b, x * y), (-a, -x), (a.abs(), abs(x)),
                  (a.min(b), min(x, y)), (a.max(b), max(x, y))]:
        assert iv.lo <= v <= iv.hi
    if b.lo > 0:
        assert a.mod(b).lo <= x % y <= a.mod(b).hi
        fd = a.floordiv(b)
        assert fd.lo <= x // y <= fd.hi
    else:
        assert a.mod(b) is None


def test_clip_and_fits() -> None:
    assert Interval(-5, 50).clip(0, 10) == Interval(0, 10)
    assert Interval(20, 30).clip(0, 10) == Interval(10, 10)
    assert Interval(0, INT32_MAX).fits_int32() and not Interval(0, INT32_MAX + 1).fits_int32()
    assert Interval(0, 2**40).worst_int32_violation() == 2**40


_run = propagate_and_run


PIPE = """
<ir_version: 10, opset_import: ["" : 20]>
g (int64[N, S] ids) => (int64[S] pos, int64[N, S] m, int64[N, S] cs, int64[N, S] dv)
<int64 zero = {0}, int64 one = {1}, int64 mult = {3}, int64 md = {7}, int64 ax = {1}, int64 two = {2}> {
  s = Shape(ids)
  seq = Gather<axis=0>(s, one)
  pos = Range(zero, seq, one)
  t = Mul(ids, mult)
  m = Mod(t, md)
  cs = CumSum(ids, ax)
  dv = Div(ids, two)
}
"""


def test_propagation_bounds_every_value_ort_computes() -> None:
    rng = np.random.default_rng(0)
    dims = {"N": Interval(1, 4), "S": Interval(1, 16)}
    ranges = {"ids": Interval(0, 99)}
    for n, s in [(1, 1), (4, 16), (2, 7)]:
        ids = rng.integers(0, 100, (n, s), dtype=np.int64)
        ivs, outs = _run(PIPE, {"ids": ids}, ranges, dims)
        for name in ("pos", "m", "cs", "dv"):
            iv = ivs[name].hull
            assert iv.lo <= outs[name].min() and outs[name].max() <= iv.hi, name
    assert ivs["seq"].hull == Interval(1, 16)  # element 1 of the shape, not the hull of both dims
    assert ivs["m"].hull == Interval(0, 6)
    assert ivs["cs"].hull == Interval(0, 99 * 16)


def test_unknown_inputs_stay_unknown_and_overflow_is_visible() -> None:
    text = """
    <ir_version: 10, opset_import: ["" : 20]>
    g (int64[4] a) => (int64[4] y, int64[4] z) <int64 k = {1024}> {
      y = Mul(a, k)
      z = Mul(y, k)
    }
    """
    model = ir.from_onnx_text(text)
    env = propagate(model.graph)
    assert all(env[v] is None for n in model.graph for v in n.outputs)
    env = propagate(model.graph, {"a": Interval(0, 65535)})
    outs = {v.name: env[v].hull for n in model.graph for v in n.outputs}
    assert outs["y"].fits_int32() and not outs["z"].fits_int32()


@pytest.mark.parametrize("op", ["Concat<axis=0>", "Where"])
def test_concat_and_where_hull(op: str) -> None:
    body = "y = Concat<axis=0>(a, b)" if op.startswith("Concat") else "y = Where(c, a, b)"
    text = f"""
    <ir_version: 10, opset_import: ["" : 20]>
    g (bool[2] c) => (int64[N] y) <int64[2] a = {{1, 5}}, int64[2] b = {{-3, 2}}> {{ {body} }}
    """
    model = ir.from_onnx_text(text)
    env = propagate(model.graph)
    y = next(v for n in model.graph for v in n.outputs)
    assert env[y].hull == Interval(-3, 5)
