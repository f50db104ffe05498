"""What a ``torch.export`` program's signature says about its inputs, on the ground floor: the capture,
the audit, the interval analysis and the exporter all name a program's inputs this one way."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch.export import ExportedProgram


def program_input_names(ep: ExportedProgram) -> list[str]:
    """Names of a program's tensor inputs (``graph_signature.user_inputs`` also holds constants' values)."""
    from torch.export.graph_signature import InputKind, TensorArgument

    return [s.arg.name for s in ep.graph_signature.input_specs
            if s.kind is InputKind.USER_INPUT and isinstance(s.arg, TensorArgument)]
