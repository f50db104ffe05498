"""Every kind of ONNX external data is read from the model's folder — never from the working folder.

Dense initializers were confined already; these cases cover the rest: sparse initializers (values and
indices), subgraph initializers, Constant ``value`` attributes and tensors in function bodies. Each
model is run from a working folder holding a decoy file of the same name.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from tests.conftest import run_cli

DECOY = np.array([1111, 2222], dtype=np.int64)


def _external(t: onnx.TensorProto, folder: Path | None, location: str) -> onnx.TensorProto:
    """Move ``t``'s bytes to the end of ``folder/location`` (when ``folder`` is given) and point at them."""
    raw = t.raw_data or numpy_helper.to_array(t).tobytes()
    offset = 0
    if folder is not None:
        path = folder / location
        offset = path.stat().st_size if path.exists() else 0
        with open(path, "ab") as fh:
            fh.write(raw)
    t.ClearField("raw_data")
    t.ClearField("int64_data")
    t.data_location = TensorProto.EXTERNAL
    for k, v in (("location", location), ("offset", str(offset)), ("length", str(len(raw)))):
        e = t.external_data.add()
        e.key, e.value = k, v
    return t


def _save(model: onnx.ModelProto, path: Path) -> Path:
    path.write_bytes(model.SerializeToString())  # onnx.save would try to resolve the external data
    return path


def _sparse_model(folder: Path, where: Path | None, external: str = "values") -> Path:
    """``y = x + sp`` with ``sp`` a sparse [5, 0, 0, 7] whose values (or indices) live in ``w.bin``."""
    folder.mkdir(exist_ok=True)
    values = numpy_helper.from_array(np.array([5, 7], dtype=np.int64), "sp")
    indices = numpy_helper.from_array(np.array([0, 3], dtype=np.int64), "sp_idx")
    if external == "values":
        _external(values, where, "w.bin")
    else:
        _external(indices, where, "w.bin")
    g = helper.make_graph([helper.make_node("Add", ["x", "sp"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.INT64, [4])],
                          [helper.make_tensor_value_info("y", TensorProto.INT64, [4])],
                          sparse_initializer=[helper.make_sparse_tensor(values, indices, [4])])
    return _save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), folder / "m.onnx")


def _cwd_with_decoy(tmp: Path) -> Path:
    cwd = tmp / "cwd"
    cwd.mkdir()
    (cwd / "w.bin").write_bytes(DECOY.tobytes())
    return cwd


def test_sparse_external_data_missing_from_the_model_folder_is_refused(tmp_path: Path) -> None:
    """The file exists only in the working folder: refused, nothing written, the decoy never copied."""
    model = _sparse_model(tmp_path / "model", None)
    cwd = _cwd_with_decoy(tmp_path)
    out = tmp_path / "out.onnx"
    r = run_cli("fix", str(model), "-o", str(out), "--target", "trt-rtx", "--no-verify", cwd=cwd)
    assert r.code == 2, (r.code, r.stderr)
    assert r.stderr.startswith("trtready: error: ") and r.stderr.count("\n") == 1, r.stderr
    assert "'w.bin'" in r.stderr and "missing" in r.stderr
    assert not out.exists() and not out.with_name("out.onnx.data").exists()
    r = run_cli("audit", str(model), "--target", "trt8", "--json", "-", cwd=cwd)
    assert r.code == 2 and "missing" in r.stderr and "2222" not in r.stdout


def test_sparse_external_values_and_indices_come_from_the_model_folder(tmp_path: Path) -> None:
    cwd = _cwd_with_decoy(tmp_path)
    for external in ("values", "indices"):
        folder = tmp_path / external
        folder.mkdir()
        model = _sparse_model(folder, folder, external)
        r = run_cli("audit", str(model), "--target", "trt8", "--json", "-", cwd=cwd)
        assert r.code == 1, r.stderr
        (sp,) = [f for f in json.loads(r.stdout)["findings"] if f["tensor"] == "sp"]
        assert sp["interval"] == {"lo": 0, "hi": 7}
        out = tmp_path / f"{external}.onnx"
        r = run_cli("fix", str(model), "-o", str(out), "--target", "trt-rtx", "--no-verify", cwd=cwd)
        assert r.code == 0, r.stderr
        dense = {t.name: numpy_helper.to_array(t) for t in onnx.load(str(out)).graph.initializer}
        assert dense["sp"].tolist() == [5, 0, 0, 7]


def _nested_model(folder: Path) -> Path:
    """``If(cond)``: then adds an external initializer of the branch, else returns an external Constant;
    a function body holds a third external Constant."""
    folder.mkdir()
    k = _external(numpy_helper.from_array(np.array([3, 4], dtype=np.int64), "k"), folder, "w.bin")
    then = helper.make_graph([helper.make_node("Add", ["x", "k"], ["t"])], "then", [],
                             [helper.make_tensor_value_info("t", TensorProto.INT64, [2])], [k])
    c = _external(numpy_helper.from_array(np.array([9, 8], dtype=np.int64), "c"), folder, "w.bin")
    els = helper.make_graph([helper.make_node("Constant", [], ["e"], value=c)], "else", [],
                            [helper.make_tensor_value_info("e", TensorProto.INT64, [2])])
    f = _external(numpy_helper.from_array(np.array([100, 200], dtype=np.int64), "f"), folder, "w.bin")
    fn = helper.make_function("local", "AddConst", ["a"], ["b"],
                              [helper.make_node("Constant", [], ["fc"], value=f), helper.make_node("Add", ["a", "fc"], ["b"])],
                              [helper.make_opsetid("", 17)])
    g = helper.make_graph(
        [helper.make_node("If", ["cond"], ["i"], then_branch=then, else_branch=els),
         helper.make_node("AddConst", ["i"], ["y"], domain="local")], "g",
        [helper.make_tensor_value_info("cond", TensorProto.BOOL, []), helper.make_tensor_value_info("x", TensorProto.INT64, [2])],
        [helper.make_tensor_value_info("y", TensorProto.INT64, [2])])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("local", 1)],
                              functions=[fn])
    return _save(model, folder / "m.onnx")


def test_nested_external_data_is_read_from_the_model_folder(tmp_path: Path) -> None:
    """Subgraph initializers, Constant values and function-body constants, run from another folder
    that holds a decoy of the same name: the model loads, verifies and is written with the right values."""
    from tests.onnx_models import session

    model = _nested_model(tmp_path / "model")
    cwd = _cwd_with_decoy(tmp_path)
    r = run_cli("audit", str(model), "--target", "trt-rtx", cwd=cwd)
    assert r.code == 0, r.stderr
    out = tmp_path / "o" / "fixed.onnx"
    out.parent.mkdir()
    r = run_cli("fix", str(model), "-o", str(out), "--target", "trt-rtx", "--input-range", "x:0..5", cwd=cwd)
    assert r.code == 0, r.stderr
    assert sorted(p.name for p in out.parent.iterdir()) == ["fixed.onnx", "fixed.onnx.data"]
    s = session(out)
    x = np.array([1, 2], dtype=np.int64)
    assert s.run(None, {"cond": np.array(True), "x": x})[0].tolist() == [104, 206]
    assert s.run(None, {"cond": np.array(False), "x": x})[0].tolist() == [109, 208]


def test_external_data_that_is_not_a_regular_file_is_refused(tmp_path: Path) -> None:
    import os

    folder = tmp_path / "model"
    folder.mkdir()
    w = numpy_helper.from_array(np.array([3, 4], dtype=np.int64), "w")
    _external(w, None, "w.bin")
    os.mkfifo(folder / "w.bin")
    g = helper.make_graph([helper.make_node("Add", ["x", "w"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.INT64, [2])],
                          [helper.make_tensor_value_info("y", TensorProto.INT64, [2])], [w])
    model = _save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), folder / "m.onnx")
    r = run_cli("audit", str(model))
    assert r.code == 2 and "not a regular file" in r.stderr and r.stderr.count("\n") == 1, r.stderr
