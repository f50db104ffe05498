"""Interval rules for the patterns transformers export: bools and their casts, float math on proved
ranges, comparisons folded to constants, and Where branches guarded by their condition.

Every rule is checked against ONNX Runtime: each value ORT computes must lie in the interval the
propagation gives (the property that makes a narrowing sound), and the interval is the one expected.
"""

from __future__ import annotations

import numpy as np
import onnx_ir as ir
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trtready.intervals import Interval
from trtready.intervals.onnx import Guards, propagate
from trtready.load.onnx_file import infer_shapes
from tests.intervals.helpers import propagate_and_run


_run = propagate_and_run


def _within(iv: Interval, values: np.ndarray) -> bool:
    return bool(iv.lo <= values.min() and values.max() <= iv.hi)


# RoBERTa's positions: cumsum over the tokens that are not padding, offset by the pad id.
ROBERTA = """
<ir_version: 10, opset_import: ["" : 20]>
g (int64[N, S] ids) => (int64[N, S] pos, bool[N, S] keep)
<int64 pad = {1}, int64 ax = {1}> {
  eq = Equal(ids, pad)
  keep = Not(eq)
  m = Cast<to=7>(keep)
  cs = CumSum(m, ax)
  masked = Mul(cs, m)
  pos = Add(masked, pad)
}
"""


def test_a_cast_from_bool_is_0_or_1_and_roberta_positions_are_bounded() -> None:
    rng = np.random.default_rng(0)
    dims = {"N": Interval(1, 4), "S": Interval(1, 64)}
    for n, s in [(1, 1), (4, 64), (3, 17)]:
        ids = rng.integers(0, 50, (n, s), dtype=np.int64)
        ids[:, s // 2:] = 1  # right padding with the pad id
        ivs, outs = _run(ROBERTA, {"ids": ids}, None, dims)  # ids themselves unknown
        assert _within(ivs["pos"].hull, outs["pos"])
    assert ivs["m"].hull == Interval(0, 1)
    assert ivs["cs"].hull == Interval(0, 64)
    assert ivs["pos"].hull == Interval(1, 65)  # the table RoBERTa reads has MAX_POS + 2 rows


def test_a_cast_from_a_bool_graph_input_is_0_or_1() -> None:
    text = """
    <ir_version: 10, opset_import: ["" : 20]>
    g (bool[N, S] mask) => (int64[N, S] y) { y = Cast<to=7>(mask) }
    """
    ivs, outs = _run(text, {"mask": np.array([[True, False]])})
    assert ivs["y"].hull == Interval(0, 1) and _within(ivs["y"].hull, outs["y"])


@pytest.mark.parametrize("op, expect", [("GreaterOrEqual(pos, zero)", 1), ("Less(pos, limit)", 1),
                                        ("Less(pos, zero)", 0), ("Equal(pos, big)", 0)])
def test_comparisons_on_proved_ranges_fold_to_constants(op: str, expect: int) -> None:
    text = f"""
    <ir_version: 10, opset_import: ["" : 20]>
    g (int64[N, S] ids) => (bool[S] c)
    <int64 zero = {{0}}, int64 one = {{1}}, int64 limit = {{64}}, int64 big = {{1000}}> {{
      s = Shape(ids)
      seq = Gather<axis=0>(s, one)
      pos = Range(zero, seq, one)
      c = {op}
    }}
    """
    dims = {"S": Interval(1, 64)}
    ivs, outs = _run(text, {"ids": np.zeros((2, 9), dtype=np.int64)}, None, dims)
    assert ivs["c"].hull == Interval.point(expect)
    assert (outs["c"] == bool(expect)).all()


def test_an_undecided_comparison_is_still_a_bool() -> None:
    text = """
    <ir_version: 10, opset_import: ["" : 20]>
    g (int64[4] a) => (bool[4] c) <int64 k = {3}> { c = Less(a, k) }
    """
    ivs, _ = _run(text, {"a": np.arange(4, dtype=np.int64)})
    assert ivs["c"].hull == Interval(0, 1)
    ivs, _ = _run(text, {"a": np.arange(4, dtype=np.int64)}, {"a": Interval(0, 3)})
    assert ivs["c"].hull == Interval(0, 1)  # 0..2 are below 3, 3 is not


floats = st.floats(-50, 50, allow_nan=False, allow_infinity=False, width=32)


@st.composite
def float_ranges(draw, lo=-50.0):
    a, b = draw(st.floats(lo, 50, width=32)), draw(st.floats(lo, 50, width=32))
    return min(a, b), max(a, b)


UNARY = {
    "Log": 0.0, "Exp": -50.0, "Sqrt": 0.0, "Floor": -50.0, "Ceil": -50.0, "Reciprocal": 0.5,
}


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(sorted(UNARY)), st.data())
def test_float_functions_contain_every_value_ort_computes(op: str, data) -> None:
    lo, hi = data.draw(float_ranges(UNARY[op]))
    x = np.array(sorted({lo, hi, (lo + hi) / 2, *data.draw(st.lists(st.floats(lo, hi, width=32), max_size=8))}),
                 dtype=np.float32)
    text = f"""
    <ir_version: 10, opset_import: ["" : 20]>
    g (float[K] x) => (float[K] y) {{ y = {op}(x) }}
    """
    ivs, outs = _run(text, {"x": x}, {"x": Interval(float(lo), float(hi))})
    iv = ivs["y"].hull
    y = outs["y"].astype(np.float64)
    assert np.all((iv.lo <= y) & (y <= iv.hi)), (op, lo, hi, iv, y)


@settings(max_examples=60, deadline=None)
@given(float_ranges(), float_ranges(), st.sampled_from([-2.0, 0.5, 1.0, 3.0]), st.data())
def test_div_and_pow_contain_every_value_ort_computes(a, b, p, data) -> None:
    text = """
    <ir_version: 10, opset_import: ["" : 20]>
    g (float[K] x, float[K] d) => (float[K] q, float[K] y) <float[1] p = {P}> {
      q = Div(x, d)
      ax = Abs(x)
      y = Pow(ax, p)
    }
    """.replace("{P}", "{" + repr(p) + "}")
    x = np.array([a[0], a[1], (a[0] + a[1]) / 2], dtype=np.float32)
    d = np.array([b[0], b[1], (b[0] + b[1]) / 2], dtype=np.float32)
    ivs, outs = _run(text, {"x": x, "d": d}, {"x": Interval(float(a[0]), float(a[1])), "d": Interval(float(b[0]), float(b[1]))})
    q = ivs["q"]
    if b[0] <= 0 <= b[1]:
        assert q is None  # a divisor that may be zero proves nothing
    else:
        assert _within(q.hull, outs["q"].astype(np.float64))
    y = ivs["y"]
    if p < 0 and min(abs(a[0]), abs(a[1])) == 0 or (p < 0 and a[0] <= 0 <= a[1]):
        assert y is None
    else:
        assert y is not None and _within(y.hull, outs["y"].astype(np.float64))


# T5's relative-position buckets (bidirectional=False half): exact for small distances, log-spaced
# beyond; log(0) = -inf at distance 0 is computed and thrown away by the Where.
T5 = """
<ir_version: 10, opset_import: ["" : 20]>
g (int64[N] rel) => (int64[N] bucket, int64[N] large)
<int64 exact = {4}, float fexact = {4.0}, float scale = {1.9235933878}, int64 nb1 = {7}> {
  small = Less(rel, exact)
  f = Cast<to=1>(rel)
  r = Div(f, fexact)
  l = Log(r)
  s = Mul(l, scale)
  i = Cast<to=7>(s)
  big = Add(exact, i)
  large = Min(big, nb1)
  bucket = Where(small, rel, large)
}
"""


def test_where_ignores_the_side_its_condition_discards() -> None:
    rel = np.arange(0, 32, dtype=np.int64)
    ivs, outs = _run(T5, {"rel": rel}, {"rel": Interval(0, 31)})
    assert ivs["large"] is None  # alone, the large branch reads log(0) = -inf at distance 0
    assert ivs["bucket"].hull == Interval(0, 7)
    assert _within(ivs["bucket"].hull, outs["bucket"])


def test_a_guard_through_a_non_elementwise_op_is_not_trusted() -> None:
    # the condition reads x, but the branch reads x reversed: positions differ, no refinement
    text = """
    <ir_version: 10, opset_import: ["" : 20]>
    g (int64[4] x) => (int64[4] y) <int64 k = {2}, int64[1] starts = {-1}, int64[1] ends = {-9223372036854775807},
                                      int64[1] axes = {0}, int64[1] steps = {-1}> {
      c = Less(x, k)
      rev = Slice(x, starts, ends, axes, steps)
      y = Where(c, k, rev)
    }
    """
    x = np.array([0, 1, 2, 3], dtype=np.int64)
    ivs, outs = _run(text, {"x": x}, {"x": Interval(0, 3)})
    assert ivs["y"].hull == Interval(0, 3)  # rev may hold 0 where x >= 2
    assert _within(ivs["y"].hull, outs["y"]) and outs["y"].min() == 0


# T5's bucket whose large branch is read by the Where alone: every element of the log branch that is read
# is read where rel >= exact, so the branch's int64 values are bounded there (the -inf of log(0) at
# distance 0 is cast and thrown away).
T5_INNER = T5.replace("(int64[N] bucket, int64[N] large)", "(int64[N] bucket)")


def _guards(text: str, inputs: dict[str, Interval]) -> dict[str, Interval]:
    """Each value read only where a guarded Where takes it, by name, with its interval there."""
    model = ir.from_onnx_text(text)
    infer_shapes(model)
    guards = Guards()
    propagate(model.graph, inputs, None, guards)
    return {v.name or "": iv for v, iv in guards.read_where_taken.items()}


def test_values_read_only_where_a_where_takes_them_are_bounded_there() -> None:
    read = _guards(T5_INNER, {"rel": Interval(0, 31)})
    assert read["i"] == Interval(0, 3) and read["big"] == Interval(4, 7) and read["large"] == Interval(4, 7)
    # Every element the Where reads lies there: run with the intermediates exposed as outputs (which would
    # disqualify them from the analysis, so the probe is a copy) and look where rel >= exact.
    probe = T5_INNER.replace("(int64[N] bucket)", "(int64[N] bucket, int64[N] i, int64[N] big, int64[N] large)")
    rel = np.arange(0, 32, dtype=np.int64)
    _, outs = _run(probe, {"rel": rel}, {"rel": Interval(0, 31)})
    taken = rel >= 4
    for name in ("i", "big", "large"):
        assert _within(read[name], outs[name][taken])
    assert not _within(read["i"], outs["i"]), "the discarded elements (log(0) cast) really are outside"


def test_a_value_also_read_elsewhere_is_not_bounded_by_the_where() -> None:
    # large is a graph output: all its elements are read, so neither it nor what it is computed from qualifies.
    read = _guards(T5, {"rel": Interval(0, 31)})
    assert not {"i", "big", "large"} & set(read)
    # big read by a second node outside the Where's cone: big and i are read everywhere.
    text = T5_INNER.replace("(int64[N] bucket)", "(int64[N] bucket, bool[N] pos)").replace(
        "  bucket = Where", "  pos = Greater(big, exact)\n  bucket = Where")
    read = _guards(text, {"rel": Interval(0, 31)})
    assert "large" in read and not {"i", "big"} & set(read)


def test_an_integer_division_on_the_way_stops_the_where_bound() -> None:
    # An integer Div or Mod on the way is not followed: a divisor wrapped to 0 where the Where discards it
    # would trap (here the divisor is a constant; the rule does not look).
    text = T5_INNER.replace("  large = Min(big, nb1)", "  half = Div(big, exact)\n  large = Min(half, nb1)")
    read = _guards(text, {"rel": Interval(0, 31)})
    assert "large" in read and "half" in read and not {"i", "big"} & set(read)
