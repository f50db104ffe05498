"""The zoo: ``trtready convert`` on real architectures, called the way their users call them.

Each zoo model (``tests/zoo/models.py``) goes through ``python -m trtready convert tests.zoo.models:NAME``
in a fresh interpreter, and must end in one of two ways:

- exit 0 with verification passed, the ONNX file written by the expected export path (the plain dynamo
  exporter, or for the models ``tests/zoo/expectations.py`` lists in ``EXPORTER``, the path that gets past
  the plain exporter's failure); or
- for a model that no export path gets past (the same step fails without trtready — measured by
  ``bench/zoo.py``, listed in docs/zoo.md), a failure that names that library's reason, never a trtready
  internal error; then ``fix`` of the ONNX file the older exporter writes (``torch.onnx.export(...,
  dynamo=False)``, weights in a ``.data`` sidecar, run from another folder) is exercised instead.

A model that fails today because of a trtready bug carries ``xfail(strict=True)`` with the reason and
where in trtready it lies (``tests/zoo/expectations.py``): the mark turns red the day the model passes, so
it is removed with the fix.

Time: ``make test`` takes the fast set below (one model per family and the exporter fallback, ≈ 1 min
on 2 cores); the full tier (``TRTREADY_TIER=full``, CI) runs all of them (≈ 11 min). Measured figures:
docs/zoo.md.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conftest import ROOT, CliResult, run_cli
from tests.tiers import FULL_TIER
from tests.zoo.expectations import (DEFAULT_LEFT, EXPORTER, INT32_ASSUMED_MASK, INT32_LEFT, INT32_XFAIL,
                                    LEGACY_XFAIL, MORE_CASTS, SPEC_PINNED, UPSTREAM, XFAIL)
from tests.zoo.models import BATCH, SAMPLES, SEQ, ZOO, call, spec

FULL = FULL_TIER

#: The default set (``make test``): one model per family, the exporter fallback (T5's encoder) and a
#: decoder; the full tier (TRTREADY_TIER=full, CI) runs every model.
FAST = {"bert", "llama", "t5_encoder", "whisper_encoder", "resnet"}
#: Text model whose --io int32 run the default set checks: one built from a config outside the first zoo.
FAST_INT32 = {"clip_text"}
TEXT = [n for n, (_, family, _) in ZOO.items()  # take input_ids
        if family not in ("vision", "audio") and n != "whisper_encoder"]


def _params(names: list[str], marks: dict[str, str]) -> list[object]:
    out = []
    for name in names:
        m = []
        if name in marks:
            m.append(pytest.mark.xfail(strict=True, reason=marks[name]))
        if not FULL and name not in FAST:
            m.append(pytest.mark.skip(reason="full tier only (TRTREADY_TIER=full): the whole zoo"))
        out.append(pytest.param(name, marks=m, id=name))
    return out


def _cli(*args: str, cwd: Path = ROOT) -> CliResult:
    # cwd is the repository root, where ``tests.zoo.models`` is importable under ``python -m``.
    return run_cli(*args, cwd=cwd)


def _report(path: Path) -> dict[str, object]:
    assert path.is_file(), "no JSON report written"
    return json.loads(path.read_text())


def _why(res: CliResult) -> str:
    lines = [ln for ln in res.stderr.splitlines() if ln.startswith("trtready:")]
    return (lines[0] if lines else res.stderr[-2000:]) + "\n" + res.stdout[-3000:]


# --- the factories themselves (cheap: no export) -----------------------------------------------------

def test_zoo_covers_the_families() -> None:
    families = {family for _, family, _ in ZOO.values()}
    assert len(ZOO) >= 30
    assert families == {"encoder", "decoder", "encoder-decoder", "audio", "vision"}


@pytest.mark.parametrize("name", list(ZOO))
def test_factory_calls_the_model_as_users_do(name: str) -> None:
    """Keyword inputs, right-padded masks, bounds by forward's parameter names, eval mode, runs eagerly."""
    import inspect

    import torch

    s = spec(name)
    assert s.args == () and s.kwargs, "keyword inputs only, as model(**batch)"
    assert not s.module.training
    params = inspect.signature(s.module.forward).parameters
    bounded = {d.partition(":")[0] for d in s.dynamic or []}
    assert bounded == set(s.kwargs) and bounded <= set(params)
    mask = s.kwargs.get("attention_mask")
    if mask is not None:
        length = SAMPLES if ZOO[name][1] == "audio" else SEQ  # tokens, or waveform samples
        assert mask.shape == (BATCH, length)
        kept = mask.sum(dim=1)
        assert bool((kept >= 1).all()) and bool((kept < length).any()), "at least one kept position, some padding"
        for row, n in zip(mask, kept.tolist()):  # right padding: ones then zeros
            assert torch.equal(row, torch.cat([torch.ones(n), torch.zeros(length - n)]).to(row.dtype))
        if "input_values" in s.kwargs:  # a padded waveform is silence past each clip's end
            assert bool((s.kwargs["input_values"][mask == 0] == 0).all())
    out = call(s)
    leaves = [v for v in (out.values() if isinstance(out, dict) else [out]) if isinstance(v, torch.Tensor)]
    assert leaves and all(torch.isfinite(v).all() and v.abs().max() > 1e-3 for v in leaves), \
        "outputs vanish: a comparison of zeros proves nothing"


# --- convert, per model -------------------------------------------------------------------------------

def _never_more(data: dict[str, object], name: str) -> None:
    """Cast layers and INT64 shape tensors: never more after than before (docs/narrowing.md, Effect),
    but for the exceptions ``MORE_CASTS`` names with their reason."""
    build = data["build"]
    assert isinstance(build, dict)
    before, after = build["network_before"], build["network"]
    if before is None:  # the unmodified export does not build (EfficientNet's pooling): nothing to compare with
        return
    for key in ("cast_layers", "int64_shape_tensors"):
        more = MORE_CASTS.get(name, (0, ""))[0] if key == "cast_layers" else 0
        assert after[key] <= before[key] + more, f"{key}: {before[key]} -> {after[key]}"


def _left(data: dict[str, object]) -> tuple[list[str], set[str]]:
    """(INT64 execution tensors of the converted network, its bindings' names)."""
    build = data["build"]
    assert isinstance(build, dict)
    network = build["network"]
    return list(network["int64_execution_names"]), {t["name"] for t in network["inputs"] + network["outputs"]}


@pytest.mark.parametrize("name", _params(list(ZOO), XFAIL))
def test_convert(name: str, tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    res = _cli("convert", f"tests.zoo.models:{name}", "-o", str(tmp_path / "out"), "--target", "trt-rtx",
               "--baseline", "--json", str(report))
    up = UPSTREAM.get(name)
    if up is None:
        assert res.code == 0, _why(res)
        data = _report(report)
        assert data["verification"] and data["verification"]["passed"]
        assert data["verdict"]["ready"] and data["verdict"]["of"] == "output"
        assert (tmp_path / "out" / "model.engine").is_file()
        # the path that wrote the file is the expected one, and the terminal says it
        path, plain_failure = EXPORTER.get(name, ("dynamo", ""))
        export = data["export"]
        assert export["exporter"] == path, export
        assert all(plain_failure in f["reason"] for f in export["failed"]), export
        if path != "dynamo":
            assert "exported with torch.onnx" in " ".join(res.stdout.split()), _why(res)
        _never_more(data, name)
        if name in TEXT:  # default mode: what is left is the kept bindings, and what docs/narrowing.md explains
            left, bindings = _left(data)
            extra = [t for t in left if t not in bindings]
            assert len(extra) <= DEFAULT_LEFT.get(name, (0, ""))[0], (extra, DEFAULT_LEFT.get(name))
        return
    # A documented upstream failure: refused with the library's own reason, not as trtready's bug.
    assert res.code == 2, _why(res)
    assert up.reason in res.stderr, _why(res)
    assert "internal error" not in res.stderr, _why(res)
    assert not (tmp_path / "out").exists()


def _int32_marks(name: str) -> list[pytest.MarkDecorator]:
    if not FULL and name not in FAST_INT32:
        return [pytest.mark.skip(reason="full tier only (TRTREADY_TIER=full): the whole zoo")]
    if name in INT32_XFAIL:
        return [pytest.mark.xfail(strict=True, reason=INT32_XFAIL[name])]
    return []


@pytest.mark.parametrize("name", [pytest.param(n, marks=_int32_marks(n), id=n) for n in TEXT if n not in UPSTREAM])
def test_convert_io_int32_without_hints(name: str, tmp_path: Path) -> None:
    """``--io int32`` alone: every integer binding proved (or assumed of valid inputs, and said), outputs
    verified, at most the INT64 execution tensors docs/narrowing.md explains, never more Cast layers."""
    report = tmp_path / "report.json"
    args = ["convert", f"tests.zoo.models:{name}", "-o", str(tmp_path / "out"), "--target", "trt-rtx",
            "--io", "int32", "--baseline", "--json", str(report)]
    if name in INT32_ASSUMED_MASK:  # --strict: refused without the range, naming the tensor and the way to state it
        stated, _ = INT32_ASSUMED_MASK[name]
        tensor = stated.partition(":")[0]
        refused = _cli(*args, "--strict")
        assert refused.code == 2, _why(refused)
        assert f"tensor {tensor}" in refused.stderr and "--input-range" in refused.stderr, _why(refused)
        assert not (tmp_path / "out").exists() and not report.exists()
        strict = _cli("convert", f"tests.zoo.models:{name}", "-o", str(tmp_path / "strict"), "--target", "trt-rtx",
                      "--io", "int32", "--json", str(tmp_path / "strict.json"), "--strict", "--input-range", stated)
        assert strict.code == 0 and not _report(tmp_path / "strict.json")["assumptions"], _why(strict)
    res = _cli(*args)
    assert res.code == 0, _why(res)
    data = _report(report)
    assert data["verification"]["passed"] and data["verdict"]["ready"]
    left, _ = _left(data)
    cap = INT32_LEFT.get(name, (0, ""))[0]
    assert len(left) <= cap and (cap <= 2 or name in SPEC_PINNED), (left, INT32_LEFT.get(name))
    _never_more(data, name)
    if name == "clip_text":  # the range comes from the tables: stated as an assumption
        assert any("valid inputs index inside the tables" in a for a in data["assumptions"])
        assert "assumes" in res.stdout
    if name in INT32_ASSUMED_MASK:  # the 0/1 mask is an assumption too, and said
        tensor = INT32_ASSUMED_MASK[name][0].partition(":")[0]
        assert any(f"{tensor} assumed in [0, 1]" in a for a in data["assumptions"]), data["assumptions"]
        assert "assumes" in res.stdout


@pytest.mark.parametrize("name, factory", [("beit", "beit"), ("mixtral", "mixtral")])
def test_trt8_audit_without_false_clamps(name: str, factory: str, tmp_path: Path) -> None:
    """BEiT's relative-position index (meshgrid/stack, in-place writes) and a mixture-of-experts router's
    TopK and sort indices are proved in the PyTorch graph: no '?', no clamp predicted on trt8."""
    report = tmp_path / "r.json"
    res = _cli("audit", f"tests.zoo.models:{factory}", "--target", "trt8", "--json", str(report))
    data = _report(report)
    clamps = [f["tensor"] for f in data["findings"] if f["predictions"]["trt8"]["outcome"] == "clamp"]
    assert clamps == [] and res.code == 0, (clamps, _why(res))
    assert data["verdict"]["ready"]


@pytest.mark.parametrize("name", _params(sorted(n for n, (path, _) in EXPORTER.items() if "contiguous" in path),
                                         LEGACY_XFAIL))
def test_fix_of_the_older_exporter_file(name: str, tmp_path: Path) -> None:
    """Where the plain dynamo export fails: ``fix`` of the ``dynamo=False`` file users write instead, weights
    in a sidecar.

    The file is written as torch.onnx writes large models (``model.onnx`` + ``model.onnx.data``) into
    its own folder, and ``fix`` runs from another folder: the sidecar must be found beside the model.
    """
    from tests.zoo.upstream import export_legacy

    s = spec(name)
    src = tmp_path / "exported"
    src.mkdir()
    onnx_path = export_legacy(s, src / "model.onnx", external_data=True)
    assert (src / "model.onnx.data").is_file()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    report = tmp_path / "fix.json"
    args = ["fix", str(onnx_path), "-o", str(tmp_path / "fixed.onnx"), "--target", "trt-rtx", "--json", str(report)]
    for d in s.dynamic or []:
        args += ["--dynamic", d]
    res = _cli(*args, cwd=elsewhere)
    assert res.code == 0, _why(res)
    data = _report(report)
    assert data["verification"] and data["verification"]["passed"]
    assert (tmp_path / "fixed.onnx").is_file()


# --- how the zoo is named on the command line ---------------------------------------------------------

def _without_root(path: str) -> str:
    keep = [p for p in path.split(os.pathsep) if p and Path(p).resolve() != ROOT]
    return os.pathsep.join(keep)


def test_spec_in_the_current_folder_under_python_m() -> None:
    """``python -m trtready audit tests.zoo.models:bert`` from the repository root: -m puts the folder first."""
    env = {"PYTHONPATH": _without_root(os.environ.get("PYTHONPATH", ""))}
    res = run_cli("audit", "tests.zoo.models:bert", "--target", "trt-rtx", "--quiet", cwd=ROOT, env=env)
    assert res.code == 0, _why(res)
