"""export: user names on ONNX inputs/outputs, pytree names for nested outputs, .pt2 and TorchScript."""

from __future__ import annotations

import warnings
from pathlib import Path

import onnx
import pytest
import torch

import trtready
from trtready.export.exporter import export_model
from trtready.load import load_model


class DictOut(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.emb = torch.nn.Embedding(10, 4)
        self.lin = torch.nn.Linear(4, 3)

    def forward(self, input_ids: torch.Tensor) -> dict:
        h = self.emb(input_ids)
        logits = self.lin(h)
        return {"logits": logits, "pred": logits.argmax(-1), "hidden": (h, h.mean(1))}


class Collide(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        y = torch.relu(x)
        return y * 2, torch.tanh(y)


def _spec(m: torch.nn.Module, *args: torch.Tensor, dynamic=None) -> trtready.ModelSpec:
    return trtready.ModelSpec(m.eval(), args, dynamic=dynamic)


def _io(path: Path) -> tuple[list[str], list[str]]:
    m = onnx.load(str(path))
    return [i.name for i in m.graph.input], [o.name for o in m.graph.output]


def test_dict_outputs_are_named_from_their_keys(tmp_path: Path) -> None:
    spec = _spec(DictOut(), torch.randint(0, 10, (2, 5)), dynamic=["input_ids:0=b[1:4],1=s[1:16]"])
    r = export_model(load_model(spec), tmp_path / "d.onnx", "onnx", trtready.bounds.parse_dynamic(spec.dynamic))
    assert _io(tmp_path / "d.onnx") == (["input_ids"], ["logits", "pred", "hidden.0", "hidden.1"])
    assert r.output_names == ["logits", "pred", "hidden.0", "hidden.1"]
    meta = {p.key: p.value for p in onnx.load(str(tmp_path / "d.onnx")).metadata_props}
    assert '"max": 16' in meta["trtready.dynamic"] and "input_ids" in meta["trtready.example_shapes"]
    from trtready.engine.engine import build_engine
    from trtready.targets import resolve_target

    built = build_engine(tmp_path / "d.onnx", tmp_path / "d.engine", resolve_target("trt-rtx"), {})
    assert [o["name"] for o in built.network.outputs] == ["logits", "pred", "hidden.0", "hidden.1"]
    assert [o["dtype"] for o in built.network.outputs] == ["FLOAT", "INT64", "FLOAT", "FLOAT"]


def test_requested_names_including_ones_that_collide_with_internal_values(tmp_path: Path) -> None:
    path = tmp_path / "c.onnx"
    export_model(load_model(_spec(Collide(), torch.randn(3))), path, "onnx", [], ["inp"], ["relu", "tanh"])
    assert _io(path) == (["inp"], ["relu", "tanh"])  # 'relu' was an internal value's name
    onnx.checker.check_model(str(path), full_check=True)
    from tests.onnx_models import run

    x = torch.randn(3)
    got = run(path, {"inp": x.numpy()})
    want = Collide()(x)
    assert all(torch.allclose(torch.from_numpy(g), w) for g, w in zip(got, want))


def test_name_count_mismatch_is_a_clean_error(tmp_path: Path) -> None:
    with pytest.raises(trtready.UsageError, match="--output-names gives 1 name"):
        export_model(load_model(_spec(Collide(), torch.randn(3))), tmp_path / "x.onnx", "onnx", [], None, ["only"])
    assert not list(tmp_path.iterdir())


def test_pt2_and_torchscript(tmp_path: Path) -> None:
    export_model(load_model("trtready.demo:token_model"), tmp_path / "t.pt2", "pt2", [])
    assert list(torch.export.load(str(tmp_path / "t.pt2")).graph_signature.user_inputs) == ["input_ids"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = trtready.export("trtready.demo:bn_cnn", tmp_path / "b.ts", format="torchscript")
    assert not [w for w in caught if issubclass(w.category, DeprecationWarning)]
    assert r.notes[-1].endswith("(state narrowed first)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ts = torch.jit.load(str(tmp_path / "b.ts"))
    buffers = {n: b.dtype for n, b in ts.named_buffers()}
    assert not [n for n, dtype in buffers.items() if dtype == torch.int64]
    assert buffers["layer1.0.bn1.num_batches_tracked"] == torch.int32


def test_the_export_stage_traces_the_module_it_is_given(tmp_path: Path) -> None:
    # the state stage is the pipeline's (trtready.pipeline.export): export_model alone narrows nothing
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = export_model(load_model("trtready.demo:bn_cnn"), tmp_path / "b.ts", "torchscript", [])
        ts = torch.jit.load(str(tmp_path / "b.ts"))
    assert r.notes == ["TorchScript is deprecated in torch 2.13"]
    assert {n: b.dtype for n, b in ts.named_buffers()}["layer1.0.bn1.num_batches_tracked"] == torch.int64


def test_the_older_exporter_writes_the_names_and_bounds_the_dynamo_file_has(tmp_path: Path) -> None:
    """``--exporter torchscript``: same input/output names (pytree keys), dynamic axes from the bounds."""
    import numpy as np

    from tests.onnx_models import run_by_name

    torch.manual_seed(0)
    module = DictOut()
    ids = torch.randint(0, 10, (2, 5))
    dynamic = ["input_ids:0=batch[1:4],1=seq[2:8]"]
    plain = trtready.export(_spec(module, ids, dynamic=dynamic), tmp_path / "dynamo.onnx")
    legacy = trtready.export(_spec(module, ids, dynamic=dynamic), tmp_path / "ts.onnx", exporter="torchscript")
    assert legacy.export is not None and legacy.export.exporter == "torchscript"
    assert plain.export is not None and plain.export.exporter == "dynamo"
    assert _io(tmp_path / "ts.onnx") == _io(tmp_path / "dynamo.onnx")
    assert any("exported with torch.onnx (dynamo=False)" in n for n in legacy.notes)
    big = torch.randint(0, 10, (4, 8))  # the bounds' maximum: the trace kept no example size
    with torch.no_grad():
        want = module(big)["logits"].numpy()
    got = run_by_name(tmp_path / "ts.onnx", {"input_ids": big.numpy()})["logits"]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    recorded = onnx.load(str(tmp_path / "ts.onnx")).metadata_props
    assert any(p.key == "trtready.dynamic" for p in recorded)
