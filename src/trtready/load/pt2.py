"""``.pt2`` archives read as data: no string of the archive reaches an evaluator.

``torch.export.load`` runs code from an archive in many places (torch 2.13): pickled weights,
constants and example inputs are unpickled; every shape expression goes through ``sympy.sympify``
(``eval``); guard strings, constant inputs, names and stack traces are pasted into the Python source
that ``ExportedProgram.module()`` and FX code generation compile; node targets are looked up by
``getattr`` on ``torch``. Filtering those strings with allow-lists failed five times, so without
``--trust-code`` the archive is not given to torch's loader at all.

:func:`read_pt2` reads the zip itself and parses the program JSON against torch's serialized schema
(``torch/_export/serde/schema.py``), walking every field by its declared type. Each string is either

- **re-emitted from a grammar of trtready's own**: shape expressions (:mod:`trtready.load.symexpr`:
  integers, symbols, + − * // % min max), value and parameter names (identifiers and dotted paths),
  operator targets (``torch.ops.aten.<op>.<overload>`` resolved to a registered operator of an allowed
  namespace), pytree specs (JSON of tuples, lists and dicts), stack-trace frames and module stacks;
- **kept as a value** only when its characters cannot leave a string literal (no quotes, backslashes,
  control or non-ASCII characters): string arguments of operators such as ``rounding_mode='floor'``;
- or **dropped**: ``guards_code``, node metadata torch would parse, example inputs (a pickle), extra
  files. Custom objects, pickled payloads and AOTInductor members are refused.

Weights are read as raw bytes with their declared dtype, sizes and strides (bounds-checked). The
program rebuilt from these parts is handed to torch's deserializer, so every string it sees was
printed by trtready. Example inputs are not unpickled: zeros of the recorded example shapes stand in
(the verifier draws its own inputs from each input's role).
"""

from __future__ import annotations

import dataclasses
import enum
import json
import keyword
import logging
import math
import re
import types
import typing
import warnings
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trtready.errors import BadInputError, UnsafeInputError
from trtready.limits import DEFAULT_LIMITS, Limits, limit_hint
from trtready.load import symexpr
from trtready.load.archive import check_elements, check_zip

if TYPE_CHECKING:
    from torch.export import ExportedProgram

_TRUST = "pass --trust-code only if you trust the file's author (torch's own loader runs the archive's code)"

IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,254}")
_SEGMENT = r"(?:[A-Za-z_][A-Za-z0-9_]*|[0-9]+)(?:@[0-9]+)?"
FQN_RE = re.compile(rf"{_SEGMENT}(?:\.{_SEGMENT}){{0,63}}")
# A string value that cannot leave a Python string literal, wherever torch pastes it.
DATA_STRING_RE = re.compile(r"[A-Za-z0-9_ ,.:;<>=!+\-*/%&|^~?@#$()\[\]{}]{0,1024}")
_MEMBER_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,254}")
_PATH_RE = re.compile(r"[^\"\x00-\x1f\x7f\u0080-\u009f\u2028\u2029]{1,4096}")
_FRAME_RE = re.compile(r'File "([^"\n]+)", line (\d{1,9}), in ([A-Za-z_<>][A-Za-z0-9_<>.]{0,254})')

_DEVICES = {"cpu", "cuda", "meta"}
_VERIFIERS = {"ATEN", "TRAINING"}
_OP_NAMESPACES = {"aten", "prims"}
_DENIED_OPS = {("aten", "from_file"), ("aten", "save")}  # the two aten ops that touch files
# Higher-order operators whose semantics are data flow over subgraphs; others (custom kernels,
# torchbind calls, effects) are refused.
_HIGHER_ORDER = {"cond", "while_loop", "map_impl", "scan", "invoke_subgraph", "wrap_with_set_grad_enabled",
                 "wrap_with_autocast"}
_OPERATOR_FUNCS = {
    "getitem", "add", "sub", "mul", "floordiv", "truediv", "mod", "pow", "neg", "pos", "abs", "eq", "ne",
    "lt", "le", "gt", "ge", "and_", "or_", "xor", "not_", "invert", "truth", "lshift", "rshift",
}
_MATH_FUNCS = {"floor", "ceil", "trunc", "sqrt", "log", "log2", "exp", "fabs", "pow"}
_TORCH_FUNCS = {"sym_int", "sym_float", "sym_max", "sym_min", "sym_not", "sym_ite", "sym_sqrt", "sym_sum",
                "_sym_sqrt", "sym_fresh_size", "_check", "_check_is_size"}
_TREESPEC_TYPES = {"builtins.tuple", "builtins.list", "builtins.dict", "collections.OrderedDict"}


def _refuse(path: Path, what: str) -> UnsafeInputError:
    return UnsafeInputError(f"{path}: {what}; refused ({_TRUST})")


class _Bad(Exception):
    """A field outside the grammar: turned into one BadInputError naming the field."""


# --- grammars for the archive's strings --------------------------------------------------------------
def ident(s: str) -> str:
    if not IDENT_RE.fullmatch(s) or keyword.iskeyword(s):
        raise _Bad(f"{s[:60]!r} is not a name")
    return s


def _ident_or_empty(s: str) -> str:
    """Argument names of higher-order operators' positional operands are empty."""
    return s if s == "" else ident(s)


def fqn(s: str) -> str:
    if not FQN_RE.fullmatch(s) or any(keyword.iskeyword(p) for p in s.split(".")):
        raise _Bad(f"{s[:60]!r} is not a dotted name")
    clash = [p for p in s.split(".") if p in _module_attributes()]
    if clash:  # torch.export never writes one: registering it would replace the module's own attribute
        raise _Bad(f"{s[:60]!r} names {clash[0]!r}, an attribute every torch module has")
    return s


@lru_cache(maxsize=1)
def _module_attributes() -> frozenset[str]:
    import torch

    return frozenset(dir(torch.nn.Module)) | frozenset(vars(torch.nn.Module()))


def _fqn_or_root(s: str) -> str:
    return s if s == "" else fqn(s)


def data_string(s: str) -> str:
    if not DATA_STRING_RE.fullmatch(s):
        raise _Bad(f"string value {s[:60]!r} has characters outside letters, digits and operators")
    return s


def _device(s: str) -> str:
    if s not in _DEVICES:
        raise _Bad(f"device type {s[:20]!r}")
    return s


def _expr(s: str) -> str:
    try:
        return symexpr.canonical(s)
    except BadInputError as e:
        raise _Bad(str(e)) from None


def _symbol(s: str) -> str:
    if not symexpr.SYMBOL_RE.fullmatch(s):
        raise _Bad(f"{s[:60]!r} is not a size symbol")
    return s


def resolve_target(s: str) -> Any:
    """The operator a node target names, looked up in torch's registries (never evaluated)."""
    import math as math_mod
    import operator

    import torch

    parts = s.split(".")
    if not all(IDENT_RE.fullmatch(p) for p in parts):
        raise _Bad(f"operator {s[:80]!r} is not a dotted name")
    obj: Any
    if parts[:2] == ["torch", "ops"] and len(parts) == 5 and parts[2] in _OP_NAMESPACES:
        if (parts[2], parts[3]) in _DENIED_OPS:
            raise _Bad(f"operator {s} touches files: not a tensor operation")
        try:
            obj = getattr(getattr(getattr(torch.ops, parts[2]), parts[3]), parts[4])
        except (AttributeError, RuntimeError):
            raise _Bad(f"operator {s} is not registered in this torch") from None
        if not isinstance(obj, torch._ops.OpOverload):
            raise _Bad(f"{s} is not an operator overload")
        return obj
    if parts[:3] == ["torch", "ops", "higher_order"] and len(parts) == 4 and parts[3] in _HIGHER_ORDER:
        return getattr(torch.ops.higher_order, parts[3])
    if len(parts) == 2 and parts[0] == "_operator" and parts[1] in _OPERATOR_FUNCS:
        return getattr(operator, parts[1])
    if len(parts) == 2 and parts[0] == "math" and parts[1] in _MATH_FUNCS:
        return getattr(math_mod, parts[1])
    if len(parts) == 2 and parts[0] == "torch" and parts[1] in _TORCH_FUNCS and hasattr(torch, parts[1]):
        return getattr(torch, parts[1])
    raise _Bad(f"{s[:80]!r} is not a tensor operation trtready reads from an untrusted archive")


def _target(s: str) -> str:
    resolve_target(s)
    return s


def treespec(s: str) -> str:
    """A pytree spec (torch's JSON, protocol 1) re-dumped from tuples, lists, dicts and leaves only.

    Containers of a registered class (a transformers ``ModelOutput``) whose context is a list of keys
    become plain dicts, as ``trtready export`` writes them.
    """
    try:
        raw = json.loads(s)
    except (ValueError, RecursionError):
        raise _Bad("a pytree spec is not JSON") from None
    if not (isinstance(raw, list) and len(raw) == 2 and raw[0] == 1):
        raise _Bad("a pytree spec is not protocol 1")
    return json.dumps([1, _spec_node(raw[1], 0)])


def _spec_node(node: object, depth: int) -> dict[str, Any]:
    if depth > 64 or not isinstance(node, dict):
        raise _Bad("a pytree spec is malformed or nested too deeply")
    kind, context, children = node.get("type"), node.get("context"), node.get("children_spec")
    if not isinstance(children, list) or len(children) > 100_000:
        raise _Bad("a pytree spec node has no children list")
    kids = [_spec_node(c, depth + 1) for c in children]
    if kind is None:
        if kids:
            raise _Bad("a pytree leaf has children")
        return {"type": None, "context": None, "children_spec": []}
    if kind in ("builtins.tuple", "builtins.list") or kind == "collections.namedtuple":
        return {"type": "builtins.list" if kind == "builtins.list" else "builtins.tuple", "context": "null",
                "children_spec": kids}
    keys = _spec_keys(context, len(kids))
    if kind not in _TREESPEC_TYPES and not all(isinstance(k, str) for k in keys):
        raise _Bad(f"pytree container {str(kind)[:60]!r}")
    out_kind = kind if kind in ("builtins.dict", "collections.OrderedDict") else "builtins.dict"
    return {"type": out_kind, "context": json.dumps(keys), "children_spec": kids}


def _spec_keys(context: Any, n: int) -> list[Any]:
    if not isinstance(context, str):
        raise _Bad("a pytree dict has no key list")
    try:
        keys = json.loads(context)
    except (ValueError, RecursionError):
        raise _Bad("a pytree dict's keys are not JSON") from None
    if not isinstance(keys, list) or len(keys) != n:
        raise _Bad("a pytree dict's keys do not match its children")
    for k in keys:
        if isinstance(k, bool) or not isinstance(k, (str, int)):
            raise _Bad("a pytree dict key is neither a string nor an integer")
        if isinstance(k, str):
            data_string(k)
    return keys


# --- node metadata: provenance kept as parsed data, never given to torch's own parsers ---------------
@dataclass
class NodeSource:
    """Where a node came from, as the archive recorded it (frames and module stack re-parsed)."""

    frames: list[tuple[str, int, str]] = field(default_factory=list)
    module_stack: dict[str, tuple[str, str]] = field(default_factory=dict)

    def stack_trace(self) -> str | None:
        if not self.frames:
            return None
        return "\n".join(f'File "{p}", line {n}, in {fn}' for p, n, fn in self.frames)


def _node_source(metadata: dict[str, Any]) -> NodeSource:
    src = NodeSource()
    trace = metadata.get("stack_trace")
    if isinstance(trace, str):
        for p, n, fn in _FRAME_RE.findall(trace[:1 << 16]):
            if _PATH_RE.fullmatch(p):
                src.frames.append((p, int(n), fn))
    stack = metadata.get("nn_module_stack")
    if isinstance(stack, str):
        for item in stack[:1 << 16].split(";"):
            parts = item.split(",")
            if len(parts) != 3:
                continue
            key, path, kind = parts
            if IDENT_RE.fullmatch(key) and (path == "" or FQN_RE.fullmatch(path)) and FQN_RE.fullmatch(kind):
                src.module_stack[key] = (path, kind)
    return src


# --- the schema walk ----------------------------------------------------------------------------------
# Every str field of torch's serialized schema, with the grammar its value must satisfy. A str field
# not listed here is refused: a new field in a later torch is read only once it is classified.
_STRINGS: dict[tuple[str, str], Callable[[str], str]] = {
    ("Device", "type"): _device,
    ("SymExpr", "expr_str"): _expr,
    ("SymIntArgument", "as_name"): ident,
    ("SymFloatArgument", "as_name"): ident,
    ("SymBoolArgument", "as_name"): ident,
    ("TensorArgument", "name"): ident,
    ("TokenArgument", "name"): ident,
    ("GraphArgument", "name"): ident,
    ("Argument", "as_string"): data_string,
    ("Argument", "as_strings"): data_string,
    ("Argument", "as_operator"): _target,
    ("NamedArgument", "name"): _ident_or_empty,
    ("Node", "target"): _target,
    ("Node", "name"): ident,
    ("ConstantValue", "as_string"): data_string,
    ("InputToConstantInputSpec", "name"): ident,
    ("InputToParameterSpec", "parameter_name"): fqn,
    ("InputToBufferSpec", "buffer_name"): fqn,
    ("InputToTensorConstantSpec", "tensor_constant_name"): fqn,
    ("BufferMutationSpec", "buffer_name"): fqn,
    ("ParameterMutationSpec", "parameter_name"): fqn,
    ("GradientToParameterSpec", "parameter_name"): fqn,
    ("GradientToUserInputSpec", "user_input_name"): ident,
    ("UserInputMutationSpec", "user_input_name"): ident,
    ("ModuleCallSignature", "in_spec"): treespec,
    ("ModuleCallSignature", "out_spec"): treespec,
    ("ModuleCallSignature", "forward_arg_names"): ident,
    ("ModuleCallEntry", "fqn"): _fqn_or_root,
}
_KEYS: dict[tuple[str, str], Callable[[str], str]] = {
    ("Argument", "as_string_to_argument"): data_string,
    ("Graph", "tensor_values"): ident,
    ("Graph", "sym_int_values"): ident,
    ("Graph", "sym_bool_values"): ident,
    ("Graph", "sym_float_values"): ident,
    ("ExportedProgram", "opset_version"): ident,
    ("ExportedProgram", "range_constraints"): _symbol,
}
# Fields replaced by a fixed value: what torch would parse or execute from them is not needed.
_DROPPED: dict[tuple[str, str], Any] = {
    ("GraphModule", "metadata"): {},
    ("GraphModule", "treespec_namedtuple_fields"): {},
    ("ExportedProgram", "guards_code"): [],
}
_REFUSED = {"CustomObjArgument": "a torchbind object", "InputToCustomObjSpec": "a torchbind object"}


class _Walker:
    def __init__(self, limits: Limits = DEFAULT_LIMITS) -> None:
        from torch._export.serde import schema

        self.schema = schema
        self.limits = limits
        self.nodes = 0  # over the program's graph and every subgraph, against ``graph-nodes``
        self.sources: dict[str, NodeSource] = {}
        self._hints: dict[type, dict[str, Any]] = {}

    def hints(self, cls: type) -> dict[str, Any]:
        if cls not in self._hints:
            self._hints[cls] = typing.get_type_hints(cls, globalns=vars(self.schema), include_extras=True)
        return self._hints[cls]

    def walk(self, tp: Any, data: Any, owner: str, name: str, where: str) -> Any:
        if typing.get_origin(tp) is typing.Annotated:
            return self.walk(typing.get_args(tp)[0], data, owner, name, where)
        origin = typing.get_origin(tp)
        args = typing.get_args(tp)
        if origin in (typing.Union, types.UnionType) and type(None) in args:
            if data is None:
                return None
            inner = next(a for a in args if a is not type(None))
            return self.walk(inner, data, owner, name, where)
        if isinstance(tp, str) or isinstance(tp, typing.ForwardRef):
            key = tp if isinstance(tp, str) else tp.__forward_arg__
            return self.walk(getattr(self.schema, key), data, owner, name, where)
        if origin is list:
            if not isinstance(data, list):
                raise _Bad(f"{where} is not a list")
            return [self.walk(args[0], d, owner, name, f"{where}[{i}]") for i, d in enumerate(data)]
        if origin is dict:
            if not isinstance(data, dict):
                raise _Bad(f"{where} is not a mapping")
            key_rule = _KEYS.get((owner, name))
            if key_rule is None and args[0] is str and data:
                raise _Bad(f"{where} has keys trtready does not read")
            return {(key_rule(k) if key_rule else k): self.walk(args[1], v, owner, name, f"{where}.{k}")
                    for k, v in data.items()}
        if isinstance(tp, type) and dataclasses.is_dataclass(tp):
            return self.record(tp, data, where)
        if isinstance(tp, type) and issubclass(tp, enum.IntEnum):
            if type(data) is not int or data not in {m.value for m in tp}:
                raise _Bad(f"{where} is not a {tp.__name__}")
            return data
        if tp is bool:
            if type(data) is not bool:
                raise _Bad(f"{where} is not a bool")
            return data
        if tp is int:
            if type(data) is not int:
                raise _Bad(f"{where} is not an integer")
            return data
        if tp is float:
            if type(data) not in (int, float):
                raise _Bad(f"{where} is not a number")
            return data
        if tp is str:
            if not isinstance(data, str):
                raise _Bad(f"{where} is not a string")
            rule = _STRINGS.get((owner, name))
            if rule is None:
                raise _Bad(f"{where} is a string trtready does not read")
            try:
                return rule(data)
            except _Bad as e:
                raise _Bad(f"{where}: {e}") from None
        raise _Bad(f"{where}: unexpected type {tp!r}")  # pragma: no cover - the schema is closed

    def record(self, cls: Any, data: Any, where: str) -> dict[str, Any]:
        cname = cls.__name__
        if cname in _REFUSED:
            raise _Bad(f"{where} holds {_REFUSED[cname]}, which loading unpickles")
        if not isinstance(data, dict):
            raise _Bad(f"{where} is not a {cname} record")
        hints = self.hints(cls)
        if cname == "Graph" and isinstance(data.get("nodes"), list):
            self.nodes += len(data["nodes"])
            if self.nodes > self.limits.graph_nodes:
                raise _Bad(f"{where} brings the program past {self.limits.graph_nodes} nodes "
                           f"({limit_hint('graph-nodes')})")
        if issubclass(cls, self.schema._Union):  # type: ignore[attr-defined]
            if len(data) != 1:
                raise _Bad(f"{where} is not a one-field {cname}")
            (key, value), = data.items()
            if key not in hints:
                raise _Bad(f"{where} has no field {str(key)[:40]!r}")
            return {key: self.walk(hints[key], value, cname, key, f"{where}.{key}")}
        out: dict[str, Any] = {}
        missing = [f.name for f in dataclasses.fields(cls) if f.name not in data and f.default is dataclasses.MISSING
                   and f.default_factory is dataclasses.MISSING]
        if missing:
            raise _Bad(f"{where} lacks the field {missing[0]!r}")
        for f in dataclasses.fields(cls):
            if (cname, f.name) in _DROPPED:
                out[f.name] = _DROPPED[(cname, f.name)]
            elif cname == "Node" and f.name == "metadata":
                meta = data.get("metadata")
                source = _node_source(meta if isinstance(meta, dict) else {})
                if isinstance(data.get("name"), str):
                    self.sources[data["name"]] = source
                for o in data.get("outputs") or []:
                    for name in _output_names(o):
                        self.sources.setdefault(name, source)
                out[f.name] = {}
            elif cname == "ExportedProgram" and f.name == "verifiers":
                v = data.get("verifiers", [])
                if not isinstance(v, list) or any(x not in _VERIFIERS for x in v):
                    raise _Bad(f"{where}.verifiers names an unknown dialect")
                out[f.name] = list(v)
            elif cname == "ExportedProgram" and f.name == "torch_version":
                out[f.name] = "<=2.4"  # informational in torch's reader; the archive's text is not kept
            elif f.name in data:
                out[f.name] = self.walk(hints[f.name], data[f.name], cname, f.name, f"{where}.{f.name}")
        return out


def _output_names(arg: Any) -> Iterator[str]:
    if not isinstance(arg, dict):
        return
    for kind, value in arg.items():
        if kind == "as_tensor" and isinstance(value, dict) and isinstance(value.get("name"), str):
            yield value["name"]
        elif kind == "as_tensors" and isinstance(value, list):
            for v in value:
                if isinstance(v, dict) and isinstance(v.get("name"), str):
                    yield v["name"]
        elif kind in ("as_sym_int", "as_sym_bool", "as_sym_float") and isinstance(value, dict):
            if isinstance(value.get("as_name"), str):
                yield value["as_name"]


# --- the archive --------------------------------------------------------------------------------------
@dataclass
class Pt2Contents:
    """What the reader took from an archive, every string checked: enough to rebuild the program."""

    program: dict[str, Any]  # the serialized ExportedProgram, rebuilt field by field
    state_dict: dict[str, Any]
    constants: dict[str, Any]
    sources: dict[str, NodeSource]
    notes: list[str] = field(default_factory=list)


def _layout(path: Path, infos: list[zipfile.ZipInfo]) -> tuple[dict[str, zipfile.ZipInfo], str]:
    """Members by their name inside the archive's root folder, and the one program's model name."""
    tails = {i.filename.split("/", 1)[-1] for i in infos}
    if "serialized_exported_program.json" in tails or ("version" in tails and "archive_format" not in tails):
        raise _refuse(path, "a .pt2 in the pre-2.7 layout, whose weights and example inputs are pickles")
    roots = {i.filename.split("/", 1)[0] for i in infos}
    if len(roots) != 1 or any("/" not in i.filename for i in infos):
        raise BadInputError(f"{path}: not a .pt2 archive (members must share one root folder)")
    members = {i.filename.split("/", 1)[1]: i for i in infos if not i.filename.endswith("/")}
    models = []
    for tail in members:
        if tail.startswith("data/aotinductor/"):
            raise _refuse(path, f"{tail} is AOTInductor-compiled code, which the loader opens")
        if re.fullmatch(r"data/(weights|constants)/[^/]+\.pt", tail):
            raise _refuse(path, f"{tail} belongs to the pre-2.7 layout, whose weights are pickles")
        if tail.startswith("models/"):
            m = re.fullmatch(r"models/([A-Za-z0-9_]{1,128})\.json", tail)
            if m is None:
                raise BadInputError(f"{path}: unexpected member {tail[:80]!r} in models/ (only NAME.json)")
            models.append(m.group(1))
    if len(models) != 1:
        raise BadInputError(f"{path}: {len(models)} programs in models/; trtready reads archives with one")
    return members, models[0]


def _read(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    return zf.read(info)


def _json(path: Path, zf: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo], tail: str) -> Any:
    if tail not in members:
        raise BadInputError(f"{path}: member {tail} is missing")
    try:
        return json.loads(_read(zf, members[tail]))
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        raise BadInputError(f"{path}: {tail} is not valid JSON ({type(e).__name__})") from e


def _payloads(path: Path, zf: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo], folder: str,
              config_tail: str, limits: Limits, walker: _Walker) -> dict[str, Any]:
    """Tensors of a weights/constants config, rebuilt from raw bytes with bounds-checked strides."""
    import torch
    from torch._export.serde.serialize import _SERIALIZE_TO_TORCH_DTYPE

    raw = _json(path, zf, members, config_tail)
    config = raw.get("config") if isinstance(raw, dict) else None
    if not isinstance(config, dict):
        raise BadInputError(f"{path}: {config_tail} is not a payload config")
    storages: dict[str, Any] = {}
    out: dict[str, Any] = {}
    for key, meta in config.items():
        where = f"{config_tail}: {str(key)[:60]!r}"
        try:
            fqn(key)
        except _Bad as e:
            raise BadInputError(f"{path}: {where}: {e}") from None
        if not isinstance(meta, dict) or not isinstance(meta.get("path_name"), str):
            raise BadInputError(f"{path}: {where} is malformed")
        name = meta["path_name"]
        if meta.get("use_pickle") is not False:
            raise _refuse(path, f"{folder}{name[:60]} ({key}) is a pickle, which torch.export.load unpickles")
        if name.startswith(("custom_obj_", "opaque_obj_")):
            raise _refuse(path, f"{folder}{name[:60]} ({key}) is a pickled object (torchbind/opaque constant)")
        if not _MEMBER_RE.fullmatch(name) or folder + name not in members:
            raise BadInputError(f"{path}: {where} names a missing member {name[:60]!r}")
        try:
            tm = walker.walk(walker.schema.TensorMeta, meta.get("tensor_meta"), "TensorMeta", "", where)
        except _Bad as e:
            raise BadInputError(f"{path}: {e}") from None
        dims = [s.get("as_int") for s in tm["sizes"]]
        strides = [s.get("as_int") for s in tm["strides"]]
        offset = tm["storage_offset"].get("as_int")
        if not all(type(x) is int and x >= 0 for x in [*dims, *strides, offset]):
            raise BadInputError(f"{path}: {where} has symbolic or negative sizes, strides or offset")
        if len(strides) != len(dims):
            raise BadInputError(f"{path}: {where} has {len(dims)} sizes and {len(strides)} strides")
        check_elements(f"{path}: {where}", dims, limits)
        dtype = _SERIALIZE_TO_TORCH_DTYPE.get(tm["dtype"])
        if dtype is None:
            raise BadInputError(f"{path}: {where} has an unknown dtype")
        if name not in storages:
            info = members[folder + name]
            item = torch.empty((), dtype=dtype).element_size()
            if info.file_size % item:
                raise BadInputError(f"{path}: {folder}{name} holds {info.file_size} bytes, not whole {dtype} values")
            data = bytearray(_read(zf, info))
            storages[name] = (torch.frombuffer(data, dtype=dtype) if data else torch.empty(0, dtype=dtype), dtype)
        flat, stored = storages[name]
        if stored != dtype:
            raise BadInputError(f"{path}: {where} reads {folder}{name} as {dtype}, another entry as {stored}")
        if math.prod(dims):
            last = offset + sum((d - 1) * s for d, s in zip(dims, strides))
            if last >= flat.numel():
                raise BadInputError(f"{path}: {where} reaches element {last} of a {flat.numel()}-element record")
        tensor = torch.as_strided(flat, dims, strides, offset) if math.prod(dims) else torch.zeros(dims, dtype=dtype)
        out[key] = torch.nn.Parameter(tensor, requires_grad=bool(tm["requires_grad"])) if meta.get("is_param") else tensor
    return out


def _check_payload_names(path: Path, program: dict[str, Any], state: dict[str, Any], constants: dict[str, Any]) -> None:
    """The stored tensors are exactly those the program's signature names (a renamed or extra entry
    would be registered on the module under a name the program never uses)."""
    named: set[str] = set()
    for spec in program["graph_module"]["signature"]["input_specs"]:
        for kind, body in spec.items():
            for key in ("parameter_name", "buffer_name", "tensor_constant_name"):
                if isinstance(body, dict) and key in body:
                    named.add(body[key])
    stored = set(state) | set(constants)
    for extra in sorted(stored - named)[:1]:
        raise BadInputError(f"{path}: the archive stores {extra[:60]!r}, which the program does not use")
    for absent in sorted(named - stored)[:1]:
        raise BadInputError(f"{path}: the program reads {absent[:60]!r}, which the archive does not store")


def read_pt2_contents(path: Path, limits: Limits = DEFAULT_LIMITS) -> Pt2Contents:
    """Read the archive as data (no torch loader involved) and check every string it carries."""
    infos = check_zip(path, limits)
    members, model = _layout(path, infos)
    with zipfile.ZipFile(path) as zf:
        if "byteorder" in members and _read(zf, members["byteorder"]).strip() != b"little":
            raise BadInputError(f"{path}: a big-endian archive; trtready reads little-endian .pt2 files")
        program = _json(path, zf, members, f"models/{model}.json")
        walker = _Walker(limits)
        try:
            cleaned = walker.record(walker.schema.ExportedProgram, program, "program")
        except _Bad as e:
            raise BadInputError(f"{path}: models/{model}.json: {e}") from None
        except RecursionError:
            raise BadInputError(f"{path}: models/{model}.json is nested too deeply") from None
        state = _payloads(path, zf, members, "data/weights/", f"data/weights/{model}_weights_config.json",
                          limits, walker)
        constants = _payloads(path, zf, members, "data/constants/",
                              f"data/constants/{model}_constants_config.json", limits, walker)
    _check_payload_names(path, cleaned, state, constants)
    notes = []
    if f"data/sample_inputs/{model}.pt" in members:
        notes.append("example inputs in the archive not read (a pickle; --trust-code reads them): zeros of "
                     "the recorded shapes stand in")
    return Pt2Contents(cleaned, state, constants, walker.sources, notes)


def read_pt2(path: Path, limits: Limits = DEFAULT_LIMITS) -> tuple[ExportedProgram, list[str]]:
    """An ExportedProgram rebuilt from :func:`read_pt2_contents`, with stand-in example inputs."""
    from torch._export.serde import schema
    from torch._export.serde.serialize import ExportedProgramDeserializer, _dict_to_dataclass

    contents = read_pt2_contents(path, limits)
    try:
        with quiet_torch_logs():
            serialized = _dict_to_dataclass(schema.ExportedProgram, contents.program)  # type: ignore[no-untyped-call]
            ep = ExportedProgramDeserializer().deserialize(serialized, contents.state_dict, contents.constants)
    except MemoryError as e:
        raise BadInputError(f"{path}: out of memory while reading the .pt2 archive") from e
    except Exception as e:  # a program that does not hold together (dangling names, bad arities, …)
        from trtready.errors import first_line

        raise BadInputError(f"{path}: not a valid exported program ({type(e).__name__}: {first_line(e, 200)})") from e
    _restore_sources(ep, contents.sources)
    _check_calls(path, ep)
    try:
        ep.example_inputs = stand_in_examples(ep, limits)
        signature = ep.module_call_graph[0].signature if ep.module_call_graph else None
        if signature is not None and signature.forward_arg_names:  # forward's parameters take the inputs
            import inspect

            kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
            inspect.Signature([inspect.Parameter(n, kind) for n in signature.forward_arg_names]).bind(
                *ep.example_inputs[0], **ep.example_inputs[1])
    except BadInputError:
        raise
    except Exception as e:  # a call signature that does not match the program's inputs
        from trtready.errors import first_line

        raise BadInputError(f"{path}: the program's call signature does not fit its inputs "
                            f"({type(e).__name__}: {first_line(e, 160)})") from e
    return ep, contents.notes


def _check_calls(path: Path, ep: ExportedProgram) -> None:
    """Every operator call binds to its schema (argument names and count): an archive can name
    arguments the operator does not have, which would only fail when the program runs."""
    import torch
    from torch.fx.operator_schemas import normalize_function

    for gm in ep.graph_module.modules():
        graph = getattr(gm, "graph", None)
        for node in graph.nodes if graph is not None else ():
            if node.op == "call_function" and isinstance(node.target, torch._ops.OpOverload):
                if normalize_function(node.target, node.args, node.kwargs) is None:
                    raise BadInputError(f"{path}: node {node.name} calls {node.target} with arguments its schema "
                                        "does not take")


def _restore_sources(ep: ExportedProgram, sources: dict[str, NodeSource]) -> None:
    """Provenance back on the nodes, as trtready printed it (for findings' file:line and module paths)."""
    for gm in ep.graph_module.modules():
        graph = getattr(gm, "graph", None)
        for node in graph.nodes if graph is not None else ():
            src = sources.get(node.name)
            if src is None:
                continue
            trace = src.stack_trace()
            if trace:
                node.meta["stack_trace"] = trace
            if src.module_stack:
                node.meta["nn_module_stack"] = dict(src.module_stack)


def stand_in_examples(ep: ExportedProgram, limits: Limits = DEFAULT_LIMITS) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Zeros of each user input's recorded example shape (ones for bools), in forward's layout.

    The shapes are the archive's size hints: checked against ``limits`` before anything is allocated.
    """
    import torch
    import torch.utils._pytree as pytree
    from torch.export.graph_signature import InputKind
    from torch.fx.experimental.symbolic_shapes import optimization_hint

    placeholders = {n.name: n for n in ep.graph.nodes if n.op == "placeholder"}
    leaves: list[Any] = []
    for spec in ep.graph_signature.input_specs:
        if spec.kind is not InputKind.USER_INPUT:
            continue
        arg = spec.arg
        node = placeholders.get(getattr(arg, "name", ""))
        val = node.meta.get("val") if node is not None else getattr(arg, "value", None)
        if isinstance(val, torch.Tensor):
            shape = [optimization_hint(d, fallback=2) if isinstance(d, torch.SymInt) else int(d) for d in val.shape]
            check_elements(f"example input {node.name if node is not None else '?'}", shape, limits)
            fill = torch.ones if val.dtype == torch.bool else torch.zeros
            leaves.append(fill(shape, dtype=val.dtype))
        elif isinstance(val, torch.SymInt):
            leaves.append(optimization_hint(val, fallback=2))
        else:
            leaves.append(val)
    args, kwargs = pytree.tree_unflatten(leaves, ep.call_spec.in_spec)
    return tuple(args), dict(kwargs)


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
