"""NarrowFxInt64Pass: apply an :class:`~trtready.plan.fx_plan.FxPlan` to ``ExportedProgram.module()``.

The torch.fx pass contract (``PassResult(graph_module, modified)``): the planned *source* nodes get
``dtype=torch.int32``; everything in the region follows from them when the module is traced again
(the caller re-exports it; :mod:`trtready.passes.narrow_program` makes the same change on the lifted
program without a re-export, and this pass is its fallback). The region and why it is safe are the
planner's (:mod:`trtready.plan.fx_plan`).

Before::

    arange = torch.ops.aten.arange.start(0, sym_size, dtype=torch.int64)   # proved in [0, 63]
    embedding = torch.ops.aten.embedding.default(pos_weight, arange)

After::

    arange = torch.ops.aten.arange.start(0, sym_size, dtype=torch.int32)
    embedding = torch.ops.aten.embedding.default(pos_weight, arange)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from torch.fx.passes.infra.pass_base import PassBase, PassResult

from trtready.plan.fx_plan import FxPlan

if TYPE_CHECKING:
    import torch.fx


class NarrowFxInt64Pass(PassBase):
    def __init__(self, plan: FxPlan) -> None:
        super().__init__()
        self.plan = plan

    def call(self, graph_module: torch.fx.GraphModule) -> PassResult:
        import torch

        sources = set(self.plan.sources)
        modified = False
        for n in graph_module.graph.nodes:
            if n.op == "call_function" and n.name in sources:
                n.kwargs = {**n.kwargs, "dtype": torch.int32}
                modified = True
        if modified:
            graph_module.graph.lint()
            graph_module.recompile()
        return PassResult(graph_module, modified)
