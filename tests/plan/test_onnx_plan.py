"""The int32/int64 partition of ONNX graphs: what is narrowed, what is kept, and why."""

from __future__ import annotations

import onnx_ir as ir
import pytest

from tests.onnx_models import planned, run
from trtready.errors import UnsafeNarrowingError
from trtready.intervals import Interval
from trtready.plan import Action


def _plan(text: str, target: str = "trt-rtx", ranges=None, dynamic=None, **opts):
    model, n = planned(text, ranges, dynamic, target, **opts)
    return model, {d.finding.removeprefix("onnx:"): d for d in n.decisions}


OVERFLOW = """
<ir_version: 10, opset_import: ["" : 20]>
g (int64[4] a, float[10, 2] t) => (float[4, 2] y)
<int64 k = {65536}, int64 m = {5}> {
  s = Mul(a, k)
  big = Mul(s, k)
  idx = Mod(big, m)
  small = Mul(a, m)
  small2 = Add(small, m)
  y0 = Gather(t, small2)
  y = Add(y0, Gather(t, idx))
}
"""


def test_constants_fit_but_intermediate_mul_overflows_keeps_int64() -> None:
    text = OVERFLOW.replace("  y = Add(y0, Gather(t, idx))\n", "  y1 = Gather(t, idx)\n  y = Add(y0, y1)\n")
    _, d = _plan(text, ranges={"a": Interval(0, 1)})
    assert d["s"].action is Action.KEEP  # s itself fits, but it is needed in int64 to compute big
    assert d["big"].action is Action.KEEP and "4294967296" in d["big"].reason
    assert d["idx"].action is Action.KEEP  # computed from big, which does not fit
    assert d["small"].action is Action.NARROW and d["small2"].action is Action.NARROW
    assert "Cast from int64: a" in d["small"].reason  # one Cast buys two int32 values


def test_one_cast_for_one_value_is_not_worth_it() -> None:
    text = """
    <ir_version: 10, opset_import: ["" : 20]>
    g (int64[4] a) => (float[4] y) <int64 m = {2}> {
      i = Mul(a, m)
      y = Cast<to=1>(i)
    }
    """
    _, d = _plan(text, ranges={"a": Interval(0, 4)})
    assert d["i"].action is Action.KEEP and "would need 1 Casts to narrow 1" in d["i"].reason


def test_one_cast_for_one_value_read_by_a_gather_moves_the_parsers_cast() -> None:
    """TensorRT's parser casts a Gather's int64 indices to INT32 itself: narrowed, the Cast sits before
    the Mul instead, and the Mul and its constant are no longer INT64 execution tensors."""
    text = """
    <ir_version: 10, opset_import: ["" : 20]>
    g (int64[4] a, float[10, 2] t) => (float[4, 2] y) <int64 m = {2}> {
      i = Mul(a, m)
      y = Gather(t, i)
    }
    """
    _, d = _plan(text, ranges={"a": Interval(0, 4)})
    assert d["i"].action is Action.NARROW and "Cast from int64: a" in d["i"].reason


def test_trt8_refuses_what_it_would_clamp_and_names_it() -> None:
    text = OVERFLOW.replace("  y = Add(y0, Gather(t, idx))\n", "  y1 = Gather(t, idx)\n  y = Add(y0, y1)\n")
    with pytest.raises(UnsafeNarrowingError, match=r"tensor big \(Mul\): reaches 4294967296, outside int32; trt8 cannot hold int64"):
        _plan(text, target="trt8", ranges={"a": Interval(0, 1)})


def test_int64_only_slot_keeps_its_chain_and_shared_constant_is_split() -> None:
    text = """
    <ir_version: 10, opset_import: ["" : 20]>
    g (float[N, 6] x, float[8, 3] t) => (float[N, 2, 3] y, float[N, 3] z)
    <int64[3] shp = {-1, 2, 3}, int64 one = {1}> {
      y = Reshape(x, shp)
      s = Shape(x)
      n = Gather<axis=0>(s, one)
      i = Sub(n, one)
      z = Gather(t, i)
    }
    """
    model, d = _plan(text)  # N unbounded: casting the shape vector down is not provably exact
    assert d["n"].action is Action.KEEP and d["i"].action is Action.KEEP
    model, d = _plan(text, dynamic=["x:0=N[1:16]"])
    assert d["s"].action is Action.KEEP and "Shape output 0" in d["s"].reason
    # the Shape reader keeps int64 (see the Range test below); i alone would cost one Cast for one value
    assert d["n"].action is Action.KEEP and "Cast to int32 goes after it" in d["n"].reason
    assert d["i"].action is Action.KEEP and "would need 1 Casts to narrow 1 value(s)" in d["i"].reason
    reshape = next(node for node in model.graph if node.op_type == "Reshape")
    assert reshape.inputs[1].name == "shp"  # the Reshape keeps the original int64 constant


def test_graph_io_keeps_dtype_unless_io_int32() -> None:
    text = """
    <ir_version: 10, opset_import: ["" : 20]>
    g (int64[4] a) => (int64[4] b) <int64 one = {1}> { b = Add(a, one) }
    """
    _, d = _plan(text, ranges={"a": Interval(0, 10)})
    assert d["a"].action is Action.KEEP and d["b"].action is Action.KEEP
    _, d = _plan(text, ranges={"a": Interval(0, 10)}, io_int32=True)
    assert d["a"].action is Action.NARROW and d["b"].action is Action.NARROW
    with pytest.raises(UnsafeNarrowingError, match="--io int32"):
        _plan(text, io_int32=True)  # no range for a: forcing it is refused


def test_strict_refuses_unproved_values_on_any_target() -> None:
    text = """
    <ir_version: 10, opset_import: ["" : 20]>
    g (int64[4] a) => (float[4] f) <int64 one = {1}> {
      b = Add(a, one)
      f = Cast<to=1>(b)
    }
    """
    _, d = _plan(text)
    assert d["b"].action is Action.KEEP and "not proved" in d["b"].reason
    with pytest.raises(UnsafeNarrowingError, match="tensor a .*--strict"):
        _plan(text, strict=True)


def test_int64_max_as_slice_end_is_the_one_exact_clamp() -> None:
    text = """
    <ir_version: 10, opset_import: ["" : 20]>
    g (float[N, 8] x, int64[N] i) => (float[N, 6] y, int64[N] m)
    <int64[1] st = {2}, int64[1] ax = {1}, int64[1] en = {9223372036854775807}, int64 big = {9223372036854775807}> {
      y = Slice(x, st, en, ax)
      m = Min(i, big)
    }
    """
    _plan(text.replace("      m = Min(i, big)\n", "      m = Identity(i)\n"), target="trt8", ranges={"i": Interval(0, 9)})
    with pytest.raises(UnsafeNarrowingError, match="constant big .*Min.*trt8 would clamp it"):
        _plan(text, target="trt8", ranges={"i": Interval(0, 9)})
    _plan(text, target="trt-rtx", ranges={"i": Interval(0, 9)})  # native int64: kept, not refused


BITCAST = """
<ir_version: 10, opset_import: ["" : 26]>
g (double[3] x) => (int64[3] z)
<int64 one = {1}> {
  b = BitCast<to=7>(x)
  z = Add(b, one)
}
"""


def test_bitcast_keeps_both_sides_at_their_width() -> None:
    _, d = _plan(BITCAST, ranges={})
    assert d["x"].action is Action.KEEP and "reinterprets the bits" in d["x"].reason
    assert d["b"].action is Action.KEEP and "reinterprets the bits" in d["b"].reason


TREE_LIKE = """
<ir_version: 10, opset_import: ["" : 20, "ai.onnx.ml" : 5]>
g (double[2, 3] x) => (double[2, 1] y) {
  y = ai.onnx.ml.TreeEnsemble<aggregate_function=1, nodes_featureids=[0], nodes_modes=int64[1] {0},
      nodes_splits=double[1] {0.5}, nodes_truenodeids=[0], nodes_falsenodeids=[1], nodes_trueleafs=[1],
      nodes_falseleafs=[1], leaf_targetids=[0, 0], leaf_weights=double[2] {1.0, 2.0}, tree_roots=[0],
      n_targets=1, post_transform=0>(x)
}
"""


def test_float64_tied_to_a_double_attribute_stays_float64() -> None:
    model, d = _plan(TREE_LIKE)
    assert d["x"].action is Action.KEEP and "nodes_splits" in d["x"].reason or "leaf_weights" in d["x"].reason


SHAPE_RANGE = """
<ir_version: 10, opset_import: ["" : 20]>
g (float[3, N] x) => (int64[N] r)
<int64 one = {1}, int64 zero = {0}, int64 i = {1}> {
  s = Shape(x)
  n = Gather(s, i)
  r0 = Range(zero, n, one)
  r = Identity(r0)
}
"""


def test_shape_reader_stays_int64_so_onnx_runtime_can_load_the_range() -> None:
    """ONNX Runtime 1.32 mis-types Cast(Shape) in shape propagation; the Cast must follow the Gather."""
    import numpy as np

    from trtready.passes.onnx_model import apply_plan

    model = ir.from_onnx_text(SHAPE_RANGE.replace("r = Identity(r0)", "r1 = Mul(r0, one)\n  r = Identity(r1)"))
    _, n = planned(model, dynamic=["x:1=N[1:64]"])
    d = {x.finding.removeprefix("onnx:"): x for x in n.decisions}
    assert d["n"].action is Action.KEEP and "Cast to int32 goes after it" in d["n"].reason
    out = apply_plan(n)
    assert run(out, {"x": np.zeros((3, 5), np.float32)})[0].tolist() == [0, 1, 2, 3, 4]


def test_a_link_with_an_untyped_value_is_not_narrowed() -> None:
    model = ir.from_onnx_text("""
<ir_version: 10, opset_import: ["" : 20]>
g (int64[3] a, float[8, 2] t) => (float[3, 2] y)
<int64 k = {2}> {
  b = Add(a, k)
  y = Gather(t, b)
}
""")
    from trtready.load.onnx_file import infer_shapes

    infer_shapes(model)
    model.graph.inputs[0].dtype = None  # as shape inference leaves a value it cannot type
    _, n = planned(model, {"a": Interval(0, 3)})
    d = {x.finding.removeprefix("onnx:"): x for x in n.decisions}
    assert d["b"].action is Action.KEEP and "untyped" in d["b"].reason


def test_a_constant_gather_index_gets_an_int32_copy_shared_uses_keep_theirs() -> None:
    import numpy as np

    from trtready.passes.onnx_model import apply_plan

    text = """
    <ir_version: 10, opset_import: ["" : 20]>
    g (float[N, S, 4] h, int64[N, S] ids) => (float[N, 4] first, int64[N, S] shifted)
    <int64 zero = {0}> {
      first = Gather<axis=1>(h, zero)
      shifted = Add(ids, zero)
    }
    """
    _, plan = planned(text, {"ids": Interval(0, 99)})
    (link,) = plan.const_links
    assert link.node.op_type == "Gather" and [c.name for _, c in link.consts] == ["zero"]
    h = np.random.default_rng(0).standard_normal((2, 3, 4)).astype(np.float32)
    ids = np.arange(6, dtype=np.int64).reshape(2, 3)
    model = apply_plan(plan)
    gather = next(n for n in model.graph if n.op_type == "Gather")
    add = next(n for n in model.graph if n.op_type == "Add")
    assert gather.inputs[1].dtype == ir.DataType.INT32 and add.inputs[1].dtype == ir.DataType.INT64
    first, shifted = run(model, {"h": h, "ids": ids})
    assert np.array_equal(first, h[:, 0]) and np.array_equal(shifted, ids)


# MPNet's and T5's relative-position buckets: the large branch reads log(0) = -inf at distance 0, where
# the Where takes the small branch instead.
BUCKETS = """
<ir_version: 10, opset_import: ["" : 20]>
g (float[S, 4] h, float[8, 2] table) => (float[S, S, 2] y)
<int64 zero = {0}, int64 one = {1}, int64[1] ax0 = {0}, int64[1] ax1 = {1}, int64 exact = {4},
 float fexact = {4.0}, float scale = {1.9235933878}, int64 nb1 = {7}> {
  s = Shape<start=0, end=1>(h)
  n = Squeeze(s)
  r = Range(zero, n, one)
  q = Unsqueeze(r, ax1)
  k = Unsqueeze(r, ax0)
  d = Sub(k, q)
  rel = Abs(d)
  small = Less(rel, exact)
  f = Cast<to=1>(rel)
  fr = Div(f, fexact)
  l = Log(fr)
  sc = Mul(l, scale)
  i = Cast<to=7>(sc)
  big = Add(exact, i)
  large = Min(big, nb1)
  bucket = Where(small, rel, large)
  y = Gather(table, bucket)
}
"""


def test_a_where_branch_that_fits_where_taken_is_cast_down_exactly() -> None:
    import numpy as np

    from trtready.passes.onnx_model import apply_plan

    model = ir.from_onnx_text(BUCKETS)
    _, plan = planned(model, dynamic=["h:0=S[1:32]"])
    decisions = {d.finding.removeprefix("onnx:"): d for d in plan.decisions}
    assert decisions["bucket"].action is Action.NARROW and decisions["rel"].action is Action.NARROW
    # Unbounded alone (log(0) at distance 0), but read only where the Where takes it: narrowed there too,
    # down to the float Cast, which now casts to int32.
    for name in ("i", "big", "large"):
        assert decisions[name].action is Action.NARROW, decisions[name].reason
    assert "[4, 7] wherever read: a Where discards its other elements" in decisions["large"].reason

    def at(m: ir.Model, length: int) -> np.ndarray:
        h = np.zeros((length, 4), dtype=np.float32)
        return run(m, {"h": h, "table": np.arange(16, dtype=np.float32).reshape(8, 2)})[0]

    want = {n: at(ir.from_onnx_text(BUCKETS), n) for n in (1, 5, 32)}
    narrowed = apply_plan(plan)
    bucket = next(n for n in narrowed.graph if n.op_type == "Where").outputs[0]
    assert bucket.dtype == ir.DataType.INT32
    int64 = [v.name for n in narrowed.graph for v in n.outputs if v.dtype == ir.DataType.INT64]
    # The shape read and the Range over it: narrowed, the Range would add a Cast this graph does not pay
    # for (the plan's Cast balance), so one Cast of r enters the int32 region.
    assert int64 == ["s", "n", "r"]
    for n, w in want.items():
        assert np.array_equal(at(narrowed, n), w)


def test_a_log_branch_read_elsewhere_too_stays_int64() -> None:
    # The large branch also reaches a graph output: its elements at distance 0 are read there, so the
    # float Cast and what follows stay int64, and the Where reads one Cast of the branch.
    text = BUCKETS.replace("=> (float[S, S, 2] y)", "=> (float[S, S, 2] y, bool[S, S] far)").replace(
        "  bucket = Where", "  far = Greater(big, exact)\n  bucket = Where")
    _, d = _plan(text, dynamic=["h:0=S[1:32]"])
    assert d["i"].action is Action.KEEP and d["big"].action is Action.KEEP
    assert d["large"].action is Action.KEEP and d["bucket"].action is Action.NARROW


EDGE = """
<ir_version: 10, opset_import: ["" : 20]>
g (int64[N, S] ids, float[8, 2] t) => (float[N, S, 2] y, bool[N, S] pad, float[M, 2] z)
<int64 one = {1}, int64[1] flat = {-1}> {
  y = Gather<axis=0>(t, ids)
  pad = Equal(ids, one)
  v = Reshape(ids, flat)
  z = Gather<axis=0>(t, v)
}
"""


def test_readers_of_a_kept_input_share_one_cast_where_a_gather_pays_for_it() -> None:
    """--io keep: ids stays INT64. TensorRT casts a Gather's int64 indices to INT32 itself, so one Cast
    of ids for its readers costs no Cast layer; the Equal's int64 constant leaves the network, and
    the reshaped view is narrowed though it needs that Cast (the Gather reading it pays)."""
    model, decisions = _plan(EDGE, ranges={"ids": Interval(0, 7)})
    assert decisions["ids"].action is Action.KEEP
    assert decisions["v"].action is Action.NARROW
    from trtready.passes.onnx_model import apply_plan

    fresh = ir.from_onnx_text(EDGE)
    before = ir.from_onnx_text(EDGE)
    _, p = planned(fresh, {"ids": Interval(0, 7)})
    after = apply_plan(p)
    casts = [n for n in after.graph if n.op_type == "Cast"]
    assert len(casts) == 1 and casts[0].inputs[0].name == "ids"  # one Cast, shared
    equal = next(n for n in after.graph if n.op_type == "Equal")
    assert equal.inputs[1].dtype == ir.DataType.INT32  # its constant is an int32 copy
    import numpy as np

    feeds = {"ids": np.array([[0, 1, 7], [2, 1, 3]], dtype=np.int64),
             "t": np.arange(16, dtype=np.float32).reshape(8, 2)}
    assert all(np.array_equal(a, b) for a, b in zip(run(before, feeds), run(after, feeds)))


def test_a_comparison_alone_does_not_pay_for_a_cast() -> None:
    text = EDGE.replace("  y = Gather<axis=0>(t, ids)\n", "").replace("  z = Gather<axis=0>(t, v)\n", "  z = Cast<to=1>(v)\n")
    text = text.replace("float[N, S, 2] y, ", "").replace("float[M, 2] z", "float[M] z")
    model, decisions = _plan(text, ranges={"ids": Interval(0, 7)})
    assert decisions["v"].action is Action.KEEP and "would need 1 Casts" in decisions["v"].reason


# Swin's window partition: the indices of the Gather an as_strided becomes, Range(0, batch, 1) * stride
# + offsets, read from the batch size (a shape value).
WINDOWS = """
<ir_version: 10, opset_import: ["" : 20]>
g (float[B, 4] x, float[64] t) => (float[B, 4] y)
<int64 zero = {0}, int64 one = {1}, int64 stride = {4}, int64[1, 4] offsets = {0, 1, 2, 3}, int64[1] ax1 = {1}> {
  s = Shape<start=0, end=1>(x)
  n = Squeeze(s)
  r = Range(zero, n, one)
  m = Mul(r, stride)
  u = Unsqueeze(m, ax1)
  idx = Add(u, offsets)
  y = Gather(t, idx)
}
"""


def test_a_range_over_a_shape_value_stays_int64_when_the_plan_would_add_casts(tmp_path) -> None:
    """Narrowed whole, the window indices would cost the batch size's Cast and the parser's Cast of the
    int32 Range's size back, for the one Gather index Cast they move: one Cast layer more. The Range
    stays int64 and the rest reads one Cast after it, measured in TensorRT-RTX's parsed network."""
    import numpy as np

    from trtready.engine.network import inspect_network
    from trtready.load.onnx_file import infer_shapes
    from trtready.passes.onnx_model import apply_plan
    from trtready.plan.onnx_plan import parser_casts

    dynamic = ["x:0=B[1:16]"]
    model, plan = planned(WINDOWS, dynamic=dynamic)
    d = {x.finding.removeprefix("onnx:"): x for x in plan.decisions}
    assert d["r"].action is Action.KEEP
    assert d["r"].reason.startswith("Range over the shape value n:") and "add 1 Cast layer(s) more" in d["r"].reason
    for name in ("m", "u", "idx"):
        assert d[name].action is Action.NARROW and d[name].reason.endswith("Cast from int64: r"), d[name].reason

    # With one Cast removed earlier by the plan's rewrites, the Range may spend it: narrowed from the size.
    _, spent = planned(WINDOWS, dynamic=dynamic, cast_credit=1)
    d1 = {x.finding.removeprefix("onnx:"): x for x in spent.decisions}
    assert d1["r"].action is Action.NARROW and d1["r"].reason.endswith("Cast from int64: n")

    original = ir.from_onnx_text(WINDOWS)
    infer_shapes(original)  # as the planner sees a graph: typed
    narrowed, spent_model = apply_plan(plan), apply_plan(spent)

    t = np.arange(64, dtype=np.float32) * 0.5
    for batch in (1, 3, 16):
        x = np.zeros((batch, 4), np.float32)
        assert np.array_equal(run(narrowed, {"x": x, "t": t})[0], run(original, {"x": x, "t": t})[0])

    views = {}
    for key, m in (("before", original), ("after", narrowed), ("spent", spent_model)):
        ir.save(m, str(tmp_path / f"{key}.onnx"))
        views[key] = inspect_network(tmp_path / f"{key}.onnx")
    before, after, spent_view = views["before"], views["after"], views["spent"]
    assert after.cast_layers == before.cast_layers and spent_view.cast_layers == before.cast_layers + 1
    assert len(after.int64_execution) < len(before.int64_execution)
    # The planner's count of the parser's Casts is the parsed network's on this graph: the Gather's index
    # Cast, or the Cast after the Range, or the size's; and the Range's helper Casts (measured, 4 or 5).
    for key, m in (("before", original), ("after", narrowed), ("spent", spent_model)):
        assert parser_casts(m.graph) == views[key].cast_layers, key
    assert after.int64_shape <= before.int64_shape
