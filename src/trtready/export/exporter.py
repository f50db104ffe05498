"""``export``: ONNX (one translation), .pt2 or TorchScript, with the user's names and bounds."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trtready.bounds import EXAMPLE_KEY, DimBound, record_bounds
from trtready.dim_fixes import APPLIED
from trtready.errors import (
    BadInputError,
    TrtReadyError,
    UpstreamError,
    UsageError,
    chain_text,
    innermost_reason,
)
from trtready.export.names import apply_names, pytree_output_names
from trtready.export.paths import ExportChain, translate_path
from trtready.lazy import ir
from trtready.load import LoadedModel, ModelKind
from trtready.load.capture import CallLayout, capture_fitted
from trtready.outputs import Kind, Output, mark_zip, save_onnx, use_session
from trtready.plan.export_plan import CHOICES
from trtready.signature import program_input_names

if TYPE_CHECKING:
    import onnx_ir as ir
    import torch
    from torch.export import ExportedProgram

    from trtready.export.paths import ExportRecord
    from trtready.outputs import OutputSession

FORMATS = ("onnx", "pt2", "torchscript")


@dataclass
class ExportResult:
    format: str
    written: list[Path]
    input_names: list[str] = field(default_factory=list)
    output_names: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    export: ExportRecord | None = None  # which export path wrote the ONNX file (format onnx)


def portable(ep: ExportedProgram) -> ExportedProgram:
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


def trace(module: torch.nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> torch.jit.ScriptModule:
    """``torch.jit.trace`` for Torch-TensorRT's TorchScript frontend, keyword inputs included.

    ``torch.jit.trace`` takes positional *or* keyword examples: with any keyword input, every input is
    passed by name. ``strict=False`` lets dict and ``ModelOutput`` results through.
    """
    import inspect

    import torch

    traced: torch.jit.ScriptModule  # a module traces to a ScriptModule (a function would to a ScriptFunction)
    if kwargs:
        bound = inspect.signature(module.forward).bind(*args, **kwargs)
        traced = torch.jit.trace(module, example_kwarg_inputs=dict(bound.arguments), check_trace=False, strict=False)  # type: ignore[no-untyped-call]
    else:
        traced = torch.jit.trace(module, args, check_trace=False, strict=False)  # type: ignore[no-untyped-call]
    return traced


def to_onnx(ep: ExportedProgram, bounds: list[DimBound], examples: dict[str, list[int]],
            input_names: list[str] | None, output_names: list[str] | None) -> ir.Model:
    """The single translation, then names (pytree names by default for keyed outputs)."""
    from trtready.export.onnx_export import translate

    if input_names is not None:  # bounds and examples are recorded under the names the graph will have
        user = program_input_names(ep)
        if len(input_names) == len(user):
            rename = dict(zip(user, input_names))
            bounds = [replace(b, input=rename.get(b.input, b.input)) for b in bounds]
            examples = {rename.get(k, k): v for k, v in examples.items()}
    model = translate(ep, bounds, examples)
    if output_names is None:
        output_names = pytree_output_names(ep)
        if output_names is not None and len(output_names) != len(model.graph.outputs):
            output_names = None  # the exporter dropped/merged outputs: keep its names
    apply_names(model, input_names, output_names)
    return model


def program_output_names(ep: ExportedProgram) -> list[str]:
    """The names the dynamo exporter gives the tensor outputs: pytree keys, else the output nodes' names."""
    from torch.export.graph_signature import OutputKind, TensorArgument

    user = [s.arg for s in ep.graph_signature.output_specs if s.kind is OutputKind.USER_OUTPUT]
    keyed = pytree_output_names(ep)
    names = keyed if keyed is not None and len(keyed) == len(user) else [getattr(a, "name", "") for a in user]
    return [n for n, a in zip(names, user) if isinstance(a, TensorArgument)]


class _Positional:
    """``forward(*tensors)`` → ``module(*args, **kwargs)`` → a flat tuple of output tensors.

    The TorchScript exporter traces positional tensors only (it binds keyword inputs badly: BERT's
    trace fails with "got multiple values for argument 'use_cache'"); the wrapper takes the program's
    tensor inputs in the program's order and places them back through the :class:`CallLayout`, so the
    file's inputs are exactly the dynamo file's. Built lazily as an ``nn.Module`` subclass.
    """

    @staticmethod
    def wrap(module: Any, layout: Any) -> Any:
        import torch
        import torch.utils._pytree as pytree

        class Positional(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.inner = module

            def forward(self, *tensors: Any) -> Any:
                feeds = {name: t for (name, _), t in zip(layout.tensors, tensors)}
                args, kwargs = layout.arguments(feeds)
                return tuple(x for x in pytree.tree_leaves(self.inner(*args, **kwargs)) if isinstance(x, torch.Tensor))

        wrapper = Positional()
        wrapper.training = False  # the wrapper's own flag only; the module runs in the mode it is in
        return wrapper


def to_onnx_torchscript(module: torch.nn.Module, layout: Any, ep: ExportedProgram, bounds: list[DimBound],
                        examples: dict[str, list[int]], input_names: list[str] | None,
                        output_names: list[str] | None) -> ir.Model:
    """``torch.onnx.export(module, ..., dynamo=False)`` → onnx-ir model, named and recorded as :func:`to_onnx`.

    The older exporter traces ``module`` with TorchScript on the example inputs; the ``--dynamic``
    bounds become its ``dynamic_axes`` under the program's input names, and the outputs get the names
    the dynamo exporter would give (pytree keys, else the program's output names). A trace records the
    example's control flow and may keep sizes it saw as constants: verification at the bounds' min and
    max is what shows whether the file is the model over the whole range.
    """
    import json
    import logging
    import tempfile

    import torch

    names = [n for n, _ in layout.tensors]
    tensors = tuple(t for _, t in layout.tensors)
    outputs = program_output_names(ep)
    axes: dict[str, dict[int, str]] = {}
    for b in bounds:
        axes.setdefault(b.input, {})[b.axis] = b.dim
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="trtready-ts-") as tmp, warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        path = f"{tmp}/model.onnx"
        torch.onnx.export(_Positional.wrap(module, layout), tensors, path, dynamo=False, input_names=names,
                          output_names=outputs, dynamic_axes=axes or None,
                          training=torch.onnx.TrainingMode.PRESERVE)  # never .train() a program's module
        model = ir.load(path)
        ir.external_data.load_to_model(model)  # the folder goes away with this block
    if examples:
        model.metadata_props[EXAMPLE_KEY] = json.dumps(examples)
    if input_names is not None and len(input_names) == len(names):
        rename = dict(zip(names, input_names))
        bounds = [replace(b, input=rename.get(b.input, b.input)) for b in bounds]
        if examples:
            model.metadata_props[EXAMPLE_KEY] = json.dumps({rename.get(k, k): v for k, v in examples.items()})
    record_bounds(model, bounds)
    apply_names(model, input_names, output_names)
    return model


def translate_any(ep: ExportedProgram, module: torch.nn.Module, layout: Any, bounds: list[DimBound], examples: dict[str, list[int]],
                  input_names: list[str] | None, output_names: list[str] | None,
                  exporter: str = "auto") -> tuple[ir.Model, ExportRecord]:
    """The first export path that translates (no verification here: ``fix``/``convert`` verify)."""
    chain = ExportChain(exporter)
    while (path := chain.next()) is not None:
        try:
            model, change = translate_path(path, ep, module, layout, bounds, examples, input_names, output_names)
        except TrtReadyError:
            raise
        except Exception as e:  # the exporters raise many types
            chain.failed(path, innermost_reason(e), ep, detail=chain_text(e))
            continue
        if change:
            chain.record.notes.append(f"{path.name}: {change}")
        chain.succeeded(path)
        return model, chain.record
    raise UpstreamError("torch.onnx.export", "no export path translates the model: " + chain.exhausted(),
                        "; ".join(chain.record.notes) or "a plain torch.onnx.export fails the same way on every path")


def export_model(loaded: LoadedModel, out: Path, fmt: str, bounds: list[DimBound],
                 input_names: list[str] | None = None, output_names: list[str] | None = None, *,
                 force: bool = False, session: OutputSession | None = None, exporter: str = "auto",
                 narrow_state: Callable[[Any], Any] | None = None) -> ExportResult:
    """Translate once and write ``out`` (checked and locked before the work, swapped in whole).

    ``exporter`` (ONNX only): ``auto`` tries the export paths in order until one translates
    (:mod:`trtready.export.paths`), ``dynamo`` and ``torchscript`` keep to one exporter.
    ``narrow_state`` (TorchScript only): the state stage the pipeline runs on the module before it
    is traced (:func:`trtready.pipeline.export`); export decides and narrows nothing itself.
    """
    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")
    if exporter not in CHOICES:
        raise UsageError(f"--exporter {exporter!r}: choose one of {', '.join(CHOICES)}")
    if loaded.kind not in (ModelKind.SPEC, ModelKind.PT2):
        raise BadInputError(f"{loaded.source}: export needs a PyTorch graph (a spec or a .pt2), not a {loaded.kind.value}")
    if fmt != "onnx" and (input_names or output_names):
        raise UsageError(f"--input-names/--output-names apply to ONNX; a {fmt} keeps forward's names")
    output = Output(Path(out), Kind.ONNX if fmt == "onnx" else Kind.FILE)
    with use_session(session, [output], loaded.input_paths, force) as s:
        result = _export(loaded, s.stage(output.path), fmt, bounds, input_names, output_names, exporter,
                         narrow_state)
        result.written = s.commit(output.path)
    return result


def _export(loaded: LoadedModel, dest: Path, fmt: str, bounds: list[DimBound],
            input_names: list[str] | None, output_names: list[str] | None, exporter: str = "auto",
            narrow_state: Callable[[Any], Any] | None = None) -> ExportResult:
    import torch

    args, kwargs = loaded.example()
    notes: list[str] = []
    ep = loaded.exported
    if ep is None:
        assert loaded.module is not None  # export_model takes a spec (a module) or a .pt2 (a program)
        captured = capture_fitted(loaded.module, args, kwargs, bounds)
        ep, bounds = captured.program, captured.bounds
        notes += [APPLIED + c for c in captured.changes]
    layout = CallLayout.of(ep, args, kwargs)
    user_inputs = [n for n, _ in layout.tensors]
    examples = {n: list(t.shape) for n, t in layout.tensors}
    if fmt == "onnx":
        module = loaded.module if loaded.module is not None else ep.module()
        model, record = translate_any(ep, module, layout, bounds, examples, input_names, output_names, exporter)
        save_onnx(model, dest, "export")
        # apply_names' NameFixPass named every graph input and output
        return ExportResult(fmt, [], [str(v.name) for v in model.graph.inputs], [str(v.name) for v in model.graph.outputs],
                            notes + [record.line()] + record.notes, record)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if fmt == "pt2":
            torch.export.save(portable(ep), str(dest))
        else:
            module = loaded.module if loaded.module is not None else ep.module()
            if narrow_state is not None:
                module = narrow_state(module)
            torch.jit.save(trace(module, args, kwargs), str(dest))
            notes += ["TorchScript is deprecated in torch 2.13; it is kept for Torch-TensorRT's TorchScript "
                      "frontend, whose int64 buffer error this trace avoids (state narrowed first)"
                      if narrow_state is not None else "TorchScript is deprecated in torch 2.13"]
    mark_zip(dest, "export")
    return ExportResult(fmt, [], user_inputs, [], notes)
