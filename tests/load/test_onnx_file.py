"""ONNX loading: corrupt files, opsets, external data confined to the model's folder."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from trtready.errors import BadInputError, UnsafeInputError
from trtready.load.onnx_file import load_onnx


def _model(opset: int = 20) -> onnx.ModelProto:
    w = numpy_helper.from_array(np.arange(64, dtype=np.int64), "w")
    node = helper.make_node("Add", ["x", "w"], ["y"])
    graph = helper.make_graph(
        [node], "g",
        [helper.make_tensor_value_info("x", TensorProto.INT64, [64])],
        [helper.make_tensor_value_info("y", TensorProto.INT64, [64])],
        [w],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def _save_external(model: onnx.ModelProto, folder: Path, location: str) -> Path:
    path = folder / "m.onnx"
    onnx.save_model(model, str(path), save_as_external_data=True, location="w.data", size_threshold=0)
    if location != "w.data":
        proto = onnx.load(str(path), load_external_data=False)
        for e in proto.graph.initializer[0].external_data:
            if e.key == "location":
                e.value = location
        onnx.save_model(proto, str(path))
    return path


def test_valid_model_with_external_data_loads(tmp_path: Path) -> None:
    path = _save_external(_model(), tmp_path, "w.data")
    model, files, _ = load_onnx(path)
    assert [f.name for f in files] == ["w.data"]
    assert np.array_equal(model.graph.initializers["w"].const_value.numpy(), np.arange(64))


def test_truncated_model_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "t.onnx"
    p.write_bytes(_model().SerializeToString()[:-7])
    with pytest.raises(BadInputError, match="not a valid ONNX model|not an ONNX model"):
        load_onnx(p)


def test_text_renamed_onnx_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "notes.onnx"
    p.write_text("just some notes, not a model\n")
    with pytest.raises(BadInputError, match="ONNX"):
        load_onnx(p)


def test_opset_newer_than_onnx_supports(tmp_path: Path) -> None:
    p = tmp_path / "future.onnx"
    p.write_bytes(_model(opset=onnx.defs.onnx_opset_version() + 5).SerializeToString())
    with pytest.raises(BadInputError, match="newer than the installed onnx"):
        load_onnx(p)


@pytest.mark.parametrize("location", ["/etc/passwd", "../w.data", "sub/../../w.data"])
def test_external_data_outside_folder_is_refused(tmp_path: Path, location: str) -> None:
    inner = tmp_path / "inner"
    inner.mkdir()
    path = _save_external(_model(), inner, "w.data")
    (tmp_path / "w.data").write_bytes((inner / "w.data").read_bytes())
    proto = onnx.load(str(path), load_external_data=False)
    for e in proto.graph.initializer[0].external_data:
        if e.key == "location":
            e.value = location
    onnx.save_model(proto, str(path))
    with pytest.raises(UnsafeInputError, match="outside the model's folder"):
        load_onnx(path)


def test_symlinked_external_data_leaving_folder_is_refused(tmp_path: Path) -> None:
    inner = tmp_path / "inner"
    inner.mkdir()
    path = _save_external(_model(), inner, "w.data")
    secret = tmp_path / "secret.bin"
    secret.write_bytes((inner / "w.data").read_bytes())
    (inner / "w.data").unlink()
    os.symlink(secret, inner / "w.data")
    with pytest.raises(UnsafeInputError, match="symlink"):
        load_onnx(path)


def test_missing_and_truncated_external_data(tmp_path: Path) -> None:
    path = _save_external(_model(), tmp_path, "w.data")
    data = tmp_path / "w.data"
    data.write_bytes(data.read_bytes()[:100])
    with pytest.raises(BadInputError, match="truncated"):
        load_onnx(path)
    data.unlink()
    with pytest.raises(BadInputError, match="missing"):
        load_onnx(path)
