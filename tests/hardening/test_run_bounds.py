"""Verification never allocates past the limits: sizes known from the run's input shapes (and small
integer inputs) are refused before anything runs, ONNX Runtime's arena is capped for the rest, and a
PyTorch program's node sizes are checked against its concrete input shapes before a kernel runs.

Every run is under the 3 GB address-space limit of tests/hardening/bombs.py, with its peak RSS.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper

from tests.hardening.bombs import run_limited
from tests.hardening.test_limits import PEAK_MB


def _save(tmp: Path, nodes: list, inputs: list, outputs: list, inits: list = ()) -> Path:  # type: ignore[assignment]
    g = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    path = tmp / "m.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def _refused(r, *words: str) -> None:  # type: ignore[no-untyped-def]
    assert r.code == 2, (r.code, r.stdout[-500:], r.stderr[-2000:])
    assert r.stderr.startswith("trtready: error: ") and r.stderr.count("\n") == 1, r.stderr
    for w in words:
        assert w in r.stderr, r.stderr
    assert r.peak_rss_mb < PEAK_MB, r.peak_rss_mb


def test_onnx_size_computed_from_an_input_shape(tmp_path: Path) -> None:
    """``ConstantOfShape(Concat(Shape(x), [2**20, 2**20]))``: symbolic at load, 2**41 elements once x has a size."""
    path = _save(tmp_path, [helper.make_node("Shape", ["x"], ["s"]), helper.make_node("Concat", ["s", "big"], ["shape"], axis=0),
                            helper.make_node("ConstantOfShape", ["shape"], ["y"], name="grow")],
                 [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["b"])],
                 [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                 [helper.make_tensor("big", TensorProto.INT64, [2], [2**20, 2**20])])
    r = run_limited(["verify", str(path), str(path)], tmp_path)
    _refused(r, "ConstantOfShape node 'grow'", str(2 * 2**40), "tensor-elements")


def test_onnx_size_computed_from_an_integer_input_value(tmp_path: Path) -> None:
    """``Expand(1, n + 2**40)`` with ``n`` a graph input: the generated value decides the size."""
    path = _save(tmp_path, [helper.make_node("Add", ["n", "c"], ["shape"]),
                            helper.make_node("Expand", ["one", "shape"], ["y"], name="expand")],
                 [helper.make_tensor_value_info("n", TensorProto.INT64, [1])],
                 [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                 [helper.make_tensor("c", TensorProto.INT64, [1], [2**40]), helper.make_tensor("one", TensorProto.FLOAT, [1], [1.0])])
    r = run_limited(["verify", str(path), str(path)], tmp_path)
    _refused(r, "Expand node 'expand'", "tensor-elements")


def test_onnx_size_known_only_while_running_hits_the_arena_cap(tmp_path: Path) -> None:
    """``Range(0, int(max(x)))`` over float values: no inference can know it; the arena refuses 80 GB."""
    path = _save(tmp_path, [helper.make_node("ReduceMax", ["x"], ["m"], keepdims=0), helper.make_node("Cast", ["m"], ["n"], to=TensorProto.INT64),
                            helper.make_node("Range", ["zero", "n", "one"], ["r"]), helper.make_node("ReduceSum", ["r"], ["y"], keepdims=0)],
                 [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                 [helper.make_tensor_value_info("y", TensorProto.INT64, [])],
                 [helper.make_tensor("zero", TensorProto.INT64, [], [0]), helper.make_tensor("one", TensorProto.INT64, [], [1])])
    npz = tmp_path / "in.npz"
    np.savez(npz, x=np.array([1e10, 0.0], dtype=np.float32))
    r = run_limited(["verify", str(path), str(path), "--inputs", str(npz)], tmp_path)
    _refused(r, "bound of a verification run", "tensor-elements")


def test_pytorch_program_node_over_the_limit(tmp_path: Path) -> None:
    r = run_limited(["verify", "tests.hardening.specs:huge_ones", "tests.hardening.specs:huge_ones"], Path.cwd())
    _refused(r, "aten.ones", "4356000000 elements", "tensor-elements")


def test_pytorch_node_sizes_follow_each_trial_input_shape(tmp_path: Path) -> None:
    """Within the limit at batch 2, past it at batch 8 (the trial at the dim's maximum)."""
    args = ["verify", "tests.hardening.specs:growing_ones", "tests.hardening.specs:growing_ones"]
    r = run_limited([*args, "--limit", "tensor-elements=1048576"], Path.cwd())
    _refused(r, "(8, 524288)", "4194304 elements")
    r = run_limited([*args, "--limit", "tensor-elements=4194304"], Path.cwd())
    assert r.code == 0, r.stderr
