"""Small audio-encoder-like specs for the readiness tests: frames masked by an attention mask, the way
speech encoders zero their padded frames — as a boolean-mask assignment (``hidden[~mask] = 0``, whose
ONNX translation needs NonZero), as ``masked_fill`` (a Where from the start), and as a boolean-indexing
read (``hidden[mask]``, a data-dependent shape that no rewrite can remove)."""

from __future__ import annotations

import torch

from trtready import ModelSpec

FEATURES, FRAMES, BATCH = 8, 12, 2
DYNAMIC = ["input_features:0=batch[1:4],1=frames[2:32]", "attention_mask:0=batch[1:4],1=frames[2:32]"]


class _Encoder(torch.nn.Module):
    def __init__(self, how: str) -> None:
        super().__init__()
        self.how = how
        self.conv = torch.nn.Conv1d(FEATURES, 16, kernel_size=3, padding=1)
        self.norm = torch.nn.LayerNorm(16)
        self.out = torch.nn.Linear(16, 16)

    def forward(self, input_features: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = torch.nn.functional.gelu(self.conv(input_features.transpose(1, 2))).transpose(1, 2)
        mask = attention_mask.bool()
        if self.how == "assign":
            hidden[~mask] = 0
        elif self.how == "masked_fill":
            hidden = hidden.masked_fill(~mask.unsqueeze(-1), 0.0)
        else:  # "select": the kept frames only, pooled
            return self.out(self.norm(hidden[mask])).mean(0, keepdim=True)
        return self.out(self.norm(hidden))


def _spec(how: str) -> ModelSpec:
    torch.manual_seed(0)
    features = torch.randn(BATCH, FRAMES, FEATURES)
    mask = torch.ones(BATCH, FRAMES, dtype=torch.int64)
    mask[1, 7:] = 0  # right-padded, as feature extractors pad
    return ModelSpec(_Encoder(how).eval(), (features, mask), dynamic=list(DYNAMIC))


def masked_assign() -> ModelSpec:
    """``hidden[~mask] = 0``: NonZero + ScatterND in ONNX; fix/convert rewrite it to Where."""
    return _spec("assign")


def masked_fill() -> ModelSpec:
    """``hidden.masked_fill(~mask[..., None], 0)``: a Where already; every target builds it."""
    return _spec("masked_fill")


def masked_select() -> ModelSpec:
    """``hidden[mask]``: the kept frames, a data-dependent shape; no exact rewrite."""
    return _spec("select")
