"""Capture a PyTorch module's graph with ``torch.export`` under the user's dynamic bounds.

The ExportedProgram made here is the one every later step reuses (docs/design.md: export once).
"""

from __future__ import annotations

import contextlib
import inspect
import io
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from trtready.bounds import DimBound
from trtready.dim_fixes import apply_fixes, parse_fixes
from trtready.errors import BadInputError, TrtReadyError, UpstreamError, UsageError, upstream_reason
from trtready.lazy import np
from trtready.signature import program_input_names  # noqa: F401  re-exported: its home before the ground floor

if TYPE_CHECKING:
    import torch
    from torch.export import ExportedProgram


def forward_param_names(module: torch.nn.Module) -> list[str]:
    sig = inspect.signature(module.forward)
    return [p.name for p in sig.parameters.values() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def check_example_inputs(module: torch.nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Example inputs must bind to ``forward``'s signature (else export fails obscurely)."""
    try:
        inspect.signature(module.forward).bind(*args, **kwargs)
    except TypeError as e:
        raise BadInputError(f"example inputs do not match {type(module).__name__}.forward: {e}") from e


def dynamic_shapes_for(module: torch.nn.Module, bounds: list[DimBound], args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any] | None:
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
            dims[b.dim] = _export_dim(b)
        spec[b.input] = {**(spec[b.input] or {}), b.axis: dims[b.dim]}
    return spec


def _export_dim(b: DimBound) -> Any:
    """A ``torch.export.Dim`` for ``b``; a stepped dim is derived: ``step*_dim + lo % step``."""
    import torch

    if b.step <= 1:
        return torch.export.Dim(b.dim, min=b.lo, max=b.hi)
    root = torch.export.Dim(f"_{b.dim}", min=b.lo // b.step, max=b.hi // b.step)
    offset = b.lo % b.step
    return b.step * root + offset if offset else b.step * root


def capture(module: torch.nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any], bounds: list[DimBound]) -> ExportedProgram:
    """``torch.export.export`` with the bounds; raises the export's own exception on failure."""
    import torch

    from trtready.load.pt2 import quiet_torch_logs

    check_example_inputs(module, args, kwargs)
    ds = dynamic_shapes_for(module, bounds, args, kwargs)
    # torch prints the traced graph to stderr on some failures; the failure is reported in one line instead
    with quiet_torch_logs(), contextlib.redirect_stderr(io.StringIO()):
        return torch.export.export(module, args, kwargs or None, dynamic_shapes=ds, strict=False)


def example_inputs(ep: ExportedProgram | None) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Example inputs stored in a .pt2 (torch.export.save keeps them), else a clear error (None: no program)."""
    example = getattr(ep, "example_inputs", None)
    if not example:
        raise BadInputError("the .pt2 carries no example inputs; export it with torch.export from a spec instead")
    args, kwargs = example
    return tuple(args), dict(kwargs or {})


@dataclass
class CallLayout:
    """How named inputs become ``forward``'s positional and keyword arguments.

    The example ``(args, kwargs)`` is flattened as torch.export flattens it (``None`` is no input,
    ints and bools are constants of the program); each tensor leaf carries the name of its program
    input (``input_ids``, ``attention_mask``, ``past_key_values_0_0``). Verification, export and
    tracing all go through this one mapping, so keyword inputs are never dropped or shifted.
    """

    spec: Any  # pytree TreeSpec of (args, kwargs)
    leaves: list[Any]  # example leaves: tensors and constants
    names: list[str | None]  # program input name per leaf; None for constants

    @classmethod
    def of(cls, ep: ExportedProgram, args: tuple[Any, ...], kwargs: dict[str, Any]) -> CallLayout:
        import torch.utils._pytree as pytree
        from torch.export.graph_signature import InputKind, TensorArgument

        in_spec = ep.call_spec.in_spec
        try:  # kwargs in the order the program was captured with
            order = in_spec.children()[1].context if in_spec is not None else None
            if order and set(order) == set(kwargs):
                kwargs = {k: kwargs[k] for k in order}
        except (AttributeError, IndexError, TypeError):
            pass
        leaves, spec = pytree.tree_flatten((tuple(args), dict(kwargs)))
        user = [s for s in ep.graph_signature.input_specs if s.kind is InputKind.USER_INPUT]
        if len(user) != len(leaves):
            raise BadInputError(
                f"the example inputs have {len(leaves)} leaves but the program takes {len(user)} inputs"
            )
        names = [s.arg.name if isinstance(s.arg, TensorArgument) else None for s in user]
        return cls(spec, leaves, names)

    @property
    def tensors(self) -> list[tuple[str, Any]]:
        """(input name, example tensor) for every tensor input, in the program's order."""
        return [(n, leaf) for n, leaf in zip(self.names, self.leaves) if n is not None]

    def arguments(self, feeds: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """``(args, kwargs)`` with every tensor input taken from ``feeds`` (numpy arrays or tensors)."""
        import torch
        import torch.utils._pytree as pytree

        leaves = []
        for name, leaf in zip(self.names, self.leaves):
            if name is None:
                leaves.append(leaf)
                continue
            if name not in feeds:
                raise BadInputError(f"no value for input {name!r} in the given inputs")
            value = feeds[name]
            leaves.append(value if isinstance(value, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(value)))
        args, kwargs = pytree.tree_unflatten(leaves, self.spec)
        return tuple(args), dict(kwargs)

    def example_arguments(self) -> tuple[tuple[Any, ...], dict[str, Any]]:
        import torch.utils._pytree as pytree

        args, kwargs = pytree.tree_unflatten(list(self.leaves), self.spec)
        return tuple(args), dict(kwargs)


def export_hint(e: BaseException) -> str:
    """What usually helps when torch.export fails on a model, from the shape of its error."""
    text = f"{type(e).__name__}: {e}"
    if "DynamicCache" in text or "Cache" in type(e).__name__ or "past_key_values" in text:
        return ("transformers' cache objects are not pytree-registered: call the model with use_cache=False "
                "(and without past_key_values)")
    if "specializ" in text or "Constraints violated" in text or "ConstraintViolation" in text:
        return ("a --dynamic dim was specialised: the example's size must lie inside [min, max] and be at least 2 "
                "(torch.export specialises sizes 0 and 1), or the model fixes that size")
    return "a plain torch.export.export(model, args, kwargs, dynamic_shapes=...) fails the same way"


@dataclass
class Captured:
    """A program captured under ``bounds``: the user's, or those torch.export's own fixes made of them
    (``changes`` says what changed; empty when nothing did)."""

    program: ExportedProgram
    bounds: list[DimBound]
    changes: list[str]


def capture_fitted(module: torch.nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any], bounds: list[DimBound]) -> Captured:
    """:func:`capture`; when torch.export rejects the dynamic shapes, its suggested fixes that keep the
    user's bounds are applied and the capture runs once more (:mod:`trtready.dim_fixes`). Failures are
    reported as torch.export's, with a hint that names any suggested fix not taken and why."""
    try:
        return Captured(capture(module, args, kwargs, bounds), list(bounds), [])
    except TrtReadyError:
        raise
    except Exception as e:  # torch.export raises many types; each is its failure, not ours
        fixes = parse_fixes(str(e)) if bounds else None
        applied = apply_fixes(fixes, bounds) if fixes else None
        if applied is None or not applied.usable:
            hint = export_hint(e)
            if applied is not None and applied.refused:
                hint = "torch.export suggested fixes that do not keep your --dynamic bounds, not applied: " + \
                       "; ".join(applied.refused)
            raise UpstreamError("torch.export", upstream_reason(e), hint) from e
        try:
            program = capture(module, args, kwargs, applied.bounds)
        except TrtReadyError:
            raise
        except Exception as again:
            raise UpstreamError("torch.export", upstream_reason(again),
                                "it fails also with its own suggested fixes applied: " + "; ".join(applied.changes)) from again
        lost = lost_sizes(program, applied.bounds)
        if lost:  # the program guards sizes the fix seemed to allow (torch specialises sizes 0 and 1)
            raise UpstreamError("torch.export", upstream_reason(e),
                                f"with its suggested fixes ({'; '.join(applied.changes)}) the program takes only "
                                f"{'; '.join(lost)}: your bounds are not kept, so nothing was applied")
        return Captured(program, applied.bounds, applied.changes)


def lost_sizes(program: ExportedProgram, bounds: list[DimBound]) -> list[str]:
    """``seq in [4, 32], not [2, 32]`` for every bounded dim the program's range constraints narrow."""
    import sympy
    import torch

    placeholders = {n.name: n.meta.get("val") for n in program.graph.nodes if n.op == "placeholder"}
    ranges = program.range_constraints
    out: list[str] = []
    for b in bounds:
        val = placeholders.get(b.input)
        if not isinstance(val, torch.Tensor) or b.axis >= val.dim():
            continue
        size = val.shape[b.axis]
        if not isinstance(size, torch.SymInt):
            out.append(f"{b.dim} = {int(size)}, not [{b.lo}:{b.hi}]")
            continue
        expr = size.node.expr
        free = list(expr.free_symbols)
        if len(free) != 1 or free[0] not in ranges:
            continue
        # from the root's range: a derived dim's own entry (2*s9) keeps the range declared before
        # torch narrowed the root, so it is not read
        root = ranges[free[0]]
        lo, hi = expr.subs(free[0], root.lower), expr.subs(free[0], root.upper)
        if not all(isinstance(v, sympy.Integer | int) for v in (lo, hi)):
            continue
        if int(lo) > b.lo or int(hi) < b.hi:
            out.append(f"{b.dim} in [{int(lo)}:{int(hi)}], not [{b.lo}:{b.hi}]")
    return out


def capture_or_raise(module: torch.nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any], bounds: list[DimBound]) -> ExportedProgram:
    """The program of :func:`capture_fitted` (callers that keep the user's bounds as given)."""
    return capture_fitted(module, args, kwargs, bounds).program


def program_bounds(program: ExportedProgram) -> list[DimBound]:
    """The bounds a program carries for its inputs' symbolic sizes (``Dim("b", min=1, max=8)`` at its
    export, kept in ``range_constraints``): a .pt2 brings them, so its dynamic axes need no ``--dynamic``.

    Only a size that is one symbol with a finite range is a bound (a derived size such as ``2*s0`` is
    left to the user); inputs sharing a symbol share the dim, named after it.
    """
    import sympy
    import torch
    from torch.export.graph_signature import InputKind

    ranges = program.range_constraints
    user = {s.arg.name for s in program.graph_signature.input_specs
            if s.kind is InputKind.USER_INPUT and hasattr(s.arg, "name")}
    out: list[DimBound] = []
    for node in program.graph.nodes:
        val = node.meta.get("val")
        if node.op != "placeholder" or node.name not in user or not isinstance(val, torch.Tensor):
            continue
        for axis, size in enumerate(val.shape):
            if not isinstance(size, torch.SymInt):
                continue
            expr = size.node.expr
            if not isinstance(expr, sympy.Symbol) or expr not in ranges:
                continue
            lo, hi = ranges[expr].lower, ranges[expr].upper
            if not (isinstance(lo, sympy.Integer | int) and isinstance(hi, sympy.Integer | int)):
                continue  # unbounded above: not a bound to record
            out.append(DimBound(node.name, axis, str(expr), int(lo), int(hi)))
    return out
