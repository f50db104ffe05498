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
