"""Which export path to try after one fails: the recoveries proved for a known failure class.

The user came for an engine: when ``torch.onnx.export(dynamo=True)`` stops, the export is tried
again along paths that compute the same function (docs/design.md, "Export paths"):

- ``dynamo+rewrite:contiguous→clone`` — "Cannot view a tensor with shape …": the program's
  ``contiguous`` calls become explicit clones (:class:`~trtready.passes.fx_contiguous_clone.ContiguousToClonePass`,
  exact where no in-place op makes aliasing observable), then the dynamo exporter again;
- ``dynamo+decompose:OP`` — "No ONNX function found for <OpOverload(op='NS.NAME' …)>" where OP is a
  library's custom op with an exact decomposition into aten ops (:data:`CUSTOM_OPS`), then dynamo again;
- ``torchscript`` — the older exporter, ``torch.onnx.export(..., dynamo=False)``, last.

This module only decides; the export stage carries the decision out (:mod:`trtready.export.paths`).
A custom op without a decomposition is named with the module that calls it and the library's switch
that avoids it, so a failure of every path still tells the user what to change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch.export import ExportedProgram

DYNAMO = "dynamo"
TORCHSCRIPT = "torchscript"
CHOICES = ("auto", DYNAMO, TORCHSCRIPT)
REWRITE_CONTIGUOUS = "contiguous→clone"

_CANNOT_VIEW = "Cannot view a tensor with shape"
_NO_FUNCTION = re.compile(r"No ONNX function found for <OpOverload\(op='([A-Za-z_][\w.]*)', overload='(\w+)'\)>")


@dataclass(frozen=True)
class CustomOp:
    """A library's custom op that torch.onnx has no function for, and what avoids it."""

    op: str  # "namespace::name"
    switch: str  # the library's own way around it, said to the user
    decomposition: bool  # trtready has an exact decomposition into aten ops (export/custom_ops.py)


#: Custom ops met in real models, by ``namespace::name``.
CUSTOM_OPS: dict[str, CustomOp] = {
    # transformers 5.x runs mixture-of-experts layers (Mixtral, Qwen2-MoE, OLMoE, …) through grouped matmuls;
    # under torch.export with float32 weights it calls its own op, a loop over experts.
    "transformers::grouped_mm_fallback": CustomOp(
        "transformers::grouped_mm_fallback",
        "model.set_experts_implementation('batched_mm') before export (or from_pretrained(..., "
        "experts_implementation='batched_mm')): the experts then run as batched matmuls torch.onnx translates",
        decomposition=True,
    ),
}


@dataclass(frozen=True)
class ExportPath:
    """One way to the ONNX file: the dynamo exporter (after an optional proved program change) or
    the TorchScript-based exporter."""

    name: str  # as recorded in the report: dynamo, dynamo+rewrite:contiguous→clone, …, torchscript
    rewrite: str | None = None  # an FX rewrite of the program before the dynamo exporter
    decompose: tuple[str, ...] = ()  # custom ops decomposed into aten ops before the dynamo exporter

    @property
    def dynamo(self) -> bool:
        return self.name != TORCHSCRIPT

    @property
    def label(self) -> str:
        """How the terminal names it: ``torch.onnx (dynamo=False)``."""
        if not self.dynamo:
            return "torch.onnx (dynamo=False)"
        if self.rewrite:
            return f"torch.onnx (dynamo=True) after the rewrite {self.rewrite}"
        if self.decompose:
            return f"torch.onnx (dynamo=True) after decomposing {', '.join(self.decompose)}"
        return "torch.onnx (dynamo=True)"


PLAIN = ExportPath(DYNAMO)
LEGACY = ExportPath(TORCHSCRIPT)


@dataclass
class Recovery:
    """What a failed dynamo export leads to: paths worth trying, and what the user should know."""

    paths: list[ExportPath] = field(default_factory=list)
    explanation: str = ""  # one line, e.g. the custom op, the module calling it and the switch


def initial_paths(choice: str) -> list[ExportPath]:
    """The paths ``--exporter`` starts with (recoveries are inserted after a dynamo failure)."""
    if choice == TORCHSCRIPT:
        return [LEGACY]
    if choice == DYNAMO:
        return [PLAIN]
    return [PLAIN, LEGACY]


def plan_recovery(reason: str, program: ExportedProgram) -> Recovery:
    """The recoveries for a dynamo export that failed with ``reason`` on ``program``."""
    if _CANNOT_VIEW in reason:
        if any(str(n.target) == "aten.contiguous.default" for n in program.graph.nodes if n.op == "call_function"):
            return Recovery([ExportPath(f"{DYNAMO}+rewrite:{REWRITE_CONTIGUOUS}", rewrite=REWRITE_CONTIGUOUS)])
        return Recovery(explanation="no contiguous call to rewrite in the program")
    m = _NO_FUNCTION.search(reason)
    if m is None:
        return Recovery()
    namespace, _, name = m[1].partition(".")
    op = f"{namespace}::{name}" if name else m[1]
    callers = callers_of(program, f"{m[1]}.{m[2]}")
    where = f"called from {callers[0]}" + (f" and {len(callers) - 1} more" if len(callers) > 1 else "") if callers else ""
    known = CUSTOM_OPS.get(op)
    line = f"{op} has no ONNX function" + (f", {where}" if where else "")
    if known is None:
        return Recovery(explanation=line + "; register an ONNX translation for it (torch.onnx custom_translation_table) "
                        "or avoid it in the model")
    line += f"; {known.switch}"
    if not known.decomposition:
        return Recovery(explanation=line)
    return Recovery([ExportPath(f"{DYNAMO}+decompose:{op}", decompose=(op,))],
                    explanation=line + "; trtready decomposes it exactly into aten ops instead")


def callers_of(program: ExportedProgram, target: str) -> list[str]:
    """``module.path (Type)`` of each call of ``target`` (``ns.name.overload``), from nn_module_stack."""
    out: list[str] = []
    for n in program.graph.nodes:
        if n.op != "call_function" or str(n.target) != target:
            continue
        stack = n.meta.get("nn_module_stack") or {}
        if not stack:
            continue
        path, kind = list(stack.values())[-1]
        text = f"{path} ({str(getattr(kind, '__name__', kind)).rsplit('.', 1)[-1]})"
        if text not in out:
            out.append(text)
    return out
