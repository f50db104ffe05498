"""Verification inputs come from each input's role in the graph, never from its name."""

from __future__ import annotations

import numpy as np
import onnx_ir as ir
import torch

from trtready.bounds import parse_dynamic
from trtready.intervals.roles import fx_input_roles, onnx_input_roles
from trtready.verify.inputs import dim_choices, generate, onnx_input_specs


def test_input_named_x_indexing_a_7_row_table_is_drawn_in_range_with_edges() -> None:
    model = ir.from_onnx_text("""
    <ir_version: 10, opset_import: ["" : 20]>
    g (int64[B, S] x) => (float[B, S, 4] y) <float[7, 4] table = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
      0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0}> {
      y = Gather(table, x)
    }
    """)
    roles = onnx_input_roles(model.graph)
    assert roles["x"].kind == "index" and roles["x"].size == 7
    specs = onnx_input_specs(model, roles)
    bounds = parse_dynamic(["x:0=B[1:4],1=S[2:9]"])
    seen = set()
    for i, dims in enumerate(dim_choices(specs, bounds)):
        x = generate(specs, dims, bounds, seed=i)["x"]
        assert x.dtype == np.int64 and x.min() >= 0 and x.max() <= 6
        assert x.reshape(-1)[0] == 0 and x.reshape(-1)[-1] == 6  # the edge rows
        seen.add(x.shape)
    assert {(1, 2), (4, 9)} <= seen  # dims at min and max of their bounds


def test_input_named_input_ids_feeding_only_a_where_condition_is_a_mask() -> None:
    model = ir.from_onnx_text("""
    <ir_version: 10, opset_import: ["" : 20]>
    g (int64[8] input_ids, float[8] a, float[8] b) => (float[8] y) {
      c = Cast<to=9>(input_ids)
      y = Where(c, a, b)
    }
    """)
    roles = onnx_input_roles(model.graph)
    assert roles["input_ids"].kind == "mask"
    specs = onnx_input_specs(model, roles)
    x = generate(specs, {}, [], seed=3)["input_ids"]
    assert set(np.unique(x)) <= {0, 1}


def test_fx_role_from_an_embedding_table() -> None:
    class M(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.emb = torch.nn.Embedding(7, 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.emb(x)

    ep = torch.export.export(M(), (torch.zeros(2, 5, dtype=torch.int64),))
    roles = fx_input_roles(ep)
    assert roles["x"].kind == "index" and roles["x"].size == 7


def _two_dims() -> tuple[list, list]:
    model = ir.from_onnx_text("""
    <ir_version: 10, opset_import: ["" : 20]>
    g (float[B, S] x) => (float[B, S] y) {
      y = Relu(x)
    }
    """)
    specs = onnx_input_specs(model, onnx_input_roles(model.graph))
    return specs, parse_dynamic(["x:0=B[1:4],1=S[2:32]"])


def test_min_and_max_of_every_dim_are_covered_whatever_the_trial_count() -> None:
    """Fewer trials than the covering set still run it whole: a file wrong only at the max is never missed."""
    from trtready.verify.inputs import trial_dims

    specs, bounds = _two_dims()
    for trials in (1, 2, 3):
        dims = trial_dims(specs, bounds, trials, seed=0)
        assert {"B": 1, "S": 2} in dims and {"B": 4, "S": 32} in dims


def test_trials_past_the_covering_set_draw_sizes_between_seeded_and_on_their_steps() -> None:
    from dataclasses import replace

    from trtready.verify.inputs import trial_dims

    specs, bounds = _two_dims()
    bounds = [replace(b, lo=4, step=2) if b.dim == "S" else b for b in bounds]  # seq 4, 6, …, 32
    dims = trial_dims(specs, bounds, 12, seed=5)
    assert len(dims) == 12 and dims == trial_dims(specs, bounds, 12, seed=5)
    extra = dims[3:]
    assert all(1 <= d["B"] <= 4 and 4 <= d["S"] <= 32 and d["S"] % 2 == 0 for d in extra)
    assert len({(d["B"], d["S"]) for d in extra}) > 1  # random, not the ends again
