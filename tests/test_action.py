"""action.yml, the GitHub Actions composite action: its inputs are declared, and its shell steps run as
written against the real CLI (a ``trtready`` on PATH that is this checkout's)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import onnx_ir as ir
import pytest
import yaml

from tests.conftest import ROOT

ACTION = yaml.safe_load((ROOT / "action.yml").read_text())
STEPS = ACTION["runs"]["steps"]
EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def _expressions(node: object) -> list[str]:
    if isinstance(node, dict):
        return [e for v in node.values() for e in _expressions(v)]
    if isinstance(node, list):
        return [e for v in node for e in _expressions(v)]
    return EXPR.findall(node) if isinstance(node, str) else []


def test_every_input_a_step_reads_is_declared_and_every_declared_one_is_read() -> None:
    assert ACTION["runs"]["using"] == "composite"
    used = {m for e in _expressions(STEPS) + _expressions(ACTION["outputs"])
            for m in re.findall(r"inputs\.([A-Za-z0-9_-]+)", e)}
    assert used == set(ACTION["inputs"])
    assert ACTION["inputs"]["model"]["required"] is True
    assert all("default" in spec for name, spec in ACTION["inputs"].items() if name != "model")
    # shell steps take inputs through env only: no expression is pasted into a script
    assert all("run" not in s or not EXPR.search(s["run"]) for s in STEPS)
    upload = next(s for s in STEPS if "upload-sarif" in s.get("uses", ""))
    assert upload["uses"].startswith("github/codeql-action/upload-sarif@")
    assert "inputs.upload-sarif == 'true'" in upload["if"]


def _step(name: str) -> dict:
    return next(s for s in STEPS if s.get("name") == name)


def _run_step(step: dict, values: dict[str, str], cwd: Path, extra: dict[str, str]) -> subprocess.CompletedProcess:
    """Run a shell step's script with its env as the runner would set it from ``values``."""
    env = {**os.environ, **extra}
    for key, value in step.get("env", {}).items():
        env[key] = EXPR.sub(lambda m: values[m.group(1)], str(value))
    return subprocess.run(["bash", "-e", "-c", step["run"]], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)


@pytest.fixture
def runner(tmp_path: Path) -> dict[str, str]:
    """A PATH whose ``trtready`` is this checkout's CLI, and a $GITHUB_OUTPUT file."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "trtready"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m trtready "$@"\n')
    shim.chmod(0o755)
    src = str(ROOT / "src")
    return {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "GITHUB_OUTPUT": str(tmp_path / "gh-output"),
            "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}


MODEL = """
<ir_version: 10, opset_import: ["" : 20]>
g (int64[N, S] ids, double[N] d) => (float[N, S, 2] y, double[N] e)
<float[6, 2] table = {0,1,2,3,4,5,6,7,8,9,10,11}> {
  y = Gather<axis=0>(table, ids)
  e = Add(d, d)
}
"""


@pytest.mark.parametrize(("target", "code"), [("trt10", "1"), ("torch-trt-dynamo", "1")])
def test_the_audit_step_runs_the_real_cli_and_the_last_step_fails_on_not_ready(
        tmp_path: Path, runner: dict[str, str], target: str, code: str) -> None:
    ir.save(ir.from_onnx_text(MODEL), str(tmp_path / "m.onnx"))
    values = {f"inputs.{k}": str(v.get("default", "")) for k, v in ACTION["inputs"].items()}
    values.update({"inputs.model": "m.onnx", "inputs.target": target,
                   "inputs.args": "--dynamic 'ids:0=[1:4],1=[1:8]' --dynamic 'd:0=[1:4]'"})
    r = _run_step(_step("trtready audit"), values, tmp_path, runner)
    assert r.returncode == 0, r.stderr  # the step keeps the code; it never fails the job itself
    assert (tmp_path / "gh-output").read_text() == f"exit-code={code}\n"
    assert "NOT READY for " + target in " ".join(r.stdout.split())  # float64 loses precision everywhere
    sarif = json.loads((tmp_path / "trtready.sarif").read_text())
    assert {x["ruleId"] for x in sarif["runs"][0]["results"] if x["level"] == "error"} == {"TRT012"}
    values["steps.audit.outputs.exit-code"] = code
    fail = _run_step(_step("Fail on NOT READY"), values, tmp_path, runner)
    assert fail.returncode == int(code) and "NOT READY" in fail.stderr
    values["inputs.fail-on-not-ready"] = "false"
    assert _run_step(_step("Fail on NOT READY"), values, tmp_path, runner).returncode == 0


def test_a_model_that_cannot_be_read_fails_the_job_with_exit_2(tmp_path: Path, runner: dict[str, str]) -> None:
    (tmp_path / "broken.onnx").write_bytes(b"\x08")
    values = {f"inputs.{k}": str(v.get("default", "")) for k, v in ACTION["inputs"].items()}
    values["inputs.model"] = "broken.onnx"
    r = _run_step(_step("trtready audit"), values, tmp_path, runner)
    assert r.returncode == 0 and (tmp_path / "gh-output").read_text() == "exit-code=2\n"
    assert r.stderr.startswith("trtready: error: ")
    values["steps.audit.outputs.exit-code"] = "2"
    values["inputs.fail-on-not-ready"] = "false"  # errors fail the job whatever this says
    assert _run_step(_step("Fail on NOT READY"), values, tmp_path, runner).returncode == 2
