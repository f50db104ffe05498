"""``trtready demo``: every demo model audited, reports written, verdicts shown."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from tests.conftest import run_cli
from trtready.demo import DEMOS
from trtready.report.json_report import schema


def test_demo_audits_all_models_and_writes_reports(tmp_path: Path) -> None:
    out = tmp_path / "out"
    r = run_cli("demo", "-o", str(out), "--target", "trt-rtx")
    assert r.code == 0, r.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted([f"{n}.audit.json" for n in DEMOS] + list(DEMOS))
    for name in DEMOS:
        fixed = json.loads((out / name / "report.json").read_text())
        assert fixed["verification"]["passed"] and (out / name / "model.onnx").exists()
        manifest = json.loads((out / name / "model.engine.json").read_text())
        assert manifest["engine"]["bytes"] == (out / name / "model.engine").stat().st_size
    validator = jsonschema.Draft202012Validator(schema())
    verdicts = {}
    for name in DEMOS:
        data = json.loads((out / f"{name}.audit.json").read_text())
        validator.validate(data)
        verdicts[name] = data["verdict"]["ready"]
        assert f"trtready.demo:{name}" in r.stdout
    assert verdicts == {"bn_cnn": True, "token_model": True, "float64_buffer": False, "hash_model": True}
    # the token model's arange(seq) stays int64: narrowed, it would add a host-side Cast (8 → 9 Cast layers)
    assert "convert for trt-rtx" in r.stdout and "10→10" in r.stdout and "8→8" in r.stdout
    before = (out / "hash_model" / "model.onnx").read_bytes()
    again = run_cli("demo", "-o", str(out), "--target", "trt8")  # re-runnable; trt8 refuses the 2**40 model
    assert again.code == 0 and "refused" in again.stdout  # the refused run leaves the earlier output as it was
    assert (out / "hash_model" / "model.onnx").read_bytes() == before
    assert all(len(line) <= 100 for line in r.stdout.splitlines())
