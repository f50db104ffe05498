"""Large-model path: weights go to OUT.onnx.data, written as one artifact with the model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import trtready
import trtready.outputs
from trtready.engine.engine import build_engine
from trtready.load.onnx_file import load_onnx
from trtready.targets import resolve_target


def _model(path: Path) -> Path:
    table = numpy_helper.from_array(np.arange(4000, dtype=np.float32).reshape(1000, 4), "table")
    k = numpy_helper.from_array(np.array(7, dtype=np.int64), "k")
    g = helper.make_graph(
        [helper.make_node("Add", ["ids", "k"], ["i"]), helper.make_node("Gather", ["table", "i"], ["y"])], "g",
        [helper.make_tensor_value_info("ids", TensorProto.INT64, [3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, 4])], [table, k],
    )
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 20)]), str(path))
    return path


def test_fix_writes_the_data_file_pair_past_the_threshold(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(trtready.outputs, "EXTERNAL_DATA_THRESHOLD", 1024)  # stands in for 2 GB
    src = _model(tmp_path / "m.onnx")
    out = tmp_path / "out" / "fixed.onnx"
    out.parent.mkdir()
    r = trtready.fix(str(src), out, input_range=["ids:0..900"])
    assert r and sorted(p.name for p in out.parent.iterdir()) == ["fixed.onnx", "fixed.onnx.data"]
    proto = onnx.load(str(out), load_external_data=False)
    table = next(t for t in proto.graph.initializer if t.name == "table")
    assert table.data_location == TensorProto.EXTERNAL
    assert {e.key: e.value for e in table.external_data}["location"] == "fixed.onnx.data"
    model, files, _ = load_onnx(out)
    assert [f.name for f in files] == ["fixed.onnx.data"]
    assert np.array_equal(model.graph.initializers["table"].const_value.numpy()[:2], [[0, 1, 2, 3], [4, 5, 6, 7]])
    built = build_engine(out, tmp_path / "out" / "m.engine", resolve_target("trt-rtx"), {})
    import json

    manifest = json.loads(built.manifest.read_text())
    assert [Path(f["path"]).name for f in manifest["model"]["data_files"]] == ["fixed.onnx.data"]


def _sidecar_model(folder: Path) -> Path:
    """A model as torch.onnx writes it: weights in ``m.onnx.data`` beside ``m.onnx``."""
    folder.mkdir()
    model = onnx.load(str(_model(folder / "m.onnx")))
    onnx.save(model, str(folder / "m.onnx"), save_as_external_data=True, all_tensors_to_one_file=True,
              location="m.onnx.data", size_threshold=0)
    assert (folder / "m.onnx.data").exists()
    return folder / "m.onnx"


@pytest.mark.parametrize("verb", ["audit", "fix", "fix-dry-run", "convert", "build", "verify", "inspect"])
def test_every_verb_works_on_a_sidecar_model_from_another_folder(tmp_path: Path, verb: str) -> None:
    """The checker, ONNX Runtime and TensorRT get the model's own folder, never the working one."""
    from tests.conftest import run_cli

    src = _sidecar_model(tmp_path / "model")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    rng = ["--input-range", "ids:0..900"]
    args = {
        "audit": ["audit", str(src), *rng],
        "fix": ["fix", str(src), "-o", str(tmp_path / "fixed.onnx"), *rng],
        "fix-dry-run": ["fix", str(src), "--dry-run", *rng],
        "convert": ["convert", str(src), "-o", str(tmp_path / "conv"), *rng],
        "build": ["build", str(src), "-o", str(tmp_path / "m.engine")],
        "verify": ["verify", str(src), str(src), *rng],
        "inspect": ["inspect", str(src)],
    }[verb]
    before = sorted(p.name for p in src.parent.iterdir())
    r = run_cli(*args, cwd=elsewhere)
    assert r.code == 0, r.stderr
    assert sorted(p.name for p in src.parent.iterdir()) == before and not list(elsewhere.iterdir())
    if verb == "fix":  # the narrowed model runs, from yet another folder, to the same outputs
        check = run_cli("verify", str(src), str(tmp_path / "fixed.onnx"), *rng, cwd=elsewhere)
        assert check.code == 0 and "MATCH" in check.stdout
