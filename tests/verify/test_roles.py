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
