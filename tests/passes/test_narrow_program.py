"""narrow_program narrows the audit's ExportedProgram itself; it must equal what a second capture gives."""

from __future__ import annotations

import torch

from trtready.analysis import FxAnalysis
from trtready.bounds import parse_dynamic
from trtready.limits import Limits
from trtready.load.capture import capture
from trtready.passes.fx_narrow_int64 import NarrowFxInt64Pass
from trtready.passes.narrow_program import narrow_program
from trtready.passes.narrow_state import narrow_module_state
from trtready.plan import Action, Decision
from trtready.plan.fx_plan import plan_fx


class Embedded(torch.nn.Module):
    """An int64 position buffer (persistent) and token types (not persistent) index embeddings; a
    constant arange, shifted and scaled, indexes a third: state and graph narrowing both apply."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("positions", torch.arange(64).unsqueeze(0))
        self.register_buffer("types", torch.zeros(1, 64, dtype=torch.int64), persistent=False)
        self.pos = torch.nn.Embedding(64, 4)
        self.typ = torch.nn.Embedding(2, 4)
        self.buckets = torch.nn.Embedding(70, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[1]
        p = self.positions[:, :n]
        t = self.types[:, :n].expand(x.shape[0], -1)
        b = torch.arange(8) * 3 + 2
        return x.unsqueeze(-1) * self.pos(p) + self.typ(t) + self.buckets(b).sum()


STATE = [Decision("state:positions", Action.NARROW, "proved in [0, 63]"),
         Decision("state:types", Action.NARROW, "proved in [0, 0]")]


def _dtypes(ep: torch.export.ExportedProgram) -> dict[str, torch.dtype]:
    return {n.name: n.meta["val"].dtype for n in ep.graph.nodes if isinstance(n.meta.get("val"), torch.Tensor)}


def test_the_narrowed_program_equals_a_second_capture_and_leaves_the_first_alone() -> None:
    x = torch.randn(2, 16)
    bounds = parse_dynamic(["x:0=batch[1:4],1=seq[2:32]"], Limits(tensor_elements=2**40))
    ep = capture(Embedded(), (x,), {}, bounds)
    before = _dtypes(ep)
    plan = plan_fx(FxAnalysis.of(ep), [])
    assert plan.sources == ["arange"]
    narrowed = narrow_program(ep, STATE, plan.sources)
    assert narrowed is not None
    # the audit's program is untouched: verification compares against it
    assert _dtypes(ep) == before and ep.state_dict["positions"].dtype == torch.int64
    assert ep.constants["types"].dtype == torch.int64
    assert narrowed.state_dict["positions"].dtype == torch.int32
    assert narrowed.constants["types"].dtype == torch.int32
    # what torch.export gives for the same narrowing, node by node (the names are the program's)
    gm = NarrowFxInt64Pass(plan)(narrow_module_state(ep.module(), STATE)).graph_module
    for n in list(gm.graph.nodes):
        if str(n.target) == "aten._assert_tensor_metadata.default" and not n.users:
            gm.graph.erase_node(n)
    gm.recompile()
    again = _dtypes(capture(gm, (x,), {}, bounds))
    ours = _dtypes(narrowed)
    assert {k: v for k, v in ours.items() if k in again} == {k: v for k, v in again.items() if k in ours}
    assert {ours[k] for k in ("b_positions", "b_types", "arange")} == {torch.int32}
    for batch, seq in ((1, 2), (2, 16), (4, 32)):
        xs = torch.randn(batch, seq)
        assert torch.equal(narrowed.module()(xs), ep.module()(xs))


def test_a_state_tensor_the_program_does_not_lift_leaves_it_to_a_capture() -> None:
    x = torch.randn(2, 16)
    ep = capture(Embedded(), (x,), {}, parse_dynamic(["x:1=seq[2:32]"], Limits(tensor_elements=2**40)))
    assert narrow_program(ep, [Decision("state:missing", Action.NARROW, "")], []) is None
