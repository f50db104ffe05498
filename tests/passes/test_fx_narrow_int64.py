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


class Buckets(torch.nn.Module):
    """A constant arange shifted and scaled (no size read as a number) → embedding."""

    def __init__(self) -> None:
        super().__init__()
        self.pos = torch.nn.Embedding(70, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = torch.arange(8) * 3 + 2
        return x.sum() + self.pos(p)


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


def test_index_math_becomes_int32_and_computes_the_same() -> None:
    x = torch.randn(2, 16)
    ep, plan, res, bounds = _run(Buckets(), x, ["x:1=seq[1:64]"])
    assert set(plan.region) == {"arange", "mul", "add"} and plan.sources == ["arange"]
    assert res.modified
    narrowed = capture(res.graph_module, (x,), {}, bounds)
    assert set(_int_dtypes(narrowed).values()) == {torch.int32}
    for n in (1, 16, 64):
        xs = torch.randn(2, n)
        assert torch.equal(narrowed.module()(xs), ep.module()(xs))


def test_an_arange_over_a_size_stays_int64_rather_than_cast_the_size_on_the_host() -> None:
    """arange(seq) in int32 reads the sequence length, an int64 shape value in ONNX, through a Cast that
    TensorRT computes on the host, and casts the narrowed Range's shape back: more Cast layers than it
    saves. The region stays int64 with that reason; the ONNX planner weighs it after translation."""
    from trtready.audit.fx import audit_fx

    bounds = parse_dynamic(["x:1=seq[1:64]"], Limits(tensor_elements=2**40))
    ep = capture(Positions(), (torch.randn(2, 16),), {}, bounds)
    analysis = FxAnalysis.of(ep)
    plan = plan_fx(analysis, audit_fx(analysis, bounds))
    assert plan.region == []
    kept = {d.finding: d.reason for d in plan.decisions}
    assert kept.keys() == {"fx:arange", "fx:add"} and "host-side Cast of the size s" in kept["fx:arange"]


@pytest.mark.parametrize("module, x, dynamic", [
    (Positions(), torch.randn(2, 16), ["x:1=seq[1:100000000000]"]),  # unbounded: not proved
    (Gathered(), torch.randn(2, 5), ["x:1=n[1:8]"]),  # a consumer needs int64
    (Returned(), torch.randn(2, 5), ["x:1=n[1:8]"]),  # a graph output keeps its dtype
])
def test_an_empty_plan_changes_nothing(module: torch.nn.Module, x: torch.Tensor, dynamic: list[str]) -> None:
    ep, plan, res, _ = _run(module, x, dynamic)
    assert plan.region == [] and not res.modified
    assert str(res.graph_module.code) == str(ep.module().code)
