"""Model specs (``tests.hardening.specs:NAME``) whose run would allocate more than the limits allow."""

from __future__ import annotations

from trtready.load.spec import ModelSpec


def huge_ones() -> ModelSpec:
    """``torch.ones((66000, 66000))``: 4,356,000,000 float32 elements (17 GB) from a 2-element input."""
    import torch

    class HugeOnes(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x + torch.ones((66000, 66000)).sum()

    return ModelSpec(HugeOnes().eval(), (torch.ones(2),))


def growing_ones() -> ModelSpec:
    """``torch.ones((batch, 2**19))``: within 2**20 elements at batch 2, past it at batch 8."""
    import torch

    class Growing(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x.sum(1) + torch.ones((x.shape[0], 2**19)).sum(1)

    return ModelSpec(Growing().eval(), (torch.ones(2, 3),), dynamic=["x:0=batch[1:8]"])
