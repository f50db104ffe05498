"""The manifest beside every engine (``model.engine.json``): what was built, from what, with what.

``check-env`` compares a manifest with the current environment: engines are tied to the TensorRT
library variant and its major.minor version, and to the GPU's compute capability.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from trtready.environment import environment, package_versions
from trtready.errors import BadInputError
from trtready.load import sha256_file
from trtready.load.files import MAX_JSON_BYTES, read_regular
from trtready.outputs import write_json
from trtready.version import __version__

MANIFEST_VERSION = "1.0"


def manifest_path(engine: Path) -> Path:
    return engine.with_name(engine.name + ".json")


def gpu_compute_capability() -> str | None:
    """Compute capability of the first GPU via nvidia-smi (None without a driver)."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, "--query-gpu=compute_cap", "--format=csv,noheader"], capture_output=True,
                             text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    line = out.stdout.strip().splitlines()[0].strip() if out.returncode == 0 and out.stdout.strip() else ""
    return line or None


def write_manifest(engine: Path, final: Path, model: Path, data_files: list[Path], target: Any, trt: Any, view: Any,
                   profiles: list[Any], findings: list[Any], builder: dict[str, Any]) -> Path:
    """Write ``ENGINE.json`` beside ``engine``; paths are recorded relative to ``final``'s folder when
    they lie inside it (the engine and its model move together), else absolute."""
    import os

    def where(p: Path) -> str:
        rel = os.path.relpath(os.path.abspath(p), os.path.abspath(final.parent))
        return os.path.abspath(p) if rel.startswith("..") else rel

    model_where = model.name if Path(model).parent.resolve() == Path(engine).parent.resolve() else where(model)
    data = {
        "manifest_version": MANIFEST_VERSION,
        "tool_version": __version__,
        "target": {"name": target.name, "why": target.why},
        "library": {"name": trt.__name__, "version": trt.__version__},
        "builder": builder,
        "profiles": {p.name: p.to_json() for p in profiles},
        "io": {"inputs": view.inputs, "outputs": view.outputs},
        "network": view.to_json(),
        "model": {"path": model_where, "sha256": sha256_file(model),
                  "data_files": [{"path": f.name if f.parent == Path(model).parent else where(f), "sha256": sha256_file(f)}
                                 for f in data_files]},
        "engine": {"path": final.name, "sha256": sha256_file(engine), "bytes": engine.stat().st_size},
        "gpu": {"compute_capability": gpu_compute_capability()},
        "findings": [f.to_json() for f in findings],
        "environment": environment(),
    }
    path = manifest_path(engine)
    write_json(data, path)
    return path


def read_manifest(path: Path) -> dict[str, Any]:
    """A manifest, read as bounded data: a regular file of at most 64 MiB, JSON nested no deeper than
    Python can parse; anything else is one clear error."""
    raw = read_regular(path, MAX_JSON_BYTES, "manifest", missing="no such manifest")
    try:
        data = json.loads(raw.decode("utf-8"))
    except RecursionError:
        raise BadInputError(f"{path}: not a trtready manifest (JSON nested too deeply)") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BadInputError(f"{path}: not a trtready manifest ({type(e).__name__})") from e
    if not isinstance(data, dict) or "library" not in data or "manifest_version" not in data:
        raise BadInputError(f"{path}: not a trtready manifest (no library/manifest_version)")
    lib = data.get("library")
    if not (isinstance(lib, dict) and isinstance(lib.get("name"), str) and isinstance(lib.get("version"), str)):
        raise BadInputError(f"{path}: malformed manifest: 'library' needs a name and a version")
    for key in ("gpu", "environment", "engine", "network", "io"):
        if key in data and not isinstance(data[key], dict):
            raise BadInputError(f"{path}: malformed manifest: {key!r} is not an object")
    packages = (data.get("environment") or {}).get("packages", {})
    if not isinstance(packages, dict) or not all(isinstance(k, str) and (v is None or isinstance(v, str))
                                                  for k, v in packages.items()):
        raise BadInputError(f"{path}: malformed manifest: environment.packages must map names to versions")
    cc = (data.get("gpu") or {}).get("compute_capability")
    if cc is not None and not isinstance(cc, str):
        raise BadInputError(f"{path}: malformed manifest: gpu.compute_capability is not a string")
    return data


def _major_minor(v: str | None) -> str | None:
    return ".".join(v.split(".")[:2]) if v else None


def compare_environment(manifest: dict[str, Any]) -> tuple[list[str], list[str], list[str]]:
    """(breaking differences, other differences, what could not be compared) between a manifest and this machine."""
    import importlib.metadata

    breaking: list[str] = []
    other: list[str] = []
    lib = manifest["library"]["name"]
    want = manifest["library"]["version"]
    dist = {"tensorrt_rtx": "tensorrt-rtx", "tensorrt": "tensorrt"}.get(lib, lib)
    try:
        have = importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        have = None
    if have is None:
        breaking.append(f"{lib}: built with {want}, not installed here")
    elif _major_minor(have) != _major_minor(want):
        breaking.append(f"{lib}: built with {want}, installed {have} (engines need the same major.minor)")
    elif have != want:
        other.append(f"{lib}: built with {want}, installed {have} (same major.minor)")
    unknown: list[str] = []
    built_cc = (manifest.get("gpu") or {}).get("compute_capability")
    here_cc = gpu_compute_capability()
    if built_cc and here_cc and built_cc != here_cc:
        breaking.append(f"GPU compute capability: built for {built_cc}, this GPU is {here_cc}")
    elif not (built_cc and here_cc):
        missing = " and ".join(w for w, cc in (("the build machine", built_cc), ("this machine", here_cc)) if not cc)
        unknown.append(f"GPU compute capability: not compared (no GPU seen on {missing}); an engine runs only "
                       "on the compute capability it was built for")
    recorded = (manifest.get("environment") or {}).get("packages", {})
    current = package_versions()
    for name, version in sorted(recorded.items()):
        if name in ("tensorrt", "tensorrt-rtx", "trtready"):
            continue
        if current.get(name) != version:
            other.append(f"{name}: {version} at build, {current.get(name)} here")
    return breaking, other, unknown
