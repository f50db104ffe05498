"""Fuzz: mutated ONNX models through load + audit + fix raise only the project's own errors.

CI runs a bounded number of cases; ``TRTREADY_FUZZ_CASES=10000`` runs a long campaign (docs/hardening.md).
"""

from __future__ import annotations

import os

import numpy as np
import onnx
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

import trtready
from trtready.errors import TrtReadyError, root_cause

CASES = int(os.environ.get("TRTREADY_FUZZ_CASES", "150"))
OPS = ["Add", "Mul", "Gather", "Reshape", "Shape", "Cast", "Range", "Slice", "Concat", "ArgMax", "Where",
       "Unsqueeze", "Mod", "CumSum", "NoSuch", "Identity", "If"]


def seed_model() -> onnx.ModelProto:
    t = numpy_helper.from_array(np.arange(20, dtype=np.float32).reshape(10, 2), "t")
    k = numpy_helper.from_array(np.array(3, dtype=np.int64), "k")
    shp = numpy_helper.from_array(np.array([-1], dtype=np.int64), "shp")
    nodes = [
        helper.make_node("Add", ["ids", "k"], ["a"]),
        helper.make_node("Mod", ["a", "ten"], ["m"]),
        helper.make_node("Gather", ["t", "m"], ["g"]),
        helper.make_node("Reshape", ["g", "shp"], ["y"]),
        helper.make_node("Shape", ["ids"], ["s"]),
        helper.make_node("Cast", ["s"], ["sd"], to=TensorProto.DOUBLE),
    ]
    ten = numpy_helper.from_array(np.array(10, dtype=np.int64), "ten")
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("ids", TensorProto.INT64, ["N"])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None),
                           helper.make_tensor_value_info("sd", TensorProto.DOUBLE, None)], [t, k, shp, ten])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 20)])


@st.composite
def mutated(draw) -> bytes:
    m = seed_model()
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["op", "drop", "input", "dtype", "dims", "attr", "opset", "external", "bytes",
                                     "truncate", "output"]))
        nodes = m.graph.node
        if kind == "op" and nodes:
            nodes[draw(st.integers(0, len(nodes) - 1))].op_type = draw(st.sampled_from(OPS))
        elif kind == "drop" and nodes:
            del nodes[draw(st.integers(0, len(nodes) - 1))]
        elif kind == "input" and nodes:
            n = nodes[draw(st.integers(0, len(nodes) - 1))]
            if n.input:
                n.input[draw(st.integers(0, len(n.input) - 1))] = draw(st.sampled_from(["ids", "t", "k", "a", "zz", ""]))
        elif kind == "dtype" and m.graph.initializer:
            m.graph.initializer[draw(st.integers(0, len(m.graph.initializer) - 1))].data_type = draw(
                st.sampled_from([1, 6, 7, 9, 11, 16, 0, 99]))
        elif kind == "dims" and m.graph.initializer:
            init = m.graph.initializer[draw(st.integers(0, len(m.graph.initializer) - 1))]
            init.dims[:] = draw(st.lists(st.integers(0, 5), max_size=3))
        elif kind == "attr" and nodes:
            n = nodes[draw(st.integers(0, len(nodes) - 1))]
            n.attribute.append(helper.make_attribute(draw(st.sampled_from(["axis", "to", "value", "keepdims"])),
                                                     draw(st.integers(-5, 20))))
        elif kind == "opset":
            m.opset_import[0].version = draw(st.integers(1, 40))
        elif kind == "external" and m.graph.initializer:
            init = m.graph.initializer[0]
            init.data_location = TensorProto.EXTERNAL
            del init.external_data[:]
            for key, val in (("location", draw(st.sampled_from(["w.bin", "../w.bin", "/etc/passwd", ""]))),
                             ("length", str(draw(st.integers(0, 100))))):
                e = init.external_data.add()
                e.key, e.value = key, val
        elif kind == "output":
            m.graph.output[0].name = draw(st.sampled_from(["ids", "k", "nope", ""]))
    data = bytearray(m.SerializeToString())
    if draw(st.booleans()):
        for _ in range(draw(st.integers(1, 4))):
            data[draw(st.integers(0, len(data) - 1))] ^= draw(st.integers(1, 255))
    if draw(st.integers(0, 4)) == 0:
        data = data[: draw(st.integers(0, len(data)))]
    return bytes(data)


@settings(max_examples=CASES, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                    HealthCheck.function_scoped_fixture])
@given(mutated())
def test_mutated_models_raise_only_project_errors(tmp_path_factory, data: bytes) -> None:
    folder = tmp_path_factory.mktemp("fuzz")
    path = folder / "m.onnx"
    path.write_bytes(data)
    (folder / "w.bin").write_bytes(b"\0" * 64)
    for label, call in (
        ("audit", lambda: trtready.audit(str(path), target="trt8")),
        ("fix", lambda: trtready.fix(str(path), folder / "out.onnx", input_range=["ids:0..5"], trials=1, force=True)),
    ):
        try:
            call()
            event(f"{label}: ok")
        except TrtReadyError as e:
            event(f"{label}: {type(e).__name__}")
        except Exception as e:  # noqa: BLE001 - anything else is a crash the fuzzer found
            if not isinstance(root_cause(e), TrtReadyError):
                raise
    assert path.read_bytes() == data  # the input is never modified
