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
