"""FloatIslandPass and OrtRunner's use of it: ONNX Runtime has no bfloat16 Mul on CPU; the widened copy
loads, computes exactly what PyTorch computes in bfloat16, and the model given is never changed."""

from __future__ import annotations

import numpy as np
import onnx_ir as ir
import pytest
import torch

from tests.onnx_models import run
from trtready.errors import ExecutorGapError
from trtready.load.onnx_file import infer_shapes
from trtready.passes.check import FullCheckPass
from trtready.passes.float_island import FloatIslandPass
from trtready.verify.runners import OrtRunner, island_text

# Float inputs (numpy has no bfloat16), a bfloat16 product and sum inside, float out.
BF16 = """
<ir_version: 10, opset_import: ["" : 20]>
g (float[N, 8] a, float[N, 8] b) => (float[N, 8] y, float[N, 8] z)
{
  a16 = Cast<to=16>(a)
  b16 = Cast<to=16>(b)
  p16 = Mul(a16, b16)
  q16 = Mul(p16, a16)
  s16 = Add(q16, b16)
  y = Cast<to=1>(q16)
  z = Cast<to=1>(s16)
}
"""


def _feeds(n: int = 3) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {"a": rng.standard_normal((n, 8)).astype(np.float32) * 7, "b": rng.standard_normal((n, 8)).astype(np.float32)}


def _torch(feeds: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    a, b = (torch.from_numpy(feeds[k]).bfloat16() for k in ("a", "b"))
    q = a * b * a
    return q.float().numpy(), (q + b).float().numpy()


def test_onnx_runtime_has_no_bfloat16_mul_and_the_island_computes_what_pytorch_does() -> None:
    model = ir.from_onnx_text(BF16)
    infer_shapes(model)
    with pytest.raises(Exception, match="NOT_IMPLEMENTED.*Mul"):
        run(model, _feeds())  # the gap this pass is for; if ONNX Runtime gains the kernel, the runner needs no island
    widen_mul = FloatIslandPass("Mul", ir.DataType.BFLOAT16)
    widen_add = FloatIslandPass("Add", ir.DataType.BFLOAT16)
    ir.passes.PassManager([widen_mul, widen_add, FullCheckPass()])(model)
    assert (widen_mul.count, widen_add.count) == (2, 1)
    # 2 in, 2 × 2 before the Muls, 2 after them, 2 before and 1 after the Add, 2 out
    assert [n.op_type for n in model.graph].count("Cast") == 2 + 4 + 2 + 3 + 2
    mul_types = {v.dtype for n in model.graph if n.op_type in ("Mul", "Add") for v in [*n.inputs, *n.outputs] if v is not None}
    assert mul_types == {ir.DataType.FLOAT}
    feeds = _feeds()
    y, z = run(model, feeds)
    want_y, want_z = _torch(feeds)
    # a bfloat16 product is exact in float32 and rounded once, as PyTorch rounds it: bit for bit
    assert np.array_equal(y, want_y) and np.array_equal(z, want_z)


def test_the_runner_widens_a_copy_and_says_so() -> None:
    model = ir.from_onnx_text(BF16)
    before = ir.to_proto(model).SerializeToString()
    runner = OrtRunner(model)
    assert [w.split("(")[0] + w.split(")", 1)[1] for w in runner.island] == [
        "Mul on bfloat16 at 2 nodes", "Add on bfloat16 at 1 node"]  # ONNX Runtime names the kernel's opset
    assert ir.to_proto(model).SerializeToString() == before, "the model given is never the copy"
    text = island_text(runner)
    assert text is not None and text.startswith("ONNX Runtime has no kernel for Add(")
    feeds = _feeds(2)
    got = runner.run(feeds)
    y, z = got.values() if isinstance(got, dict) else got
    assert np.array_equal(y, _torch(feeds)[0]) and np.array_equal(z, _torch(feeds)[1])


def test_a_gap_that_is_not_precision_stays_a_gap() -> None:
    """ONNX Runtime has no int64 Relu (valid ONNX since opset 14): nothing to widen, the gap is reported."""
    text = """
<ir_version: 10, opset_import: ["" : 20]>
g (int64[4] a) => (int64[4] y) { y = Relu(a) }
"""
    with pytest.raises(ExecutorGapError, match=r"Relu\(\d+\) on int64"):
        OrtRunner(ir.from_onnx_text(text))
