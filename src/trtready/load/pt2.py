"""``.pt2`` archives checked as data before ``torch.export.load`` sees them.

``torch.export.load`` runs code from the archive in several places (torch 2.13,
``torch/export/pt2_archive/_package.py`` and ``torch/_export/serde/serialize.py``):

- weights and constants marked ``use_pickle`` are read with ``torch.load(weights_only=False)``,
  opaque constants with ``pickle.loads``, torchbind objects with ``torch._C._pickle_load_obj``;
- example inputs fall back to ``torch.load(weights_only=False)`` when the safe load fails, and
  archives in the pre-2.7 layout go through the same fallback for weights and constants;
- members under ``data/aotinductor/`` are compiled shared libraries that the loader opens;
- every symbolic-shape string (``expr_str``) goes through ``sympy.sympify``, which ``eval``s it;
- ``guards_code`` strings are ``exec``'d into a guard function by ``ExportedProgram.module()``;
- node targets are resolved by ``getattr`` on ``torch``/``math``/``operator``, so a graph may call
  ``torch.load`` or ``aten.from_file`` when the program runs.

Each is checked here from the JSON and the zip directory alone; anything that would run code is
refused with one line naming the member, unless ``--trust-code``.
"""

from __future__ import annotations

import ast
import io
import json
import logging
import re
import warnings
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from trtready.errors import BadInputError, UnsafeInputError
from trtready.limits import DEFAULT_LIMITS, Limits
from trtready.load.archive import check_elements, check_zip

_TRUST = "Pass --trust-code only if you trust the file's author (it runs the archive's code)"

# Operator namespaces whose ops touch files, processes or the network; everything else registered
# in this process (aten, prims, higher_order, installed extensions) computes on tensors only.
_DENIED_NAMESPACES = {"debugprims", "profiler", "_c10d_functional", "c10d", "symm_mem", "_dtensor"}
_DENIED_OPS = {"aten.from_file", "aten.save"}
_OPERATOR_FUNCS = {
    "getitem", "add", "sub", "mul", "floordiv", "truediv", "mod", "pow", "neg", "pos", "abs", "eq", "ne",
    "lt", "le", "gt", "ge", "and_", "or_", "xor", "not_", "invert", "truth", "lshift", "rshift",
}
_SYMPY_LOWER = {"floor", "ceiling", "sqrt", "log", "exp"}
_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def _tail(name: str) -> str:
    """Member name without the archive's root folder (torch's reader strips it the same way)."""
    return name.split("/", 1)[1] if "/" in name else name


def _refuse(path: Path, what: str) -> UnsafeInputError:
    return UnsafeInputError(f"{path}: {what}; refused. {_TRUST}")


def _safe_sympy(expr: str) -> bool:
    """True when ``expr`` is arithmetic over symbols, numbers and sympy's capitalised functions only."""
    try:
        tree = ast.parse(expr, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    for node in ast.walk(tree):
        if isinstance(node, (ast.Expression, ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.keyword,
                             ast.operator, ast.unaryop, ast.boolop, ast.cmpop, ast.Load, ast.Tuple)):
            if isinstance(node, ast.keyword) and (node.arg is None or node.arg.startswith("_")):
                return False
            continue
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, bool, str)):
            continue
        if isinstance(node, ast.Name) and _NAME_RE.match(node.id):
            continue
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and (
            node.func.id[:1].isupper() or node.func.id in _SYMPY_LOWER
        ):
            continue
        return False
    return True


def _safe_guard(code: str) -> bool:
    """Guard expressions as torch.export writes them: ``L['x'].size()[0] <= 8`` and sympy calls."""
    try:
        tree = ast.parse(code, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            if node.attr not in ("size", "stride", "dim", "numel", "storage_offset"):
                return False
            continue
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute) or (isinstance(func, ast.Name) and func.id[:1].isupper()):
                continue
            return False
        if isinstance(node, (ast.Expression, ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.Subscript,
                             ast.operator, ast.unaryop, ast.boolop, ast.cmpop, ast.Load, ast.Tuple)):
            continue
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, bool, str)):
            continue
        if isinstance(node, ast.Name) and (node.id == "L" or node.id[:1].isupper()):
            continue
        return False
    return True


def _safe_target(target: str) -> bool:
    """Node targets the deserializer resolves with ``getattr``: tensor ops and pure helpers only."""
    parts = target.split(".")
    if target.startswith("torch.ops."):
        if len(parts) < 4 or parts[2] in _DENIED_NAMESPACES or ".".join(parts[2:4]) in _DENIED_OPS:
            return False
        return all(_NAME_RE.match(p) or p == "default" for p in parts[2:])
    if parts[0] == "_operator":
        return len(parts) == 2 and parts[1] in _OPERATOR_FUNCS
    if parts[0] == "math":
        return len(parts) == 2 and bool(_NAME_RE.match(parts[1]))
    if parts[0] == "torch" and len(parts) == 2:
        return parts[1].startswith(("sym_", "_sym_")) or parts[1] in ("_check", "_check_is_size")
    return False


def _walk(obj: Any) -> Iterator[tuple[str, Any]]:
    """Every (key, value) pair in a JSON tree, without recursion (graphs can nest deeply)."""
    stack = [obj]
    while stack:
        cur = stack.pop()
        if isinstance(cur, dict):
            for k, v in cur.items():
                yield k, v
                stack.append(v)
        elif isinstance(cur, list):
            stack.extend(cur)


def _sizes(meta: dict[str, Any]) -> list[int]:
    out = []
    for s in meta.get("sizes") or []:
        if not isinstance(s, dict) or not isinstance(s.get("as_int"), int):
            raise BadInputError("a stored tensor has a non-integer size")
        out.append(s["as_int"])
    return out


def _check_payload_config(path: Path, member: str, data: Any, folder: str, limits: Limits) -> None:
    config = data.get("config") if isinstance(data, dict) else None
    if not isinstance(config, dict):
        raise BadInputError(f"{path}: {member} is not a payload config")
    for fqn, meta in config.items():
        if not isinstance(meta, dict):
            raise BadInputError(f"{path}: {member}: entry {fqn!r} is malformed")
        name = str(meta.get("path_name", ""))
        if meta.get("use_pickle"):
            raise _refuse(path, f"{folder}{name} ({fqn}) is a pickle, which torch.export.load unpickles with "
                                "weights_only=False")
        if name.startswith(("custom_obj_", "opaque_obj_")):
            raise _refuse(path, f"{folder}{name} ({fqn}) is a pickled object (torchbind/opaque constant)")
        tensor_meta = meta.get("tensor_meta")
        if isinstance(tensor_meta, dict):
            check_elements(f"{path}: {folder}{name} ({fqn})", _sizes(tensor_meta), limits)


def check_pt2(path: Path, limits: Limits = DEFAULT_LIMITS, trust_code: bool = False) -> None:
    """Refuse a ``.pt2`` whose loading would run code or allocate past the limits."""
    infos = check_zip(path, limits)
    if trust_code:
        return
    members = {_tail(i.filename): i for i in infos}
    if "serialized_exported_program.json" in members or ("version" in members and "archive_format" not in members):
        raise _refuse(path, "a .pt2 in the pre-2.7 layout, whose weights and example inputs torch.export.load "
                            "may unpickle with weights_only=False")
    with zipfile.ZipFile(path) as zf:
        def read(tail: str) -> bytes:
            return zf.read(members[tail])

        def read_json(tail: str) -> Any:
            try:
                return json.loads(read(tail))
            except (ValueError, UnicodeDecodeError, RecursionError) as e:
                raise BadInputError(f"{path}: {tail} is not valid JSON ({type(e).__name__})") from e

        for tail in members:
            if tail.startswith("data/aotinductor/"):
                raise _refuse(path, f"{tail} is AOTInductor-compiled code, which the loader opens")
            if re.fullmatch(r"data/(weights|constants)/[^/]+\.pt", tail):
                raise _refuse(path, f"{tail} holds weights in the legacy pickle format")
            if tail.endswith("_weights_config.json"):
                _check_payload_config(path, tail, read_json(tail), "data/weights/", limits)
            elif tail.endswith("_constants_config.json"):
                _check_payload_config(path, tail, read_json(tail), "data/constants/", limits)
            elif tail.startswith("data/sample_inputs/"):
                _check_sample_inputs(path, tail, read(tail))
            elif tail.startswith("models/") and tail.endswith(".json"):
                _check_program(path, tail, read_json(tail))


def _check_sample_inputs(path: Path, tail: str, data: bytes) -> None:
    """torch.export.load tries ``weights_only=True`` first: if that works here, it works there too."""
    import torch

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.load(io.BytesIO(data), weights_only=True)
    except Exception as e:  # any failure means torch would fall back to weights_only=False
        first = str(e).strip().splitlines()[0][:160] if str(e).strip() else type(e).__name__
        raise _refuse(path, f"{tail} (example inputs) holds pickled objects beyond tensors ({first})") from e


def _check_program(path: Path, tail: str, program: Any) -> None:
    if not isinstance(program, dict):
        raise BadInputError(f"{path}: {tail} is not a serialized ExportedProgram")
    for guard in program.get("guards_code") or []:
        if not isinstance(guard, str) or not _safe_guard(guard):
            raise _refuse(path, f"{tail} carries guard code {str(guard)[:80]!r}, which loading executes")
    for name in (program.get("range_constraints") or {}):
        if not _NAME_RE.match(str(name)):
            raise _refuse(path, f"{tail} names a symbol {str(name)[:80]!r}, which loading evaluates")
    for key, value in _walk(program):
        if key == "expr_str" and (not isinstance(value, str) or not _safe_sympy(value)):
            raise _refuse(path, f"{tail} holds the shape expression {str(value)[:80]!r}, which loading evaluates "
                                "with sympy.sympify (eval)")
        elif key == "target" and isinstance(value, str) and not _safe_target(value):
            raise _refuse(path, f"{tail} calls {value[:80]!r}, which is not a tensor operation")
        elif key == "custom_obj_values" and value:
            raise _refuse(path, f"{tail} holds torchbind objects, which loading unpickles")


@contextmanager
def quiet_torch_logs() -> Iterator[None]:
    """torch's loggers print warnings and tracebacks of their own (damaged archives, failed captures);
    trtready reports one line instead. Every ``torch.*`` logger is held at ERROR while the block runs."""
    loggers = [logging.getLogger("torch")] + [
        logging.getLogger(name) for name in list(logging.root.manager.loggerDict) if name.startswith("torch.")
    ]
    before = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL + 1)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, before):
            lg.setLevel(level)
