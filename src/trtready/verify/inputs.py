"""Seeded verification inputs, generated from each input's role in the graph (never its name).

Dynamic dimensions are drawn at the example ("opt") size, the minimum and the maximum of their
bounds, always, then at random sizes between; index inputs cover ``[0, N)`` and include the edge
rows 0 and N-1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from trtready.bounds import DimBound
from trtready.errors import BadInputError, UsageError
from trtready.intervals import Interval
from trtready.intervals.roles import InputRole
from trtready.lazy import np
from trtready.limits import DEFAULT_LIMITS, Limits
from trtready.load.archive import check_elements, check_npz
from trtready.load.files import check_regular

if TYPE_CHECKING:
    import onnx_ir as ir

    from trtready.analysis import FxAnalysis
    from trtready.load.capture import CallLayout

UNKNOWN_INT_HIGH = 10  # an integer input with no bounding use: small non-negative values


@dataclass
class InputSpec:
    name: str
    dtype: np.dtype
    dims: list[int | str]  # static sizes or dim names
    role: InputRole
    example: tuple[int, ...] | None = None  # the example input's shape, when one exists
    values: Interval | None = None  # a user-stated --input-range wins over the role
    # Rows of the table the input indexes through moves only (its role, or an exact demand): the value
    # just past them is the out-of-range probe (verify/run.py).
    rows: int | None = None


def _dim_ranges(specs: list[InputSpec], bounds: list[DimBound]) -> dict[str, tuple[int, int, int, int]]:
    """Every named dim: (min, opt, max, step), opt being the example's size where it lies in the bounds."""
    by_dim = {b.dim: b for b in bounds}
    by_axis = {(b.input, b.axis): b.dim for b in bounds}
    names: dict[str, tuple[int, int, int, int]] = {}
    for s in specs:
        for axis, d in enumerate(s.dims):
            key = by_axis.get((s.name, axis)) or (d if isinstance(d, str) else None)
            if key is None:
                continue
            b = by_dim.get(key)
            example = s.example[axis] if s.example is not None and axis < len(s.example) else None
            lo, hi = (b.lo, b.hi) if b else (example or 2, example or 2)
            step = b.step if b else 1
            opt = example if example is not None and lo <= example <= hi else lo + ((hi - lo) // 2 // step) * step
            names.setdefault(key, (lo, opt, hi, step))
    return names


def dim_choices(specs: list[InputSpec], bounds: list[DimBound]) -> list[dict[str, int]]:
    """The sizes every verification covers: opt (example), min, max — deduplicated, in that order.

    All dims at their minimum, then all at their maximum, so every dynamic axis is run at both ends
    of its bounds whatever the number of trials (:func:`trial_dims` adds random sizes between).
    """
    names = _dim_ranges(specs, bounds)
    out: list[dict[str, int]] = []
    for pick in (1, 0, 2):
        choice = {k: v[pick] for k, v in names.items()}
        if choice not in out:
            out.append(choice)
    return out or [{}]


def trial_dims(specs: list[InputSpec], bounds: list[DimBound], trials: int, seed: int) -> list[dict[str, int]]:
    """The dims of each trial: :func:`dim_choices` first — all of them, even past ``trials`` — then
    sizes drawn between each dim's min and max (seeded, on its steps), one set per further trial."""
    names = _dim_ranges(specs, bounds)
    out = dim_choices(specs, bounds)
    rng = np.random.default_rng(seed + 7919)  # apart from the value streams of generate()
    while len(out) < trials:
        out.append({k: lo + int(rng.integers(0, (hi - lo) // step + 1)) * step for k, (lo, _, hi, step) in names.items()})
    return out


def _shape(s: InputSpec, dims: dict[str, int], bounds: list[DimBound]) -> tuple[int, ...]:
    by_axis = {(b.input, b.axis): b.dim for b in bounds}
    shape = []
    for axis, d in enumerate(s.dims):
        key = by_axis.get((s.name, axis)) or (d if isinstance(d, str) else None)
        shape.append(dims.get(key, d if isinstance(d, int) else 2) if key else int(d))
    return tuple(shape)


def padded_mask(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """A 0/1 mask as tokenizers pad a batch: each row keeps a prefix of at least one position.

    The first row is full and (with two rows or more) the second keeps one position, so both
    extremes are verified; the other rows keep a random length.
    """
    if not shape or shape[-1] == 0:
        return np.ones(shape, dtype=np.int64)
    seq = shape[-1]
    rows = int(np.prod(shape[:-1])) if len(shape) > 1 else 1
    lengths = rng.integers(1, seq + 1, rows)
    if len(shape) > 1:
        lengths[0] = seq
        if rows > 1:
            lengths[1] = 1
    return (np.arange(seq)[None, :] < lengths[:, None]).astype(np.int64).reshape(shape)


def is_text(dtype: np.dtype) -> bool:
    """ONNX STRING tensors come as numpy object (or unicode/bytes) arrays."""
    return dtype.kind in "OUS"


def check_ranges(specs: list[InputSpec]) -> None:
    """Each ``--input-range`` fits its input's dtype: an int32 input cannot take 0..9999999999 (the
    generated values would wrap), a float or string input takes no integer range."""
    for s in specs:
        if s.values is None or s.dtype.kind not in "iub":
            continue
        info = np.iinfo(s.dtype) if s.dtype.kind in "iu" else None
        lo, hi = int(s.values.lo), int(s.values.hi)
        top, bottom = (1, 0) if info is None else (int(info.max), int(info.min))
        if lo < bottom or hi > top:
            raise UsageError(f"--input-range {s.name}:{lo}..{hi}: input {s.name!r} is {s.dtype} and holds only "
                             f"[{bottom}, {top}]")


def check_feeds(specs: list[InputSpec], feeds: dict[str, np.ndarray]) -> None:
    """Given inputs (``--inputs``) match what each input takes: strings for string inputs only, numbers
    an input's dtype holds exactly (no silent wrap or truncation), never raw records."""
    for s in specs:
        if s.name not in feeds:
            continue
        a = np.asarray(feeds[s.name])
        what = f"--inputs: {s.name!r} holds {a.dtype} values"
        if a.dtype.kind == "V" or (a.dtype.kind == "O" and not is_text(s.dtype)):
            raise BadInputError(f"{what}; the model's input is {s.dtype}")
        if is_text(s.dtype) != is_text(a.dtype):
            raise BadInputError(f"{what}, but the model's input is {'a string tensor' if is_text(s.dtype) else s.dtype}")
        if is_text(s.dtype) or not a.size:
            continue
        if a.dtype.kind == "c" and s.dtype.kind != "c":
            raise BadInputError(f"{what}; the model's input {s.dtype} cannot take complex values")
        if s.dtype.kind in "iub":
            if a.dtype.kind == "f" and not bool(np.all(np.isfinite(a)) and np.all(a == np.round(a))):
                raise BadInputError(f"{what} that are not whole numbers; the model's input is {s.dtype}")
            top, bottom = (1, 0) if s.dtype.kind == "b" else (int(np.iinfo(s.dtype).max), int(np.iinfo(s.dtype).min))
            lo, hi = a.min(), a.max()
            if (a.dtype.kind == "f" and (float(lo) < bottom or float(hi) > top)) or (
                    a.dtype.kind in "iub" and (int(lo) < bottom or int(hi) > top)):
                raise BadInputError(f"{what} in [{lo}, {hi}]; the model's input is {s.dtype} and holds only "
                                    f"[{bottom}, {top}]")


def generate(specs: list[InputSpec], dims: dict[str, int], bounds: list[DimBound], seed: int,
             limits: Limits = DEFAULT_LIMITS) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    feeds: dict[str, np.ndarray] = {}
    for s in specs:
        shape = _shape(s, dims, bounds)
        check_elements(f"verification input {s.name!r}", shape, limits)
        if s.dtype == np.bool_:
            arr = padded_mask(rng, shape) if s.role.kind == "mask" else rng.integers(0, 2, shape)
            arr = arr.astype(np.bool_)
        elif is_text(s.dtype):  # ONNX STRING: short decimal strings, as numbers read from text would be
            arr = rng.integers(0, UNKNOWN_INT_HIGH, shape).astype(str).astype(object)
        elif s.dtype.kind in "iu":
            if s.values is not None:
                lo, hi = int(s.values.lo), int(s.values.hi)
                arr = rng.integers(lo, hi, shape, endpoint=True)
                flat = arr.reshape(-1)
                if flat.size:
                    flat[0], flat[-1] = lo, hi  # the edges of the stated range
            elif s.role.kind == "index" and s.role.size:
                arr = rng.integers(0, s.role.size, shape)
                flat = arr.reshape(-1)
                if flat.size:
                    flat[0], flat[-1] = 0, s.role.size - 1  # the edge rows
            elif s.role.kind == "mask":
                arr = padded_mask(rng, shape)
            else:
                arr = rng.integers(0, UNKNOWN_INT_HIGH, shape)
            arr = arr.astype(s.dtype)
        else:
            arr = rng.standard_normal(shape).astype(s.dtype)
        feeds[s.name] = arr
    return feeds


def valid_part(iv: Interval) -> Interval:
    """The part of a demanded range generated inputs use: its non-negative part when it has one (ids as
    tokenizers make them; a negative index wraps in ONNX but is an error in PyTorch)."""
    return Interval(max(0, int(iv.lo)), int(iv.hi)) if iv.hi >= 0 else iv


def _within(values: Interval, demand: Interval) -> Interval:
    lo, hi = max(values.lo, demand.lo), min(values.hi, demand.hi)
    return Interval(lo, hi) if lo <= hi else valid_part(demand)


def onnx_input_specs(
    model: ir.Model, roles: dict[str, InputRole], ranges: dict[str, Interval] | None = None,
    demands: dict[str, Any] | None = None,
) -> list[InputSpec]:
    """Inputs of an onnx-ir model (initializers that double as inputs are skipped).

    An input without a role but with an exact demanded range (only moves between it and a table) is
    drawn inside the table, as an index input is.
    """
    out = []
    for v in model.graph.inputs:
        if v.name in model.graph.initializers:
            continue
        name = str(v.name)  # the checker passed: every graph input is named
        dims: list[int | str] = [d if isinstance(d, int) else (d.value or f"{name}_{i}") for i, d in enumerate(v.shape or [])]
        dtype = np.dtype(v.dtype.numpy()) if v.dtype is not None else np.dtype(np.float32)
        role = roles.get(name, InputRole("unknown"))
        values = (ranges or {}).get(name)
        demand = (demands or {}).get(name)
        if values is None and role.kind == "unknown" and demand is not None and demand.exact:
            values = valid_part(demand.interval)
        elif values is None and role.kind == "unknown" and demand is not None and dtype.kind in "iu":
            values = _within(Interval(0, UNKNOWN_INT_HIGH - 1), demand.interval)
        out.append(InputSpec(name, dtype, dims, role, values=values, rows=_rows(role, demand)))
    return out


def _rows(role: InputRole, demand: Any) -> int | None:
    if role.kind == "index" and role.size:
        return role.size
    if demand is not None and demand.exact and demand.interval.hi >= 0:
        return int(demand.interval.hi) + 1
    return None


def load_npz(path: str, limits: Limits = DEFAULT_LIMITS) -> dict[str, np.ndarray]:
    """Verification inputs from an ``.npz``: headers checked first (no pickles, bounded shapes)."""
    import zipfile
    from pathlib import Path

    p = Path(path)
    check_regular(p)  # a FIFO or a device would block or never end
    if not zipfile.is_zipfile(p):
        raise BadInputError(f"{path}: not an .npz archive")
    check_npz(p, limits)
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise BadInputError(f"{path}: cannot read inputs (.npz without pickles expected): {e}") from e


def torch_input_specs(layout: CallLayout, fx: FxAnalysis, ranges: dict[str, Interval] | None = None) -> list[InputSpec]:
    """One spec per tensor input of a program (keyword inputs included), in the program's order.

    An integer input whose use bounds nothing is drawn within the values of its example, never wider:
    the model was made for inputs like it (a hand-picked id range, a type id), not for arbitrary ints.
    """
    import torch

    roles = fx.roles
    placeholders = {n.name: n for n in fx.program.graph.nodes if n.op == "placeholder"}
    specs = []
    for name, example in layout.tensors:
        if not isinstance(example, torch.Tensor):
            raise BadInputError(f"verification needs tensor inputs; {name} is a {type(example).__name__}")
        val = placeholders[name].meta.get("val")
        dims = [d if isinstance(d, int) else str(d) for d in val.shape]
        role = roles.get(name, InputRole("unknown"))
        values = (ranges or {}).get(name)
        demand = getattr(fx, "demands", {}).get(name)
        if values is None and role.kind == "unknown" and demand is not None and demand.exact:
            values = valid_part(demand.interval)  # every value in it indexes inside the table
        if values is None and role.kind == "unknown" and not example.is_floating_point() and example.numel():
            if example.dtype != torch.bool:
                values = Interval(int(example.min()), int(example.max()))
                if demand is not None:  # never outside what valid inputs demand
                    values = _within(values, demand.interval)
        specs.append(InputSpec(name, np.dtype(str(example.dtype).removeprefix("torch.")), dims, role,
                               tuple(example.shape), values=values, rows=_rows(role, demand)))
    return specs
