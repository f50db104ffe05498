"""The Python API offers every verb the CLI has, with the same options as keyword arguments."""

from __future__ import annotations

import dataclasses
import inspect as pyinspect
import json
from pathlib import Path
from typing import Any

import pytest

import trtready

VERBS = ["audit", "fix", "verify", "export", "build", "inspect", "check_env", "convert", "deploy", "check_config", "batch"]


def test_every_cli_verb_is_a_function_with_the_clis_options() -> None:
    from trtready.cli.main import cli

    for verb in VERBS:
        fn = getattr(trtready, verb)
        assert callable(fn) and fn.__doc__, verb
        params = set(pyinspect.signature(fn).parameters)
        command = cli.commands[verb.replace("_", "-")]
        cli_only = {"json_path", "html_path", "sarif_path", "quiet", "debug", "limit", "inputs_npz", "no_verify", "no_build", "io", "fmt", "other",
                    "out_dir", "manifest", "file", "model", "reference", "candidate"}
        wanted = {p.name for p in command.params} - cli_only
        assert wanted <= params | {"out"}, (verb, sorted(wanted - params))


def test_api_pipeline_on_a_demo_model(tmp_path: Path) -> None:
    onnx_path = tmp_path / "t.onnx"
    exported = trtready.export("trtready.demo:token_model", onnx_path)
    assert exported.written == [onnx_path] and exported.input_names == ["input_ids"]
    assert trtready.verify("trtready.demo:token_model", str(onnx_path), trials=2)
    built = trtready.build(onnx_path, tmp_path / "t.engine", target="trt-rtx")
    views = trtready.inspect(onnx_path, diff=built.engine)
    assert len(views) == 2 and views[0].layers == views[1].layers
    breaking, _, not_compared = trtready.check_env(built.manifest)
    assert breaking == [] and any("GPU" in line for line in not_compared)
    converted = trtready.convert("trtready.demo:token_model", tmp_path / "conv", target="trt-rtx", build=False)
    assert converted and (tmp_path / "conv" / "model.onnx").exists() and converted.build is None


# --- the CLI over the API: one request builder per verb (trtready/api.py) --------------------------


class _Stop(Exception):
    """Raised by a recorded ``run_*`` in place of the pipeline: the request is all these tests need."""


def _record(monkeypatch: Any) -> dict[str, list[Any]]:
    """Replace every ``trtready.api.run_*`` by a recorder of the request it is handed; the commands
    import them from ``trtready.api`` when they run, so the CLI reaches the recorder too."""
    from trtready import api

    seen: dict[str, list[Any]] = {}
    for name in ("run_audit", "run_fix", "run_convert", "run_verify", "run_export"):
        def run(*args: Any, _name: str = name, **kwargs: Any) -> Any:
            seen.setdefault(_name, []).append(args)
            raise _Stop
        monkeypatch.setattr(api, name, run)
    return seen


def _invoke(*args: str) -> Any:
    """The command in this process (a spec runs unjailed), so it meets the recorders."""
    from click.testing import CliRunner

    from trtready.cli.main import cli

    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 2 and "_Stop" in result.output, result.output  # stopped at the recorder
    return result


SPEC = "trtready.demo:token_model"


def test_the_cli_and_the_api_hand_the_pipeline_the_same_requests(monkeypatch: Any, tmp_path: Path) -> None:
    from trtready.limits import Limits

    seen = _record(monkeypatch)
    limits = Limits(tensor_elements=2**20)  # given both ways: the bounds below are checked against it
    shared = dict(target="trt10", dynamic=["input_ids:0=batch[1:8]"], input_range=["input_ids:0..99"])
    flags = ["--target", "trt10", "--dynamic", "input_ids:0=batch[1:8]", "--input-range", "input_ids:0..99",
             "--limit", "tensor-elements=1048576"]
    plan = dict(io_int32=True, strict=True, allow_underflow=True, verify=False, trials=3, rtol=["1e-4"],
                atol=["logits:1e-3"], exporter="torchscript", force=True)
    plan_flags = ["--io", "int32", "--strict", "--allow-underflow", "--no-verify", "--trials", "3", "--rtol", "1e-4",
                  "--atol", "logits:1e-3", "--exporter", "torchscript", "--force"]

    with pytest.raises(_Stop):
        trtready.audit(SPEC, **shared, limits=limits)
    _invoke("audit", SPEC, *flags)
    (_, api_audit), (_, cli_audit) = seen["run_audit"]
    # the one difference: no --json/--html/--sarif, so the command builds no report data it would not show
    assert api_audit.flow and not cli_audit.flow
    assert api_audit == dataclasses.replace(cli_audit, flow=True)
    assert [(b.dim, b.lo, b.hi) for b in api_audit.bounds][0] == ("batch", 1, 8)
    assert api_audit.target.name == "trt10" and (api_audit.ranges["input_ids"].lo, api_audit.ranges["input_ids"].hi) == (0, 99)

    out = tmp_path / "fixed"
    with pytest.raises(_Stop):
        trtready.fix(SPEC, out, **shared, **plan, limits=limits)
    _invoke("fix", SPEC, "-o", str(out), *flags, *plan_flags)
    (_, api_fix), (_, cli_fix) = seen["run_fix"]
    assert api_fix.session is None and cli_fix.session is not None  # the command's own, with its reports
    assert dataclasses.replace(cli_fix, session=None) == api_fix
    assert api_fix.options.io_int32 and api_fix.options.strict and not api_fix.verify and api_fix.trials == 3
    assert api_fix.rtol == (1e-4, {}) and api_fix.atol[1] == {"logits": 1e-3} and api_fix.limits == limits

    folder = tmp_path / "conv"
    with pytest.raises(_Stop):
        trtready.convert(SPEC, folder, **shared, **plan, limits=limits, input_names=["ids"], profile=["ids:1x4,2x8,8x64"],
                         build=False, baseline=True)
    _invoke("convert", SPEC, "-o", str(folder), *flags, *plan_flags, "--input-names", "ids",
            "--profile", "ids:1x4,2x8,8x64", "--no-build", "--baseline")
    (_, api_conv), (_, cli_conv) = seen["run_convert"]
    cli_conv = dataclasses.replace(cli_conv, fix=dataclasses.replace(cli_conv.fix, session=None))
    assert cli_conv == api_conv
    assert not api_conv.build and api_conv.baseline and api_conv.fix.input_names == ["ids"]
    assert api_conv.profiles["ids"].opt == (2, 8)

    onnx_path = tmp_path / "t.onnx"
    with pytest.raises(_Stop):
        trtready.export(SPEC, onnx_path, dynamic=shared["dynamic"], output_names=["y"], exporter="dynamo", limits=limits)
    _invoke("export", SPEC, "-o", str(onnx_path), "--dynamic", "input_ids:0=batch[1:8]", "--output-names", "y",
            "--exporter", "dynamo", "--limit", "tensor-elements=1048576")
    (_, api_export), (_, cli_export) = seen["run_export"]
    assert api_export == cli_export and api_export.output_names == ["y"] and api_export.exporter == "dynamo"

    with pytest.raises(_Stop):
        trtready.verify(SPEC, SPEC, input_range=shared["input_range"], trials=2, atol=["2e-3"], limits=limits)
    _invoke("verify", SPEC, SPEC, "--input-range", "input_ids:0..99", "--trials", "2", "--atol", "2e-3",
            "--limit", "tensor-elements=1048576")
    (*_, api_verify), (*_, cli_verify) = seen["run_verify"]
    assert api_verify == cli_verify and api_verify.trials == 2 and api_verify.atol == (2e-3, {})


def _dynamic_onnx(path: Path) -> Path:
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    one = numpy_helper.from_array(np.array(1, dtype=np.int64), "one")
    g = helper.make_graph([helper.make_node("Add", ["x", "one"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.INT64, ["n"])],
                          [helper.make_tensor_value_info("y", TensorProto.INT64, ["n"])], [one])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 20)]), str(path))
    return path


def test_audit_on_the_command_line_checks_its_bounds_against_the_limits_it_was_given(tmp_path: Path) -> None:
    # a bound past the default tensor-elements limit (2**32), with that limit raised: the API always
    # accepted it; the command once checked its bounds against the default limits and refused
    from tests.conftest import run_cli
    from trtready.limits import Limits
    from trtready.report.json_report import audit_report_json

    model = _dynamic_onnx(tmp_path / "m.onnx")
    bound = "x:0=n[1:5000000000]"
    report = trtready.audit(str(model), dynamic=[bound], limits=Limits(tensor_elements=2**33))
    r = run_cli("audit", str(model), "--dynamic", bound, "--limit", f"tensor-elements={2**33}", "--json", "-")
    assert r.code == (0 if report.ready else 1), r.stderr
    got, want = json.loads(r.stdout), json.loads(json.dumps(audit_report_json(report)))
    for data in (got, want):
        data.pop("environment")  # how each ran (jailed child or this process), not what it found
    assert got == want
    refused = run_cli("audit", str(model), "--dynamic", bound)  # the default limit still holds
    assert refused.code == 2 and "exceeds the tensor-elements limit 4294967296" in refused.stderr


# --- the bounds a file carries: merged into the request once, where the request is built ----------------


def test_the_bounds_a_file_carries_complete_every_verbs_request(tmp_path: Path) -> None:
    """A .pt2's ``Dim(min, max)`` and the bounds an earlier run recorded in an ONNX file fill the axes
    ``--dynamic`` leaves open, in the request of every verb that takes bounds; an axis the user bounds
    keeps the user's bound."""
    import onnx_ir as ir
    import torch

    from trtready import api
    from trtready.bounds import parse_dynamic, record_bounds
    from trtready.load import load_model

    class Scale(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x * 2

    pt2 = tmp_path / "scale.pt2"
    dims = {"x": {0: torch.export.Dim("b", min=1, max=8), 1: torch.export.Dim("f", min=2, max=16)}}
    torch.export.save(torch.export.export(Scale(), (torch.randn(2, 4),), dynamic_shapes=dims), str(pt2))
    onnx_path = tmp_path / "recorded.onnx"
    model = ir.from_onnx_text("""
    <ir_version: 10, opset_import: ["" : 20]>
    g (float[N, F] x) => (float[N, F] y) { y = Relu(x) }
    """)
    record_bounds(model, parse_dynamic(["x:0=N[1:8],1=F[2:16]"]))
    ir.save(model, onnx_path)

    def spans(bounds: list[Any]) -> list[tuple[str, int, int, int]]:
        return sorted((b.input, b.axis, b.lo, b.hi) for b in bounds)

    for path in (pt2, onnx_path):
        loaded = load_model(str(path))
        assert spans(loaded.recorded_bounds()) == [("x", 0, 1, 8), ("x", 1, 2, 16)]
        user = ["x:0=b[2:4]"]
        requests = [api.prepare_audit(str(path), target="trt-rtx", dynamic=user)[1].bounds,
                    api.prepare_fix(str(path), tmp_path / "f", target="trt-rtx", dynamic=user)[1].bounds,
                    api.prepare_convert(str(path), tmp_path / "c", target="trt-rtx", dynamic=user)[1].fix.bounds,
                    api.prepare_export(str(path), tmp_path / "e.onnx", dynamic=user)[1].bounds]
        for bounds in requests:
            assert spans(bounds) == [("x", 0, 2, 4), ("x", 1, 2, 16)], path.name
