"""Ctrl-C or SIGTERM while TensorRT builds: the build stops, nothing is written, exit 130.

TensorRT calls back into Python only through its logger (and progress monitor); a KeyboardInterrupt
raised there is dropped by the bindings, so without care the build ran to the end and its engine was
swapped in with exit 0. The model is a chain of 1,000 small MatMul+Relu layers: a 1 MB file that
TensorRT-RTX takes several seconds to build on the CPU.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper


def _slow_model(path: Path, layers: int = 1000, width: int = 16) -> Path:
    rng = np.random.default_rng(0)
    nodes, inits, cur = [], [], "x"
    for i in range(layers):
        inits.append(numpy_helper.from_array((rng.random((width, width)) * 0.01).astype(np.float32), f"w{i}"))
        nodes += [helper.make_node("MatMul", [cur, f"w{i}"], [f"m{i}"]), helper.make_node("Relu", [f"m{i}"], [f"r{i}"])]
        cur = f"r{i}"
    nodes.append(helper.make_node("Identity", [cur], ["y"]))
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["b", width])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["b", width])], inits)
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def _interrupt(args: list[str], cwd: Path, ready: Callable[[], bool], sig: int, delay: float) -> tuple[int, str]:
    # a runner started in the background of a shell without job control ignores SIGINT, and so would
    # the CLI it starts (it keeps a user's nohup): the run under test gets the terminal's default
    proc = subprocess.Popen([sys.executable, "-m", "trtready", *args], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "COLUMNS": "100"},
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 180
    while not ready() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, proc.communicate()
    time.sleep(delay)  # by now TensorRT is parsing or building
    proc.send_signal(sig)
    try:
        _, err = proc.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("the interrupted run did not end")
    return proc.returncode, err


@pytest.mark.parametrize("sig", [
    signal.SIGINT,
    pytest.param(signal.SIGTERM, marks=pytest.mark.full_tier(
        "SIGTERM through `build`; make test sends SIGINT here and SIGTERM to convert's build below")),
])
def test_interrupted_build_writes_nothing(tmp_path: Path, sig: int) -> None:
    model = _slow_model(tmp_path / "m.onnx")
    lock = tmp_path / ".e.engine.trtready.lock"
    code, err = _interrupt(["build", str(model), "-o", "e.engine", "--profile", "x:1x16,4x16,8x16"], tmp_path,
                           lock.exists, sig, 2.0)
    assert code == 130, err[-2000:]
    assert "interrupted" in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]  # no engine, manifest, staging or lock


def test_interrupted_convert_during_its_build_writes_nothing(tmp_path: Path) -> None:
    model = _slow_model(tmp_path / "m.onnx")

    def staged_model() -> bool:  # staged beside the output, or in the jail's outbox there
        return any(tmp_path.glob(".out.*.trtready/model.onnx")) or any(
            tmp_path.glob(".trtready-jail.*/.out.*.trtready/model.onnx"))

    code, err = _interrupt(["convert", str(model), "-o", "out", "--target", "trt-rtx", "--no-verify",
                            "--profile", "x:1x16,4x16,8x16"], tmp_path, staged_model, signal.SIGTERM, 2.0)
    assert code == 130, err[-2000:]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]
