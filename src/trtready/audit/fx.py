"""PyTorch graph audit: every torch.export node that produces an int64/float64 tensor."""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, Any

from trtready.analysis import FxAnalysis
from trtready.audit.findings import Finding, Layer, Role, mark_assumed
from trtready.bounds import DimBound
from trtready.finding_ids import tensor_finding_id
from trtready.intervals import INT32_MAX, INT32_MIN
from trtready.signature import program_input_names

if TYPE_CHECKING:
    import torch.fx
    from torch.export import ExportedProgram

_FRAME_RE = re.compile(r'File "([^"]+)", line (\d+), in (\S+)')
_DTYPES = {"torch.int64": "int64", "torch.float64": "float64", "torch.uint64": "uint64"}


_SITE_RE = re.compile(r".*/(?:site|dist)-packages/")


def _is_torch_frame(path: str) -> bool:
    norm = path.replace("\\", "/")
    return "/torch/" in norm or norm.startswith("<")


def _is_library_frame(path: str) -> bool:
    norm = path.replace("\\", "/")
    return _is_torch_frame(norm) or bool(_SITE_RE.match(norm))


def _display_path(path: str) -> str:
    """Site-packages paths as ``package/module.py``; others relative to the cwd when inside it."""
    norm = path.replace("\\", "/")
    if _SITE_RE.match(norm):
        return _SITE_RE.sub("", norm)
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else rel


def user_frame(stack_trace: str | None) -> str | None:
    """The innermost ``file:line`` of user code in a node's stack trace.

    torch and site-packages frames are skipped; when only library frames remain (a transformers
    model, say) the innermost non-torch frame is the most useful provenance.
    """
    if not stack_trace:
        return None
    frames = _FRAME_RE.findall(stack_trace)
    for skip in (_is_library_frame, _is_torch_frame):
        for path, line, _fn in reversed(frames):
            if not skip(path):
                return f"{_display_path(path)}:{line}"
    return None


def _module_path(node: torch.fx.Node) -> str | None:
    stack = node.meta.get("nn_module_stack") or {}
    for key, val in reversed(list(stack.items())):
        if key.startswith("_empty"):
            continue
        path = val[0] if isinstance(val, tuple) else None
        return path or "<root>"
    return None


def _short(target: Any) -> str:
    s = str(target)
    return s.rsplit(".", 1)[0] if s.startswith("aten.") else getattr(target, "__name__", s)


def operand_uses(node: torch.fx.Node) -> list[str]:
    """``op:user:argument:result dtype`` for each call that reads ``node``, the argument named as in the
    op's schema (a list argument such as ``index_put``'s ``indices`` counts when it holds the node).

    Some libraries narrow one operand of an op and not the others (TargetProfile.int32_operand_cast):
    the use names which one, and the result's dtype whether the op computes in integers at all.
    """
    out: list[str] = []
    for u in node.users:
        schema = getattr(u.target, "_schema", None) if u.op == "call_function" else None
        if schema is None:
            continue
        val = u.meta.get("val")
        result = _DTYPES.get(str(getattr(val, "dtype", "")), str(getattr(val, "dtype", "?")).removeprefix("torch."))
        for i, arg in enumerate(schema.arguments):
            v = u.args[i] if i < len(u.args) else u.kwargs.get(arg.name)
            if v is node or (isinstance(v, (list, tuple)) and any(x is node for x in v)):
                out.append(f"{_short(u.target)}:{u.name}:{arg.name}:{result}")
    return out


def wide_int_args(node: torch.fx.Node) -> list[int]:
    """The Python int arguments of a call outside int32 (``t + 2**40`` keeps ``2**40`` a scalar)."""
    if node.op != "call_function":
        return []
    values = [*node.args, *node.kwargs.values()]
    return [v for v in values if isinstance(v, int) and not isinstance(v, bool) and not INT32_MIN <= v <= INT32_MAX]


def used_state(ep: ExportedProgram) -> set[str]:
    """State names (parameters, buffers, constants) that the graph actually reads or writes."""
    sig = ep.graph_signature
    state_of = {**sig.inputs_to_parameters, **sig.inputs_to_buffers, **sig.inputs_to_lifted_tensor_constants}
    return {state_of[n.name] for n in ep.graph.nodes if n.op == "placeholder" and n.name in state_of and n.users}


# Torch-TensorRT's TorchScript lowering rewrites these ops so that the node the first-use search
# reaches no longer reads their state directly (core/lowering/passes/linear_to_addmm.cpp: linear becomes
# matmul(x, t(W)) + trt::const(b)); the search goes on past them.
_TS_LOWERING_HIDES_STATE = frozenset({"aten.linear"})


def first_use_constants(ep: ExportedProgram) -> dict[str, str | None]:
    """The constant each graph input's type is estimated from by Torch-TensorRT's TorchScript frontend.

    Mirrors ``get_value_first_calc_dtype_opt`` (core/ir/ir.cpp): breadth-first over the uses of each
    graph input, through nodes that output a tensor, the first node with a constant among its direct
    inputs (after lowering freezes the module: a parameter, buffer or tensor constant) gives the
    input's estimated dtype — that constant's ("Estimated input type is Long"). A use inside a list
    (``torch.cat([x, c])``, index lists) goes through a TorchScript ListConstruct, which outputs no
    tensor: the search stops there.

    Returns:
        ``{graph input name: placeholder name of the constant, or None when no constant is met}``.
    """
    import torch

    sig = ep.graph_signature
    consts = set(sig.inputs_to_parameters) | set(sig.inputs_to_buffers) | set(sig.inputs_to_lifted_tensor_constants)

    user_inputs = set(program_input_names(ep))
    out: dict[str, str | None] = {}
    for inp in (n for n in ep.graph.nodes if n.op == "placeholder" and n.name in user_inputs):
        out[inp.name] = None
        queue = [(u, inp) for u in inp.users]
        seen: set[torch.fx.Node] = set()
        while queue:
            node, via = queue.pop(0)
            if node in seen or node.op != "call_function":
                continue
            direct = list(node.args) + list(node.kwargs.values())
            if via not in direct or not isinstance(node.meta.get("val"), torch.Tensor):
                continue  # only inside a list, or no tensor out: TorchScript's search skips it
            seen.add(node)
            read = [] if _short(node.target) in _TS_LOWERING_HIDES_STATE else [
                a for a in direct if isinstance(a, torch.fx.Node) and a.name in consts]
            if read:
                out[inp.name] = read[0].name
                break
            queue += [(u, node) for u in node.users]
    return out


def mark_first_use(findings: list[Finding], ep: ExportedProgram) -> None:
    """Fill ``first_use_of`` on state and constant findings and ``first_use_dtype`` on input findings (and the
    state findings' ``operand_uses``, read from their placeholders)."""
    sig = ep.graph_signature
    state_of = {**sig.inputs_to_parameters, **sig.inputs_to_buffers}
    placeholders = {n.name: n for n in ep.graph.nodes if n.op == "placeholder"}
    met = first_use_constants(ep)
    typed_from: dict[str, list[str]] = {}
    for inp, const in met.items():
        if const is not None:
            typed_from.setdefault(state_of.get(const, const), []).append(inp)
    state_nodes = {state_of[n]: placeholders[n] for n in state_of if n in placeholders}
    for f in findings:
        if f.layer is Layer.STATE and f.tensor in state_nodes:  # the state layer has no graph of its own
            f.operand_uses = operand_uses(state_nodes[f.tensor])
        if f.layer is Layer.STATE or (f.layer is Layer.FX and f.role is Role.CONSTANT):
            f.first_use_of = typed_from.get(f.tensor, [])
        elif f.layer is Layer.FX and f.role is Role.INPUT and f.tensor in met:
            const = met[f.tensor]
            val = placeholders[const].meta.get("val") if const is not None else None
            f.first_use_dtype = str(val.dtype).removeprefix("torch.") if val is not None else None
            if const is not None:
                f.notes.append(f"Torch-TensorRT (TorchScript) estimates its type from '{state_of.get(const, const)}' "
                               f"({f.first_use_dtype}), the first constant it meets")


def symbol_names(ep: ExportedProgram, bounds: list[DimBound]) -> dict[str, str]:
    """``{"s72": "batch"}``: torch's size symbols named by the user's ``--dynamic`` dims."""
    import torch

    placeholders = {n.name: n for n in ep.graph.nodes if n.op == "placeholder"}
    out: dict[str, str] = {}
    for b in bounds:
        node = placeholders.get(b.input)
        val = node.meta.get("val") if node is not None else None
        if isinstance(val, torch.Tensor) and b.axis < val.dim() and not isinstance(val.shape[b.axis], int):
            out[str(val.shape[b.axis])] = b.dim
    return out


def audit_fx(analysis: FxAnalysis, bounds: list[DimBound] | None = None) -> list[Finding]:
    """One finding per int64/float64 tensor the program computes, takes or returns.

    Parameters and buffers are the state layer's; their placeholders are skipped here.
    """
    import torch

    ep = analysis.program
    names = symbol_names(ep, bounds or [])
    sig = ep.graph_signature
    state_inputs = set(sig.inputs_to_parameters) | set(sig.inputs_to_buffers)
    constants = set(sig.inputs_to_lifted_tensor_constants)
    user_outputs = set(sig.user_outputs)
    env = analysis.values
    findings: list[Finding] = []
    for n in ep.graph.nodes:
        val = n.meta.get("val")
        if not isinstance(val, torch.Tensor) or n.op == "output":
            continue
        dtype = _DTYPES.get(str(val.dtype))
        if dtype is None or n.name in state_inputs:
            continue
        if n.op == "placeholder":
            role = Role.CONSTANT if n.name in constants else Role.INPUT
        else:
            role = Role.OUTPUT if n.name in user_outputs else Role.INTERMEDIATE
        source = user_frame(n.meta.get("stack_trace"))
        mpath = _module_path(n)
        producer = None if n.op == "placeholder" else _short(n.target)
        where = source or (f"module {mpath}" if mpath else ("graph input" if role is Role.INPUT else n.name))
        iv = env.get(n.name)
        f = Finding(
            id=tensor_finding_id(Layer.FX, n.name),
            layer=Layer.FX,
            tensor=n.name,
            dtype=dtype,
            shape=[int(s) if isinstance(s, int) else names.get(str(s), str(s)) for s in val.shape],
            where=where,
            role=role,
            producer=producer,
            consumers=[f"{_short(u.target)}:{u.name}" for u in n.users if u.op != "output"]
            + (["output"] if any(u.op == "output" for u in n.users) else []),
            operand_uses=operand_uses(n),
            wide_int_args=wide_int_args(n),
            interval=iv,
            source=source,
        )
        if mpath and source:
            f.notes.append(f"in module {mpath}")
        if iv is not None:
            if dtype == "int64":
                f.fits["int32"] = iv.fits_int32()
        findings.append(f)
    mark_assumed(findings, analysis, Layer.FX)
    return findings
