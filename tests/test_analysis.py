"""Each analysis is computed once per run: one FX analysis and one ONNX analysis for a PyTorch model,
one ONNX analysis for an ONNX file, and torch.onnx translates the program once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import trtready
from trtready import analysis


@pytest.fixture
def counts(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Fresh analysis counts, and a count of torch.onnx.export calls."""
    import torch.onnx

    analysis.COUNTS.clear()
    calls = {"torch.onnx.export": 0}
    real = torch.onnx.export

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls["torch.onnx.export"] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(torch.onnx, "export", counted)
    return calls


def test_convert_of_a_pytorch_model_analyses_each_graph_once(tmp_path: Path, counts: dict[str, int]) -> None:
    result = trtready.convert("trtready.demo:token_model", tmp_path / "out", target="trt-rtx", build=False)
    assert result
    assert dict(analysis.COUNTS) == {"fx": 1, "onnx": 1}
    assert counts["torch.onnx.export"] == 1


def test_convert_of_an_onnx_file_analyses_it_once(tmp_path: Path, counts: dict[str, int]) -> None:
    onnx_path = tmp_path / "m.onnx"
    trtready.export("trtready.demo:token_model", onnx_path, dynamic=["input_ids:0=batch[1:8],1=seq[1:64]"])
    analysis.COUNTS.clear()
    counts["torch.onnx.export"] = 0
    result = trtready.convert(str(onnx_path), tmp_path / "out", target="trt-rtx", build=False)
    assert result
    assert dict(analysis.COUNTS) == {"onnx": 1}
    assert counts["torch.onnx.export"] == 0


def test_audit_of_an_onnx_file_analyses_it_once(tmp_path: Path) -> None:
    onnx_path = tmp_path / "m.onnx"
    trtready.export("trtready.demo:token_model", onnx_path)
    analysis.COUNTS.clear()
    trtready.audit(str(onnx_path), target="trt8")
    assert dict(analysis.COUNTS) == {"onnx": 1}


# Rewrite → analyse → plan → apply: a rewritten graph is a new graph with its own analysis, and neither
# the planner nor the passes accept an analysis or a plan made for the graph as it was before.
CAST_AFTER_MOVES = """
<ir_version: 10, opset_import: ["" : 20]>
g (int64[N, S] mask, float[N, S, 4] h) => (bool[N, 1, S] keep, float[N, S, 4] y)
<int64[3] shape = {0, 1, -1}, int64[1] two = {2}> {
  v = Reshape(mask, shape)
  keep = Cast<to=9>(v)
  u = Unsqueeze(mask, two)
  w = Cast<to=1>(u)
  y = Mul(h, w)
}
"""


def test_a_rewritten_graph_is_analysed_again_and_the_old_analysis_is_refused() -> None:
    import onnx_ir as ir

    from trtready.passes.onnx_model import rewrite_then_analyse
    from trtready.plan.onnx_plan import plan_onnx
    from trtready.targets import PROFILES

    model = ir.from_onnx_text(CAST_AFTER_MOVES)
    analysis.COUNTS.clear()
    before = analysis.OnnxAnalysis.of(model)
    decisions, after = rewrite_then_analyse(before, PROFILES["trt-rtx"])
    assert len(decisions) == 2 and after is not before
    assert dict(analysis.COUNTS) == {"onnx": 2}  # one per graph: the original and the rewritten one
    assert after.describes(model) and not before.describes(model)
    made = [v for node in model.graph for v in node.outputs]
    assert [v.name for v in made if v not in before.values] == ["mask_cast", "keep", "mask_cast_2", "w"]
    assert all(v in after.values for v in made)  # the values the rewrites made have intervals
    mask_cast = next(v for v in made if v.name == "mask_cast")
    assert after.interval(mask_cast) == after.interval(model.graph.inputs[0])  # a Cast of the mask, as read
    assert after.inputs == before.inputs and after.demands == before.demands  # the same assumptions
    with pytest.raises(ValueError, match="before a rewrite"):
        plan_onnx(before, PROFILES["trt-rtx"])
    plan_onnx(after, PROFILES["trt-rtx"])


def test_nothing_rewritten_keeps_the_one_analysis() -> None:
    import onnx_ir as ir

    from trtready.passes.onnx_model import rewrite_then_analyse

    text = CAST_AFTER_MOVES.replace("  keep = Cast<to=9>(v)\n", "  keep = Cast<to=9>(v)\n  twice = Cast<to=1>(v)\n")
    text = text.replace("  w = Cast<to=1>(u)\n", "  w = Cast<to=1>(u)\n  again = Cast<to=9>(u)\n")
    model = ir.from_onnx_text(text)
    analysis.COUNTS.clear()
    first = analysis.OnnxAnalysis.of(model)
    decisions, same = rewrite_then_analyse(first, None)
    assert decisions == [] and same is first and dict(analysis.COUNTS) == {"onnx": 1}


def test_a_plan_is_not_applied_to_a_graph_edited_after_it_was_made() -> None:
    import onnx_ir as ir

    from tests.onnx_models import planned
    from trtready.passes.onnx_model import apply_plan, apply_rewrites

    model, plan = planned(CAST_AFTER_MOVES)
    assert apply_rewrites(model)  # the graph changes under the plan
    with pytest.raises(ir.passes.PassError) as raised:  # the pass manager wraps its passes' errors
        apply_plan(plan)
    chain: list[BaseException] = [raised.value]
    while chain[-1].__cause__ is not None:
        chain.append(chain[-1].__cause__)
    assert isinstance(chain[-1], ir.passes.PreconditionError) and "changed after it was planned" in str(chain[-1])
