"""NarrowFxInt64Pass: int64 made in forward becomes int32 only where proved and read as int32."""

from __future__ import annotations

import torch

from trtready.bounds import parse_dynamic
from trtready.limits import Limits
from trtready.intervals.fx import propagate
from trtready.load.capture import capture
from trtready.passes.fx_narrow_int64 import NarrowFxInt64Pass


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
    res = NarrowFxInt64Pass(propagate(ep))(ep.module())
    return ep, res, bounds


def _int_dtypes(ep) -> dict[str, torch.dtype]:
    return {n.name: n.meta["val"].dtype for n in ep.graph.nodes
            if n.op == "call_function" and isinstance(n.meta.get("val"), torch.Tensor)
            and not n.meta["val"].is_floating_point()}


def test_positions_become_int32_and_compute_the_same() -> None:
    x = torch.randn(2, 16)
    ep, res, bounds = _run(Positions(), x, ["x:1=seq[1:64]"])
    assert res.modified and set(res.narrowed) == {"arange", "add"}
    narrowed = capture(res.graph_module, (x,), {}, bounds)
    assert set(_int_dtypes(narrowed).values()) == {torch.int32}
    for n in (1, 16, 64):
        xs = torch.randn(2, n)  # only the sequence axis is dynamic
        assert torch.equal(narrowed.module()(xs), ep.module()(xs))


def test_unbounded_sizes_stay_int64() -> None:
    _, res, _ = _run(Positions(), torch.randn(2, 16), ["x:1=seq[1:100000000000]"])
    assert not res.modified


def test_consumer_needing_int64_keeps_the_region() -> None:
    _, res, _ = _run(Gathered(), torch.randn(2, 5), ["x:1=n[1:8]"])
    assert not res.modified


def test_graph_output_keeps_its_dtype() -> None:
    _, res, _ = _run(Returned(), torch.randn(2, 5), ["x:1=n[1:8]"])
    assert not res.modified
