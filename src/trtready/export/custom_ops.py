"""Exact decompositions of libraries' custom ops into aten ops that torch.onnx translates.

Which op gets one, and when it is used, is decided in :mod:`trtready.plan.export_plan`; here is only
the arithmetic, each with why it computes the same values as the op.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def grouped_mm_fallback(input: Any, weight: Any, offs: Any) -> Any:  # noqa: A002 - the op's own argument name
    """``transformers::grouped_mm_fallback(input (S, K), weight (G, K, N), offs (G,)) -> (S, N)``.

    The op (transformers/integrations/moe.py) multiplies the rows sorted by expert: rows
    ``[offs[g-1], offs[g])`` by ``weight[g]``, one ``mm`` per expert into a zero-filled output, so rows
    at or past ``offs[-1]`` stay 0. Here each row's expert is ``bucketize(row, offs, right=True)`` —
    the number of ends at or before the row, i.e. the ``g`` with ``offs[g-1] <= row < offs[g]`` — and
    the output takes, per expert, the rows of ``input @ weight[g]`` whose expert is ``g`` (a
    selection, no arithmetic mixing experts), starting from zeros. Each kept row is the same dot
    products as the op's ``mm`` of that row's block: the same values up to the order a matmul kernel
    sums in. Cost: G dense matmuls over all S rows instead of one per block — the library's switch
    (``batched_mm``) avoids both.
    """
    import torch

    rows = torch.arange(input.shape[0], device=input.device)
    group = torch.bucketize(rows, offs.to(rows.dtype), right=True)
    out = torch.zeros(input.shape[0], weight.shape[2], dtype=input.dtype, device=input.device)
    for g in range(weight.shape[0]):  # the number of experts is a constant of the model
        out = torch.where((group == g).unsqueeze(-1), input @ weight[g], out)
    return out


#: ``namespace::name`` → (the op's default overload, its decomposition), looked up when asked.
def decompositions(names: tuple[str, ...]) -> dict[Any, Callable[..., Any]]:
    """The decomposition table for ``names`` (every name must be one :data:`KNOWN` lists)."""
    import torch

    table: dict[Any, Callable[..., Any]] = {}
    for name in names:
        namespace, _, op = name.partition("::")
        overload = getattr(getattr(getattr(torch.ops, namespace), op), "default")
        table[overload] = KNOWN[name]
    return table


KNOWN: dict[str, Callable[..., Any]] = {
    "transformers::grouped_mm_fallback": grouped_mm_fallback,
}
