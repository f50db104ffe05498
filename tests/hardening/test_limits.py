"""Resource bounds: declared sizes are refused before allocation, run time is bounded and interruptible.

Every case runs ``trtready`` in a subprocess under a 3 GB address-space limit and must end in one
``trtready: error:`` line with exit 2 — never a crash, a MemoryError traceback or an "internal error".
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.hardening.bombs import cases, onnx_endless_loop, onnx_huge_input, run_limited
from trtready.limits import Limits, parse_limits

PEAK_MB = 1500  # torch + ONNX Runtime alone take ~350 MB; a bomb that allocated would blow far past this


@pytest.mark.parametrize("name", sorted(cases()))
def test_declared_sizes_refused_before_allocation(tmp_path: Path, name: str) -> None:
    maker, extra = cases()[name]
    path = maker(tmp_path)
    r = run_limited(["audit", str(path), *extra], tmp_path)
    assert r.code == 2, (r.code, r.stderr[-2000:])
    assert r.stderr.startswith("trtready: error: ") and r.stderr.count("\n") == 1, r.stderr
    assert "--limit" in r.stderr
    assert r.peak_rss_mb < PEAK_MB, r.peak_rss_mb


def test_raising_the_limit_lets_a_trusted_file_through(tmp_path: Path) -> None:
    path = onnx_huge_input(tmp_path)
    r = run_cli("audit", str(path), "--limit", f"tensor-elements={2**63 - 1}")
    assert r.code == 0, r.stderr


def test_npz_header_bomb_refused(tmp_path: Path) -> None:
    from tests.hardening.craft import npz_bomb

    npz = npz_bomb(tmp_path)
    r = run_limited(["verify", "trtready.demo:token_model", "trtready.demo:token_model", "--inputs", str(npz)], tmp_path)
    assert r.code == 2 and "elements" in r.stderr and r.stderr.count("\n") == 1
    assert r.peak_rss_mb < PEAK_MB


def test_huge_dynamic_bounds_refused(tmp_path: Path) -> None:
    r = run_cli("fix", "trtready.demo:token_model", "-o", str(tmp_path / "o"), "--dynamic", f"input_ids:1=s[1:{2**62}]")
    assert r.code == 2 and "tensor-elements" in r.stderr and r.stderr.count("\n") == 1


def test_endless_loop_stopped_at_the_time_limit(tmp_path: Path) -> None:
    path = onnx_endless_loop(tmp_path)
    r = run_limited(["fix", str(path), "-o", str(tmp_path / "o.onnx"), "--limit", "verify-seconds=3"], tmp_path, timeout=120)
    assert r.code == 2 and "verification stopped after 3 s" in r.stderr, r.stderr
    assert r.seconds < 60 and not (tmp_path / "o.onnx").exists()


def test_sigterm_ends_a_running_verification(tmp_path: Path) -> None:
    path = onnx_endless_loop(tmp_path)
    out = tmp_path / "o.onnx"
    proc = subprocess.Popen([sys.executable, "-m", "trtready", "fix", str(path), "-o", str(out)], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lock = tmp_path / ".o.onnx.trtready.lock"
    deadline = time.monotonic() + 120
    while not lock.exists() and time.monotonic() < deadline:  # the session starts right before the work
        time.sleep(0.2)
    time.sleep(3)  # planning is quick: by now ONNX Runtime is inside the Loop
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "interrupted" in err and time.monotonic() - t0 < 15
    assert sorted(p.name for p in tmp_path.iterdir()) == ["loop.onnx"]


def test_limit_option_is_parsed_strictly() -> None:
    assert parse_limits(["tensor-elements=0x100", "verify-seconds=2.5"]) == Limits(tensor_elements=256, verify_seconds=2.5)
    for bad in ("elements=3", "tensor-elements", "tensor-elements=-1", "verify-seconds=soon"):
        with pytest.raises(Exception, match="--limit"):
            parse_limits([bad])


def test_shape_inference_is_linear_in_initializers(monkeypatch: pytest.MonkeyPatch) -> None:
    """onnx-ir's ShapeInferencePass tests list membership per initializer (quadratic: 100k
    initializers take hours); trtready's own inference must not go through it."""
    import onnx_ir as ir
    from onnx import TensorProto, helper

    import onnx_ir.passes.common._c_api_utils as c_api

    from trtready.load.onnx_file import infer_shapes

    def forbidden(*a: object, **k: object) -> None:
        raise AssertionError("quadratic helper used")

    monkeypatch.setattr(c_api, "call_onnx_api", forbidden)
    n = 2000
    g = helper.make_graph([helper.make_node("Sum", [f"c{i}" for i in range(n)], ["y"])], "g", [],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                          [helper.make_tensor(f"c{i}", TensorProto.FLOAT, [3], [1.0, 2.0, 3.0]) for i in range(n)])
    model = ir.serde.deserialize_model(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]))
    infer_shapes(model)
    assert model.graph.outputs[0].shape == ir.Shape([3]) and len(model.graph.initializers) == n
    assert [v.name for v in model.graph.inputs] == []  # the initializers lent as inputs were taken back
