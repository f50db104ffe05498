"""The demo architectures (imported only when a demo factory runs: they need torch)."""

from __future__ import annotations

import torch
from torch import nn


class BasicBlock(nn.Module):
    """A ResNet basic block: two conv-BN pairs and a skip, so BN buffers sit at ``layer1.0.bn1``."""

    def __init__(self, ch: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(ch, ch, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(ch)
        self.conv2 = nn.Conv2d(ch, ch, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(y)) + x)


class BnCnn(nn.Module):
    def __init__(self, ch: int = 8, classes: int = 10) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, ch, 3, padding=1, bias=False), nn.BatchNorm2d(ch), nn.ReLU())
        self.layer1 = nn.Sequential(BasicBlock(ch), BasicBlock(ch))
        self.head = nn.Linear(ch, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.layer1(self.stem(x))
        out: torch.Tensor = self.head(y.mean(dim=(2, 3)))
        return out


class TokenModel(nn.Module):
    """Token classifier: learned positions from ``torch.arange``, logits and an int64 argmax."""

    def __init__(self, vocab: int = 100, dim: int = 16, max_len: int = 64, classes: int = 5) -> None:
        super().__init__()
        self.vocab = vocab
        self.tok = nn.Embedding(vocab, dim)
        self.pos = nn.Embedding(max_len, dim)
        self.proj = nn.Linear(dim, classes)

    def forward(self, input_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)
        h = self.tok(input_ids) + self.pos(positions)[None]
        logits = self.proj(torch.tanh(h))
        return logits, logits.argmax(dim=-1)


class Float64Norm(nn.Module):
    """Input normalisation whose statistics were stored in float64 (a common numpy carry-over)."""

    def __init__(self, features: int = 8) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(1)
        self.register_buffer("mean", torch.randn(features, dtype=torch.float64, generator=g) / 3)
        self.register_buffer("std", torch.rand(features, dtype=torch.float64, generator=g) + 0.5)
        self.fc = nn.Linear(features, 4).double()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean, std = self.get_buffer("mean"), self.get_buffer("std")
        out: torch.Tensor = self.fc((x.double() - mean) / std)
        return out


class HashEmbedding(nn.Module):
    """Feature hashing: ids are mixed with a 2**40 modulus before bucketing (needs 64-bit math)."""

    MODULUS = 2**40
    MULTIPLIER = 2654435761  # Knuth's multiplicative hash constant

    def __init__(self, buckets: int = 97, dim: int = 8) -> None:
        super().__init__()
        self.buckets = buckets
        self.table = nn.Embedding(buckets, dim)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        mixed = (ids * self.MULTIPLIER) % self.MODULUS
        out: torch.Tensor = self.table(mixed % self.buckets).sum(dim=1)
        return out
