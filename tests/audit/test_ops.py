"""Op findings (audit/ops.py): what the torch.export graph predicts about its ONNX translation holds.

Each case is a small module. Its torch.export graph gives the prediction (the ONNX ops, the pooling
window, whether fix/convert can rewrite it); the module is then translated with torch.onnx (dynamo) and
the translation must contain those ops, and the rewrites fix applies for trt-rtx must remove exactly
the ones predicted rewritable — the FX side never promises a rewrite the ONNX side cannot prove.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import pytest
import torch
import torch.nn.functional as F

from trtready.audit.findings import Kind, Layer, Outcome
from trtready.audit.ops import fx_op_findings, onnx_op_findings
from trtready.audit.predict import predict_all
from trtready.load.onnx_file import infer_shapes
from trtready.passes.onnx_model import apply_rewrites
from trtready.plan import Action
from trtready.plan.rewrites import plan_ops
from trtready.targets import PROFILES

RTX = PROFILES["trt-rtx"]


class _Fn(torch.nn.Module):
    def __init__(self, fn: Callable[..., Any]) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, *args: Any) -> Any:
        return self.fn(*args)


def _assign_zero(x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    x = x.clone()
    x[~m] = 0
    return x


def _assign_row(x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    x = x.clone()
    x[m] = torch.tensor([1.0, 2.0, 3.0, 4.0])
    return x


def _assign_rows(x: torch.Tensor, m: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    return x.index_put((m,), rows)  # one row per selected position


H = torch.randn(2, 5, 4)
M = torch.tensor([[True, False, True, True, False], [False, True, True, True, True]])
I = torch.randint(0, 50, (2, 5))

# name: (fn, args, ONNX ops the translation must contain, rewritten for trt-rtx?)
CASES: dict[str, tuple[Callable[..., Any], tuple[Any, ...], set[str], bool]] = {
    "mask assignment of a scalar": (_assign_zero, (H, M), {"NonZero", "ScatterND"}, True),
    "mask assignment of a row": (_assign_row, (H, M), {"NonZero", "ScatterND"}, True),
    "mask assignment of selected rows": (_assign_rows, (H, M, torch.randn(int(M.sum()), 4)), {"NonZero", "ScatterND"},
                                         False),
    "boolean indexing": (lambda x, m: x[m].sum(0), (H, M), {"NonZero", "GatherND"}, False),
    "nonzero": (lambda x: torch.nonzero(x > 0), (H,), {"NonZero"}, False),
    "integer bitwise and": (lambda a, b: a & b, (I, I + 1), {"BitwiseAnd"}, False),
    "scatter_add": (lambda x, i: x.scatter_add(1, i.unsqueeze(-1).expand(-1, -1, 4) % 5, x), (H, I),
                    {"ScatterElements"}, False),
    "global avg_pool2d past the window limit": (lambda x: F.avg_pool2d(x, 320, ceil_mode=True),
                                                (torch.randn(2, 3, 1, 1),), {"AveragePool"}, True),
    "adaptive pool in 320×320 tiles": (lambda x: F.adaptive_avg_pool2d(x, 2), (torch.randn(1, 2, 640, 640),),
                                       {"AveragePool"}, True),
    "max_pool2d past the limit, overlapping": (lambda x: F.max_pool2d(x, 320, stride=1),
                                               (torch.randn(1, 1, 330, 320),), {"MaxPool"}, False),
}


def _translate(fn: Callable[..., Any], args: tuple[Any, ...]) -> tuple[Any, Any]:
    from trtready.load.pt2 import quiet_torch_logs

    ep = torch.export.export(_Fn(fn), args)
    with warnings.catch_warnings(), quiet_torch_logs():
        warnings.simplefilter("ignore")
        onnx = torch.onnx.export(ep, dynamo=True, verbose=False).model
    infer_shapes(onnx)
    return ep, onnx


@pytest.mark.parametrize("name", list(CASES))
def test_the_torch_export_graph_predicts_its_translation(name: str) -> None:
    fn, args, onnx_ops, rewritten = CASES[name]
    ep, onnx = _translate(fn, args)
    fx = fx_op_findings(ep)
    predict_all(fx, ["trt-rtx"])
    (finding,) = fx
    assert finding.kind is Kind.OP_UNSUPPORTED and finding.layer is Layer.FX and finding.op is not None
    assert finding.predictions["trt-rtx"].outcome is Outcome.ERROR
    assert (finding.op.rewrite is not None) == rewritten, finding.op
    assert ("fix/convert rewrite it exactly" in finding.predictions["trt-rtx"].message) == rewritten
    assert finding.op.rewrite or finding.op.remedy, "no rewrite: the finding says what to change"

    assert onnx_ops <= {n.op_type for n in onnx.graph}, "the translation holds the predicted ops"
    found = onnx_op_findings(onnx)
    predict_all(found, ["trt-rtx"])
    assert found and all(f.predictions["trt-rtx"].outcome is Outcome.ERROR for f in found)
    assert all((f.op is not None and f.op.rewrite is not None) == rewritten for f in found)

    done = apply_rewrites(onnx, RTX)
    decisions = done + plan_ops(found + fx, onnx, RTX, done)
    actions = {d.finding: d.action for d in decisions}
    for f in found:
        assert actions[f.id] is (Action.REWRITE if rewritten else Action.KEEP), (f.id, decisions)
    if finding.source is not None and any(f.source == finding.source for f in found):
        assert actions[finding.id] is (Action.REWRITE if rewritten else Action.KEEP)
    left = onnx_op_findings(onnx)
    predict_all(left, ["trt-rtx"])
    assert rewritten == (not any(f.predictions["trt-rtx"].outcome is Outcome.ERROR for f in left))


def test_ops_every_target_builds_make_no_finding() -> None:
    ep, onnx = _translate(lambda x, m: x.masked_fill(~m.unsqueeze(-1), 0.0) + F.avg_pool1d(x, 2).sum(),
                          (H, M))
    assert fx_op_findings(ep) == [] and onnx_op_findings(onnx) == []


def test_a_boolean_bitwise_op_is_logical() -> None:
    ep, _ = _translate(lambda a, b: a & b, (M, ~M))
    assert fx_op_findings(ep) == []


def test_other_targets_are_predicted_from_their_own_facts() -> None:
    ep, _ = _translate(_assign_zero, (H, M))
    (finding,) = fx_op_findings(ep)
    predict_all([finding])
    # onnx-tensorrt lists NonZero as supported on TensorRT 8.5+, 10.x (so 11.x); Torch-TensorRT is not predicted
    assert {t: p.outcome for t, p in finding.predictions.items()} == {
        "trt8": Outcome.FINE, "trt10": Outcome.FINE, "trt11": Outcome.FINE, "trt-rtx": Outcome.ERROR,
        "torch-trt-ts": Outcome.FINE, "torch-trt-dynamo": Outcome.FINE}
    assert "not predicted" in finding.predictions["torch-trt-dynamo"].message
