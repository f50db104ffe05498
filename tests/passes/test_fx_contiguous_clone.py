"""ContiguousToClonePass: contiguous → clone(contiguous_format) where aliasing is unobservable; same numerics."""

from __future__ import annotations

import pytest
import torch

from trtready.export.paths import copy_program
from trtready.passes.fx_contiguous_clone import ContiguousToClonePass


class Heads(torch.nn.Module):
    """The attention layout torch.onnx trips on: split heads, transpose, contiguous, merge heads."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = torch.nn.Linear(16, 16)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, s, _ = x.shape
        h = self.proj(x).view(b, s, 4, 4).transpose(1, 2)  # (b, heads, s, d): not contiguous
        return h.contiguous().reshape(b, 4, -1)


class WrittenAfter(torch.nn.Module):
    """An in-place write to the result of contiguous(): a clone would hide it from the input."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x.t().contiguous()
        y.add_(1.0)
        return y * 1.0


class Unrelated(torch.nn.Module):
    """An in-place write elsewhere in the graph does not stop the rewrite of an unrelated contiguous."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = torch.zeros(x.shape[0], 4)
        z.add_(1.0)
        return x.t().contiguous().sum(0) + z.sum()


def _program(module: torch.nn.Module, x: torch.Tensor, dynamic: bool = True) -> torch.export.ExportedProgram:
    shapes = ({0: torch.export.Dim("b", min=1, max=4)},) if dynamic else None
    return torch.export.export(module, (x,), dynamic_shapes=shapes, strict=False)


def _targets(ep: torch.export.ExportedProgram) -> list[str]:
    return [str(n.target) for n in ep.graph.nodes if n.op == "call_function"]


def test_contiguous_becomes_a_contiguous_clone_and_computes_the_same() -> None:
    torch.manual_seed(0)
    x = torch.randn(2, 8, 16)
    ep = _program(Heads().eval(), x)
    program = copy_program(ep)
    rewrite = ContiguousToClonePass()
    res = rewrite(program.graph_module)
    assert res is not None and res.modified and len(rewrite.rewritten) == 1 and not rewrite.kept
    assert "aten.contiguous.default" not in _targets(program)
    clone = next(n for n in program.graph.nodes if str(n.target) == "aten.clone.default")
    assert clone.kwargs == {"memory_format": torch.contiguous_format}
    for b in (1, 3, 4):  # the dynamic batch at its ends and between
        xb = torch.randn(b, 8, 16)
        torch.testing.assert_close(program.module()(xb), ep.module()(xb), rtol=0, atol=0)


def test_the_caller_program_is_left_as_it_was() -> None:
    ep = _program(Heads().eval(), torch.randn(2, 8, 16))
    before = _targets(ep)
    ContiguousToClonePass()(copy_program(ep).graph_module)
    assert _targets(ep) == before and "aten.contiguous.default" in before


def test_contiguous_whose_storage_is_written_in_place_is_kept_with_its_reason() -> None:
    ep = _program(WrittenAfter(), torch.randn(2, 4))
    program = copy_program(ep)
    rewrite = ContiguousToClonePass()
    res = rewrite(program.graph_module)
    if "aten.contiguous.default" not in _targets(ep):
        pytest.skip("torch.export folded the contiguous away")
    assert res is not None and not res.modified and rewrite.kept and "in-place" in rewrite.kept[0]
    assert "aten.contiguous.default" in _targets(program)


def test_an_unrelated_in_place_write_does_not_block_the_rewrite() -> None:
    x = torch.randn(3, 4)
    ep = _program(Unrelated(), x)
    program = copy_program(ep)
    rewrite = ContiguousToClonePass()
    rewrite(program.graph_module)
    assert rewrite.rewritten and not rewrite.kept
    torch.testing.assert_close(program.module()(x), Unrelated()(x))


def test_nothing_to_rewrite_is_an_honest_no_change() -> None:
    ep = _program(torch.nn.Linear(4, 4), torch.randn(2, 4))
    program = copy_program(ep)
    res = ContiguousToClonePass()(program.graph_module)
    assert res is not None and not res.modified
