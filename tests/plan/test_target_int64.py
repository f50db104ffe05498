"""Inputs the target's parser requires INT64 are never narrowed (onnx-tensorrt: RotaryEmbedding's
``position_ids`` must be INT64), whatever the rest of the graph allows."""

from __future__ import annotations

import numpy as np
import onnx
import onnx_ir as ir

import trtready
from tests.onnx_models import planned, run, session
from trtready.intervals import Interval
from trtready.plan import Action

# position_ids = ids + 1 (an Add that could compute in int32, its values proved) feeds RotaryEmbedding (opset 23).
_ROPE = """
<ir_version: 10, opset_import: ["" : 23]>
g (float[1,2,4] x, int64[1,2] ids) => (float[1,2,4] y) {
    one = Constant <value = int64 {1}> ()
    pos = Add (ids, one)
    cos = Constant <value = float[8,2] {1,1,0.5,0.9,0,0.7,-0.5,0.4,-1,0.1,-0.5,-0.2,0,-0.5,0.5,-0.8}> ()
    sin = Constant <value = float[8,2] {0,0,0.8,0.4,1,0.7,0.8,0.9,0,1,-0.8,0.9,-1,0.8,-0.8,0.6}> ()
    y = RotaryEmbedding <num_heads = 1> (x, cos, sin, pos)
}
"""


def _decisions(target: str, **opts: bool) -> dict[str, object]:
    return {d.finding: d for d in planned(_ROPE, {"ids": Interval(0, 5)}, target=target, **opts)[1].decisions}


def test_position_ids_stay_int64_for_the_reason_the_target_gives() -> None:
    d = _decisions("trt11", io_int32=True)
    assert d["onnx:pos"].action is Action.KEEP  # proved in [1, 6], still kept
    assert "RotaryEmbedding input 3 (position_ids), which the target requires INT64" in d["onnx:pos"].reason
    assert "onnx-tensorrt docs/operators.md, TensorRT 10.15 table" in d["onnx:pos"].reason
    # a target without the fact keeps it for the ONNX spec's reason (opset 23: position_ids is tensor(int64))
    spec = _decisions("trt-rtx", io_int32=True)["onnx:pos"]
    assert spec.action is Action.KEEP and "int64-only by the ONNX spec" in spec.reason


def test_fix_keeps_position_ids_int64_and_verifies(tmp_path) -> None:
    src, out = tmp_path / "rope.onnx", tmp_path / "rope.fixed.onnx"
    onnx.save(ir.to_proto(ir.from_onnx_text(_ROPE)), src)
    result = trtready.fix(str(src), str(out), target="trt11", input_range=["ids:0..5"], io_int32=True)
    assert result
    fixed = ir.load(out)
    values = {v.name: v for node in fixed.graph for v in node.outputs}
    assert values["pos"].dtype == ir.DataType.INT64
    rope = next(n for n in fixed.graph if n.op_type == "RotaryEmbedding")
    assert rope.inputs[3].dtype == ir.DataType.INT64
    # and ONNX Runtime runs it exactly as the original
    feeds = {"x": np.arange(8, dtype=np.float32).reshape(1, 2, 4), "ids": np.array([[0, 5]], dtype=np.int64)}
    want = run(src, feeds)[0]
    fixed_feeds = {i.name: feeds[i.name].astype(np.int32) if i.type == "tensor(int32)" else feeds[i.name]
                   for i in session(out).get_inputs()}
    got = run(out, fixed_feeds)[0]
    np.testing.assert_array_equal(got, want)
