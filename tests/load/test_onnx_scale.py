"""Large ONNX models: shape inference read without a second onnx-ir model, long gathered tables kept
out of onnx's data propagation, external tensors summarised in chunks, and fix streaming external
data into its own file. Counted, never timed (wall times: bench/onnx_scale.py, BENCHMARKS.md)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import onnx
import onnx_ir as ir
import pytest
from onnx import TensorProto, helper, numpy_helper

import trtready
from trtready.intervals import Interval
from trtready.load.onnx_file import inference_proto, load_onnx


def _chain(blocks: int) -> onnx.ModelProto:
    """Reshape around a MatMul per block, the shape computed from Shape → Gather → Unsqueeze → Concat."""
    init = [numpy_helper.from_array(np.array([0], np.int64), "axes0"),
            numpy_helper.from_array(np.array([-1], np.int64), "minus1"),
            numpy_helper.from_array(np.array(2, np.int64), "two"),
            numpy_helper.from_array(np.eye(4, dtype=np.float32), "w")]
    nodes, h = [], "x"
    for k in range(blocks):
        nodes += [helper.make_node("Shape", [h], [f"s{k}"]),
                  helper.make_node("Gather", [f"s{k}", "two"], [f"d{k}"], axis=0),
                  helper.make_node("Unsqueeze", [f"d{k}", "axes0"], [f"u{k}"]),
                  helper.make_node("Concat", ["minus1", f"u{k}"], [f"t{k}"], axis=0),
                  helper.make_node("Reshape", [h, f"t{k}"], [f"r{k}"]),
                  helper.make_node("MatMul", [f"r{k}", "w"], [f"m{k}"]),
                  helper.make_node("Reshape", [f"m{k}", f"s{k}"], [f"h{k}"])]
        h = f"h{k}"
    graph = helper.make_graph(nodes, "chain", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["b", "s", 4])],
                              [helper.make_tensor_value_info(h, TensorProto.FLOAT, None)], init)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=9)


def test_inferred_shapes_are_read_from_the_protobuf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Load builds one onnx-ir model (the file's), not a second one from the inferred protobuf, and
    the shapes equal what onnx-ir's own deserialiser of the inferred protobuf says."""
    path = tmp_path / "chain.onnx"
    onnx.save(_chain(50), path)
    calls = []
    real = ir.serde.deserialize_model
    monkeypatch.setattr(ir.serde, "deserialize_model", lambda p: calls.append(1) or real(p))
    model, _, _ = load_onnx(path)
    assert len(calls) == 1
    monkeypatch.setattr(ir.serde, "deserialize_model", real)
    expected = ir.serde.deserialize_model(onnx.shape_inference.infer_shapes(
        onnx.load(path), check_type=False, strict_mode=False, data_prop=True))
    want = {n: (v.shape, v.dtype) for n, v in ir.convenience.create_value_mapping(expected.graph).items()
            if v.shape is not None}
    got = {n: (v.shape, v.dtype) for n, v in ir.convenience.create_value_mapping(model.graph).items()
           if v.shape is not None}
    assert len(want) >= 7 * 50
    assert got == want
    assert got["u49"][0] == ir.Shape([1]) and got["h49"][0] == ir.Shape(["b", "s", 4])


def test_a_model_with_subgraphs_still_gets_its_subgraph_shapes(tmp_path: Path) -> None:
    then = helper.make_graph([helper.make_node("Shape", ["x"], ["ts"])], "then", [],
                             [helper.make_tensor_value_info("ts", TensorProto.INT64, None)])
    other = helper.make_graph([helper.make_node("Shape", ["x"], ["es"])], "else", [],
                              [helper.make_tensor_value_info("es", TensorProto.INT64, None)])
    graph = helper.make_graph(
        [helper.make_node("If", ["c"], ["out"], then_branch=then, else_branch=other)], "g",
        [helper.make_tensor_value_info("c", TensorProto.BOOL, []),
         helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
        [helper.make_tensor_value_info("out", TensorProto.INT64, None)])
    path = tmp_path / "if.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=9), path)
    model, _, _ = load_onnx(path)
    sub = model.graph.node(0).attributes["then_branch"].value
    assert sub.outputs[0].shape == ir.Shape([2])
    assert model.graph.outputs[0].shape == ir.Shape([2])


def _table_model(consumer: str) -> ir.Model:
    table = numpy_helper.from_array(np.arange(4096, dtype=np.int64), "table")
    if consumer == "Gather":
        node = helper.make_node("Gather", ["table", "idx"], ["y"], axis=0)
    else:
        node = helper.make_node("Add", ["table", "idx"], ["y"])
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("idx", TensorProto.INT64, ["n"])],
                              [helper.make_tensor_value_info("y", TensorProto.INT64, None)], [table])
    return ir.serde.deserialize_model(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=9))


def _declared(proto: onnx.ModelProto, name: str) -> list[int | str]:
    v = next(i for i in proto.graph.input if i.name == name)
    return [d.dim_value if d.HasField("dim_value") else d.dim_param for d in v.type.tensor_type.shape.dim]


def test_a_long_table_read_only_by_gather_gets_a_symbolic_length() -> None:
    gathered = inference_proto(_table_model("Gather"))
    assert _declared(gathered, "table") == ["trtready_len_table"]
    # where its length does shape the output, it stays
    assert _declared(inference_proto(_table_model("Add")), "table") == [4096]
    inferred = onnx.shape_inference.infer_shapes(gathered, data_prop=True)
    y = inferred.graph.output[0].type.tensor_type.shape
    assert [d.dim_param for d in y.dim] == ["n"]


def _external_model(folder: Path) -> Path:
    """A float32 table and an int64 position table in one external-data file."""
    table = (np.arange(300 * 8, dtype=np.float32).reshape(300, 8) - 1000.0) / 7.0
    positions = np.arange(5, 5 + 2048, dtype=np.int64)
    nodes = [helper.make_node("Gather", ["table", "ids"], ["e"], axis=0),
             helper.make_node("Gather", ["positions", "ids"], ["p"], axis=0),
             helper.make_node("Cast", ["p"], ["pf"], to=TensorProto.FLOAT),
             helper.make_node("Unsqueeze", ["pf", "axes"], ["pu"]),
             helper.make_node("Add", ["e", "pu"], ["y"])]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("ids", TensorProto.INT64, ["b", "s"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["b", "s", 8])],
        [numpy_helper.from_array(table, "table"), numpy_helper.from_array(positions, "positions"),
         numpy_helper.from_array(np.array([-1], np.int64), "axes")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=9)
    path = folder / "m.onnx"
    onnx.save_model(model, str(path), save_as_external_data=True, location="m.data", size_threshold=1024)
    return path


def test_external_tensors_are_summarised_in_chunks_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Intervals of external tensors come from chunked reads, never a mapping of the whole tensor,
    and a second propagation reuses the summary."""
    from trtready.intervals import onnx as intervals_onnx

    model, _, _ = load_onnx(_external_model(tmp_path))
    monkeypatch.setattr(intervals_onnx, "_CHUNK_BYTES", 64)  # many chunks per tensor
    monkeypatch.setattr(ir.ExternalTensor, "numpy", lambda self: pytest.fail(f"{self.name} mapped whole"))
    reads = []
    real = intervals_onnx._external_summary
    monkeypatch.setattr(intervals_onnx, "_external_summary", lambda t: reads.append(t.name) or real(t))
    env = intervals_onnx.propagate(model.graph, {"ids": Interval(0, 299)})
    env2 = intervals_onnx.propagate(model.graph, {"ids": Interval(0, 299)})
    table, positions = model.graph.initializers["table"], model.graph.initializers["positions"]
    assert sorted(reads) == ["positions", "table"]
    lo, hi = np.float32(-1000.0) / np.float32(7.0), np.float32(300 * 8 - 1 - 1000.0) / np.float32(7.0)
    assert env[table] is not None and env[table].hull == Interval(float(lo), float(hi))
    assert env[positions] is not None and env[positions].hull == Interval(5, 5 + 2047)
    assert env2[positions] == env[positions]


def test_fix_writes_external_data_of_its_own_and_leaves_the_input_alone(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    path = _external_model(src)
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in src.iterdir()}
    out = tmp_path / "out" / "m.fixed.onnx"
    out.parent.mkdir()
    result = trtready.fix(str(path), out, target="trt8", input_range=["ids:0..299"], io_int32=True, trials=1,
                          trust_code=True)
    assert result
    assert {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in src.iterdir()} == before
    written = onnx.load(str(out), load_external_data=False)
    external = {t.name: t for t in written.graph.initializer if t.data_location == TensorProto.EXTERNAL}
    assert "table" in external
    assert {e.key: e.value for e in external["table"].external_data}["location"] == "m.fixed.onnx.data"
    loaded = onnx.load(str(out))
    values = {t.name: numpy_helper.to_array(t) for t in loaded.graph.initializer}
    original = {t.name: numpy_helper.to_array(t) for t in onnx.load(str(path)).graph.initializer}
    np.testing.assert_array_equal(values["table"], original["table"])  # bit-identical copy
    narrowed = [v for n, v in values.items() if n.startswith("positions")]
    assert len(narrowed) == 1 and narrowed[0].dtype == np.int32
    np.testing.assert_array_equal(narrowed[0].astype(np.int64), original["positions"])



def test_cycle_collection_is_paused_while_a_graph_is_built_and_restored(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import gc

    from trtready.load.onnx_file import cycle_collection_paused

    path = tmp_path / "chain.onnx"
    onnx.save(_chain(3), path)
    seen = []
    real = ir.serde.deserialize_model
    monkeypatch.setattr(ir.serde, "deserialize_model", lambda p: seen.append(gc.isenabled()) or real(p))
    assert gc.isenabled()
    load_onnx(path)
    assert seen == [False] and gc.isenabled()
    with cycle_collection_paused():  # nested: the outermost block re-enables
        load_onnx(path)
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), cycle_collection_paused():
        raise RuntimeError
    assert gc.isenabled()


def _inferred(proto: onnx.ModelProto) -> dict[str, str]:
    inferred = onnx.shape_inference.infer_shapes(proto, check_type=False, strict_mode=False, data_prop=True)
    g = inferred.graph
    return {v.name: str(v.type) for v in [*g.input, *g.output, *g.value_info]}


def test_the_inference_protobuf_from_the_file_is_the_serialised_one(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Load hands shape inference a protobuf assembled from the file's own, without serialising the
    onnx-ir model again: same inputs, same initializers kept and withheld, same inferred types — for a
    small/large initializer mix, an initializer re-declared as an input without a shape, and a long
    gathered int64 table in external data (its length made symbolic either way)."""
    from trtready.load.onnx_file import _file_inference_proto, densify_sparse, parse_onnx

    model = _chain(12)
    model.graph.initializer.append(numpy_helper.from_array(np.zeros((40, 8), np.float32), "big"))  # withheld
    model.graph.node.append(helper.make_node("Gather", ["big", "two"], ["row"], axis=0))
    model.graph.input.append(helper.make_tensor_value_info("w", TensorProto.FLOAT, None))  # no shape declared
    model.graph.output.append(helper.make_tensor_value_info("row", TensorProto.FLOAT, None))
    plain = tmp_path / "plain.onnx"
    onnx.save(model, plain)
    for path in (plain, _external_model(tmp_path)):
        proto = parse_onnx(path)
        densify_sparse(proto, path)
        loaded = ir.serde.deserialize_model(proto)
        fast = _file_inference_proto(loaded, proto)
        assert fast is not None
        slow = inference_proto(loaded)
        assert sorted(str(i) for i in fast.graph.input) == sorted(str(i) for i in slow.graph.input)
        assert sorted(t.name for t in fast.graph.initializer) == sorted(t.name for t in slow.graph.initializer)
        assert _inferred(fast) == _inferred(slow)
    assert "trtready_len_positions" in str(fast.graph.input)
    calls = []
    real = ir.serde.serialize_model
    monkeypatch.setattr(ir.serde, "serialize_model", lambda m: calls.append(1) or real(m))
    load_onnx(plain)
    assert calls == []


def test_a_graph_with_subgraphs_is_serialised_for_inference() -> None:
    from trtready.load.onnx_file import _file_inference_proto

    branch = helper.make_graph([helper.make_node("Identity", ["x"], ["b"])], "branch", [],
                               [helper.make_tensor_value_info("b", TensorProto.FLOAT, None)])
    graph = helper.make_graph(
        [helper.make_node("If", ["c"], ["y"], then_branch=branch, else_branch=branch)], "g",
        [helper.make_tensor_value_info("c", TensorProto.BOOL, []),
         helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=9)
    assert _file_inference_proto(ir.serde.deserialize_model(proto), proto) is None
