"""convert: the whole pipeline, one ONNX translation, names/dtypes/profiles as requested."""

from __future__ import annotations

import json
from pathlib import Path

import onnx
import onnx_ir as ir
import pytest
import torch

import trtready
from tests.conftest import run_cli, tiny_bert
from trtready.bounds import parse_dynamic
from trtready.fix import FixRequest
from trtready.load import load_model
from trtready.pipeline import convert
from trtready.plan import PlanOptions
from trtready.targets import resolve_target

BERT_DYNAMIC = ["input_ids:0=batch[1:8],1=seq[2:64]", "attention_mask:0=batch[1:8],1=seq[2:64]"]


def test_convert_translates_to_onnx_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = torch.onnx.export

    def counting(*a, **k):
        calls.append(1)
        return real(*a, **k)

    monkeypatch.setattr(torch.onnx, "export", counting)
    loaded = load_model("trtready.demo:token_model")
    req = FixRequest(tmp_path / "tok", resolve_target("trt-rtx"), PlanOptions(), parse_dynamic(loaded.dynamic))
    result = convert(loaded, req)
    assert result and result.build is not None and len(calls) == 1


def test_convert_narrows_state_without_a_second_capture(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """BERT's int64 buffers are narrowed in the audit's program itself: torch.export runs once."""
    calls = []
    real = torch.export.export

    def counting(*a, **k):
        calls.append(1)
        return real(*a, **k)

    monkeypatch.setattr(torch.export, "export", counting)
    model, args = tiny_bert()
    spec = trtready.ModelSpec(model, args, dynamic=BERT_DYNAMIC)
    req = FixRequest(tmp_path / "bert", resolve_target("trt-rtx"), PlanOptions(), parse_dynamic(BERT_DYNAMIC))
    result = convert(load_model(spec), req)
    narrowed = {d.finding for d in result.fix.decisions if d.action.value == "narrow" and d.finding.startswith("state:")}
    assert result and all(result.fix.verification) and len(result.fix.verification) == 2
    assert narrowed == {"state:embeddings.position_ids", "state:embeddings.token_type_ids"}
    assert len(calls) == 1
    ep = torch.export.load(str(tmp_path / "bert" / "model.pt2"))  # the written program carries the narrowing
    state = {**ep.state_dict, **ep.constants}
    assert state["embeddings.position_ids"].dtype == state["embeddings.token_type_ids"].dtype == torch.int32


def test_convert_runs_each_side_once_per_trial_and_reads_its_onnx_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The original module is the reference of the PyTorch and the ONNX Runtime comparison: it runs
    once per trial (and probe) for both. The build reads the written model's inputs and bounds from
    the model in memory (TensorRT alone parses the file), and report.json is made and written once."""
    import trtready.load.onnx_file as onnx_file
    import trtready.report.json_report as json_report
    from trtready.verify.runners import OrtRunner, TorchRunner

    runs: dict[str, int] = {"original": 0, "narrowed": 0, "onnx": 0}
    real_torch, real_ort = TorchRunner.run, OrtRunner.run

    def torch_run(self, feeds):
        runs["narrowed" if isinstance(self.module, torch.fx.GraphModule) else "original"] += 1
        return real_torch(self, feeds)

    def ort_run(self, feeds):
        runs["onnx"] += 1
        return real_ort(self, feeds)

    monkeypatch.setattr(TorchRunner, "run", torch_run)
    monkeypatch.setattr(OrtRunner, "run", ort_run)
    counts = {"load_onnx": 0, "fix_report_json": 0}
    for mod, name in ((onnx_file, "load_onnx"), (json_report, "fix_report_json")):
        def counting(*a, _real=getattr(mod, name), _name=name, **k):
            counts[_name] += 1
            return _real(*a, **k)

        monkeypatch.setattr(mod, name, counting)
    model, args = tiny_bert()
    spec = trtready.ModelSpec(model, args, dynamic=BERT_DYNAMIC)
    req = FixRequest(tmp_path / "bert", resolve_target("trt-rtx"), PlanOptions(), parse_dynamic(BERT_DYNAMIC))
    result = convert(load_model(spec), req)
    assert result and result.build is not None
    pytorch, onnx_cmp = result.fix.verification
    assert pytorch.trials == onnx_cmp.trials >= 4 and len(pytorch.probes) == len(onnx_cmp.probes) == 1
    per_side = pytorch.trials + 1  # the seeded trials and the out-of-range probe of input_ids
    assert runs == {"original": per_side, "narrowed": per_side, "onnx": per_side}
    assert counts == {"load_onnx": 0, "fix_report_json": 1}
    out = tmp_path / "bert"
    report = json.loads((out / "report.json").read_text())
    page = (out / "report.html").read_text()
    block = page.split('<script type="application/json" id="trtready-report">', 1)[1].split("</script>", 1)[0]
    assert report["verb"] == "convert" and json.loads(block) == report
    manifest = json.loads((out / "model.engine.json").read_text())
    assert manifest["model"]["path"] == "model.onnx" and manifest["model"]["data_files"] == []
    assert manifest["profiles"]["input_ids"] == {"min": [1, 2], "opt": [2, 16], "max": [8, 64]}


def test_convert_captures_again_when_the_program_cannot_be_narrowed_in_place(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fallback: the narrowed module captured once more, verified as the in-place program is."""
    import trtready.passes.narrow_program as narrow_program

    calls = []
    real = torch.export.export

    def counting(*a, **k):
        calls.append(1)
        return real(*a, **k)

    monkeypatch.setattr(torch.export, "export", counting)
    monkeypatch.setattr(narrow_program, "narrow_program", lambda *a: None)
    model, args = tiny_bert()
    spec = trtready.ModelSpec(model, args, dynamic=BERT_DYNAMIC)
    req = FixRequest(tmp_path / "bert", resolve_target("trt-rtx"), PlanOptions(), parse_dynamic(BERT_DYNAMIC))
    result = convert(load_model(spec), req)
    assert result and all(result.fix.verification) and len(calls) == 2
    ep = torch.export.load(str(tmp_path / "bert" / "model.pt2"))
    assert {**ep.state_dict, **ep.constants}["embeddings.position_ids"].dtype == torch.int32


def test_bert_with_custom_output_names_and_dynamic_profile(tmp_path: Path) -> None:
    model, args = tiny_bert()
    spec = trtready.ModelSpec(model, args, dynamic=BERT_DYNAMIC)
    req = FixRequest(tmp_path / "bert", resolve_target("trt-rtx"), PlanOptions(), parse_dynamic(BERT_DYNAMIC),
                     input_names=["ids", "mask"], output_names=["hidden", "pooled"])
    result = convert(load_model(spec), req)
    assert result and all(result.fix.verification)
    m = onnx.load(str(tmp_path / "bert" / "model.onnx"))
    assert [i.name for i in m.graph.input] == ["ids", "mask"]
    assert [o.name for o in m.graph.output] == ["hidden", "pooled"]
    manifest = json.loads((tmp_path / "bert" / "model.engine.json").read_text())
    assert [i["name"] for i in manifest["io"]["inputs"]] == ["ids", "mask"]
    assert [(o["name"], o["dtype"]) for o in manifest["io"]["outputs"]] == [("hidden", "FLOAT"), ("pooled", "FLOAT")]
    assert manifest["profiles"]["ids"] == {"min": [1, 2], "opt": [2, 16], "max": [8, 64]}
    assert manifest["profiles"]["mask"] == manifest["profiles"]["ids"]
    # the unmodified export has 29 (docs/narrowing.md); left: the two inputs, kept int64 by default
    assert sorted(manifest["network"]["int64_execution_names"]) == ["ids", "mask"]


def test_convert_cli_with_baseline(tmp_path: Path) -> None:
    out = tmp_path / "hash"
    r = run_cli("convert", "trtready.demo:hash_model", "-o", str(out), "--baseline", "--target", "trt-rtx")
    assert r.code == 0, r.stderr
    assert "before: the unmodified export" in r.stdout and "BUILT" in r.stdout
    assert sorted(p.name for p in out.iterdir()) == [".trtready.json", "model.engine", "model.engine.json", "model.onnx", "model.pt2",
                                                     "report.html", "report.json", "state_dict.safetensors"]
    report = json.loads((out / "report.json").read_text())  # the folder's report covers the whole run
    assert report["verb"] == "convert" and report["build"]["network_before"] is not None
    assert report["build"]["effect"] in ("none", "smaller", "mixed")
    assert report["build"]["network"]["layers"] == json.loads((out / "model.engine.json").read_text())["network"]["layers"]
    refused = run_cli("convert", "trtready.demo:hash_model", "-o", str(tmp_path / "h8"), "--target", "trt8")
    assert refused.code == 2 and not (tmp_path / "h8").exists()


def test_onnx_input_with_baseline_and_int32_io_reports_the_effect(tmp_path: Path, bert_onnx: Path) -> None:
    report = tmp_path / "r.json"
    r = run_cli("convert", str(bert_onnx), "-o", str(tmp_path / "out"), "--baseline", "--io", "int32",
                "--target", "trt-rtx", "--json", str(report), *sum((["--dynamic", d] for d in BERT_DYNAMIC), []))
    assert r.code == 0, r.stderr
    build = json.loads(report.read_text())["build"]
    before, after = build["network_before"], build["network"]
    assert build["effect"] == "smaller"
    assert after["int64_execution_tensors"] == 0 < before["int64_execution_tensors"]
    assert after["cast_layers"] <= before["cast_layers"] and after["int64_shape_tensors"] <= before["int64_shape_tensors"]
    assert {i["dtype"] for i in after["inputs"]} == {"INT32"}


def test_missing_torch_tensorrt_is_one_line(tmp_path: Path) -> None:
    """The adapter itself is tested against the real library in tests/oracle (make oracle)."""
    r = run_cli("convert", "trtready.demo:bn_cnn", "-o", str(tmp_path / "x"), "--frontend", "torch-trt-dynamo")
    assert r.code == 2 and "torch_tensorrt is not installed" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "x").exists()


class _Scale(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(4, 3)
        self.register_buffer("offset", torch.arange(3))  # int64 state: narrowing changes the program

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x) + self.offset


def test_a_dynamic_pt2_converts_with_the_bounds_it_carries(tmp_path: Path) -> None:
    """A .pt2 exported with ``Dim(min=1, max=8)`` needs no ``--dynamic``: the engine's profile and the
    written ONNX's recorded bounds are the program's own [1, 8], whether or not narrowing changed it."""
    from trtready.bounds import bounds_from_metadata

    ep = torch.export.export(_Scale(), (torch.randn(2, 4),),
                             dynamic_shapes={"x": {0: torch.export.Dim("b", min=1, max=8)}})
    pt2 = tmp_path / "scale.pt2"
    torch.export.save(ep, str(pt2))
    r = run_cli("convert", str(pt2), "-o", str(tmp_path / "conv"), "--target", "trt-rtx")
    assert r.code == 0, r.stderr
    assert "profile x: min [1, 4] opt [2, 4] max [8, 4]" in r.stdout
    written = ir.load(tmp_path / "conv" / "model.onnx")
    assert [(b.input, b.axis, b.lo, b.hi) for b in bounds_from_metadata(written)] == [("x", 0, 1, 8)]
    trtready.export(str(pt2), tmp_path / "plain.onnx")
    plain = ir.load(tmp_path / "plain.onnx")
    assert [(b.input, b.axis, b.lo, b.hi) for b in bounds_from_metadata(plain)] == [("x", 0, 1, 8)]


def test_a_baseline_of_an_unnarrowed_program_reuses_its_translation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With --io int32, token_model changes only in ONNX (its program is not narrowed): the translation,
    kept before the ONNX plan, is the baseline's — one torch.onnx translation in all, the same network a
    separate plain export parses to, and not the narrowed one."""
    calls = []
    real = torch.onnx.export

    def counting(*a, **k):
        calls.append(1)
        return real(*a, **k)

    monkeypatch.setattr(torch.onnx, "export", counting)
    loaded = load_model("trtready.demo:token_model")
    req = FixRequest(tmp_path / "tok", resolve_target("trt-rtx"), PlanOptions(io_int32=True),
                     parse_dynamic(loaded.dynamic))
    result = convert(loaded, req, baseline=True)
    assert result and result.baseline is not None and len(calls) == 1
    assert not req.keep_unmodified_onnx  # the caller's request is not changed
    plain = tmp_path / "plain.onnx"
    trtready.export("trtready.demo:token_model", plain, dynamic=loaded.dynamic)
    view = trtready.inspect(plain, library="tensorrt_rtx")[0]
    assert (result.baseline.layers, result.baseline.cast_layers, sorted(result.baseline.int64_execution)) == \
        (view.layers, view.cast_layers, sorted(view.int64_execution))
    assert result.build is not None and "input_ids" in view.int64_execution
    assert "input_ids" not in result.build.network.int64_execution  # the INT32 binding: the plan ran after the copy


def test_the_folder_after_model_onnx_is_written_beside_the_build_and_its_failure_commits_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """model.pt2 and the safetensors are written on a thread while TensorRT builds from model.onnx — started
    once the network is parsed, not before (the parse's log callbacks would queue for the GIL behind the
    writer); convert waits for them, and an error there fails the run with nothing in place of the output
    folder."""
    import threading

    import trtready.engine.engine as engine_module

    real = torch.export.save
    writers: list[str] = []
    events: list[str] = []

    def recording(*a, **k):
        writers.append(threading.current_thread().name)
        events.append("save")
        return real(*a, **k)

    real_parse = engine_module.parse_network

    def parsing(*a, **k):
        out = real_parse(*a, **k)
        events.append("parsed")
        return out

    monkeypatch.setattr(torch.export, "save", recording)
    monkeypatch.setattr(engine_module, "parse_network", parsing)
    loaded = load_model("trtready.demo:token_model")
    req = FixRequest(tmp_path / "ok", resolve_target("trt-rtx"), PlanOptions(), parse_dynamic(loaded.dynamic))
    result = convert(loaded, req)
    assert result and result.build is not None and writers == ["trtready-write"]
    assert events == ["parsed", "save"]
    assert {"model.pt2", "state_dict.safetensors", "model.onnx", "model.engine"} <= {p.name for p in (tmp_path / "ok").iterdir()}

    def failing(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch.export, "save", failing)
    loaded = load_model("trtready.demo:token_model")
    req = FixRequest(tmp_path / "full", resolve_target("trt-rtx"), PlanOptions(), parse_dynamic(loaded.dynamic))
    with pytest.raises(OSError, match="No space left"):
        convert(loaded, req)
    assert not (tmp_path / "full").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name != "ok"] == []  # no staged folder left behind
