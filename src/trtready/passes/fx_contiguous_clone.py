"""ContiguousToClonePass: ``aten.contiguous(x)`` becomes ``aten.clone(x, memory_format=contiguous_format)``.

Why: torch.onnx (dynamo) fails on attention layouts with a dynamic batch — the zoo's T5 encoder and
Swin — with "Cannot view a tensor with shape [s43, s53, 4, 8] and strides (32*s53, 8, 8*s53, 1) as a
tensor with shape (s43, s53, 32)". Its decomposition step traces ``contiguous`` with the strides the
fused attention kernel's meta function reports (the output laid out as batch × seq × heads × dim), so
``transpose(1, 2)`` of it looks contiguous: ``contiguous`` disappears and the ``reshape`` after it
becomes a ``view``. Its type-promotion step then propagates shapes again with the math kernel's
strides (batch × heads × seq × dim): the ``view`` now reads a transposed, non-contiguous tensor and
fails. An explicit ``clone`` with ``contiguous_format`` has a translation of its own, so it survives
decomposition, and its output is contiguous under either kernel's strides: the ``view`` after it is
valid in both steps.

Why it is exact: ``contiguous(x)`` returns ``x`` itself when ``x`` is already contiguous and a
contiguous copy otherwise; ``clone(x, memory_format=contiguous_format)`` always returns a contiguous
copy. The values are the same either way; the two differ only in aliasing — whether a later in-place
write to the result also changes ``x`` (and the other way round). In a graph where no op writes to
``x``, the result, or any view sharing their storage, aliasing is unobservable, so the rewrite
changes no value. The pass checks exactly that: it follows the alias annotations of every op's schema
(``Tensor(a)``: ``view``, ``transpose``, ``contiguous``, …) to group values sharing storage, and leaves
a ``contiguous`` whose group any op writes (``Tensor(a!)``: ``add_``, ``copy_``, …) unchanged, with the
reason in :attr:`kept`.

Before::

    transpose_3 = torch.ops.aten.transpose.int(reshape, 1, 2)
    contiguous_1 = torch.ops.aten.contiguous.default(transpose_3)
    reshape_1 = torch.ops.aten.reshape.default(contiguous_1, [s0, s1, -1])

After::

    transpose_3 = torch.ops.aten.transpose.int(reshape, 1, 2)
    contiguous_1 = torch.ops.aten.clone.default(transpose_3, memory_format=torch.contiguous_format)
    reshape_1 = torch.ops.aten.reshape.default(contiguous_1, [s0, s1, -1])

The torch.fx pass contract: ``call(graph_module) -> PassResult(graph_module, modified)``; it edits the
graph module it is given (the caller hands it a copy of the program, :func:`trtready.export.paths.copy_program`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from torch.fx.passes.infra.pass_base import PassBase, PassResult

if TYPE_CHECKING:
    import torch.fx


def _alias_groups(graph: torch.fx.Graph) -> tuple[dict[torch.fx.Node, torch.fx.Node], set[torch.fx.Node]]:
    """(group representative per node, representatives of groups some op writes in place)."""
    import torch

    parent: dict[torch.fx.Node, torch.fx.Node] = {}

    def find(n: torch.fx.Node) -> torch.fx.Node:
        parent.setdefault(n, n)
        while parent[n] is not n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n

    def union(a: torch.fx.Node, b: torch.fx.Node) -> None:
        parent[find(a)] = find(b)

    written: list[torch.fx.Node] = []
    for node in graph.nodes:
        if node.op != "call_function":
            continue
        schema = getattr(node.target, "_schema", None)
        if not isinstance(node.target, torch._ops.OpOverload) or schema is None:
            continue
        out_sets = {a for r in schema.returns if r.alias_info is not None for a in r.alias_info.before_set}
        for i, arg in enumerate(schema.arguments):
            value = node.args[i] if i < len(node.args) else node.kwargs.get(arg.name)
            if not isinstance(value, torch.fx.Node) or arg.alias_info is None:
                continue
            if arg.alias_info.is_write:
                written.append(value)
            if out_sets & set(arg.alias_info.before_set):
                union(node, value)  # the output shares storage with this input
    return {n: find(n) for n in graph.nodes}, {find(n) for n in written}


class ContiguousToClonePass(PassBase):
    """Every ``aten.contiguous`` whose storage nothing writes becomes an explicit contiguous ``clone``."""

    def __init__(self) -> None:
        super().__init__()
        self.rewritten: list[str] = []  # node names
        self.kept: list[str] = []  # "name: why"

    def call(self, graph_module: torch.fx.GraphModule) -> PassResult:
        import torch

        group, written = _alias_groups(graph_module.graph)
        for node in graph_module.graph.nodes:
            if node.op != "call_function" or node.target is not torch.ops.aten.contiguous.default:
                continue
            if group[node] in written:
                self.kept.append(f"{node.name}: an in-place op writes its storage (aliasing would be observable)")
                continue
            fmt = node.kwargs.get("memory_format", torch.contiguous_format)
            node.target = torch.ops.aten.clone.default
            node.kwargs = {"memory_format": fmt}
            self.rewritten.append(node.name)
        if self.rewritten:
            graph_module.graph.lint()
            graph_module.recompile()
        return PassResult(graph_module, bool(self.rewritten))
