"""Hostile model files, made in the test from a clean export: each carries a payload that creates a
marker file when the unguarded library loads it (the tests check that it really does)."""

from __future__ import annotations

import io
import json
import pickle
import zipfile
from pathlib import Path
from typing import Callable

import torch


class _Payload:
    """Unpickling this creates ``marker`` (``open(marker, "w")``): code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def payload_pickle(marker: Path) -> bytes:
    return pickle.dumps(_Payload(marker), protocol=2)


class Small(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = torch.nn.Linear(4, 4)
        self.register_buffer("idx", torch.arange(4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lin(x) + self.idx


def clean_pt2(path: Path) -> Path:
    ep = torch.export.export(Small(), (torch.randn(2, 4),), dynamic_shapes={"x": {0: torch.export.Dim("b", min=1, max=8)}})
    torch.export.save(ep, str(path))
    return path


def rewrite_zip(src: Path, dest: Path, edit: Callable[[str, bytes], bytes | None],
                extra: dict[str, bytes] | None = None, compress: dict[str, int] | None = None) -> Path:
    """Copy ``src`` to ``dest`` member by member through ``edit(tail, data)`` (None drops a member)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dest, "w", zipfile.ZIP_STORED) as zout:
        root = zin.namelist()[0].split("/", 1)[0]
        for info in zin.infolist():
            tail = info.filename.split("/", 1)[1]
            data = edit(tail, zin.read(info))
            if data is not None:
                zout.writestr(info.filename, data)
        for tail, data in (extra or {}).items():
            zout.writestr(f"{root}/{tail}", data, compress_type=(compress or {}).get(tail, zipfile.ZIP_STORED))
    return dest


def _json_edit(target_tail: str, fn: Callable[[dict], None]) -> Callable[[str, bytes], bytes]:
    def edit(tail: str, data: bytes) -> bytes:
        if tail != target_tail:
            return data
        obj = json.loads(data)
        fn(obj)
        return json.dumps(obj).encode()

    return edit


def pt2_pickled_weight(tmp: Path, marker: Path) -> Path:
    """A weight marked ``use_pickle``: torch.export.load reads it with torch.load(weights_only=False)."""
    clean = clean_pt2(tmp / "clean.pt2")

    def mark(cfg: dict) -> None:
        cfg["config"]["lin.weight"]["use_pickle"] = True

    weights = _json_edit("data/weights/model_weights_config.json", mark)
    name = json.loads(zipfile.ZipFile(clean).read(
        [n for n in zipfile.ZipFile(clean).namelist() if n.endswith("model_weights_config.json")][0]
    ))["config"]["lin.weight"]["path_name"]

    def edit(tail: str, data: bytes) -> bytes:
        if tail == f"data/weights/{name}":
            return payload_pickle(marker)
        return weights(tail, data)

    return rewrite_zip(clean, tmp / "evil_weight.pt2", edit)


def pt2_opaque_constant(tmp: Path, marker: Path) -> Path:
    """An opaque constant: torch.export.load reads it with pickle.loads."""
    clean = clean_pt2(tmp / "clean.pt2")

    data = payload_pickle(marker)

    def add(cfg: dict) -> None:
        meta = {"dtype": 1, "sizes": [{"as_int": len(data)}], "requires_grad": False,  # BYTE, as the loader maps it
                "device": {"type": "cpu", "index": None}, "strides": [{"as_int": 1}], "storage_offset": {"as_int": 0},
                "layout": 7}
        cfg["config"]["evil"] = {"is_param": False, "tensor_meta": meta, "path_name": "opaque_obj_0", "use_pickle": False}

    edit = _json_edit("data/constants/model_constants_config.json", add)
    return rewrite_zip(clean, tmp / "evil_opaque.pt2", edit, extra={"data/constants/opaque_obj_0": data})


def pt2_sample_inputs(tmp: Path, marker: Path) -> Path:
    """Example inputs the safe loader refuses: torch.export.load retries with weights_only=False."""
    clean = clean_pt2(tmp / "clean.pt2")

    def edit(tail: str, data: bytes) -> bytes:
        return payload_pickle(marker) if tail.startswith("data/sample_inputs/") else data

    return rewrite_zip(clean, tmp / "evil_inputs.pt2", edit)


def pt2_sympy_expression(tmp: Path, marker: Path) -> Path:
    """A symbolic size whose expression string sympy.sympify evaluates with eval()."""
    clean = clean_pt2(tmp / "clean.pt2")
    code = f"Symbol('s', positive=True) if __import__('builtins').open({str(marker)!r}, 'w') else 0"

    def poison(program: dict) -> None:
        stack = [program]
        while stack:
            cur = stack.pop()
            if isinstance(cur, dict):
                if "expr_str" in cur:
                    cur["expr_str"] = code
                stack.extend(cur.values())
            elif isinstance(cur, list):
                stack.extend(cur)

    return rewrite_zip(clean, tmp / "evil_sympy.pt2", _json_edit("models/model.json", poison))


def pt2_guard_code(tmp: Path, marker: Path) -> Path:
    """Guard code, which ExportedProgram.module() compiles and runs with exec()."""
    clean = clean_pt2(tmp / "clean.pt2")

    def add(program: dict) -> None:
        program["guards_code"] = [f"__import__('builtins').open({str(marker)!r}, 'w') is not None"]

    return rewrite_zip(clean, tmp / "evil_guard.pt2", _json_edit("models/model.json", add))


def marker_code(marker: Path) -> str:
    """Python that creates ``marker``, written without a dot or a quote: FX splits attribute paths on
    dots, and the payloads below sit inside strings of every quote style."""
    return f"open(bytes(({','.join(str(b) for b in str(marker).encode())},)),chr(119))"


def _every(obj: object, key: str, fn: Callable[[dict], None]) -> None:
    """Call ``fn(holder)`` on every dict in a JSON tree that has ``key`` (iteratively: graphs nest)."""
    stack = [obj]
    while stack:
        cur = stack.pop()
        if isinstance(cur, dict):
            if key in cur:
                fn(cur)
            stack.extend(cur.values())
        elif isinstance(cur, list):
            stack.extend(cur)


def _sympy_string(program: dict, marker: Path) -> None:
    """Every ``expr_str`` E becomes ``S("E if <open marker> else 0")``: a call of a capitalised sympy
    function on a string constant, which ``S`` (sympify) parses with ``eval``; the expression keeps
    its value, so the load goes on as if nothing happened."""

    opener = f"__import__('builtins').open({str(marker)!r}, 'w')"  # sympy turns `bytes` into a symbol

    def wrap(holder: dict) -> None:
        holder["expr_str"] = f'S("{holder["expr_str"]} if {opener} else 0")'

    _every(program, "expr_str", wrap)


def pt2_sympy_string(tmp: Path, marker: Path) -> Path:
    """Shape expressions ``S("…")``: the string inside is evaluated by sympify on torch.export.load."""
    clean = clean_pt2(tmp / "clean.pt2")
    return rewrite_zip(clean, tmp / "evil_sympy_string.pt2",
                       _json_edit("models/model.json", lambda prog: _sympy_string(prog, marker)))


def pt2_models_suffix(tmp: Path, marker: Path) -> Path:
    """The program stored as ``models/model.JSON``: torch loads every ``models/*`` member (it cuts the
    last five characters to get the model name), so a check of ``models/*.json`` alone never sees it.
    It carries the ``S("…")`` shape expressions (torch.export.load)."""
    clean = clean_pt2(tmp / "clean.pt2")
    with zipfile.ZipFile(clean) as zf:
        root = zf.namelist()[0].split("/", 1)[0]
        program = json.loads(zf.read(f"{root}/models/model.json"))
    _sympy_string(program, marker)
    return rewrite_zip(clean, tmp / "evil_models_suffix.pt2", lambda t, d: None if t == "models/model.json" else d,
                       extra={"models/model.JSON": json.dumps(program).encode()})


# Two guards, each a comparison with a string constant (what an allow-list of guard expressions
# accepts). ``ExportedProgram.module()`` writes each as ``torch._assert(<guard>, "Guard failed:
# <guard unparsed>")`` and execs the lines. The first constant holds ``"``: in the message string it
# ends the string and opens a triple-quoted one. The second guard's own constant closes that on its
# first line, and its next lines stand at column 0 (module level), run as the source is exec'd.
_GUARD_OPEN = "1 == '\", \"\"\"'"
_GUARD_CLOSE = "1 == '''\"\"\"\n)\n{code}\ndef _(*args):  #'''"


def pt2_guard_string(tmp: Path, marker: Path) -> Path:
    """Guards that pass as comparisons with string constants and break out of the guard source
    ``ExportedProgram.module()`` execs (see ``_GUARD_OPEN``)."""
    clean = clean_pt2(tmp / "clean.pt2")

    def add(program: dict) -> None:
        program["guards_code"] = [_GUARD_OPEN, _GUARD_CLOSE.format(code=marker_code(marker))]

    return rewrite_zip(clean, tmp / "evil_guard_string.pt2", _json_edit("models/model.json", add))


class WithMode(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = torch.nn.Linear(4, 4)

    def forward(self, x: torch.Tensor, mode: str) -> torch.Tensor:
        return self.lin(x) if mode == "a" else x


def clean_str_input_pt2(path: Path) -> Path:
    """A program exported with a ``str`` argument: a constant input ``as_string``."""
    ep = torch.export.export(WithMode(), (torch.randn(2, 4), "a"))
    torch.export.save(ep, str(path))
    return path


def pt2_str_input(tmp: Path, marker: Path) -> Path:
    """A ``str`` graph input whose stored value holds a quote and newlines: ``module()`` writes the
    guard ``L['mode'] == '<value>'`` unescaped into the guard source it execs. The value closes the
    string, comments out the rest of its line (so the error-message copy, newlines removed, still
    parses) and puts code at column 0 (module level)."""
    clean = clean_str_input_pt2(tmp / "clean.pt2")
    value = f"a' #\n)\n{marker_code(marker)}\ndef _(*args):  #"

    def poison(program: dict) -> None:
        def swap(holder: dict) -> None:
            if holder["as_string"] == "a":
                holder["as_string"] = value

        _every(program, "as_string", swap)

    return rewrite_zip(clean, tmp / "evil_str_input.pt2", _json_edit("models/model.json", poison))


class WithCond(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = torch.nn.Linear(4, 4)
        self.register_buffer("idx", torch.arange(4))

    def forward(self, x: torch.Tensor, *, scale: torch.Tensor) -> torch.Tensor:
        def yes(x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
            return self.lin(x) * s

        def no(x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
            return x - s

        return torch.cond(x.sum() > 0, yes, no, (x, scale)) + self.idx


def clean_cond_pt2(path: Path) -> Path:
    """A ``torch.cond`` program (two subgraphs), a dynamic batch, a keyword input, an int64 buffer."""
    dims = {"x": {0: torch.export.Dim("b", min=1, max=8)}, "scale": None}
    ep = torch.export.export(WithCond(), (torch.randn(2, 4),), {"scale": torch.ones(4)}, dynamic_shapes=dims)
    torch.export.save(ep, str(path))
    return path


def fx_name(marker: Path) -> str:
    """A name FX writes as ``getattr(self, "<name>")`` into the source it execs: it closes the string
    and the call; FX indents every line of the body it splits on ``\\n``, but Python also ends a line
    at ``\\r``, so the next line stands at column 0 (module level, run by the exec) and the last one
    starts a new ``forward`` whose body the rest of the generated lines become. No dot: FX splits
    names on dots."""
    return f'branch")\r{marker_code(marker)}\rdef forward(self, *args, **kwargs):  #'


def pt2_cond_branch_name(tmp: Path, marker: Path) -> Path:
    """A ``torch.cond`` branch (GraphArgument) named with Python: the loader registers the subgraph
    under that name and FX writes ``getattr(self, "<name>")`` into the forward it execs while
    torch.export.load builds the graph module."""
    clean = clean_cond_pt2(tmp / "clean.pt2")

    def poison(program: dict) -> None:
        def rename(holder: dict) -> None:
            if holder["as_graph"]["name"] == "true_graph_0":
                holder["as_graph"]["name"] = fx_name(marker)

        _every(program, "as_graph", rename)

    return rewrite_zip(clean, tmp / "evil_cond_name.pt2", _json_edit("models/model.json", poison))


def pt2_param_fqn(tmp: Path, marker: Path) -> Path:
    """A parameter whose FQN is Python: ``module()`` registers it on the unlifted module and reads it
    with a ``get_attr`` node, which FX writes as ``getattr(self, "<fqn>")`` into the forward it execs."""
    clean = clean_pt2(tmp / "clean.pt2")
    fqn = fx_name(marker)

    def program(prog: dict) -> None:
        def rename(holder: dict) -> None:
            if holder["parameter_name"] == "lin.weight":
                holder["parameter_name"] = fqn

        _every(prog, "parameter_name", rename)

    def weights(cfg: dict) -> None:
        cfg["config"][fqn] = cfg["config"].pop("lin.weight")

    edit_prog = _json_edit("models/model.json", program)
    edit_weights = _json_edit("data/weights/model_weights_config.json", weights)
    return rewrite_zip(clean, tmp / "evil_param_fqn.pt2", lambda t, d: edit_weights(t, edit_prog(t, d)))


def pt2_file_op(tmp: Path) -> Path:
    """A node that calls aten.from_file (creates files when the program runs)."""
    clean = clean_pt2(tmp / "clean.pt2")

    def swap(program: dict) -> None:
        program["graph_module"]["graph"]["nodes"][0]["target"] = "torch.ops.aten.from_file.default"

    return rewrite_zip(clean, tmp / "evil_fileop.pt2", _json_edit("models/model.json", swap))


def pt2_aoti(tmp: Path) -> Path:
    """An AOTInductor member: compiled code the loader opens."""
    clean = clean_pt2(tmp / "clean.pt2")
    return rewrite_zip(clean, tmp / "evil_aoti.pt2", lambda t, d: d, extra={"data/aotinductor/model/model.so": b"\x7fELF"})


def pt2_zip_bomb(tmp: Path, megabytes: int = 64) -> Path:
    """A member that inflates ~1000-fold (zeros, deflated)."""
    clean = clean_pt2(tmp / "clean.pt2")
    return rewrite_zip(clean, tmp / "bomb.pt2", lambda t, d: d, extra={"extra/zeros.bin": bytes(megabytes << 20)},
                       compress={"extra/zeros.bin": zipfile.ZIP_DEFLATED})


def pt2_view_bomb(tmp: Path) -> Path:
    """A weight whose stored sizes declare 2**40 elements over a 4-element record (zero strides)."""
    clean = clean_pt2(tmp / "clean.pt2")

    def grow(cfg: dict) -> None:
        meta = cfg["config"]["idx"]["tensor_meta"]
        meta["sizes"] = [{"as_int": 2**20}, {"as_int": 2**20}]
        meta["strides"] = [{"as_int": 0}, {"as_int": 0}]

    return rewrite_zip(clean, tmp / "view_bomb.pt2", _json_edit("data/weights/model_weights_config.json", grow))


def torchscript_setstate(tmp: Path, marker: Path) -> Path:
    """A TorchScript module whose __setstate__ calls torch.from_file(marker, True, 8): creates the file."""
    from typing import Tuple

    class Evil(torch.nn.Module):
        def __init__(self, path: str) -> None:
            super().__init__()
            self.path = path
            self.w = torch.nn.Parameter(torch.ones(2))

        @torch.jit.export
        def __getstate__(self) -> Tuple[str, bool, torch.Tensor]:
            return (self.path, self.training, self.w)

        @torch.jit.export
        def __setstate__(self, state: Tuple[str, bool, torch.Tensor]) -> None:
            self.path = state[0]
            self.w = state[2]
            written = torch.from_file(self.path, True, 8)
            self.training = state[1] and written.numel() == 8

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x * self.w

    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        path = tmp / "evil.pt"
        torch.jit.save(torch.jit.script(Evil(str(marker))), str(path))
    return path


def checkpoint_zero_stride(tmp: Path) -> Path:
    """1.5 KB on disk, 2**40 int64 elements declared: a zero-stride view of one stored value."""
    base = torch.zeros(1, dtype=torch.int64)
    path = tmp / "zero_stride.pt"
    torch.save({"w": base.as_strided((2**20, 2**20), (0, 0))}, str(path))
    return path


def npz_pickle(tmp: Path, marker: Path) -> Path:
    """An .npz whose array is a pickled object array."""
    import numpy as np

    path = tmp / "evil.npz"
    buf = io.BytesIO()
    np.save(buf, np.array([_Payload(marker)], dtype=object), allow_pickle=True)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("x.npy", buf.getvalue())
    return path


def npz_bomb(tmp: Path) -> Path:
    """An .npz whose header declares 2**40 elements."""
    import numpy as np

    path = tmp / "bomb.npz"
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f4", "fortran_order": False, "shape": (2**20, 2**20)})
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("x.npy", buf.getvalue() + bytes(16))
    return path
