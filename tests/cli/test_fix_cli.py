"""fix and verify from the command line: exit codes, refusals, nothing half-written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from tests.conftest import run_cli


def _model(path: Path, add: int) -> Path:
    table = numpy_helper.from_array(np.arange(20, dtype=np.float32).reshape(10, 2), "t")
    k = numpy_helper.from_array(np.array(add, dtype=np.int64), "k")
    ten = numpy_helper.from_array(np.array(10, dtype=np.int64), "ten")
    g = helper.make_graph(
        [helper.make_node("Add", ["ids", "k"], ["j"]), helper.make_node("Add", ["j", "k"], ["i"]),
         helper.make_node("Mod", ["i", "ten"], ["m"]), helper.make_node("Gather", ["t", "m"], ["y"])], "g",
        [helper.make_tensor_value_info("ids", TensorProto.INT64, [3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, 2])], [table, k, ten],
    )
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 20)]), str(path))
    return path


def test_fix_onnx_then_verify(tmp_path: Path) -> None:
    src = _model(tmp_path / "m.onnx", 1)
    out = tmp_path / "m_fixed.onnx"
    r = run_cli("fix", str(src), "-o", str(out), "--input-range", "ids:0..7", "--json", str(tmp_path / "r.json"))
    assert r.code == 0, r.stderr
    assert "FIXED" in r.stdout and out.exists()
    fixed = onnx.load(str(out))
    assert {i.name: i.data_type for i in fixed.graph.initializer}.get("k_int32") == TensorProto.INT32
    v = run_cli("verify", str(src), str(out), "--input-range", "ids:0..7")
    assert v.code == 0 and "MATCH" in v.stdout


def test_dry_run_writes_nothing(tmp_path: Path) -> None:
    src = _model(tmp_path / "m.onnx", 1)
    r = run_cli("fix", str(src), "-o", str(tmp_path / "o.onnx"), "--dry-run", "--input-range", "ids:0..7")
    assert r.code == 0 and "DRY RUN" in r.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]


def test_refusal_is_one_line_exit_2_and_nothing_written(tmp_path: Path) -> None:
    src = _model(tmp_path / "m.onnx", 2**40)
    r = run_cli("fix", str(src), "-o", str(tmp_path / "o.onnx"), "--target", "trt8", "--input-range", "ids:0..7")
    assert r.code == 2
    assert r.stderr.count("\n") == 1 and "refused" in r.stderr and "tensor j (Add): reaches 1099511627783" in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]
    keep = run_cli("fix", str(src), "-o", str(tmp_path / "o.onnx"), "--target", "trt-rtx", "--input-range", "ids:0..7")
    assert keep.code == 0 and "outside int32" in keep.stdout


def test_existing_output_needs_force_and_must_be_ours(tmp_path: Path) -> None:
    src = _model(tmp_path / "m.onnx", 1)
    out = tmp_path / "o.onnx"
    assert run_cli("fix", str(src), "-o", str(out), "--input-range", "ids:0..7").code == 0
    first = out.read_bytes()
    r = run_cli("fix", str(src), "-o", str(out), "--input-range", "ids:0..7")
    assert r.code == 2 and "--force" in r.stderr and out.read_bytes() == first
    assert run_cli("fix", str(src), "-o", str(out), "--input-range", "ids:0..7", "--force").code == 0
    foreign = tmp_path / "precious.onnx"
    foreign.write_text("precious")
    r = run_cli("fix", str(src), "-o", str(foreign), "--input-range", "ids:0..7", "--force")
    assert r.code == 2 and r.stderr.count("\n") == 1 and "refusing to replace" in r.stderr
    assert foreign.read_text() == "precious"


def test_verify_mismatch_exits_1_and_names_the_output(tmp_path: Path) -> None:
    a = _model(tmp_path / "a.onnx", 1)
    b = _model(tmp_path / "b.onnx", 2)
    r = run_cli("verify", str(a), str(b), "--input-range", "ids:0..7")
    assert r.code == 1 and "MISMATCH" in r.stdout and "y" in r.stdout


def test_verify_with_npz_inputs(tmp_path: Path) -> None:
    a = _model(tmp_path / "a.onnx", 1)
    np.savez(tmp_path / "in.npz", ids=np.array([0, 1, 2], dtype=np.int64))
    r = run_cli("verify", str(a), str(a), "--inputs", str(tmp_path / "in.npz"))
    assert r.code == 0 and "given .npz" in r.stdout


class HalfPositions:
    """Positions read through float math (``floor(arange / 2)``): the ONNX intervals bound them, the
    PyTorch graph's do not (no rule for a float division there)."""

    @staticmethod
    def spec() -> object:
        import torch

        class M(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.pos = torch.nn.Embedding(32, 4)

            def forward(self, x: torch.Tensor) -> torch.Tensor:
                half = torch.floor(torch.arange(x.shape[1]).float() / 2).long()
                return x + self.pos(half)[None]

        torch.manual_seed(0)
        return M().eval(), (torch.randn(2, 8, 4),)


def test_fix_verdict_exit_code_and_report_agree_when_only_the_onnx_layer_proves(tmp_path: Path) -> None:
    """trt8: the PyTorch graph's audit cannot bound the positions (it predicts a clamp), the ONNX
    planner proves them: what fix writes is ready, and the line, the exit code and report.json say so."""
    import json

    (tmp_path / "halfpos.py").write_text(
        "from tests.cli.test_fix_cli import HalfPositions\nspec = HalfPositions.spec\n")
    import os

    env = {"PYTHONPATH": os.pathsep.join([str(tmp_path), str(Path(__file__).resolve().parents[2]),
                                          os.environ.get("PYTHONPATH", "")])}
    audit = run_cli("audit", "halfpos:spec", "--target", "trt8", "--dynamic", "x:1=seq[1:64]", env=env)
    assert audit.code == 1 and "NOT READY for trt8" in audit.stdout
    report = tmp_path / "r.json"
    r = run_cli("fix", "halfpos:spec", "-o", str(tmp_path / "out"), "--target", "trt8", "--dynamic",
                "x:1=seq[1:64]", "--json", str(report), env=env)
    data = json.loads(report.read_text())
    assert r.code == 0, r.stderr
    assert "READY for trt8 after fix" in r.stdout and "FIXED for trt8" in r.stdout
    assert data["verdict"]["ready"] is True and data["verdict"]["of"] == "output"
    assert data["input_verdict"]["ready"] is False  # the model given, as audit saw it
    assert data["verdict"]["line"] in " ".join(r.stdout.split())


def test_a_written_model_that_is_not_ready_exits_1_and_says_so(tmp_path: Path) -> None:
    """NonZero's output is int64 by the spec and TensorRT-RTX cannot build it: fix narrows what it can,
    writes the verified model, and its verdict — terminal, exit code, report.json — is NOT READY."""
    import json

    g = helper.make_graph(
        [helper.make_node("NonZero", ["x"], ["nz"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
        [helper.make_tensor_value_info("nz", TensorProto.INT64, [1, None])],
    )
    src = tmp_path / "nz.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 20)]), str(src))
    report = tmp_path / "r.json"
    r = run_cli("fix", str(src), "-o", str(tmp_path / "o.onnx"), "--target", "trt-rtx", "--json", str(report))
    data = json.loads(report.read_text())
    assert r.code == 1, r.stderr
    assert "NOT READY for trt-rtx after fix" in r.stdout and data["verdict"]["ready"] is False
    assert data["verdict"]["worst"] == "error" and data["verification"]["passed"] is True
    assert (tmp_path / "o.onnx").exists()
