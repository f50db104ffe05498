"""DimFromCarrierPass and its matcher: a size torch.onnx writes as arithmetic on the input's shape is read
from the tensor that carries the same torch.export dim — the same values in ONNX Runtime at every length
tried — and near misses are left alone."""

from __future__ import annotations

import numpy as np
import onnx_ir as ir
import pytest
import torch
from onnx_ir.passes.common import RemoveUnusedNodesPass

from tests.onnx_models import run
from trtready.passes.check import FullCheckPass
from trtready.passes.dim_from_carrier import DimFromCarrierPass
from trtready.plan import Action
from trtready.rewrite_matchers import find_dims_from_carriers


class Frames(torch.nn.Module):
    """wav2vec2's front end in miniature: two strided convolutions over the waveform (frames = s//10 - 1)
    and a tensor built at the frames' size, which torch.export knows only as that expression of ``s``."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Sequential(torch.nn.Conv1d(1, 4, 10, stride=5), torch.nn.Conv1d(4, 4, 3, stride=2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv(x[:, None])  # [b, 4, s//10 - 1]
        floor = torch.zeros(h.shape[0], 1, h.shape[2])  # [b, 1, s//10 - 1]
        return torch.where(h > 0, h, floor)


@pytest.fixture(scope="module")
def exported() -> ir.Model:
    from torch.export import Dim

    x = torch.randn(2, 400)
    dims = {"x": {0: Dim("batch", min=1, max=4), 1: Dim("samples", min=100, max=800)}}
    program = torch.onnx.export(Frames().eval(), (x,), dynamic_shapes=dims, dynamo=True, verbose=False)
    assert program is not None and program.model is not None
    return program.model


def _copy(model: ir.Model) -> ir.Model:
    return ir.serde.deserialize_model(ir.serde.serialize_model(model))


def test_the_size_is_read_from_the_convolution_and_every_length_gives_the_same_values(exported: ir.Model) -> None:
    model = _copy(exported)
    rng = np.random.default_rng(0)
    feeds = [{"x": rng.standard_normal((b, s)).astype(np.float32)} for b, s in ((1, 100), (3, 237), (2, 400), (4, 800))]
    before = [run(model, f)[0] for f in feeds]

    matches = find_dims_from_carriers(model)
    assert [(m.node.op_type, m.slot, m.axis) for m in matches] == [("Expand", 2, 2)]
    carrier = matches[0].carrier
    assert carrier.producer() is not None and carrier.producer().op_type == "Conv"
    assert matches[0].decision().action is Action.REWRITE

    ir.passes.PassManager([DimFromCarrierPass(matches), RemoveUnusedNodesPass(), FullCheckPass()])(model)
    piece = matches[0].concat.inputs[2]
    assert piece is not None and piece.producer() is not None
    read = piece.producer()
    assert read.op_type == "Shape" and read.inputs[0] is carrier
    assert (read.attributes["start"].as_int(), read.attributes["end"].as_int()) == (2, 3)
    assert not any(n.op_type == "Div" for n in model.graph), "the arithmetic nothing else reads is gone"
    for f, want in zip(feeds, before):
        got = run(model, f)[0]
        assert got.shape == want.shape and np.array_equal(got, want)  # same ops on the same values: exact


def test_a_file_another_tool_wrote_is_left_alone(exported: ir.Model) -> None:
    model = _copy(exported)
    model.producer_name = "some-converter"
    assert find_dims_from_carriers(model) == []


def test_no_carrier_upstream_means_no_rewrite(exported: ir.Model) -> None:
    """When only tensors computed from the built one carry the dim, reading it there would be a cycle."""
    model = _copy(exported)
    (match,) = find_dims_from_carriers(model)
    downstream = {match.node, *(user for user, _ in match.node.outputs[0].uses())}
    for node in model.graph:
        if node not in downstream:  # the convolutions and the comparison no longer carry it
            for out in node.outputs:
                out.shape = ir.Shape([ir.SymbolicDim(None) if isinstance(d, ir.SymbolicDim) else d for d in out.shape or ()])
    assert [u.op_type for u, _ in match.node.outputs[0].uses()] == ["Where"]
    assert find_dims_from_carriers(model) == []


SHAPE_READ = """
<ir_version: 10, opset_import: ["" : 20], producer_name: "pytorch">
g (float[B, S] x) => (float[B, S] y)
<float zero = {0.0}> {
  b = Shape<start=0, end=1>(x)
  s = Shape<start=1, end=2>(x)
  shape = Concat<axis=0>(b, s)
  z = Expand(zero, shape)
  y = Add(x, z)
}
"""


def test_a_size_already_read_from_a_shape_is_left_alone() -> None:
    model = ir.from_onnx_text(SHAPE_READ)
    model.producer_name = "pytorch"
    for node in model.graph:
        if node.op_type == "Expand":
            node.outputs[0].shape = ir.Shape(["B", "S"])
    assert find_dims_from_carriers(model) == []
