"""The zoo models behind a positional ``forward``, for the older ONNX exporter.

``torch.onnx.export(..., dynamo=False)`` traces with TorchScript, which passes positional arguments
only: ``wrap`` puts a zoo model behind a ``forward(input_ids, attention_mask)`` (or ``pixel_values``,
``input_features``, ``input_values, attention_mask``) that hands them on as keywords, under the same
names and in the same order.
``tests.zoo.upstream`` uses it where the dynamo exporter fails upstream.
"""

from __future__ import annotations

from typing import Any

import torch

from trtready import ModelSpec


class _Text(torch.nn.Module):
    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> Any:
        return self.model(input_ids=input_ids, attention_mask=attention_mask)


class _Pixels(torch.nn.Module):
    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, pixel_values: torch.Tensor) -> Any:
        return self.model(pixel_values=pixel_values)


class _Audio(torch.nn.Module):
    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_features: torch.Tensor) -> Any:
        return self.model(input_features=input_features)


class _Waveform(torch.nn.Module):
    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_values: torch.Tensor, attention_mask: torch.Tensor) -> Any:
        return self.model(input_values=input_values, attention_mask=attention_mask)


_WRAPPERS = {("input_ids", "attention_mask"): _Text, ("pixel_values",): _Pixels, ("input_features",): _Audio,
             ("input_values", "attention_mask"): _Waveform}


def wrap(spec: ModelSpec) -> tuple[torch.nn.Module, tuple[Any, ...]]:
    """(module, positional args) taking the spec's keyword inputs positionally, in the same order."""
    kwargs = spec.kwargs or {}
    if not kwargs:
        return spec.module, spec.args
    return _WRAPPERS[tuple(kwargs)](spec.module).eval(), tuple(kwargs.values())
