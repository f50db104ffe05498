"""Capture a PyTorch module's graph with ``torch.export`` under the user's dynamic bounds.

The ExportedProgram made here is the one every later step reuses (DESIGN.md: export once).
"""

from __future__ import annotations

import inspect
import warnings
from typing import Any

from trtready.bounds import DimBound
from trtready.errors import BadInputError, UsageError


def forward_param_names(module: Any) -> list[str]:
    sig = inspect.signature(module.forward)
    return [p.name for p in sig.parameters.values() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def check_example_inputs(module: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Example inputs must bind to ``forward``'s signature (else export fails obscurely)."""
    try:
        inspect.signature(module.forward).bind(*args, **kwargs)
    except TypeError as e:
        raise BadInputError(f"example inputs do not match {type(module).__name__}.forward: {e}") from e


def dynamic_shapes_for(module: Any, bounds: list[DimBound], args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any] | None:
    """``dynamic_shapes`` keyed by forward's parameter names, one shared ``Dim`` per dim name."""
    if not bounds:
        return None
    import torch

    names = forward_param_names(module)
    given = names[: len(args)] + list(kwargs)
    unknown = sorted({b.input for b in bounds} - set(given))
    if unknown:
        raise UsageError(f"--dynamic names {', '.join(unknown)}, not an input of forward ({', '.join(given)})")
    dims: dict[str, Any] = {}
    spec: dict[str, Any] = {n: None for n in given}
    for b in bounds:
        if b.dim not in dims:
            dims[b.dim] = torch.export.Dim(b.dim, min=b.lo, max=b.hi)
        spec[b.input] = {**(spec[b.input] or {}), b.axis: dims[b.dim]}
    return spec


def capture(module: Any, args: tuple[Any, ...], kwargs: dict[str, Any], bounds: list[DimBound]) -> Any:
    """``torch.export.export`` with the bounds; raises the export's own exception on failure."""
    import torch

    check_example_inputs(module, args, kwargs)
    ds = dynamic_shapes_for(module, bounds, args, kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.export.export(module, args, kwargs or None, dynamic_shapes=ds, strict=False)


def example_inputs(ep: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Example inputs stored in a .pt2 (torch.export.save keeps them), else a clear error."""
    example = getattr(ep, "example_inputs", None)
    if not example:
        raise BadInputError("the .pt2 carries no example inputs; export it with torch.export from a spec instead")
    args, kwargs = example
    return tuple(args), dict(kwargs or {})
