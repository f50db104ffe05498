"""``ModelSpec``: what a ``package.module:factory`` returns (no torch import here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class ModelSpec:
    """A PyTorch model with example inputs and optional bounds.

    Args:
        module: the ``torch.nn.Module``.
        args: example positional inputs for ``forward``.
        kwargs: example keyword inputs.
        dynamic: ``--dynamic`` strings (``'input_ids:0=batch[1:8]'``) the model is meant to run with.
        input_ranges: ``--input-range`` strings (``'ids:0..30521'``) known to hold for its inputs.
    """

    module: Any
    args: tuple[Any, ...]
    kwargs: dict[str, Any] | None = None
    dynamic: list[str] | None = None
    input_ranges: list[str] | None = field(default=None)
