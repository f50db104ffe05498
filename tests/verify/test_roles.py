"""Input roles from graph use: token ids, masks (proven or only generated), unknowns; tokenizer masks."""

from __future__ import annotations

import numpy as np
import torch

from trtready.analysis import FxAnalysis
from trtready.intervals import Interval
from trtready.intervals.roles import fx_input_roles
from trtready.load.capture import CallLayout, capture
from trtready.verify.inputs import generate, padded_mask, torch_input_specs


class Encoder(torch.nn.Module):
    """Called as users call Hugging Face models: keyword inputs, a padding mask used as 1 - mask."""

    def __init__(self) -> None:
        super().__init__()
        self.tok = torch.nn.Embedding(50, 8)
        self.pos = torch.nn.Embedding(40, 8)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                type_hint: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        positions = (torch.cumsum(attention_mask, dim=1) - 1).clamp(min=0)  # from the mask, as RoBERTa-likes do
        h = self.tok(input_ids.view(input_ids.shape[0], -1)) + self.pos(positions)
        bias = (1.0 - attention_mask[:, :, None].float()) * -1e4
        out = {"hidden": h + bias}
        if type_hint is not None:
            out["hint"] = type_hint * 2
        return out


def _program(**kwargs):
    return capture(Encoder().eval(), (), kwargs, [])


def test_roles_follow_values_through_views_and_casts() -> None:
    ids = torch.randint(0, 50, (2, 6))
    mask = torch.ones(2, 6, dtype=torch.int64)
    roles = fx_input_roles(_program(input_ids=ids, attention_mask=mask))
    assert roles["input_ids"].kind == "index" and roles["input_ids"].size == 50  # through view
    assert roles["attention_mask"].kind == "mask" and not roles["attention_mask"].proven  # cumsum, 1 - mask
    assert roles["attention_mask"].interval is None  # a generated 0/1 mask is not a proof


def test_unknown_integers_stay_within_their_example() -> None:
    ids = torch.randint(0, 50, (2, 6))
    mask = torch.ones(2, 6, dtype=torch.int64)
    hint = torch.tensor([[3, 7, 5, 4, 3, 6], [4, 4, 5, 5, 6, 7]])
    ep = _program(input_ids=ids, attention_mask=mask, type_hint=hint)
    layout = CallLayout.of(ep, (), {"input_ids": ids, "attention_mask": mask, "type_hint": hint})
    specs = {s.name: s for s in torch_input_specs(layout, FxAnalysis.of(ep))}
    assert specs["type_hint"].role.kind == "unknown" and specs["type_hint"].values == Interval(3, 7)
    feeds = generate(list(specs.values()), {}, [], seed=1)
    assert feeds["type_hint"].min() >= 3 and feeds["type_hint"].max() <= 7


def test_generated_masks_pad_like_a_tokenizer_and_the_original_runs_on_them() -> None:
    ids = torch.randint(0, 50, (4, 30))
    mask = torch.ones(4, 30, dtype=torch.int64)
    ep = _program(input_ids=ids, attention_mask=mask)
    layout = CallLayout.of(ep, (), {"input_ids": ids, "attention_mask": mask})
    specs = torch_input_specs(layout, FxAnalysis.of(ep))
    for seed in range(5):
        feeds = generate(specs, {}, [], seed)
        m = feeds["attention_mask"]
        assert set(np.unique(m)) <= {0, 1} and (m[:, 0] == 1).all()  # at least one kept token per row
        assert (np.diff(m, axis=1) <= 0).all()  # right padding: ones, then zeros
        assert m[0].all() and m[1].sum() == 1  # the two extremes are always there
        args, kwargs = layout.arguments(feeds)
        with torch.no_grad():  # positions from cumsum(mask) stay inside the 40-row table: the model runs
            Encoder().eval()(*args, **kwargs)


def test_padded_mask_shapes() -> None:
    rng = np.random.default_rng(0)
    assert padded_mask(rng, (3,)).sum() >= 1
    assert padded_mask(rng, (2, 0)).shape == (2, 0)
    three = padded_mask(rng, (2, 2, 5))
    assert three.shape == (2, 2, 5) and (three[..., 0] == 1).all()


class SelfProductMask(torch.nn.Module):
    """DeBERTa's masks: an outer self-product read as a condition, and a float weight of the embeddings."""

    def __init__(self) -> None:
        super().__init__()
        self.tok = torch.nn.Embedding(50, 8)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        h = self.tok(input_ids) * attention_mask.unsqueeze(2).to(torch.float32)
        ext = attention_mask.unsqueeze(1).unsqueeze(2)
        pair = ext * ext.squeeze(-2).unsqueeze(-1)  # integer m_i * m_j
        scores = (h @ h.transpose(1, 2))[:, None]
        return scores.masked_fill(~pair.bool(), -1e4)


def test_an_integer_self_product_read_as_a_condition_keeps_a_mask_and_a_float_weight_is_assumed_0_1() -> None:
    ids = torch.randint(0, 50, (2, 6))
    mask = torch.ones(2, 6, dtype=torch.int64)
    ep = capture(SelfProductMask().eval(), (ids, mask), {}, [])
    role = fx_input_roles(ep)["attention_mask"]
    assert role.kind == "mask" and role.assumed and role.interval == Interval(0, 1)
    a = FxAnalysis.of(ep)
    assert a.inputs["attention_mask"] == Interval(0, 1)
    assert "valid masks are 0/1" in a.assumptions()["attention_mask"]
    strict = FxAnalysis.of(ep, assume_valid=False)  # --strict assumes nothing of valid inputs
    assert "attention_mask" not in strict.inputs and strict.assumptions() == {}


def test_onnx_self_products_and_comparisons_are_mask_uses() -> None:
    import onnx_ir as ir

    from trtready.intervals.roles import onnx_input_roles

    text = """
    <ir_version: 10, opset_import: ["" : 20]>
    g (int64[N, S] m, int64[N, S] k) => (bool[N, S] a, bool[N, S] b, int64[N, S] c)
    <int64 zero = {0}, int64 two = {2}> {
      sq = Mul(m, m)
      a = Cast<to=9>(sq)
      b = Greater(k, zero)
      other = Mul(k, two)
      c = Identity(other)
    }
    """
    roles = onnx_input_roles(ir.from_onnx_text(text).graph)
    assert roles["m"].kind == "mask" and roles["m"].proven and not roles["m"].assumed  # m * m only as a bool
    assert roles["k"].kind == "mask" and not roles["k"].proven  # k * 2: an integer computed from it


class _OptPositions(torch.nn.Module):
    """OPT numbers positions as cumsum(mask) * mask - 1: an integer product of two values of the mask."""

    def __init__(self) -> None:
        super().__init__()
        self.pos = torch.nn.Embedding(40, 4)

    def forward(self, attention_mask: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        positions = torch.cumsum(attention_mask, dim=1) * attention_mask - 1
        return self.pos(positions + 2) * (scale * 3).float()[:, :, None]


def test_a_product_of_two_values_of_an_input_is_mask_arithmetic_a_product_by_a_constant_is_not() -> None:
    mask = torch.tensor([[1, 1, 0], [1, 0, 0]])
    ep = capture(_OptPositions().eval(), (mask, torch.ones(2, 3, dtype=torch.int64)), {}, [])
    roles = fx_input_roles(ep)
    # generated as a tokenizer pads (so verification excuses what differs where it pads), never assumed 0/1
    assert roles["attention_mask"].kind == "mask" and not roles["attention_mask"].proven
    assert roles["scale"].kind == "unknown"  # scale * 3 computes a number: its example's values are drawn
