"""fix end to end on the demo models and transformers architectures built from configs."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import onnx
import pytest
import torch

import trtready
from tests.fix.independent import check_onnx_against_module
from trtready.plan import Action


def _written(out: Path) -> list[str]:
    """What the folder holds besides trtready's inventory (which must list exactly that)."""
    names = sorted(p.name for p in out.iterdir() if p.name != ".trtready.json")
    assert json.loads((out / ".trtready.json").read_text())["files"] == names
    return names


def test_bn_cnn_for_torchscript_frontend(tmp_path: Path) -> None:
    out = tmp_path / "bn"
    r = trtready.fix("trtready.demo:bn_cnn", out, target="torch-trt-ts")
    assert r and len(r.verification) == 2 and all(r.verification)
    assert _written(out) == ["model.onnx", "model.pt2", "model.ts", "report.json", "state_dict.safetensors"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ts = torch.jit.load(str(out / "model.ts"))
    assert not [n for n, b in ts.named_buffers() if b.dtype == torch.int64]
    report = json.loads((out / "report.json").read_text())
    assert report["verification"]["passed"] and report["decisions"]
    onnx.checker.check_model(str(out / "model.onnx"), full_check=True)


def test_token_model_verified_exactly(tmp_path: Path) -> None:
    r = trtready.fix("trtready.demo:token_model", tmp_path / "tok", target="trt-rtx")
    onnx_cmp = r.verification[1]
    argmax = next(o for o in onnx_cmp.worst_per_output() if o.exact)
    assert argmax.passed and argmax.max_abs == 0 and onnx_cmp.trials == 4
    kept = {d.finding: d.reason for d in r.decisions if d.action is Action.KEEP}
    assert "host-side Cast" in kept["fx:arange"]  # arange(seq) in int32 would cast the size on the host
    # independently, at shapes other than the example's and token ids up to the table's last row;
    # atol 1e-5: one embedding sum and one Linear in float32, values of order 1
    module = trtready.demo.token_model().module
    g = torch.Generator().manual_seed(7)
    for shape in ((1, 1), (3, 40), (8, 64)):
        ids = torch.randint(0, module.vocab, shape, generator=g)
        ids[0, 0] = module.vocab - 1
        assert check_onnx_against_module(tmp_path / "tok" / "model.onnx", module, {"input_ids": ids}, atol=1e-5) == 2


def test_hash_model_kept_for_native_int64_targets(tmp_path: Path) -> None:
    for target in ("trt-rtx", "trt10"):
        r = trtready.fix("trtready.demo:hash_model", tmp_path / target, target=target)
        kept = {d.finding: d.reason for d in r.decisions if d.action is Action.KEEP}
        assert "outside int32" in kept["onnx:mul"] and r


def test_hash_model_refused_for_trt8_and_nothing_written(tmp_path: Path) -> None:
    with pytest.raises(trtready.UnsafeNarrowingError, match="tensor mul .*reaches 5700357386105064606"):
        trtready.fix("trtready.demo:hash_model", tmp_path / "h8", target="trt8")
    assert list(tmp_path.iterdir()) == []


def test_float64_model_outputs_become_float32_and_compare_across_dtypes(tmp_path: Path) -> None:
    r = trtready.fix("trtready.demo:float64_buffer", tmp_path / "f64", target="trt-rtx")
    onnx_out = r.verification[1].worst_per_output()[0]
    assert (onnx_out.dtype_ref, onnx_out.dtype_cand) == ("float64", "float32") and onnx_out.passed
    model = onnx.load(str(tmp_path / "f64" / "model.onnx"))
    assert model.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    # independently: float32 against the float64 original; atol 1e-5 covers float32 rounding of
    # (x - mean) / std (|values| < 10) and one 8→4 Linear
    module = trtready.demo.float64_buffer().module
    x = torch.randn(4, 8, generator=torch.Generator().manual_seed(3))
    assert check_onnx_against_module(tmp_path / "f64" / "model.onnx", module, {"x": x}, atol=1e-5) == 1


def test_dry_run_decides_the_same_and_writes_nothing(tmp_path: Path) -> None:
    r = trtready.fix("trtready.demo:bn_cnn", tmp_path / "dry", target="torch-trt-ts", dry_run=True)
    assert r.dry_run and not list(tmp_path.iterdir())
    assert [d.action for d in r.decisions] == [Action.NARROW] * 5


def test_onnx_file_fix(tmp_path: Path, bert_onnx: Path) -> None:
    before = bert_onnx.read_bytes()
    out = tmp_path / "bert_fixed.onnx"
    r = trtready.fix(str(bert_onnx), out, dynamic=["input_ids:0=b[1:8],1=s[2:64]", "attention_mask:0=b[1:8],1=s[2:64]"])
    assert r and out.exists() and bert_onnx.read_bytes() == before
    assert any(d.action is Action.NARROW for d in r.decisions)
    # the bounds travel with the file: a later audit (and build) uses them without --dynamic
    later = trtready.audit(str(out))
    assert sorted((b.input, b.axis, b.lo, b.hi) for b in later.result.onnx_analysis.bounds) == [
        ("attention_mask", 0, 1, 8), ("attention_mask", 1, 2, 64), ("input_ids", 0, 1, 8), ("input_ids", 1, 2, 64)]
    with pytest.raises(trtready.UsageError, match="already exists"):
        trtready.fix(str(bert_onnx), out)
    with pytest.raises(trtready.UsageError, match="is an input"):
        trtready.fix(str(bert_onnx), bert_onnx, force=True)


def test_tiny_bert_and_vit_from_configs(tmp_path: Path) -> None:
    from transformers import ViTConfig, ViTModel

    from tests.conftest import tiny_bert

    model, args = tiny_bert()
    r = trtready.fix(trtready.ModelSpec(model, args, dynamic=["input_ids:0=b[1:4],1=s[2:32]",
                                                               "attention_mask:0=b[1:4],1=s[2:32]"]),
                     tmp_path / "bert", target="trt-rtx")
    assert r and {d.finding for d in r.decisions if d.action is Action.NARROW}
    cfg = ViTConfig(image_size=16, patch_size=8, num_channels=3, hidden_size=16, num_hidden_layers=1,
                    num_attention_heads=2, intermediate_size=32)
    torch.manual_seed(0)
    vit = ViTModel(cfg).eval()
    r = trtready.fix(trtready.ModelSpec(vit, (torch.randn(1, 3, 16, 16),)), tmp_path / "vit", target="trt8")
    assert r and all(r.verification)


def test_torchscript_archive_with_nested_state_is_narrowed(tmp_path: Path) -> None:
    """A ``.ts`` archive (loaded with trust_code) is narrowed by the same pass as a module: BatchNorm's
    counter inside a Sequential becomes int32 in the archive written, the file read is left alone."""
    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2)).eval()
    x = torch.randn(3, 2)
    src, out = tmp_path / "m.ts", tmp_path / "narrowed.ts"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.jit.trace(module, (x,)).save(str(src))
    original = src.read_bytes()
    r = trtready.fix(str(src), out, target="trt8", trust_code=True)
    assert r and [(d.finding, d.action) for d in r.decisions] == [("state:1.num_batches_tracked", Action.NARROW)]
    assert "no graph: state narrowed only, verification skipped" in r.notes
    assert src.read_bytes() == original
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        written = torch.jit.load(str(out))
    assert {n: b.dtype for n, b in written.named_buffers()}["1.num_batches_tracked"] == torch.int32
    assert torch.equal(written(x), module(x))  # only the counter changed: the same float32 arithmetic
