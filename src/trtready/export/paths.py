"""Export paths: the dynamo exporter, the same after a proved program change, the TorchScript exporter.

``--exporter auto`` (the default) tries them in order until one gives an ONNX file that verifies
(:mod:`trtready.plan.export_plan` decides which recoveries a failure calls for); ``--exporter
dynamo`` keeps to the dynamo exporter (with its proved recoveries), ``--exporter torchscript`` to the
older one. :class:`ExportRecord` says which path wrote the file and why each earlier one was left.
"""

from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from trtready.bounds import DimBound
from trtready.export.custom_ops import decompositions
from trtready.plan.export_plan import REWRITE_CONTIGUOUS, ExportPath, initial_paths, plan_recovery

if TYPE_CHECKING:
    import onnx_ir as ir
    import torch
    from torch.export import ExportedProgram


@dataclass
class Attempt:
    """A path that did not give the file, and why (one line)."""

    path: str
    reason: str

    def to_json(self) -> dict[str, str]:
        return {"path": self.path, "reason": self.reason}


@dataclass
class ExportRecord:
    """Which export path produced the written ONNX, and why every earlier path was left."""

    exporter: str | None = None  # the path name; None until one succeeded
    label: str = ""  # how the terminal names it
    failed: list[Attempt] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # e.g. a custom op, the module calling it, the switch
    path: ExportPath | None = field(default=None, repr=False)  # the path itself (a baseline takes it too)

    def line(self) -> str:
        """``exported with torch.onnx (dynamo=False): dynamo failed: Cannot view a tensor …``."""
        head = f"exported with {self.label}" if self.exporter else "no export path produced the ONNX file"
        why = "; ".join(f"{a.path} failed: {a.reason}" for a in self.failed)
        return head + (f": {why}" if why else "")

    def to_json(self) -> dict[str, Any]:
        return {"exporter": self.exporter, "failed": [a.to_json() for a in self.failed], "notes": list(self.notes)}


class ExportChain:
    """The paths still to try for ``--exporter CHOICE``; a dynamo failure adds its recoveries first."""

    def __init__(self, choice: str) -> None:
        self.choice = choice
        self.pending: list[ExportPath] = initial_paths(choice)
        self.record = ExportRecord()

    def next(self) -> ExportPath | None:
        return self.pending.pop(0) if self.pending else None

    def failed(self, path: ExportPath, reason: str, program: ExportedProgram | None = None, *, detail: str = "") -> None:
        """``path`` did not give a file that verifies; recoveries for its failure come next."""
        self.record.failed.append(Attempt(path.name, reason))
        if path.dynamo and not path.rewrite and not path.decompose and program is not None:
            recovery = plan_recovery(detail or reason, program)
            if recovery.explanation and recovery.explanation not in self.record.notes:
                self.record.notes.append(recovery.explanation)
            tried = {a.path for a in self.record.failed}
            self.pending[:0] = [p for p in recovery.paths if p.name not in tried]

    def succeeded(self, path: ExportPath) -> None:
        self.record.exporter, self.record.label, self.record.path = path.name, path.label, path

    def exhausted(self) -> str:
        """Every path's reason, for the error when none gave a file."""
        return "; ".join(f"{a.path}: {a.reason}" for a in self.record.failed)


def copy_program(ep: ExportedProgram) -> ExportedProgram:
    """A program sharing ``ep``'s weights but with its own graph, so a rewrite leaves ``ep`` as it was."""
    import torch

    graph = torch.fx.Graph()
    out = graph.graph_copy(ep.graph, {})
    graph.output(out)
    for old, new in zip(ep.graph.nodes, graph.nodes):
        new.name = old.name  # the signature names nodes; a copy must not rename a builtin-named input ("input")
    gm = torch.fx.GraphModule(ep.graph_module, graph)
    return torch.export.ExportedProgram(
        root=gm, graph=gm.graph, graph_signature=copy.deepcopy(ep.graph_signature), state_dict=ep.state_dict,
        range_constraints=copy.deepcopy(ep.range_constraints), module_call_graph=copy.deepcopy(ep.module_call_graph),
        example_inputs=ep.example_inputs, constants=ep.constants, verifiers=ep.verifiers,
    )


def prepare(path: ExportPath, ep: ExportedProgram) -> tuple[ExportedProgram, str]:
    """The program the dynamo exporter gets on ``path`` (``ep`` itself is never changed), and what changed.

    Raises ``ValueError`` when the change does not apply (nothing to rewrite): the path is then pointless.
    """
    if path.rewrite == REWRITE_CONTIGUOUS:
        from trtready.passes.fx_contiguous_clone import ContiguousToClonePass

        program = copy_program(ep)
        rewrite = ContiguousToClonePass()
        rewrite(program.graph_module)
        if not rewrite.rewritten:
            raise ValueError("no contiguous call could be rewritten" +
                             (f" ({'; '.join(rewrite.kept)})" if rewrite.kept else ""))
        kept = f"; kept {len(rewrite.kept)} whose storage is written in place" if rewrite.kept else ""
        return program, f"{len(rewrite.rewritten)} contiguous call(s) rewritten as clones{kept}"
    if path.decompose:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            program = ep.run_decompositions(decompositions(path.decompose))
        return program, f"{', '.join(path.decompose)} decomposed into aten ops"
    return ep, ""


def translate_path(path: ExportPath, ep: ExportedProgram, module: torch.nn.Module, layout: Any, bounds: list[DimBound],
                   examples: dict[str, list[int]], input_names: list[str] | None,
                   output_names: list[str] | None) -> tuple[ir.Model, str]:
    """The ONNX model ``path`` gives and what was changed on the way: dynamo paths translate (a
    prepared copy of) ``ep``, the TorchScript path traces ``module`` called as ``layout`` says."""
    from trtready.export.exporter import to_onnx, to_onnx_torchscript

    if path.dynamo:
        program, change = prepare(path, ep)
        return to_onnx(program, bounds, examples, input_names, output_names), change
    return to_onnx_torchscript(module, layout, ep, bounds, examples, input_names, output_names), ""
