"""Load any MODEL form into one :class:`LoadedModel` view (docs/cli.md, "MODEL")."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trtready.bounds import bounds_from_metadata
from trtready.errors import BadInputError, UsageError
from trtready.limits import DEFAULT_LIMITS, Limits
from trtready.load.capture import example_inputs, program_bounds
from trtready.load.detect import ModelKind, detect, hf_config_path, is_hf
from trtready.load.files import open_binary
from trtready.load.onnx_file import load_onnx
from trtready.load.spec import ModelSpec
from trtready.load.state import StateEntry

if TYPE_CHECKING:
    import onnx_ir as ir

    from trtready.bounds import DimBound

    from trtready.load.hf_config import HfBuild
    import torch
    from torch.export import ExportedProgram

__all__ = ["LoadedModel", "ModelKind", "ModelSpec", "load_model", "sha256_file"]


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open_binary(path) as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


@dataclass
class LoadedModel:
    """One model, whatever it came from. Exactly one of module/exported/onnx/state is the source."""

    source: str
    kind: ModelKind
    sha256: str | None = None
    module: torch.nn.Module | None = None  # spec, TorchScript, trusted pickle
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    exported: ExportedProgram | None = None  # .pt2, or captured from module
    onnx: ir.Model | None = None
    data_files: list[Path] = field(default_factory=list)  # ONNX external data, inside the model's folder
    state: list[StateEntry] | None = None
    dynamic: list[str] = field(default_factory=list)
    input_ranges: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    capture_error: Exception | None = None  # torch.export's failure on a spec, as reported by audit
    # The --dynamic bounds the program was captured under when torch.export's own suggested fixes changed
    # them (trtready.dim_fixes); None when it took the user's bounds as given.
    fitted_bounds: list[Any] | None = None
    # ``hf:``: what the weightless model was built from (load/hf_config.py); None for every other kind
    hf: HfBuild | None = None

    @property
    def input_paths(self) -> list[Path]:
        """Files this model was read from (an output must never replace one); none for a spec."""
        if self.kind is ModelKind.SPEC:
            return []
        if self.kind is ModelKind.HF_CONFIG:
            return [Path(self.hf.config)] if self.hf is not None and self.hf.config else []
        return [Path(self.source), *self.data_files]

    @property
    def has_example(self) -> bool:
        """A spec carries example inputs (positional, keyword or both)."""
        return self.kind in (ModelKind.SPEC, ModelKind.HF_CONFIG) and (bool(self.args) or bool(self.kwargs))

    def recorded_bounds(self) -> list[DimBound]:
        """The dim bounds the file itself carries, for the axes the user's ``--dynamic`` leaves open: an
        earlier run's, recorded in an ONNX file's metadata; a ``.pt2`` program's own ``Dim(min, max)``.
        The request builders (:mod:`trtready.api`) merge them once; no stage reads them again."""
        if self.onnx is not None:
            return bounds_from_metadata(self.onnx)
        if self.kind is ModelKind.PT2 and self.exported is not None:
            return program_bounds(self.exported)
        return []

    @property
    def has_graph(self) -> bool:
        return self.onnx is not None or self.exported is not None or self.has_example

    def example(self) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """Example ``(args, kwargs)``: the spec's, else those a ``.pt2`` stores."""
        if self.has_example:
            return self.args, self.kwargs

        return example_inputs(self.exported)


def load_model(model: str | ModelSpec, trust_code: bool = False, limits: Limits = DEFAULT_LIMITS, *,
               config_only: bool = False, hf_set: dict[str, Any] | None = None) -> LoadedModel:
    """Recognise ``model`` by content and load it as data (nothing in a file runs unless ``trust_code``).

    Args:
        model: a path, a ``package.module:factory`` spec, or a :class:`ModelSpec` object.
        trust_code: allow what runs code: unpickling arbitrary objects from a checkpoint or ``.pt2``,
            ``torch.jit.load`` of a TorchScript archive (dangerous: only for trusted files).
        limits: declared sizes past these are refused before anything is allocated.
        config_only: accept an ``hf:`` config, which has no weights (only ``audit`` can use one).
        hf_set: ``--hf-set`` overrides of an ``hf:`` config's fields.
    """
    from trtready.load import state as st

    if isinstance(model, ModelSpec):
        return _from_spec(model, "<ModelSpec>", limits)
    if is_hf(model):
        return _from_hf(model, config_only, hf_set, limits)
    kind = detect(model)
    if kind is ModelKind.SPEC:
        from trtready.load.torch_side import load_spec

        return _from_spec(load_spec(model), model, limits)
    path = Path(model)
    digest = sha256_file(path)
    if kind is ModelKind.ONNX:
        ir_model, data_files, notes = load_onnx(path, limits)
        return LoadedModel(model, kind, digest, onnx=ir_model, data_files=data_files, notes=notes)
    if kind is ModelKind.PT2:
        from trtready.load.torch_side import load_pt2

        ep, notes = load_pt2(path, limits, trust_code)
        return LoadedModel(model, kind, digest, exported=ep, state=st.entries_from_exported(ep, limits), notes=notes)
    if kind is ModelKind.TORCHSCRIPT:
        if trust_code:
            from trtready.load.torch_side import load_torchscript

            ts = load_torchscript(path)
            return LoadedModel(
                model, kind, digest, module=ts, state=st.entries_from_torchscript(ts, limits),
                notes=["TorchScript archive loaded with --trust-code: state audit only (no example inputs)"],
            )
        from trtready.load.torchscript import read_torchscript

        archive = read_torchscript(path, limits)
        return LoadedModel(
            model, kind, digest, state=st.entries_from_archive(archive.entries, limits),
            notes=["TorchScript archive read as data, its code not run: state audit only "
                   "(writing a narrowed archive needs --trust-code)"],
        )
    if kind is ModelKind.CHECKPOINT:
        from trtready.load.torch_side import load_checkpoint

        tensors, module = load_checkpoint(path, trust_code=trust_code, limits=limits)
        if module is not None:
            return LoadedModel(
                model, kind, digest, module=module, state=st.entries_from_module(module, limits),
                notes=["pickled nn.Module loaded with --trust-code: state audit only (no example inputs)"],
            )
        assert tensors is not None
        return LoadedModel(
            model, kind, digest, state=st.entries_from_tensors(tensors, limits),
            notes=["a state_dict alone has no graph: state audit only"],
        )
    if kind is ModelKind.SAFETENSORS:
        from trtready.load.torch_side import open_safetensors

        handle, header = open_safetensors(path, limits)
        return LoadedModel(
            model, kind, digest, state=st.entries_from_safetensors(handle, header),
            notes=["a safetensors file alone has no graph: state audit only"],
        )
    raise BadInputError(f"{model}: unrecognised model format")  # pragma: no cover - detect() is exhaustive


def _from_spec(spec: ModelSpec, source: str, limits: Limits) -> LoadedModel:
    from trtready.load.state import entries_from_module

    return LoadedModel(
        source,
        ModelKind.SPEC,
        None,
        module=spec.module,
        args=tuple(spec.args),
        kwargs=dict(spec.kwargs or {}),
        state=entries_from_module(spec.module, limits),
        dynamic=list(spec.dynamic or []),
        input_ranges=list(spec.input_ranges or []),
    )


def _from_hf(model: str, config_only: bool, hf_set: dict[str, Any] | None, limits: Limits) -> LoadedModel:
    """An ``hf:`` config built without weights; only ``audit`` takes it (there is nothing to narrow or verify)."""
    from trtready.load.hf_config import load_hf
    from trtready.load.state import entries_from_module

    if not config_only:
        raise UsageError(f"{model}: a config has no weights, so only `audit` takes it; fix, convert, export and "
                         "verify need the model itself (a package.module:factory spec, .pt2 or .onnx)")
    module, kwargs, dynamic, notes, build = load_hf(model, hf_set)
    path = hf_config_path(model)
    return LoadedModel(
        model, ModelKind.HF_CONFIG, sha256_file(path) if path is not None else None, module=module,
        kwargs=kwargs, state=entries_from_module(module, limits), dynamic=dynamic, notes=notes, hf=build,
    )
