"""The engine's bindings as the manifest records them: the serving contract every deploy file states.

An engine's inputs and outputs are the network's (``io`` in ``ENGINE.json``: name, TensorRT dtype,
shape with -1 where dynamic); an input's dynamic axes have the optimization profile's min/opt/max
(``profiles``). Everything the Triton config, ``check-config`` and the runtime snippet say comes
from here, so the three cannot disagree with each other or with the engine.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trtready.engine.manifest import read_manifest
from trtready.errors import BadInputError

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Binding:
    """One engine input or output: its TensorRT dtype name (``INT64``, ``FLOAT``…), shape (-1 where
    dynamic) and, for an input with dynamic axes, the profile's min/opt/max shapes."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    is_input: bool
    min: tuple[int, ...] | None = None
    opt: tuple[int, ...] | None = None
    max: tuple[int, ...] | None = None

    @property
    def kind(self) -> str:
        return "input" if self.is_input else "output"

    @property
    def dynamic(self) -> bool:
        return any(d < 0 for d in self.shape)


@dataclass(frozen=True)
class EngineContract:
    """What a manifest says about the engine it sits beside."""

    manifest: Path
    engine: Path
    engine_sha256: str
    library: str
    library_version: str
    inputs: tuple[Binding, ...]
    outputs: tuple[Binding, ...]

    @property
    def bindings(self) -> tuple[Binding, ...]:
        return self.inputs + self.outputs


def _dims(value: object, what: str, path: Path) -> tuple[int, ...]:
    if not isinstance(value, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= -1
                                              for d in value):
        raise BadInputError(f"{path}: malformed manifest: {what} is not a list of dimensions")
    return tuple(value)


def _bindings(entries: Any, is_input: bool, profiles: dict[str, Any], path: Path) -> tuple[Binding, ...]:
    kind = "inputs" if is_input else "outputs"
    if not isinstance(entries, list):
        raise BadInputError(f"{path}: malformed manifest: io.{kind} is not a list")
    out = []
    for i, e in enumerate(entries):
        if not (isinstance(e, dict) and isinstance(e.get("name"), str) and e["name"]
                and isinstance(e.get("dtype"), str)):
            raise BadInputError(f"{path}: malformed manifest: io.{kind}[{i}] needs a name and a dtype")
        shape = _dims(e.get("shape"), f"io.{kind}[{i}].shape", path)
        lo = opt = hi = None
        prof = profiles.get(e["name"]) if is_input else None
        if prof is not None:
            if not isinstance(prof, dict):
                raise BadInputError(f"{path}: malformed manifest: profiles.{e['name']} is not an object")
            lo, opt, hi = (_dims(prof.get(k), f"profiles.{e['name']}.{k}", path) for k in ("min", "opt", "max"))
            if not len(lo) == len(opt) == len(hi) == len(shape):
                raise BadInputError(f"{path}: malformed manifest: the profile of {e['name']} has another rank "
                                    f"than its binding ({len(shape)})")
        elif is_input and any(d < 0 for d in shape):
            raise BadInputError(f"{path}: malformed manifest: input {e['name']} is dynamic but has no profile")
        out.append(Binding(e["name"], e["dtype"], shape, is_input, lo, opt, hi))
    return tuple(out)


def engine_contract(manifest_file: Path) -> EngineContract:
    """The bindings of the engine ``manifest_file`` describes, read from the manifest alone; whoever
    copies the engine (:func:`trtready.deploy.triton.write_model`) checks its sha256 as it reads it."""
    path = Path(manifest_file)
    data = read_manifest(path)
    io, engine = data.get("io"), data.get("engine")
    if not isinstance(io, dict) or not isinstance(engine, dict):
        raise BadInputError(f"{path}: malformed manifest: it records no engine bindings (io) or engine")
    name, sha = engine.get("path"), engine.get("sha256")
    if not (isinstance(name, str) and name and "/" not in name and "\x00" not in name and name not in (".", "..")
            and isinstance(sha, str) and _SHA256.match(sha)):
        raise BadInputError(f"{path}: malformed manifest: engine needs a file name beside it and a sha256")
    profiles = data.get("profiles") or {}
    if not isinstance(profiles, dict):
        raise BadInputError(f"{path}: malformed manifest: profiles is not an object")
    inputs = _bindings(io.get("inputs"), True, profiles, path)
    outputs = _bindings(io.get("outputs"), False, profiles, path)
    if not inputs or not outputs:
        raise BadInputError(f"{path}: malformed manifest: the engine records no inputs or no outputs")
    names = [b.name for b in inputs + outputs]
    if len(set(names)) != len(names):
        raise BadInputError(f"{path}: malformed manifest: a binding name appears twice")
    lib = data["library"]
    return EngineContract(path, path.parent / name, sha, lib["name"], lib["version"], inputs, outputs)
