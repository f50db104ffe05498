"""FIFOs, devices and oversized files are refused before anything is read — never a hang.

Each run has its own timeout: a regression (a read that blocks on a FIFO, or never ends on
``/dev/zero``) fails the test instead of hanging the suite.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import CliResult
from tests.hardening.test_outputs import _onnx

TIMEOUT = 120


def _run(*args: str, cwd: Path | None = None) -> CliResult:
    env = {**os.environ, "COLUMNS": "100"}
    try:
        proc = subprocess.run([sys.executable, "-m", "trtready", *args], capture_output=True, text=True, cwd=cwd,
                              env=env, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"trtready {' '.join(args)} hung (killed after {TIMEOUT} s)")
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


def _refused(r: CliResult, what: str = "not a regular file") -> None:
    assert r.code == 2, (r.code, r.stdout[-500:], r.stderr[-1500:])
    assert r.stderr.startswith("trtready: error: ") and r.stderr.count("\n") == 1, r.stderr
    assert what in r.stderr, r.stderr


def test_fifo_manifest_is_refused_by_check_env_and_inspect(tmp_path: Path) -> None:
    fifo = tmp_path / "m.engine.json"
    os.mkfifo(fifo)
    _refused(_run("check-env", str(fifo)))
    engine = tmp_path / "m.engine"
    engine.write_bytes(b"engine bytes")
    _refused(_run("inspect", str(engine)))


def test_fifo_engine_beside_its_manifest_is_refused_by_inspect(tmp_path: Path) -> None:
    engine = tmp_path / "m.engine"
    os.mkfifo(engine)
    (tmp_path / "m.engine.json").write_text(json.dumps({"manifest_version": "1.0", "tool_version": "0",
                                                        "library": {"name": "tensorrt_rtx", "version": "1.7"}}))
    _refused(_run("inspect", str(engine)))


def test_device_and_oversized_manifests_are_refused(tmp_path: Path) -> None:
    _refused(_run("check-env", "/dev/zero"), "not a regular file (a device)")
    big = tmp_path / "big.engine.json"
    with open(big, "wb") as fh:  # sparse: 65 MiB declared, nothing stored
        fh.truncate(65 * 2**20)
    _refused(_run("check-env", str(big)), "limit")


def test_fifo_as_model_and_as_inputs(tmp_path: Path) -> None:
    fifo = tmp_path / "in.npz"
    os.mkfifo(fifo)
    _refused(_run("audit", str(fifo)))
    _refused(_run("verify", "trtready.demo:token_model", "trtready.demo:token_model", "--inputs", str(fifo)))
    src = _onnx(tmp_path / "m.onnx")
    _refused(_run("fix", str(src), "-o", str(tmp_path / "o.onnx"), "--inputs", str(fifo)))
    assert not (tmp_path / "o.onnx").exists()
    _refused(_run("verify", str(src), str(fifo)))
    _refused(_run("build", str(fifo), "-o", str(tmp_path / "e.engine")))


def test_fifo_beside_an_output_is_never_read(tmp_path: Path) -> None:
    """An existing output's mark is read to decide whether --force may replace it: a FIFO there must
    not block that read."""
    src = _onnx(tmp_path / "m.onnx")
    os.mkfifo(tmp_path / "e.engine.json")
    r = _run("build", str(src), "-o", str(tmp_path / "e.engine"), "--force")
    assert r.code == 2 and r.stderr.count("\n") == 1 and "e.engine.json" in r.stderr, r.stderr
    os.mkfifo(tmp_path / "r.json")
    r = _run("fix", str(src), "-o", str(tmp_path / "o.onnx"), "--json", str(tmp_path / "r.json"), "--force")
    assert r.code == 2 and r.stderr.count("\n") == 1 and "r.json" in r.stderr, r.stderr
