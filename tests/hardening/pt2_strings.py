"""String fuzzer for ``.pt2`` archives: every string torch reads from an archive, replaced by payloads.

torch turns strings from an archive into code in many places (torch 2.13): ``sympy.sympify`` evaluates
every shape expression; ``ExportedProgram.module()`` writes guards, ``str`` inputs and names into
Python source it execs; FX writes placeholder names into ``def forward(...)`` and attribute names into
``getattr(self, "...")``. A data-only reader must survive any string in any of those places.

The fuzzer starts from three clean exports (:data:`SEEDS`) and enumerates every string in each
archive (:func:`enumerate_slots`): every JSON string value and dict key of ``models/model.json`` and
the payload configs, strings nested in JSON strings (treespecs, ``custom`` metadata), the member
names and the small text members, the example inputs' strings and keys; plus strings torch would read
where the clean archive has none (``guards_code``, node metadata). Slots are grouped by *kind* (their
JSON path with list indices and map keys wildcarded). Case ``i`` of seed ``s`` takes the next kind of
a seed-shuffled round-robin (:meth:`Generator.kind_of`), one concrete slot of that kind, one payload
of :data:`POOL` (half the time one aimed at the code that kind reaches, ``_AFFINE``) and a mode:
this occurrence only, or every equal string in the archive — a consistent rename, so that the
payload reaches the code generators instead of a dangling reference. Everything is drawn from
``random.Random(f"{seed}:{i}")``: a case replays from ``(seed, i)`` alone.

Cases run in a worker interpreter (``python -m tests.hardening.pt2_strings worker JOBS``) that loads
torch once and calls the Python API on many files; a hung case is killed and reported, the worker
restarted after it. ``test_fuzz_strings.py`` sets the sizes and the assertions.
"""

from __future__ import annotations

import io
import json
import os
import random
import re
import select
import subprocess
import sys
import time
import traceback
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

ROOT = Path(__file__).resolve().parents[2]
MARKER = "PWNED"
VERBS = ("audit", "fix", "export", "verify", "convert")
_JSON = "<json>"  # a path step into a string that holds JSON (treespecs, custom metadata)
# Dict fields whose keys are data (names), not schema: their keys are wildcarded in a slot's kind.
_MAPS = {"tensor_values", "sym_int_values", "sym_float_values", "sym_bool_values", "custom_obj_values",
         "range_constraints", "opset_version", "config"}


# --- seeds ------------------------------------------------------------------------------------------------
def _seed_shapes(path: Path) -> Path:
    """Dynamic batch and sequence: ``expr_str`` with Symbol, Mul, FloorDiv, Min; a parameter, an int64
    buffer, a lifted tensor constant."""
    import torch

    class Shapes(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.emb = torch.nn.Embedding(16, 4)
            self.register_buffer("pos", torch.arange(64))
            self.scale = torch.tensor([2.0])

        def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            b, s = ids.shape
            h = (self.emb(ids) * self.scale).reshape(b * s, 4)
            return h[: (b * s) // 2], self.pos[:s] + mask.sum(-1, keepdim=True)

    torch.manual_seed(0)
    batch, seq = torch.export.Dim("batch", min=1, max=8), torch.export.Dim("seq", min=2, max=32)
    ep = torch.export.export(Shapes(), (torch.randint(0, 16, (2, 5)), torch.ones(2, 5, dtype=torch.int64)),
                             dynamic_shapes={"ids": {0: batch, 1: seq}, "mask": {0: batch, 1: seq}})
    torch.export.save(ep, str(path))
    return path


def _seed_cond(path: Path) -> Path:
    """``torch.cond`` (GraphArgument subgraphs), a keyword input, a dynamic batch, an int64 buffer."""
    import torch

    from tests.hardening.craft import clean_cond_pt2

    torch.manual_seed(0)
    return clean_cond_pt2(path)


def _seed_str(path: Path) -> Path:
    """A ``str`` argument: ``as_string`` graph input and constant input, a string example input."""
    import torch

    from tests.hardening.craft import clean_str_input_pt2

    torch.manual_seed(0)
    return clean_str_input_pt2(path)


SEEDS: dict[str, Callable[[Path], Path]] = {"shapes": _seed_shapes, "cond": _seed_cond, "str": _seed_str}


def seed_archives(folder: Path) -> dict[str, dict[str, bytes]]:
    """Each seed's members by full name (in zip order)."""
    out = {}
    folder.mkdir(parents=True, exist_ok=True)
    for name, make in SEEDS.items():
        path = make(folder / f"seed_{name}.pt2")
        with zipfile.ZipFile(path) as zf:
            members = {i.filename: zf.read(i) for i in zf.infolist()}
        for full in members:  # what differs from run to run is fixed, so that a case's bytes replay:
            if full.endswith("/.data/serialization_id"):  # a random id
                members[full] = b"0" * 40
            elif full.endswith("/models/model.json"):  # stack traces name FX's per-process source counter
                members[full] = re.sub(rb"<eval_with_key>\.[0-9]+", b"<eval_with_key>.0", members[full])
        out[name] = members
    return out


# --- payloads ---------------------------------------------------------------------------------------------
# Tokens: {orig} the string replaced, {code} Python creating the marker with neither dot nor quote
# (FX splits names on dots), {pycode} the same with quotes (sympy turns unknown names into symbols, so
# it needs __import__), {path} the marker's absolute path.
POOL: list[tuple[str, str]] = [
    ("code", "{code}"),
    ("pycode", "{pycode}"),
    ("os-system", "__import__('os').system('touch {path}')"),
    ("sq-break", "{orig}'); {code}; ('"),
    ("dq-break", '{orig}"); {code}; ("'),
    ("sq-arg", "{orig}', {code}, '"),
    ("dq-arg", '{orig}", {code}, "'),
    ("tsq-break", "{orig}'''); {code}; ('''"),
    ("tdq-break", '{orig}"""); {code}; ("""'),
    ("bs-sq", "{orig}\\'); {code}  #"),
    ("bs-dq", '{orig}\\"); {code}  #'),
    ("nl-stmt", "{orig}\n{code}\n"),
    ("nl-dedent-sq", "{orig}')\n{code}\ndef _(*args):  #"),
    ("nl-dedent-dq", '{orig}")\n{code}\ndef _(*args):  #'),
    ("nl-comment-sq", "{orig}' #\n)\n{code}\ndef _(*args):  #"),
    ("nl-comment-dq", '{orig}" #\n)\n{code}\ndef _(*args):  #'),
    ("cr-fx-dq", '{orig}")\r{code}\rdef forward(self, *args, **kwargs):  #'),
    ("cr-fx-sq", "{orig}')\r{code}\rdef forward(self, *args, **kwargs):  #"),
    ("cr-stmt", "{orig}\r{code}\r"),
    ("crlf-stmt", "{orig}\r\n{code}\r\n"),
    ("hash-nl", "{orig} #\n{code}"),
    ("nl-comment", "{orig} #\n)\n{code}\ndef _(*args):  #"),
    ("u2028", "{orig}\u2028{code}\u2028"),
    ("u2029", "{orig}\u2029{code}"),
    ("nel", "{orig}\x85{code}"),
    ("ff", "{orig}\x0c{code}"),
    ("vt", "{orig}\x0b{code}"),
    ("default-arg", "{orig}={code}"),
    ("default-arg-star", "{orig}=({code}), *_"),
    ("annotation", "{orig}: ({code})"),
    ("star", "*{orig}"),
    ("sympy-S", 'S("{orig} if {pycode} else 0")'),
    ("sympy-S-sq", "S('__import__(\"builtins\").open(\"{path}\", \"w\") and 1')"),
    ("sympify", 'sympify("{pycode} and {orig}")'),
    ("parse_expr", 'parse_expr("{pycode}")'),
    ("sympy-Function", "Function('{pycode}')({orig})"),
    ("sympy-Lambda", "Lambda(Symbol('q'), {pycode})"),
    ("sympy-Mul-S", 'Mul({orig}, S("{pycode} and 1"))'),
    ("sympy-if", "{orig} if {pycode} else 0"),
    ("exec", 'exec("{pycode}")'),
    ("eval", 'eval("{pycode}")'),
    ("lambda", "(lambda: {code})()"),
    ("walrus", "(_q := {code})"),
    ("subclasses", "().__class__.__base__.__subclasses__()"),
    ("globals", "{orig}.__class__.__init__.__globals__"),
    ("fstring", 'f"{{pycode}}"'),
    ("format-field", "{0.__class__.__init__.__globals__}{orig}"),
    ("percent", "%s%r%n{orig}"),
    ("uq-break", "{orig}\u2019); {code}; (\u2018"),
    ("udq-break", "{orig}\u201d); {code}; (\u201c"),
    ("fullwidth", "{orig}\uff02)\uff1b{code}"),
    ("bidi", "{orig}\u202e{code}"),
    ("surrogate", "{orig}\ud800"),
    ("nul", "{orig}\x00{code}"),
    ("nul-only", "\x00"),
    ("empty", ""),
    ("space", " "),
    ("long", "A" * 100_000),
    ("long-orig", "{orig}" + " " * 50_000 + "+ 1"),
    ("deep-parens", "(" * 3000 + "{orig}" + ")" * 3000),
    ("dotted", "{orig}.{orig}"),
    ("traversal", "../../{orig}"),
    ("dunder", "__class__"),
    ("forward", "forward"),
    ("training", "training"),
    ("modules", "_modules"),
    ("guard-open", "1 == '\", \"\"\"'"),
    ("guard-close", "1 == '''\"\"\"\n)\n{code}\ndef _(*args):  #'''"),
    ("target-file", "torch.ops.aten.from_file.default"),
    ("target-exec", "builtins.exec"),
    ("json-inject", '{orig}", "x": "{code}'),
]
POOL_NAMES = [name for name, _ in POOL]
_SYMPY = ["sympy-S", "sympy-S-sq", "sympify", "parse_expr", "sympy-Function", "sympy-Lambda", "sympy-Mul-S", "sympy-if",
          "exec", "eval", "pycode", "subclasses", "long-orig", "deep-parens"]
_FX = ["cr-fx-dq", "cr-fx-sq", "dq-arg", "sq-arg", "dq-break", "sq-break", "default-arg", "default-arg-star",
       "annotation", "star", "cr-stmt", "crlf-stmt", "u2028", "nel", "ff", "vt", "dunder", "forward", "training",
       "modules", "dotted"]
_GUARD = ["nl-comment", "nl-comment-sq", "nl-comment-dq", "guard-open", "guard-close", "hash-nl", "nl-dedent-sq",
          "nl-dedent-dq", "tsq-break", "tdq-break", "bs-sq", "bs-dq"]
# Half the time a kind draws from the payloads aimed at the code its strings reach (the other half,
# from the whole pool): shape expressions and symbol names go to sympy; names and FQNs to FX's source;
# string values and guards to module()'s guard source. First match wins.
_AFFINE: list[tuple[str, list[str]]] = [
    ("expr_str", _SYMPY), ("range_constraints.{} (key)", _SYMPY + _GUARD), ("sym_int_values.{} (key)", _SYMPY),
    ("member-name:", _SYMPY), ("member:extra-program", _SYMPY + _FX), ("guards_code", _GUARD + _SYMPY),
    ("as_string", _GUARD + ["sq-break", "sq-arg"]), ("sample-inputs", _GUARD + _FX),
    ("name", _FX + _GUARD), ("fqn", _FX), ("forward_arg_names", _FX + _GUARD), ("context", _FX + _GUARD),
    ("config.{} (key)", _FX), ("target", _FX + ["target-file", "target-exec"]),
]


def _payload_for(kind: str, rng: random.Random) -> str:
    if rng.random() < 0.5:
        for needle, names in _AFFINE:
            if needle in kind:
                return rng.choice(names)
    return POOL_NAMES[rng.randrange(len(POOL))]


def marker_code(marker: Path) -> str:
    from tests.hardening.craft import marker_code as code

    return code(marker)


def render(template: str, orig: str, marker: Path) -> str:
    """The payload string: tokens replaced one by one (never ``str.format``: payloads hold braces)."""
    pycode = f"__import__('builtins').open({str(marker)!r}, 'w')"
    out = template.replace("{pycode}", pycode).replace("{code}", marker_code(marker))
    return out.replace("{path}", str(marker)).replace("{orig}", orig)


# --- slots --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Slot:
    """One string of an archive: where it is and what it holds."""

    member: str  # member tail ("models/model.json"), or a pseudo-member for member-level slots
    path: tuple[Any, ...]  # JSON path (keys, indices, _JSON steps into JSON strings)
    is_key: bool  # the string is the last path step, a dict key
    value: str
    kind: str


def _tail(name: str) -> str:
    return name.split("/", 1)[1] if "/" in name else name


def _kind_step(parent_key: Any, step: Any) -> str:
    if isinstance(step, int):
        return "[]"
    if step == _JSON:
        return "<json>"
    return "{}" if parent_key in _MAPS else str(step)


def _kind(member: str, path: tuple[Any, ...], is_key: bool) -> str:
    parts, parent = [], None
    for step in path:
        parts.append(_kind_step(parent, step))
        parent = step
    return f"{member}:{'.'.join(parts)}" + (" (key)" if is_key else "")


def _nested(value: str) -> Any:
    """A string that holds a JSON list or object, parsed (else None)."""
    if value[:1] not in ("[", "{"):
        return None
    try:
        inner = json.loads(value)
    except ValueError:
        return None
    return inner if isinstance(inner, (list, dict)) else None


def _strings(obj: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], bool, str]]:
    """Every string in a JSON tree, with JSON strings opened: (path, is_key, value)."""
    stack: list[tuple[tuple[Any, ...], Any]] = [(prefix, obj)]
    while stack:
        path, cur = stack.pop()
        if isinstance(cur, dict):
            for k, v in cur.items():
                yield path + (k,), True, k
                stack.append((path + (k,), v))
        elif isinstance(cur, list):
            stack.extend((path + (i,), v) for i, v in enumerate(cur))
        elif isinstance(cur, str):
            yield path, False, cur
            inner = _nested(cur)
            if inner is not None:
                stack.append((path + (_JSON,), inner))


# Strings torch reads where a clean archive has none: (member, path to a list or dict, what to add).
_INSERTS = [
    ("models/model.json", ("guards_code",), "append"),
    ("models/model.json", ("graph_module", "metadata"), "custom"),
    ("models/model.json", ("graph_module", "graph", "nodes", "*", "metadata"), "stack_trace"),
    ("models/model.json", ("graph_module", "graph", "nodes", "*", "metadata"), "nn_module_stack"),
    ("models/model.json", ("graph_module", "graph", "nodes", "*", "metadata"), "source_fn_stack"),
    ("models/model.json", ("graph_module", "graph", "nodes", "*", "metadata"), "torch_fn"),
    ("models/model.json", ("graph_module", "graph", "nodes", "*", "metadata"), "custom"),
    ("models/model.json", ("graph_module", "graph", "nodes", "*", "metadata"), "from_node"),
]
_INSERT_ORIG = {"append": "1 == 1", "custom": '{"k": "v"}', "stack_trace": 'File "m.py", line 1, in forward\n    x',
                "nn_module_stack": "L__self__,,torch.nn.Module", "source_fn_stack": "x,torch.add",
                "torch_fn": "x;builtin_function_or_method.add", "from_node": "[]"}
_MEMBER_RENAMES = ["models/model.JSON", "models/model.Json", "models/modelXjson", "models/model.json5",
                   "models/model.jsonx", "models/model.json ", "models//model.json", "models/./model.json",
                   "models/../models/model.json", "Models/model.json"]
_TEXT_MEMBERS = ["archive_format", "archive_version", "byteorder", ".data/version"]


def enumerate_slots(seed: str, members: dict[str, bytes]) -> list[Slot]:
    """Every string of one seed archive, and the member-level and insertion slots."""
    slots: list[Slot] = []
    tails = {_tail(n): n for n in members}
    for tail, name in tails.items():
        if not tail.endswith(".json"):
            continue
        obj = json.loads(members[name])
        for path, is_key, value in _strings(obj):
            slots.append(Slot(tail, path, is_key, value, _kind(tail, path, is_key)))
    for member, path, what in _INSERTS:
        slots.append(Slot(member, path, False, _INSERT_ORIG[what], f"insert:{what}@{'.'.join(path)}"))
    for new in _MEMBER_RENAMES:
        slots.append(Slot("<member-name>", ("models/model.json", new), False, new, f"member-name:{new!r}"))
    slots.append(Slot("<member-extra-program>", (), False, "evil", "member:extra-program"))
    slots.append(Slot("<member-extra-file>", (), False, "extra/x", "member:extra-file"))
    for tail in _TEXT_MEMBERS:
        if tail in tails:
            slots.append(Slot("<member-content>", (tail,), False, members[tails[tail]].decode("latin-1"),
                              f"member-content:{tail}"))
    slots.append(Slot("<sample-inputs>", ("str",), False, "a", "sample-inputs:strings"))
    slots.append(Slot("<sample-inputs>", ("key",), True, "scale", "sample-inputs:keys"))
    return slots


# --- mutation ------------------------------------------------------------------------------------------------
def _set(obj: Any, path: tuple[Any, ...], is_key: bool, new: str) -> Any:
    """``obj`` with the string at ``path`` replaced by ``new`` (a key renamed in place, order kept)."""
    if not path:
        return new
    step, rest = path[0], path[1:]
    if step == _JSON:
        assert isinstance(obj, str)
        return json.dumps(_set(json.loads(obj), rest, is_key, new))
    if isinstance(obj, dict) and is_key and not rest:
        return {(new if k == step else k): v for k, v in obj.items()}
    obj[step] = _set(obj[step], rest, is_key, new)
    return obj


def _replace_all(obj: Any, old: str, new: str) -> Any:
    """Every string equal to ``old`` — values, keys, inside JSON strings — becomes ``new``."""
    if isinstance(obj, dict):
        return {(new if k == old else k): _replace_all(v, old, new) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_replace_all(v, old, new) for v in obj]
    if isinstance(obj, str):
        if obj == old:
            return new
        inner = _nested(obj)
        if inner is not None:
            changed = _replace_all(inner, old, new)
            if changed != inner:
                return json.dumps(changed)
    return obj


def _sample_inputs(data: bytes, fn: Callable[[Any], Any]) -> bytes:
    """Example inputs (a weights-only pickle of tensors and containers) rewritten by ``fn``."""
    import torch

    obj = torch.load(io.BytesIO(data), weights_only=True)
    buf = io.BytesIO()
    torch.save(fn(obj), buf)
    return buf.getvalue()


def _map_strings(obj: Any, value: Callable[[str], str] | None, key: Callable[[str], str] | None) -> Any:
    if isinstance(obj, dict):
        return {(key(k) if key and isinstance(k, str) else k): _map_strings(v, value, key) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        seq = [_map_strings(v, value, key) for v in obj]
        return type(obj)(seq) if not hasattr(obj, "_fields") else type(obj)(*seq)
    if isinstance(obj, str) and value:
        return value(obj)
    return obj


@dataclass
class Mutation:
    kind: str
    member: str
    path: list[Any]
    is_key: bool
    original: str
    payload: str  # POOL name
    everywhere: bool
    value: str  # the string written (repr'd in reports)


@dataclass
class Case:
    seed: int
    index: int
    model: str  # SEEDS key
    mutations: list[Mutation] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"s{self.seed}-c{self.index}"

    def describe(self) -> dict[str, Any]:
        d = asdict(self)
        for m in d["mutations"]:
            m["value"] = repr(m["value"])[:400]
            m["original"] = repr(m["original"])[:200]
            m["path"] = [str(p) for p in m["path"]]
        return d


def _program_payload(program: Any, make: Callable[[str], str], rng: random.Random) -> tuple[Any, str]:
    """A program carrying a payload: every shape expression (the sink torch.export.load reaches
    first) or, without any, one string value everywhere, replaced by ``make(original)``."""
    exprs = sorted({v for p, k, v in _strings(program) if not k and p and p[-1] == "expr_str"})
    if exprs:
        written = ""
        for e in exprs:
            written = make(e)
            program = _replace_all(program, e, written)
        return program, written
    old = rng.choice(sorted({v for _, k, v in _strings(program) if not k}))
    written = make(old)
    return _replace_all(program, old, written), written


def _apply(members: dict[str, bytes], slot: Slot, make: Callable[[str], str], everywhere: bool,
           rng: random.Random) -> tuple[dict[str, bytes], str]:
    """The archive with ``slot`` mutated (``make(original)`` is the string written), and that string."""
    root = next(iter(members)).split("/", 1)[0]
    full = {_tail(n): n for n in members}
    out = dict(members)
    if slot.kind.startswith("member-name:"):  # the program under another name, carrying a payload
        src, dest = slot.path
        program, new = _program_payload(json.loads(out.pop(full[src])), make, rng)
        out[f"{root}/{dest}"] = json.dumps(program).encode()
        return out, new
    if slot.kind == "member:extra-program":  # a second program (torch loads every models/*) with the payload
        name = rng.choice(["evil", "model2", "m"])
        program, new = _program_payload(json.loads(members[full["models/model.json"]]), make, rng)
        out[f"{root}/models/{name}.json"] = json.dumps(program).encode()
        for tail, copy_as in (("data/sample_inputs/model.pt", f"data/sample_inputs/{name}.pt"),
                              ("data/weights/model_weights_config.json", f"data/weights/{name}_weights_config.json"),
                              ("data/constants/model_constants_config.json",
                               f"data/constants/{name}_constants_config.json")):
            out[f"{root}/{copy_as}"] = members[full[tail]]
        return out, new
    new = make(slot.value)
    if slot.kind == "member:extra-file":
        safe = "".join(c if c.isalnum() else "_" for c in new)[:40] or "x"
        out[f"{root}/{rng.choice(['extra/', 'models/', 'data/weights/', 'data/constants/'])}{safe}"] = \
            new.encode("utf-8", "surrogatepass")
        return out, new
    if slot.kind.startswith("member-content:"):
        out[full[slot.path[0]]] = new.encode("utf-8", "surrogatepass")
        return out, new
    if slot.kind.startswith("sample-inputs:"):
        name = full["data/sample_inputs/model.pt"]
        if slot.is_key:
            out[name] = _sample_inputs(members[name], lambda o: _map_strings(o, None, lambda k: new))
        else:
            out[name] = _sample_inputs(members[name], lambda o: _map_strings(o, lambda s: new, None))
        return out, new
    obj = json.loads(members[full[slot.member]])
    if slot.kind.startswith("insert:"):
        what = slot.kind.split(":", 1)[1].split("@", 1)[0]
        if what == "custom" and rng.random() < 0.5:  # torch json.loads it: a valid JSON carrying the payload
            new = json.dumps({"k": new})
        if what == "append":
            obj.setdefault("guards_code", []).append(new)
        else:
            holder: Any = obj
            for step in slot.path:
                holder = rng.choice(holder) if step == "*" else holder.setdefault(step, {})
            holder[what] = new
        out[full[slot.member]] = json.dumps(obj).encode()
        return out, new
    if everywhere:
        for tail, name in full.items():
            if tail.endswith(".json"):
                out[name] = json.dumps(_replace_all(json.loads(out[name]), slot.value, new)).encode()
        if "data/sample_inputs/model.pt" in full:
            old = slot.value
            name = full["data/sample_inputs/model.pt"]
            out[name] = _sample_inputs(out[name], lambda o: _map_strings(
                o, lambda s: new if s == old else s, lambda k: new if k == old else k))
        return out, new
    out[full[slot.member]] = json.dumps(_set(obj, slot.path, slot.is_key, new)).encode()
    return out, new


def _is_schema_key(kind: str) -> bool:
    """A dict key that is a field name of torch's schema (renaming it only breaks the parse), not data."""
    return kind.endswith(" (key)") and not kind.endswith("{} (key)")


class Generator:
    """Cases from the seed archives, each determined by ``(seed, index)`` alone.

    Kinds are visited round-robin in a seed-shuffled order: four cases in five take the next *hot*
    kind (string values, names used as map keys, member names, example inputs, insertions), the
    fifth the next schema field name. Which seed archive carries the kind, which of its slots, which
    payload and which mode are drawn per case.
    """

    def __init__(self, folder: Path, seed: int) -> None:
        self.seed = seed
        self.archives = seed_archives(folder)
        self.slots = {name: enumerate_slots(name, members) for name, members in self.archives.items()}
        self.by_kind: dict[str, dict[str, list[Slot]]] = {}
        for name, slots in self.slots.items():
            for s in slots:
                self.by_kind.setdefault(s.kind, {}).setdefault(name, []).append(s)
        order = random.Random(seed)
        self.hot = sorted(k for k in self.by_kind if not _is_schema_key(k))
        self.cold = sorted(k for k in self.by_kind if _is_schema_key(k))
        order.shuffle(self.hot)
        order.shuffle(self.cold)

    def kind_of(self, index: int) -> str:
        if index % 5 == 4:
            return self.cold[(index // 5) % len(self.cold)]
        return self.hot[(index - index // 5) % len(self.hot)]

    def case(self, index: int, marker: Path) -> tuple[Case, bytes]:
        rng = random.Random(f"{self.seed}:{index}")
        kind = self.kind_of(index)
        model = rng.choice(sorted(self.by_kind[kind]))
        case = Case(self.seed, index, model)
        members = self.archives[model]
        picks = [rng.choice(self.by_kind[kind][model])]
        if rng.random() < 0.15:  # now and then a second string of the same archive
            picks.append(rng.choice(self.slots[model]))
        for slot in picks:
            pname = _payload_for(slot.kind, rng)
            everywhere = (not slot.kind.startswith(("insert:", "member", "sample-inputs:"))
                          and rng.random() < 0.5)
            members = self._mutate(case, members, slot, pname, everywhere, marker, rng)
        return case, self._zip(members)

    def build(self, model: str, kind: str, payload: str, everywhere: bool, marker: Path) -> tuple[Case, bytes]:
        """One chosen mutation (the first slot of ``kind`` in ``model``), for tests and replays."""
        rng = random.Random(f"{self.seed}:{model}:{kind}:{payload}")
        case = Case(self.seed, -1, model)
        members = self._mutate(case, self.archives[model], self.by_kind[kind][model][0], payload, everywhere, marker,
                               rng)
        return case, self._zip(members)

    def _mutate(self, case: Case, members: dict[str, bytes], slot: Slot, payload: str, everywhere: bool,
                marker: Path, rng: random.Random) -> dict[str, bytes]:
        template = dict(POOL)[payload]
        try:
            members, new = _apply(members, slot, lambda orig: render(template, orig, marker), everywhere, rng)
        except (KeyError, IndexError, TypeError, ValueError, AttributeError):
            return members  # the slot is gone after an earlier mutation (a renamed member, a replaced dict)
        case.mutations.append(Mutation(slot.kind, slot.member, list(slot.path), slot.is_key, slot.value, payload,
                                       everywhere, new))
        return members

    @staticmethod
    def _zip(members: dict[str, bytes]) -> bytes:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
            for name, data in members.items():
                zf.writestr(zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0)), data)
        return buf.getvalue()


# --- running ------------------------------------------------------------------------------------------------
@dataclass
class Job:
    id: str
    verb: str  # one of VERBS, or "torch": plain torch.export.load(p).module() (to show a payload is live)
    path: str
    out: str | None = None


def _run_api(job: Job) -> None:
    import trtready

    target = "trt-rtx"
    if job.verb == "audit":
        trtready.audit(job.path, target=target)
    elif job.verb == "fix":
        trtready.fix(job.path, job.out, target=target, trials=1)
    elif job.verb == "export":
        trtready.export(job.path, job.out)
    elif job.verb == "verify":
        trtready.verify(job.path, job.path, trials=1)
    elif job.verb == "convert":
        trtready.convert(job.path, job.out, target=target, trials=1)
    elif job.verb == "torch":
        import torch

        torch.export.load(job.path).module()
    else:
        raise ValueError(job.verb)


def worker(jobs_file: str) -> None:
    """Run each job in this interpreter; one JSON line per finished job on stdout."""
    import logging
    import warnings

    warnings.simplefilter("ignore")
    logging.disable(logging.CRITICAL)
    from trtready.errors import TrtReadyError, root_cause

    out = os.fdopen(os.dup(1), "w")  # results go to the real stdout; whatever the verbs print, to stderr
    os.dup2(2, 1)
    jobs = [Job(**j) for j in json.loads(Path(jobs_file).read_text())]
    for job in jobs:
        result: dict[str, Any] = {"id": job.id, "outcome": "ok"}
        try:
            _run_api(job)
        except KeyboardInterrupt:
            raise
        except BaseException as e:  # noqa: BLE001 - classified below
            cause = root_cause(e) if isinstance(e, Exception) else e
            result["outcome"] = type(cause).__name__
            result["message"] = str(cause).strip().splitlines()[0][:300] if str(cause).strip() else ""
            if not isinstance(cause, TrtReadyError) and job.verb != "torch":
                result["crash"] = "".join(traceback.format_exception(e))[-3000:]
        out.write(json.dumps(result) + "\n")
        out.flush()


def run_jobs(jobs: list[Job], cwd: Path, per_job_seconds: float = 240.0) -> dict[str, dict[str, Any]]:
    """Results by job id; a job that hangs or kills the worker is reported as such, the rest go on."""
    results: dict[str, dict[str, Any]] = {}
    pending = list(jobs)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT / "src"), str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])}
    while pending:
        jobs_file = cwd / f"jobs-{len(results)}.json"
        jobs_file.write_text(json.dumps([asdict(j) for j in pending]))
        proc = subprocess.Popen([sys.executable, "-m", "tests.hardening.pt2_strings", "worker", str(jobs_file)],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=cwd, env=env)
        assert proc.stdout is not None
        buf = b""
        deadline = time.monotonic() + per_job_seconds + 60  # the first job also pays for the imports
        while pending:
            ready, _, _ = select.select([proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                proc.kill()
                results[pending[0].id] = {"id": pending[0].id, "outcome": "hang",
                                          "crash": f"no result within {per_job_seconds:.0f} s"}
                pending.pop(0)
                break
            chunk = os.read(proc.stdout.fileno(), 1 << 16)
            if not chunk:  # the worker died
                code = proc.wait()
                results[pending[0].id] = {"id": pending[0].id, "outcome": "died",
                                          "crash": f"the worker exited with {code} during this job"}
                pending.pop(0)
                break
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                res = json.loads(line)
                results[res["id"]] = res
                pending = [j for j in pending if j.id != res["id"]]
                deadline = time.monotonic() + per_job_seconds
        proc.kill()
        proc.wait()
        jobs_file.unlink(missing_ok=True)
    return results


# --- replay -------------------------------------------------------------------------------------------------
def replay(description: str, verb: str | None = None) -> None:
    """Rebuild a written-out case from its ``(seed, index)`` and run it (``python -m … replay CASE.json``)."""
    import tempfile

    desc = json.loads(Path(description).read_text())
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        gen = Generator(folder / "seeds", desc["seed"])
        case_dir = folder / "case"
        case_dir.mkdir()
        marker = case_dir / MARKER
        case, data = gen.case(desc["index"], marker)
        path = case_dir / "m.pt2"
        path.write_bytes(data)
        print(json.dumps(case.describe(), indent=1))
        for v in [verb or desc.get("verb", "audit").removeprefix("cli-")]:
            res = run_jobs([Job("replay", v, str(path), str(case_dir / "out"))], folder)
            print(v, json.dumps(res["replay"], indent=1))
            print("marker created" if marker.exists() else "no marker")


if __name__ == "__main__":
    if sys.argv[1] == "worker":
        worker(sys.argv[2])
    elif sys.argv[1] == "replay":
        replay(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None)
