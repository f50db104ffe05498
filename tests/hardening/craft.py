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
