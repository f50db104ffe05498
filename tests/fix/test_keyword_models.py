"""Models called the way their users call them: keyword inputs, padded masks, dict outputs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import trtready
from tests.conftest import run_cli
from tests.fix.independent import check_onnx_against_module
from trtready.plan import Action


def tiny_bert_spec() -> trtready.ModelSpec:
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    model = BertModel(BertConfig(vocab_size=96, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                 intermediate_size=64, max_position_embeddings=48)).eval()
    ids = torch.randint(0, 96, (2, 12))
    mask = torch.ones(2, 12, dtype=torch.int64)
    mask[1, 7:] = 0
    dyn = ["input_ids:0=batch[1:4],1=seq[2:32]", "attention_mask:0=batch[1:4],1=seq[2:32]"]
    return trtready.ModelSpec(model, (), {"input_ids": ids, "attention_mask": mask}, dynamic=dyn)


def test_keyword_inputs_end_to_end_and_the_pt2_loads_anywhere(tmp_path: Path) -> None:
    out = tmp_path / "bert"
    r = trtready.fix(tiny_bert_spec(), out, target="trt-rtx")
    assert r and len(r.verification) == 2 and all(c.passed for c in r.verification)
    notes = " ".join(r.verification[1].notes)
    assert "attention_mask: mask" in notes and "input_ids: index[0,96)" in notes
    # a fresh interpreter that never imports transformers loads the program and names its outputs
    code = ("import torch\nep = torch.export.load(%r)\nargs, kwargs = ep.example_inputs\n"
            "out = ep.module()(*args, **kwargs)\nprint(sorted(out))" % str(out / "model.pt2"))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "['last_hidden_state', 'pooler_output']"
    report = json.loads((out / "report.json").read_text())
    assert {v["name"] for v in json.loads(json.dumps(report))["verification"]["comparisons"][1]["outputs"]} == {
        "last_hidden_state", "pooler_output"}
    # independently, with a batch and length the example did not have and left padding this time;
    # atol 1e-4: two float32 transformer layers of width 32, outputs of order 1 after LayerNorm
    spec = tiny_bert_spec()
    g = torch.Generator().manual_seed(11)
    ids = torch.randint(0, 96, (3, 20), generator=g)
    mask = torch.ones(3, 20, dtype=torch.int64)
    mask[2, :9] = 0
    n = check_onnx_against_module(out / "model.onnx", spec.module, {"input_ids": ids, "attention_mask": mask}, atol=1e-4)
    assert n == 2


def test_dry_run_takes_the_real_runs_decisions(tmp_path: Path) -> None:
    spec = tiny_bert_spec()
    dry = trtready.fix(spec, dry_run=True, target="trt-rtx")
    real = trtready.fix(spec, tmp_path / "o", target="trt-rtx")
    assert [(d.finding, d.action) for d in dry.decisions] == [(d.finding, d.action) for d in real.decisions]
    assert any(d.finding.startswith("onnx:") for d in dry.decisions)
    assert any(d.action is Action.NARROW for d in dry.decisions) and not dry.written


class DataDependent(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.sum() > 0:  # torch.export cannot capture data-dependent control flow
            return x + 1
        return x - 1


def test_an_uncapturable_model_is_never_ready_and_never_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "ddmod.py").write_text(
        "import torch\nfrom tests.fix.test_keyword_models import DataDependent\n"
        "def spec():\n    return DataDependent(), (torch.randn(3),)\n"
    )
    env = {"PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    audit = run_cli("audit", "ddmod:spec", "--json", "-", cwd=tmp_path, env=env)
    assert audit.code == 1 and "could not analyse the fx layer" in audit.stderr
    data = json.loads(audit.stdout)
    assert data["verdict"]["ready"] is False and data["layers"]["fx"].startswith("failed: torch.export failed")
    fix = run_cli("fix", "ddmod:spec", "-o", str(tmp_path / "out"), cwd=tmp_path, env=env)
    assert fix.code == 2 and fix.stderr.startswith("trtready: error: torch.export failed")
    assert not (tmp_path / "out").exists()


def test_spec_in_the_current_folder_is_found_by_the_console_script(tmp_path: Path) -> None:
    (tmp_path / "mymodels.py").write_text(
        "import torch\ndef tiny():\n    return torch.nn.Linear(3, 2), (torch.randn(2, 3),)\n"
    )
    script = Path(sys.executable).with_name("trtready")
    proc = subprocess.run([str(script), "audit", "mymodels:tiny", "--quiet"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0 and "READY" in proc.stdout, proc.stderr


class Keyed(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.bn = torch.nn.BatchNorm1d(4)

    def forward(self, x: torch.Tensor, scale: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        y = self.bn(x)
        return {"y": y * scale if scale is not None else y, "n": self.bn.num_batches_tracked + 0}


def test_torchscript_target_traces_keyword_inputs_and_dict_outputs(tmp_path: Path) -> None:
    spec = trtready.ModelSpec(Keyed().eval(), (torch.randn(2, 4),), {"scale": torch.ones(4)})
    r = trtready.fix(spec, tmp_path / "o", target="torch-trt-ts")
    assert r and (tmp_path / "o" / "model.ts").exists()
