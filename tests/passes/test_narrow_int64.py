"""NarrowInt64Pass: planned values become int32; constants read get int32 copies; Cast retargeted;
one exact boundary Cast per int64 value read by narrowed nodes."""

from __future__ import annotations

import numpy as np
import onnx
import onnx_ir as ir

from tests.onnx_models import planned, run
from tests.passes.helpers import int64_only_inputs_are_int64
from trtready.intervals import Interval
from trtready.passes.narrow_int64 import NarrowInt64Pass

TEXT = """
<ir_version: 10, opset_import: ["" : 20]>
g (float[4, 6] x, int32[4] f, float[30, 3] t) => (float[2, 12] y, float[4, 3] z)
<int64[2] shp = {2, 12}, int64 three = {3}> {
  y = Reshape(x, shp)
  i = Cast<to=7>(f)
  j = Mul(i, three)
  k = Add(j, three)
  z = Gather(t, k)
}
"""


def _feeds() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {"x": rng.standard_normal((4, 6)).astype(np.float32),
            "f": np.array([0, 1, 7, 8], dtype=np.int32),
            "t": rng.standard_normal((30, 3)).astype(np.float32)}


def test_cast_target_constants_and_values_become_int32() -> None:
    model, n = planned(TEXT, ranges={"f": Interval(0, 8)})
    before = run(model, _feeds())
    result = NarrowInt64Pass(n)(model)
    assert result.modified
    nodes = {node.op_type: node for node in model.graph}
    assert nodes["Cast"].attributes["to"].value == ir.DataType.INT32
    assert {v.name: v.dtype for v in (nodes["Mul"].outputs[0], nodes["Add"].outputs[0])} == {
        "j": ir.DataType.INT32, "k": ir.DataType.INT32}
    mul_const = nodes["Mul"].inputs[1]
    assert mul_const.name == "three_int32" and mul_const.const_value.dtype == ir.DataType.INT32
    assert nodes["Add"].inputs[1] is mul_const  # one int32 copy, shared by every narrowed reader
    assert nodes["Reshape"].inputs[1].name == "shp" and int64_only_inputs_are_int64(model)
    after = run(model, _feeds())
    assert all(np.array_equal(a, b) for a, b in zip(before, after))


def test_nothing_planned_means_not_modified() -> None:
    text = """
    <ir_version: 10, opset_import: ["" : 20]>
    g (int64[4] a) => (int64[4] b) <int64 one = {1}> { b = Add(a, one) }
    """
    model, n = planned(text)
    assert not NarrowInt64Pass(n)(model).modified


def test_constant_of_shape_fill_is_retargeted() -> None:
    text = """
    <ir_version: 10, opset_import: ["" : 20]>
    g (float[N, 3] x, float[10, 2] t) => (float[N, 2] y)
    <int64 one = {1}> {
      s = Shape<end=1>(x)
      z = ConstantOfShape<value=int64[1] {4}>(s)
      i = Add(z, one)
      y = Gather(t, i)
    }
    """
    model, n = planned(text, dynamic=["x:0=N[1:8]"])
    rng = np.random.default_rng(1)
    feeds = {"x": rng.standard_normal((5, 3)).astype(np.float32), "t": rng.standard_normal((10, 2)).astype(np.float32)}
    before = run(model, feeds)
    NarrowInt64Pass(n)(model)
    cos = next(node for node in model.graph if node.op_type == "ConstantOfShape")
    assert cos.attributes["value"].value.dtype == ir.DataType.INT32
    assert cos.inputs[0].dtype == ir.DataType.INT64  # its shape input is int64-only
    assert np.array_equal(before[0], run(model, feeds)[0])


def test_input_range_lets_index_math_on_an_input_narrow() -> None:
    text = """
    <ir_version: 10, opset_import: ["" : 20]>
    g (int64[4] a, float[40, 2] t) => (float[4, 2] y) <int64 two = {2}, int64 one = {1}> {
      b = Mul(a, two)
      c = Add(b, one)
      y = Gather(t, c)
    }
    """
    model, n = planned(text, ranges={"a": Interval(0, 19)})
    assert {v.name for v in n.narrowed_values} == {"b", "c"}


CASTS = """
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
    model, n = planned(CASTS, ranges={"a": Interval(0, 9)})
    feeds = {"a": np.arange(4, dtype=np.int64) * 3, "t": np.random.default_rng(0).standard_normal((50, 2)).astype(np.float32)}
    before = run(model, feeds)
    result = NarrowInt64Pass(n)(model)
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


IO_EDGE = """
<ir_version: 10, opset_import: ["" : 20]>
g (float[N, 4] x, int64[N, 1] rows, int64[1] k) => (int64[N] best, float[N, 1] picked, float[N, K] top)
<int64 one = {1}> {
  best = ArgMax<axis=1, keepdims=0>(x)
  picked = GatherElements<axis=1>(x, rows)
  top, where = TopK<axis=1>(x, k)
}
"""


def test_io_int32_gives_int32_bindings_with_one_cast_at_the_edge() -> None:
    """ArgMax's output is int64 by the spec: an INT32 binding with one Cast at the edge, where TensorRT's
    parser ends ArgMax with a Cast anyway. TopK's K is int64 by the spec too, but an INT32 input would
    need a Cast up at once: one more Cast layer, the same INT64 tensor behind it — it stays INT64."""
    ranges = {"rows": Interval(0, 3), "k": Interval(1, 4)}
    model, plan = planned(IO_EDGE, ranges=ranges, dynamic=["x:0=n[1:8]"], io_int32=True)
    assert [v.name for v in plan.output_casts] == ["best"] and plan.input_casts == []
    kept = {d.finding: d for d in plan.decisions}["onnx:k"]
    assert kept.action.value == "keep" and "would only add a Cast up" in kept.reason
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    rows = np.array([[0], [3], [1], [2], [3]], dtype=np.int64)
    k = np.array([3], dtype=np.int64)
    want = run(ir.from_onnx_text(IO_EDGE), {"x": x, "rows": rows, "k": k})
    NarrowInt64Pass(plan)(model)
    assert [(v.name, v.dtype) for v in model.graph.outputs] == [
        ("best", ir.DataType.INT32), ("picked", ir.DataType.FLOAT), ("top", ir.DataType.FLOAT)]
    assert [v.dtype for v in model.graph.inputs[1:]] == [ir.DataType.INT32, ir.DataType.INT64]
    got = run(model, {"x": x, "rows": rows.astype(np.int32), "k": k})
    assert got[0].dtype == np.int32 and all(np.array_equal(g, w) for g, w in zip(got, want))
    assert int64_only_inputs_are_int64(model)
