"""Export paths: when torch.onnx (dynamo) stops or writes a wrong file, the next path; always said.

- a model dynamo cannot translate (a custom op with an ONNX symbolic for the older exporter only) is
  exported by ``torch.onnx.export(..., dynamo=False)``, verified against the original module, and the
  report says which exporter wrote it and why dynamo did not;
- an exporter bug that only shows at the maximum batch (planted here) is never called verified: the
  written file is compared with eager PyTorch at the min and max of every dynamic axis; the plain
  export shares the mismatch, so it is the exporter's, and the next path is tried;
- a library's custom op without an ONNX function (transformers' MoE grouped matmul) is named with
  the module calling it and the library's switch, and decomposed exactly;
- ONNX Runtime without a kernel (bfloat16 Mul) does not block: the written file runs with that Mul in float32,
  said, exit 0.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnx_ir as ir
import pytest
import torch

import trtready
from tests.conftest import run_cli
from trtready.errors import UpstreamError

# --- a custom op the older exporter knows (a registered TorchScript symbolic) and dynamo does not ---


@torch.library.custom_op("trtready_test::scale2", mutates_args=())
def scale2(x: torch.Tensor) -> torch.Tensor:
    return x * 2


@scale2.register_fake
def _scale2_fake(x: torch.Tensor) -> torch.Tensor:
    return torch.empty_like(x)


@torch.library.custom_op("trtready_test::opaque", mutates_args=())
def opaque(x: torch.Tensor) -> torch.Tensor:
    return x + 1


@opaque.register_fake
def _opaque_fake(x: torch.Tensor) -> torch.Tensor:
    return torch.empty_like(x)


def _scale2_symbolic(g: Any, x: Any) -> Any:
    return g.op("Mul", x, g.op("Constant", value_t=torch.tensor(2.0)))


torch.onnx.register_custom_op_symbolic("trtready_test::scale2", _scale2_symbolic, 9)


class Body(torch.nn.Module):
    def __init__(self, op: Any) -> None:
        super().__init__()
        self.op = op

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


class WithCustomOp(torch.nn.Module):
    def __init__(self, op: Any) -> None:
        super().__init__()
        self.lin = torch.nn.Linear(8, 8)
        self.body = Body(op)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(self.lin(x))


class Tiny(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = torch.nn.Linear(8, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.lin(x)) + x.shape[0]


def _spec(module: torch.nn.Module) -> trtready.ModelSpec:
    torch.manual_seed(0)
    return trtready.ModelSpec(module.eval(), (torch.randn(2, 8),), dynamic=["x:0=batch[1:4]"])


def _eager(module: torch.nn.Module, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        out: np.ndarray = module(torch.from_numpy(x)).numpy()
    return out


def _ort(path: Path, x: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    out: np.ndarray = sess.run(None, {"x": x})[0]
    return out


def test_dynamo_failure_falls_back_to_the_older_exporter_and_says_why(tmp_path: Path) -> None:
    torch.manual_seed(0)
    module = WithCustomOp(torch.ops.trtready_test.scale2).eval()
    result = trtready.fix(_spec(module), tmp_path / "out", target="trt-rtx")
    assert result and result.export is not None
    assert result.export.exporter == "torchscript"
    assert [a.path for a in result.export.failed] == ["dynamo"]
    assert "No ONNX function found" in result.export.failed[0].reason
    assert any("trtready_test::scale2 has no ONNX function, called from body (Body)" in n
               for n in result.export.notes)
    assert result.export.line().startswith("exported with torch.onnx (dynamo=False): dynamo failed:")
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["export"]["exporter"] == "torchscript" and report["export"]["failed"][0]["path"] == "dynamo"
    x = np.random.default_rng(0).standard_normal((4, 8)).astype(np.float32)  # the max batch
    np.testing.assert_allclose(_ort(tmp_path / "out" / "model.onnx", x), _eager(module, x), rtol=1e-5, atol=1e-5)
    names = {v.name for v in ir.load(tmp_path / "out" / "model.onnx").graph.inputs}
    assert names == {"x"}  # forward's name, as the dynamo file has


def test_no_path_exports_stops_with_every_path_reason() -> None:
    with pytest.raises(UpstreamError) as err:
        trtready.fix(_spec(WithCustomOp(torch.ops.trtready_test.opaque)), dry_run=True, target="trt-rtx")
    text = str(err.value)
    assert "dynamo: No ONNX function found" in text and "torchscript:" in text
    assert "trtready_test::opaque has no ONNX function, called from body (Body)" in text


# --- a shape-dependent exporter bug: the written ONNX is wrong only at the maximum batch ---------------


def _plant_max_batch_bug(model: Any, at: int = 4) -> Any:
    """The first output gains ``+1`` where the batch is ``at``: right on the example, wrong at the max."""
    graph = model.graph
    x, out = graph.inputs[0], graph.outputs[0]
    shape = ir.node("Shape", [x], attributes={"start": 0, "end": 1})
    const = ir.node("Constant", [], attributes={"value": ir.tensor(np.array([at], dtype=np.int64))})
    equal = ir.node("Equal", [shape.outputs[0], const.outputs[0]])
    cast = ir.node("Cast", [equal.outputs[0]], attributes={"to": int(ir.DataType.FLOAT)})
    add = ir.node("Add", [out, cast.outputs[0]])
    for node in (shape, const, equal, cast, add):
        graph.append(node)
    new = add.outputs[0]
    new.dtype, new.shape = out.dtype, out.shape
    name = out.name
    out.name = f"{name}_before_bug"
    new.name = name
    graph.outputs[0] = new
    return model


@pytest.fixture
def buggy_dynamo(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """torch.onnx (dynamo) writes files wrong at batch 4, for the narrowed and the plain export alike."""
    from trtready.export import onnx_export

    real = onnx_export.translate
    calls = {"dynamo": 0}

    def translate(*args: Any, **kwargs: Any) -> Any:
        calls["dynamo"] += 1
        return _plant_max_batch_bug(real(*args, **kwargs))

    monkeypatch.setattr(onnx_export, "translate", translate)
    return calls


def test_an_exporter_bug_at_the_max_batch_is_never_called_verified(tmp_path: Path, buggy_dynamo: dict[str, int]) -> None:
    result = trtready.fix(_spec(Tiny()), tmp_path / "out", target="trt-rtx", exporter="dynamo", trials=1)
    assert not result and not (tmp_path / "out").exists()
    assert result.export is not None and result.export.exporter is None
    reason = result.export.failed[0].reason
    assert "at batch=4" in reason and "plain export of the unmodified model differs the same way" in reason
    assert any("no export path is left" in n for n in result.notes)
    onnx_cmp = result.verification[-1]
    assert not onnx_cmp and onnx_cmp.excused is None  # not excused as "upstream": not verified
    assert {o.dims["batch"] for o in onnx_cmp.outputs if not o.passed and o.dims} == {4}


def test_an_exporter_bug_leads_to_the_next_path_which_verifies(tmp_path: Path, buggy_dynamo: dict[str, int]) -> None:
    module = Tiny()
    result = trtready.fix(_spec(module), tmp_path / "out", target="trt-rtx")
    assert result and result.export is not None and result.export.exporter == "torchscript"
    assert result.export.failed[0].path == "dynamo" and "exporter bug upstream" in result.export.failed[0].reason
    x = np.random.default_rng(1).standard_normal((4, 8)).astype(np.float32)
    np.testing.assert_allclose(_ort(tmp_path / "out" / "model.onnx", x), _eager(module, x), rtol=1e-5, atol=1e-5)
    assert buggy_dynamo["dynamo"] == 2  # the narrowed export and the plain one that shared the bug


def test_the_cli_says_which_exporter_and_why(tmp_path: Path) -> None:
    """``--exporter torchscript`` on the command line; the terminal names the exporter."""
    spec_file = tmp_path / "tinyspec.py"
    spec_file.write_text(
        "import torch\nimport trtready\n"
        "def tiny():\n"
        "    torch.manual_seed(0)\n"
        "    return trtready.ModelSpec(torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.ReLU()).eval(),\n"
        "                             (torch.randn(2, 8),), dynamic=['input:0=batch[1:4]'])\n")
    res = run_cli("fix", "tinyspec:tiny", "-o", str(tmp_path / "out"), "--target", "trt-rtx", "--exporter",
                  "torchscript", cwd=tmp_path)
    assert res.code == 0, res.stderr
    assert "exported with torch.onnx (dynamo=False)" in " ".join(res.stdout.split())
    assert json.loads((tmp_path / "out" / "report.json").read_text())["export"]["exporter"] == "torchscript"


# --- a library's custom op without an ONNX function: transformers' MoE grouped matmul ----------------


def _grouped_mm_op() -> Any:
    pytest.importorskip("transformers")
    import transformers.integrations.moe  # noqa: F401 - registers transformers::grouped_mm_fallback

    return torch.ops.transformers.grouped_mm_fallback


def test_the_grouped_mm_decomposition_computes_the_op() -> None:
    from trtready.export.custom_ops import grouped_mm_fallback

    op = _grouped_mm_op()
    rng = torch.Generator().manual_seed(0)
    x = torch.randn(11, 6, generator=rng)
    w = torch.randn(4, 6, 5, generator=rng)
    for offs in ([3, 3, 7, 11], [0, 5, 9, 9], [2, 4, 6, 8]):  # empty experts, rows past the last end
        o = torch.tensor(offs, dtype=torch.int32)
        torch.testing.assert_close(grouped_mm_fallback(x, w, o), op(x, w, o), rtol=1e-6, atol=1e-6)


class Experts(torch.nn.Module):
    """Rows routed to experts and multiplied through transformers' op, as its MoE layers do."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.randn(3, 8, 8))
        self.router = torch.nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        expert = self.router(x).argmax(-1)
        order = torch.argsort(expert)
        counts = torch.histc(expert.float(), bins=3, min=0, max=2)
        offs = torch.cumsum(counts, 0).to(torch.int32)
        y = torch.ops.transformers.grouped_mm_fallback(x[order], self.weight, offs)
        return torch.zeros_like(y).index_copy(0, order, y)


class MoeBlock(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.experts = Experts()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.experts(x)


def test_a_custom_op_is_named_with_its_caller_and_switch_and_decomposed(tmp_path: Path) -> None:
    _grouped_mm_op()
    module = MoeBlock()
    result = trtready.fix(_spec(module), tmp_path / "out", target="trt-rtx")
    assert result and result.export is not None
    assert result.export.exporter == "dynamo+decompose:transformers::grouped_mm_fallback"
    note = next(n for n in result.export.notes if "grouped_mm_fallback has no ONNX function" in n)
    assert "called from experts (Experts)" in note and "set_experts_implementation('batched_mm')" in note
    x = np.random.default_rng(2).standard_normal((4, 8)).astype(np.float32)
    np.testing.assert_allclose(_ort(tmp_path / "out" / "model.onnx", x), _eager(module, x), rtol=1e-5, atol=1e-5)


def test_a_mixtral_decoder_converts_through_the_decomposition(tmp_path: Path) -> None:
    """The real case: transformers' MixtralForCausalLM under torch.export calls the custom op."""
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    cfg = transformers.MixtralConfig(vocab_size=128, hidden_size=32, num_hidden_layers=1, num_attention_heads=4,
                                     num_key_value_heads=2, intermediate_size=64, max_position_embeddings=64,
                                     num_local_experts=4, num_experts_per_tok=2, pad_token_id=0, use_cache=False)
    model = transformers.MixtralForCausalLM(cfg).eval()
    ids = torch.randint(3, 128, (2, 16))
    mask = torch.ones(2, 16, dtype=torch.int64)
    dims = "0=batch[1:4],1=seq[2:32]"
    spec = trtready.ModelSpec(model, (), {"input_ids": ids, "attention_mask": mask},
                              dynamic=[f"input_ids:{dims}", f"attention_mask:{dims}"])
    result = trtready.fix(spec, tmp_path / "out", target="trt-rtx")
    assert result and result.export is not None
    assert result.export.exporter == "dynamo+decompose:transformers::grouped_mm_fallback"
    assert any("model.layers.0.mlp.experts (MixtralExperts)" in n for n in result.export.notes)


# --- ONNX Runtime without a kernel: the file runs with a float32 island, said exactly; never a refusal ---


def test_a_model_onnx_runtime_cannot_run_converts_verified_with_a_float32_island(tmp_path: Path) -> None:
    pytest.importorskip("tensorrt_rtx")
    spec_file = tmp_path / "alibispec.py"
    spec_file.write_text(
        "import torch\nimport trtready\n"
        "class Alibi(torch.nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.lin = torch.nn.Linear(8, 8)\n"
        "        self.register_buffer('slopes', (torch.arange(8) + 1).to(torch.bfloat16) / 8)\n"
        "    def forward(self, x):\n"
        "        return (self.lin(x).to(torch.bfloat16) * self.slopes).float()\n"
        "def alibi():\n"
        "    torch.manual_seed(0)\n"
        "    return trtready.ModelSpec(Alibi().eval(), (torch.randn(2, 8),), dynamic=['x:0=batch[1:4]'])\n")
    report = tmp_path / "report.json"
    res = run_cli("convert", "alibispec:alibi", "-o", str(tmp_path / "out"), "--target", "trt-rtx", "--json",
                  str(report), cwd=tmp_path)
    assert res.code == 0, res.stderr
    said = " ".join(res.stdout.split())  # the terminal wraps at 100 columns
    assert "verified (ONNX Runtime ran Mul(14) on bfloat16 at 1 node in float32)" in said
    assert "float32 island: ONNX Runtime has no kernel for Mul(14) on bfloat16 at 1 node" in said
    assert (tmp_path / "out" / "model.engine").is_file()
    data = json.loads(report.read_text())
    verification = data["verification"]
    assert data["verdict"]["confidence"] == "verified"  # the written file ran; the island computes as PyTorch does
    assert verification["passed"] and verification["scope"] == "float32-island" and verification["unverified"] is None
    assert [c["candidate"] for c in verification["comparisons"]] == [
        "narrowed ExportedProgram (PyTorch)", "written ONNX (ONNX Runtime; Mul(14) in float32)"]
    written = onnx.load(str(tmp_path / "out" / "model.onnx"))
    assert any(n.op_type == "Mul" and n.name and "_float" not in n.name for n in written.graph.node)
    assert not any(n.name.endswith("_out_rounded") for n in written.graph.node), "the island is never written"


class Alibi(torch.nn.Module):
    """ALiBi-style slopes applied in bfloat16: ONNX Runtime's CPU provider has no bfloat16 Mul."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = torch.nn.Linear(8, 8)
        self.register_buffer("slopes", (torch.arange(8) + 1).to(torch.bfloat16) / 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.lin(x).to(torch.bfloat16) * self.slopes).float()


def test_an_onnx_file_onnx_runtime_cannot_run_is_verified_with_the_island_on_both_sides(tmp_path: Path) -> None:
    trtready.export(_spec(Alibi()), tmp_path / "alibi.onnx")
    before = (tmp_path / "alibi.onnx").read_bytes()
    result = trtready.fix(str(tmp_path / "alibi.onnx"), tmp_path / "fixed.onnx", target="trt-rtx")
    assert result and result.verification and (tmp_path / "fixed.onnx").is_file()
    assert result.unverified is None
    assert result.island is not None and "no kernel for Mul(14) on bfloat16 at 1 node" in result.island
    (cmp,) = result.verification
    assert cmp.reference.endswith("(ONNX Runtime; Mul(14) in float32)") and cmp.candidate.endswith("in float32)")
    assert (tmp_path / "alibi.onnx").read_bytes() == before
