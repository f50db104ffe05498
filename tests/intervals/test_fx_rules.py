"""Interval propagation over torch.export programs: bools and the casts of them, comparisons folded."""

from __future__ import annotations

import torch

from trtready.intervals import Interval
from trtready.intervals.fx import propagate


class Positions(torch.nn.Module):
    """RoBERTa's create_position_ids_from_input_ids, as transformers writes it."""

    def forward(self, input_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mask = input_ids.ne(1).int()
        incremental = torch.cumsum(mask, dim=1).type_as(mask) * mask
        seq = torch.arange(input_ids.shape[1])
        always = (seq >= 0).long()  # proved true for every position
        return incremental.long() + 1, always


def test_positions_from_a_bool_mask_are_bounded_by_the_sequence() -> None:
    seq = torch.export.Dim("seq", min=2, max=64)
    ids = torch.randint(0, 50, (2, 16))
    ep = torch.export.export(Positions(), (ids,), dynamic_shapes=({1: seq},))
    env = propagate(ep)  # the ids themselves are unknown: only the mask's 0/1 matters
    nodes = {n.name: n for n in ep.graph.nodes}
    ne = next(n for n in nodes if n.startswith("ne"))
    assert env[ne] == Interval(0, 1)
    (out, always) = [a for a in ep.graph.output_node().args[0]]
    assert env[out.name] == Interval(1, 65)
    assert env[always.name] == Interval.point(1)
    for length in (2, 33, 64):  # eager values inside the intervals
        x = torch.randint(0, 50, (3, length))
        x[:, length // 2:] = 1
        pos, ones = Positions()(x)
        assert 1 <= int(pos.min()) and int(pos.max()) <= 65 and bool((ones == 1).all())


def _export(module: torch.nn.Module, *args: torch.Tensor, dynamic: object = None) -> torch.export.ExportedProgram:
    return torch.export.export(module, args, dynamic_shapes=dynamic)


def _by_name(ep: torch.export.ExportedProgram) -> dict[str, torch.fx.Node]:
    return {n.name: n for n in ep.graph.nodes}


def _outputs(ep: torch.export.ExportedProgram) -> list[torch.fx.Node]:
    return list(ep.graph.output_node().args[0])


class RelativeIndex(torch.nn.Module):
    """BEiT's relative position index: meshgrid/stack of aranges, shifted and scaled in place."""

    def __init__(self, w: int = 4) -> None:
        super().__init__()
        self.w = w
        self.table = torch.nn.Parameter(torch.randn((2 * w - 1) ** 2 + 3, 2))

    def index(self) -> torch.Tensor:
        w = self.w
        coords = torch.flatten(torch.stack(torch.meshgrid(torch.arange(w), torch.arange(w), indexing="ij")), 1)
        rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0).contiguous()
        rel[:, :, 0] += w - 1
        rel[:, :, 1] += w - 1
        rel[:, :, 0] *= 2 * w - 1
        idx = torch.zeros(size=(w * w + 1,) * 2, dtype=rel.dtype)
        idx[1:, 1:] = rel.sum(-1)
        idx[0, 0:] = (2 * w - 1) ** 2
        idx[0:, 0] = (2 * w - 1) ** 2 + 1
        idx[0, 0] = (2 * w - 1) ** 2 + 2
        return idx

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        idx = self.index()
        return x + self.table[idx.view(-1)].sum(), idx


def test_a_constant_index_built_with_meshgrid_stack_and_in_place_writes_is_exact() -> None:
    m = RelativeIndex()
    ep = _export(m, torch.randn(3))
    env = propagate(ep)
    idx = _outputs(ep)[1]
    expect = m.index()
    assert env[idx.name] == Interval(int(expect.min()), int(expect.max())) == Interval(0, 51)
    assert all(env[n.name] is not None for n in ep.graph.nodes
               if n.op == "call_function" and getattr(n.meta.get("val"), "dtype", None) == torch.int64)


class Router(torch.nn.Module):
    """A mixture-of-experts router: TopK over the experts, sorted, and the inverse permutation."""

    def __init__(self, experts: int = 4, k: int = 2) -> None:
        super().__init__()
        self.gate = torch.nn.Linear(8, experts)
        self.k = k

    def forward(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        probs = self.gate(h).softmax(-1)
        weights, experts = torch.topk(probs, self.k, dim=-1)
        weights /= weights.sum(dim=-1, keepdim=True)  # in place on the values: the indices keep their range
        flat = experts.reshape(-1)
        _, perm = torch.sort(flat)
        inv = torch.empty_like(perm)
        inv[perm] = torch.arange(perm.size(0))
        return experts, perm, inv


def test_topk_and_sort_indices_and_an_inverse_permutation_are_bounded() -> None:
    tokens = torch.export.Dim("tokens", min=1, max=64)
    ep = _export(Router(), torch.randn(5, 8), dynamic=({0: tokens},))
    env = propagate(ep)
    experts, perm, inv = _outputs(ep)
    assert env[experts.name] == Interval(0, 3)
    assert env[perm.name] == Interval(0, 127)  # positions in the 2 × tokens sorted ids
    assert env[inv.name] == Interval(0, 127)
    for n in (1, 64):
        e, p, i = Router()(torch.randn(n, 8))
        assert int(e.max()) <= 3 and int(p.max()) <= 2 * n - 1 and int(i.max()) <= 2 * n - 1


class Writes(torch.nn.Module):
    """zeros/full and in-place writes whose values depend on the input's size."""

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        n = x.shape[0]
        before = torch.zeros(n, dtype=torch.int64)
        read = before + 1  # read before the write: never sees it
        before[1:] = torch.arange(n - 1) * 3
        filled = torch.full((n,), 7, dtype=torch.int64)
        filled.fill_(-2)
        return read, before, filled


def test_in_place_writes_widen_what_follows_and_leave_earlier_reads() -> None:
    n = torch.export.Dim("n", min=3, max=100)
    ep = _export(Writes(), torch.randn(10), dynamic=({0: n},))
    env = propagate(ep)
    read, before, filled = _outputs(ep)
    assert env[read.name] == Interval.point(1)
    assert env[before.name] == Interval(0, 294)  # zeros, then 3 × arange(99)
    assert env[filled.name] == Interval(-2, 7)  # a weak update: the fill may cover only part of it
    r, b, f = Writes()(torch.randn(100))
    assert int(b.max()) <= 294 and int(r.min()) == 1 and int(f.min()) == -2
