"""Optimization profiles: from ``--profile`` or from the bounds ``export``/``fix`` record in the ONNX.

``--profile 'input_ids:1x8,4x64,8x128'`` gives min, opt and max shapes of one input (may repeat).
Without it, min/max come from the recorded ``--dynamic`` bounds and opt from the recorded example
shape. A profile outside the exported bounds is an error *before* building: TensorRT only warns
("kMAX values are not self-consistent"), and the engine would read out of bounds.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from trtready.bounds import EXAMPLE_KEY, DimBound
from trtready.errors import UsageError

if TYPE_CHECKING:
    import onnx_ir as ir

_SHAPE_RE = re.compile(r"^\d{1,20}(x\d{1,20})*$")
DIM_MAX = 2**31 - 1  # TensorRT's bindings and its volume arithmetic are int32 in practice


@dataclass(frozen=True)
class InputProfile:
    name: str
    min: tuple[int, ...]
    opt: tuple[int, ...]
    max: tuple[int, ...]

    def to_json(self) -> dict[str, Any]:
        return {"min": list(self.min), "opt": list(self.opt), "max": list(self.max)}


def _shape(text: str, spec: str) -> tuple[int, ...]:
    if not _SHAPE_RE.match(text.strip()):
        raise UsageError(f"--profile {spec!r}: cannot read shape {text!r}; expected e.g. 1x8")
    dims = tuple(int(d) for d in text.strip().split("x"))
    for d in dims:
        if d > DIM_MAX:
            raise UsageError(f"--profile {spec!r}: dimension {d} does not fit int32 (at most {DIM_MAX})")
    return dims


def parse_profiles(specs: list[str] | tuple[str, ...] | None) -> dict[str, InputProfile]:
    out: dict[str, InputProfile] = {}
    for spec in specs or ():
        name, sep, rest = spec.partition(":")
        parts = rest.split(",")
        if not sep or len(parts) != 3:
            raise UsageError(f"--profile {spec!r}: expected 'NAME:MINx..,OPTx..,MAXx..'")
        mn, opt, mx = (_shape(p, spec) for p in parts)
        if not (len(mn) == len(opt) == len(mx)) or any(not (a <= b <= c) for a, b, c in zip(mn, opt, mx)):
            raise UsageError(f"--profile {spec!r}: needs min <= opt <= max in every dimension")
        out[name.strip()] = InputProfile(name.strip(), mn, opt, mx)
    return out


def example_shapes(model: ir.Model) -> dict[str, list[int]]:
    raw = model.metadata_props.get(EXAMPLE_KEY)
    try:
        return {k: [int(d) for d in v] for k, v in json.loads(raw).items()} if raw else {}
    except (ValueError, TypeError, AttributeError):
        return {}


def resolve_profiles(
    network_inputs: list[tuple[str, tuple[int, ...]]],
    given: dict[str, InputProfile],
    bounds: list[DimBound],
    examples: dict[str, list[int]],
) -> list[InputProfile]:
    """One profile entry per dynamic network input; checked against the exported bounds.

    Inputs that share a dim (``input_ids`` and ``attention_mask`` both on ``seq``) must agree in
    every profile, or TensorRT rejects it ("kOPT values are not self-consistent"): a ``--profile``
    given for one of them fixes that dim for the others too.
    """
    by_axis = {(b.input, b.axis): b for b in bounds}
    shared: dict[str, tuple[int, int, int, str]] = {}
    for name, p in given.items():
        for (inp, axis), b in by_axis.items():
            if inp != name or axis >= len(p.min):
                continue
            triple = (p.min[axis], p.opt[axis], p.max[axis])
            seen = shared.setdefault(b.dim, (*triple, name))
            if seen[:3] != triple:
                raise UsageError(f"--profile {seen[3]} and {name} give dim {b.dim!r} different sizes "
                                 f"({list(seen[:3])} vs {list(triple)}); inputs sharing a dim must agree")
    out = []
    for name, shape in network_inputs:
        dynamic = [i for i, d in enumerate(shape) if d < 0]
        if name in given:
            p = given[name]
            if len(p.min) != len(shape):
                raise UsageError(f"--profile {name}: rank {len(p.min)}, but the input has rank {len(shape)}")
            for i, d in enumerate(shape):
                bound = by_axis.get((name, i))
                lo, hi = (bound.lo, bound.hi) if bound else ((d, d) if d >= 0 else (1, None))
                if p.min[i] < lo or (hi is not None and p.max[i] > hi):
                    raise UsageError(
                        f"--profile {name}: axis {i} range [{p.min[i]}, {p.max[i]}] is outside the exported "
                        f"bounds [{lo}, {hi if hi is not None else '∞'}]"
                    )
            out.append(p)
            continue
        if not dynamic:
            continue
        mn, opt, mx = list(shape), list(shape), list(shape)
        example = examples.get(name)
        for i in dynamic:
            found = by_axis.get((name, i))
            if found is None:
                given_for = f" (--profile is given for {', '.join(sorted(given))} only)" if given else ""
                raise UsageError(f"input {name} axis {i} is dynamic with no recorded bounds{given_for}: "
                                 f"give --profile for {name} too")
            b = found
            if b.dim in shared:
                mn[i], opt[i], mx[i] = shared[b.dim][:3]
                continue
            mn[i], mx[i] = b.lo, b.hi
            opt[i] = example[i] if example and b.lo <= example[i] <= b.hi else (b.lo + b.hi) // 2
        out.append(InputProfile(name, tuple(mn), tuple(opt), tuple(mx)))
    unknown = sorted(set(given) - {n for n, _ in network_inputs})
    if unknown:
        raise UsageError(f"--profile names {', '.join(unknown)}, not an input of the network")
    return out
