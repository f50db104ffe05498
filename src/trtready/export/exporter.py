"""``export``: ONNX (one translation), .pt2 or TorchScript, with the user's names and bounds."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trtready.bounds import DimBound
from trtready.errors import BadInputError, TrtReadyError, UpstreamError, UsageError, upstream_reason
from trtready.load import LoadedModel, ModelKind

if TYPE_CHECKING:
    from trtready.outputs import OutputSession

FORMATS = ("onnx", "pt2", "torchscript")


@dataclass
class ExportResult:
    format: str
    written: list[Path]
    input_names: list[str] = field(default_factory=list)
    output_names: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def portable(ep: Any) -> Any:
    """The program with outputs as plain dicts/tuples, so its ``.pt2`` loads in any process.

    A Hugging Face model returns a ``ModelOutput``, a pytree node that transformers registers when it
    is imported; a ``.pt2`` naming it cannot be loaded where transformers was not imported first. The
    output spec is rewritten with the same keys as a dict (the values and their order are unchanged).
    """
    import torch.utils._pytree as pytree

    def plain(spec: Any) -> Any:
        if spec.is_leaf():
            return spec
        kids = [plain(c) for c in spec.children()]
        if spec.type in (dict, list, tuple):
            return pytree.TreeSpec(spec.type, spec.context, kids)
        ctx = spec.context
        if isinstance(ctx, (list, tuple)) and len(ctx) == len(kids) and all(isinstance(k, str) for k in ctx):
            return pytree.TreeSpec(dict, list(ctx), kids)
        return pytree.TreeSpec(tuple, None, kids)

    sig = ep.module_call_graph[0].signature
    if sig is not None and sig.out_spec is not None:
        sig.out_spec = plain(sig.out_spec)
    return ep


def trace(module: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``torch.jit.trace`` for Torch-TensorRT's TorchScript frontend, keyword inputs included.

    ``torch.jit.trace`` takes positional *or* keyword examples: with any keyword input, every input is
    passed by name. ``strict=False`` lets dict and ``ModelOutput`` results through.
    """
    import inspect

    import torch

    if kwargs:
        bound = inspect.signature(module.forward).bind(*args, **kwargs)
        return torch.jit.trace(module, example_kwarg_inputs=dict(bound.arguments), check_trace=False, strict=False)
    return torch.jit.trace(module, args, check_trace=False, strict=False)


def to_onnx(ep: Any, bounds: list[DimBound], examples: dict[str, list[int]],
            input_names: list[str] | None, output_names: list[str] | None) -> Any:
    """The single translation, then names (pytree names by default for keyed outputs)."""
    from trtready.export.names import apply_names, pytree_output_names
    from trtready.export.onnx_export import translate

    from trtready.load.capture import program_input_names

    if input_names is not None:  # bounds and examples are recorded under the names the graph will have
        user = program_input_names(ep)
        if len(input_names) == len(user):
            rename = dict(zip(user, input_names))
            bounds = [DimBound(rename.get(b.input, b.input), b.axis, b.dim, b.lo, b.hi) for b in bounds]
            examples = {rename.get(k, k): v for k, v in examples.items()}
    model = translate(ep, bounds, examples)
    if output_names is None:
        output_names = pytree_output_names(ep)
        if output_names is not None and len(output_names) != len(model.graph.outputs):
            output_names = None  # the exporter dropped/merged outputs: keep its names
    apply_names(model, input_names, output_names)
    return model


def export_model(loaded: LoadedModel, out: Path, fmt: str, bounds: list[DimBound],
                 input_names: list[str] | None = None, output_names: list[str] | None = None, *,
                 force: bool = False, session: OutputSession | None = None) -> ExportResult:
    """Translate once and write ``out`` (checked and locked before the work, swapped in whole)."""
    from trtready.outputs import Kind, Output, use_session

    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")
    if loaded.kind not in (ModelKind.SPEC, ModelKind.PT2):
        raise BadInputError(f"{loaded.source}: export needs a PyTorch graph (a spec or a .pt2), not a {loaded.kind.value}")
    if fmt != "onnx" and (input_names or output_names):
        raise UsageError(f"--input-names/--output-names apply to ONNX; a {fmt} keeps forward's names")
    output = Output(Path(out), Kind.ONNX if fmt == "onnx" else Kind.FILE)
    with use_session(session, [output], loaded.input_paths, force) as s:
        result = _export(loaded, s.stage(output.path), fmt, bounds, input_names, output_names)
        result.written = s.commit(output.path)
    return result


def _export(loaded: LoadedModel, dest: Path, fmt: str, bounds: list[DimBound],
            input_names: list[str] | None, output_names: list[str] | None) -> ExportResult:
    import torch

    from trtready.load.capture import CallLayout, capture_or_raise
    from trtready.outputs import mark_zip, save_onnx

    args, kwargs = loaded.example()
    ep = loaded.exported or capture_or_raise(loaded.module, args, kwargs, bounds)
    layout = CallLayout.of(ep, args, kwargs)
    user_inputs = [n for n, _ in layout.tensors]
    examples = {n: list(t.shape) for n, t in layout.tensors}
    if fmt == "onnx":
        try:
            model = to_onnx(ep, bounds, examples, input_names, output_names)
        except TrtReadyError:
            raise
        except Exception as e:  # torch.onnx raises many types: its failure is said as its own
            raise UpstreamError("torch.onnx.export", upstream_reason(e)) from e
        save_onnx(model, dest, "export")
        return ExportResult(fmt, [], [v.name for v in model.graph.inputs], [v.name for v in model.graph.outputs])
    notes: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if fmt == "pt2":
            torch.export.save(portable(ep), str(dest))
        else:
            from trtready.audit.state import audit_state
            from trtready.load.state import entries_from_module
            from trtready.narrow.state import narrow_module_state
            from trtready.plan.state_plan import plan_state
            from trtready.plan import PlanOptions, refuse_any
            from trtready.targets import PROFILES

            module = loaded.module if loaded.module is not None else ep.module()
            decisions = plan_state(audit_state(entries_from_module(module)), PROFILES["torch-trt-ts"], PlanOptions())
            refuse_any(decisions)
            torch.jit.save(trace(narrow_module_state(module, decisions), args, kwargs), str(dest))
            notes = ["TorchScript is deprecated in torch 2.13; it is kept for Torch-TensorRT's TorchScript "
                     "frontend, whose int64 buffer error this trace avoids (state narrowed first)"]
    mark_zip(dest, "export")
    return ExportResult(fmt, [], user_inputs, [], notes)
