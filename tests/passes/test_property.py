"""Property: on random integer graphs, the narrowed model computes exactly what the original did.

Graphs mix Add/Sub/Mul/Div/Mod/CumSum/Gather/Slice/Reshape/Expand/Where/Cast/Range/Concat over a
dynamic length N; constants, input ranges and N are drawn too. Whatever the planner decides, ONNX
Runtime must give identical integers, the checker must accept the result, and every int64-only slot
must still receive int64.
"""

from __future__ import annotations

import numpy as np
import onnx
import onnx_ir as ir
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

from tests.onnx_models import planned, run
from tests.passes.helpers import int64_only_inputs_are_int64
from trtready.intervals import Interval
from trtready.passes.onnx_model import apply_plan

I64 = TensorProto.INT64
INT64_MAX = 2**63 - 1


@st.composite
def graphs(draw):
    """(ModelProto, input range, N bound)."""
    nodes, inits = [], []
    counter = iter(range(10_000))

    def name(prefix: str) -> str:
        return f"{prefix}{next(counter)}"

    def const(values, shape=None) -> str:
        n = name("c")
        arr = np.asarray(values, dtype=np.int64)
        inits.append(numpy_helper.from_array(arr.reshape(shape) if shape is not None else arr, n))
        return n

    def node(op, ins, **attrs) -> str:
        out = name(op.lower())
        nodes.append(helper.make_node(op, ins, [out], **attrs))
        return out

    pool = ["x"]
    shape_x = node("Shape", ["x"])
    for _ in range(draw(st.integers(1, 7))):
        a = draw(st.sampled_from(pool))
        b = draw(st.sampled_from(pool))
        k = draw(st.integers(1, 2**draw(st.sampled_from([3, 12, 24, 40]))))
        op = draw(st.sampled_from(["Add", "Sub", "Mul", "Div", "Mod", "CumSum", "Gather", "Slice", "Reshape",
                                   "Expand", "Where", "Cast", "Range", "Concat"]))
        if op in ("Add", "Sub", "Mul"):
            other = b if draw(st.booleans()) else const(draw(st.integers(-k, k)))
            out = node(op, [a, other])
        elif op in ("Div", "Mod"):
            out = node(op, [a, const(k)])
        elif op == "CumSum":
            out = node("CumSum", [a, const(0)])
        elif op == "Gather":
            size = draw(st.integers(1, 9))
            table = const(draw(st.lists(st.integers(-(2**33), 2**33), min_size=size, max_size=size)))
            out = node("Gather", [table, node("Mod", [node("Abs", [a]), const(size)])])
        elif op == "Slice":
            out = node("Slice", [a, const([0]), const([INT64_MAX])])
        elif op == "Reshape":
            out = node("Reshape", [a, const([-1])])
        elif op == "Expand":
            out = node("Expand", [const(draw(st.integers(-k, k))), shape_x])
        elif op == "Where":
            out = node("Where", [node("Less", [a, const(draw(st.integers(-k, k)))]), a, b])
        elif op == "Cast":
            out = node("Cast", [node("Cast", [a], to=TensorProto.DOUBLE)], to=I64)
        elif op == "Range":
            n = node("Squeeze", [shape_x, const([0])])
            # small offsets: Range materialises every element (a 2**40-long tensor would not fit in memory)
            out = node("Range", [const(draw(st.integers(-8, 8))), node("Add", [n, const(draw(st.integers(-8, 8)))]), const(1)])
            out = node("Slice", [node("Concat", [out, a], axis=0), const([0]), shape_x])  # back to length N
        else:
            out = node("Slice", [node("Concat", [a, b], axis=0), const([0]), shape_x])
        pool.append(out)
    outputs = pool[-2:] if len(pool) > 2 else pool[-1:]
    graph = helper.make_graph(
        nodes + [helper.make_node("Identity", [o], [f"out{i}"]) for i, o in enumerate(outputs)], "g",
        [helper.make_tensor_value_info("x", I64, ["N"])],
        [helper.make_tensor_value_info(f"out{i}", I64, None) for i in range(len(outputs))],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)])
    lo = draw(st.integers(-1000, 1000))
    hi = lo + draw(st.integers(0, 2**draw(st.sampled_from([4, 16, 31]))))
    n_max = draw(st.integers(1, 12))
    return model, Interval(lo, hi), n_max


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs(), st.data())
def test_narrowed_graph_computes_the_same_integers(case, data) -> None:
    proto, rng_iv, n_max = case
    model = ir.serde.deserialize_model(proto)
    model, narrowing = planned(model, ranges={"x": rng_iv}, dynamic=[f"x:0=N[1:{n_max}]"])
    feeds_list = []
    for n in sorted({1, n_max, data.draw(st.integers(1, n_max))}):
        x = np.array(data.draw(st.lists(st.integers(rng_iv.lo, rng_iv.hi), min_size=n, max_size=n)), dtype=np.int64)
        feeds_list.append({"x": x})
    original = ir.serde.deserialize_model(ir.serde.serialize_model(model))
    before = [run(original, f) for f in feeds_list]
    event(f"narrowed values: {min(len(narrowing.narrowed_values), 3)}+")
    narrowed = apply_plan(narrowing)
    onnx.checker.check_model(ir.serde.serialize_model(narrowed), full_check=True)
    assert int64_only_inputs_are_int64(narrowed)
    for f, b in zip(feeds_list, before):
        after = run(narrowed, f)
        for x, y in zip(b, after):
            assert x.dtype == y.dtype == np.int64  # graph outputs keep their dtype
            assert np.array_equal(x, y)
