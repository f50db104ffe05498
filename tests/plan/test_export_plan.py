"""After a dynamo export fails: which proved recovery applies, and what the user is told."""

from __future__ import annotations

import torch

from trtready.plan.export_plan import (
    CUSTOM_OPS,
    DYNAMO,
    TORCHSCRIPT,
    initial_paths,
    plan_recovery,
)

CANNOT_VIEW = ("Failed to decompose the FX graph for ONNX compatibility.\nCannot view a tensor with shape "
               "torch.Size([s43, s53, 4, 8]) and strides (32*s53, 8, 8*s53, 1) as a tensor with shape (s43, s53, 32)!")


class Heads(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.transpose(0, 1).contiguous().reshape(-1)


class Inner(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ops.aten.relu.default(x)


class Outer(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.block = Inner()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


def _program(module: torch.nn.Module) -> torch.export.ExportedProgram:
    return torch.export.export(module, (torch.randn(3, 4),), strict=False)


def test_exporter_choices_start_where_asked() -> None:
    assert [p.name for p in initial_paths("auto")] == [DYNAMO, TORCHSCRIPT]
    assert [p.name for p in initial_paths("dynamo")] == [DYNAMO]
    assert [p.name for p in initial_paths("torchscript")] == [TORCHSCRIPT]


def test_cannot_view_leads_to_the_contiguous_rewrite() -> None:
    recovery = plan_recovery(CANNOT_VIEW, _program(Heads()))
    assert [p.name for p in recovery.paths] == ["dynamo+rewrite:contiguous→clone"]
    assert recovery.paths[0].dynamo and "after the rewrite" in recovery.paths[0].label


def test_cannot_view_without_a_contiguous_call_has_nothing_to_rewrite() -> None:
    recovery = plan_recovery(CANNOT_VIEW, _program(Inner()))
    assert not recovery.paths and "no contiguous" in recovery.explanation


def test_a_known_custom_op_is_named_with_its_caller_and_switch_and_decomposed() -> None:
    program = _program(Outer())
    reason = "No ONNX function found for <OpOverload(op='aten.relu', overload='default')>."
    assert not plan_recovery(reason, program).paths  # aten.relu is no custom op trtready knows
    CUSTOM_OPS["aten::relu"] = CUSTOM_OPS["transformers::grouped_mm_fallback"].__class__(
        "aten::relu", "use the other activation", decomposition=True)
    try:
        recovery = plan_recovery(reason, program)
    finally:
        del CUSTOM_OPS["aten::relu"]
    assert [p.name for p in recovery.paths] == ["dynamo+decompose:aten::relu"]
    assert "called from block (Inner)" in recovery.explanation and "use the other activation" in recovery.explanation


def test_an_unknown_custom_op_is_named_with_its_caller() -> None:
    reason = "No ONNX function found for <OpOverload(op='aten.relu', overload='default')>."
    recovery = plan_recovery(reason, _program(Outer()))
    assert recovery.explanation.startswith("aten::relu has no ONNX function, called from block (Inner)")
    assert "custom_translation_table" in recovery.explanation


def test_the_transformers_moe_op_names_the_experts_switch() -> None:
    known = CUSTOM_OPS["transformers::grouped_mm_fallback"]
    assert known.decomposition and "set_experts_implementation('batched_mm')" in known.switch


def test_other_failures_have_no_recovery() -> None:
    assert not plan_recovery("something else broke", _program(Heads())).paths
