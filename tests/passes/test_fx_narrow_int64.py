"""NarrowFxInt64Pass applies the planned int32 region to ``ep.module()``; the re-export computes the same."""

from __future__ import annotations

import pytest
import torch

from trtready.bounds import parse_dynamic
from trtready.limits import Limits
from trtready.analysis import FxAnalysis
from trtready.load.capture import capture
from trtready.passes.fx_narrow_int64 import NarrowFxInt64Pass
from trtready.plan.fx_plan import plan_fx


class Positions(torch.nn.Module):
    """arange → +offset → embedding: every consumer reads int32."""

    def __init__(self) -> None:
        super().__init__()
        self.pos = torch.nn.Embedding(70, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = torch.arange(x.shape[1]) + 2
        return x.unsqueeze(-1) * self.pos(p)


class Gathered(torch.nn.Module):
    """arange feeding torch.gather, whose index must be int64."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        idx = torch.arange(x.shape[1]).expand(x.shape[0], -1)
        return torch.gather(x, 1, idx)


class Returned(torch.nn.Module):
    """an int64 graph output keeps its dtype."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.arange(x.shape[1]) * 3


def _run(module: torch.nn.Module, x: torch.Tensor, dynamic: list[str]):
    bounds = parse_dynamic(dynamic, Limits(tensor_elements=2**40))
    ep = capture(module, (x,), {}, bounds)
    plan = plan_fx(FxAnalysis.of(ep), [])
    return ep, plan, NarrowFxInt64Pass(plan)(ep.module()), bounds


def _int_dtypes(ep) -> dict[str, torch.dtype]:
    return {n.name: n.meta["val"].dtype for n in ep.graph.nodes
            if n.op == "call_function" and isinstance(n.meta.get("val"), torch.Tensor)
            and not n.meta["val"].is_floating_point()}


def test_positions_become_int32_and_compute_the_same() -> None:
    x = torch.randn(2, 16)
    ep, plan, res, bounds = _run(Positions(), x, ["x:1=seq[1:64]"])
    assert set(plan.region) == {"arange", "add"} and plan.sources == ["arange"]
    assert res.modified
    narrowed = capture(res.graph_module, (x,), {}, bounds)
    assert set(_int_dtypes(narrowed).values()) == {torch.int32}
    for n in (1, 16, 64):
        xs = torch.randn(2, n)  # only the sequence axis is dynamic
        assert torch.equal(narrowed.module()(xs), ep.module()(xs))


@pytest.mark.parametrize("module, x, dynamic", [
    (Positions(), torch.randn(2, 16), ["x:1=seq[1:100000000000]"]),  # unbounded: not proved
    (Gathered(), torch.randn(2, 5), ["x:1=n[1:8]"]),  # a consumer needs int64
    (Returned(), torch.randn(2, 5), ["x:1=n[1:8]"]),  # a graph output keeps its dtype
])
def test_an_empty_plan_changes_nothing(module: torch.nn.Module, x: torch.Tensor, dynamic: list[str]) -> None:
    ep, plan, res, _ = _run(module, x, dynamic)
    assert plan.region == [] and not res.modified
    assert str(res.graph_module.code) == str(ep.module().code)
