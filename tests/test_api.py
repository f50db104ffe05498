"""The Python API offers every verb the CLI has, with the same options as keyword arguments."""

from __future__ import annotations

import inspect as pyinspect
from pathlib import Path

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
