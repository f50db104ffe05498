"""``trtready convert MODEL -o DIR``: the whole pipeline in one run, with progress."""

from __future__ import annotations

from pathlib import Path

import click

from trtready.cli.deploy_out import render_deploy, triton_options
from trtready.cli.html_out import emit_html, html_option, html_outputs
from trtready.cli.json_out import emit_json, report_outputs
from trtready.cli.options import (
    bounds_options,
    exporter_option,
    model_options,
    output_options,
    parse_names,
    plan_options,
    target_option,
    verify_options,
)
from trtready.cli.run import json_file, run_verb, usage_error
from trtready.cli.sarif_out import emit_sarif, sarif_option, sarif_outputs
from trtready.deploy import made_repo
from trtready.limits import parse_limits
from trtready.outputs import Kind, Output, session
from trtready.report.json_report import convert_report_json
from trtready.report.terminal import console, render_convert


@click.command()
@click.argument("model")
@click.option("-o", "--output", "out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Output folder: model.pt2/model.onnx, model.engine + manifest, report.json, report.html.")
@target_option
@bounds_options
@plan_options
@click.option("--input-names", default=None, metavar="a,b")
@click.option("--output-names", default=None, metavar="x,y")
@click.option("--profile", multiple=True, metavar="'NAME:MIN,OPT,MAX'", help="Optimization profile (see build).")
@click.option("--frontend", type=click.Choice(["onnx", "torch-trt-dynamo"]), default="onnx", show_default=True,
              help="onnx: ONNX → TensorRT engine; torch-trt-dynamo: compile the narrowed program with Torch-TensorRT.")
@click.option("--baseline", is_flag=True, default=False,
              help="Also translate the unmodified model once, to show the network before → after.")
@click.option("--no-build", is_flag=True, default=False, help="Stop after verification.")
@click.option("--triton", "triton", type=click.Path(file_okay=False, path_type=Path), default=None,
              metavar="REPO", help="Also write the engine's Triton model, REPO/<DIR's name>/ (see deploy).")
@triton_options
@click.option("--no-verify", is_flag=True, default=False, help="Skip verification (not recommended).")
@verify_options
@exporter_option
@click.option("--force", is_flag=True, default=False, help="Replace an output folder trtready wrote.")
@model_options
@output_options
@html_option
@sarif_option
def convert(model: str, out: Path, target: str | None, dynamic: tuple[str, ...], input_range: tuple[str, ...],
            io: str, strict: bool, allow_underflow: bool, input_names: str | None, output_names: str | None, profile: tuple[str, ...], frontend: str,
            baseline: bool, no_build: bool, triton: Path | None, max_batch: int | None,
            instances: int | None, no_verify: bool, inputs_npz: str | None, trials: int,
            rtol: tuple[str, ...], atol: tuple[str, ...], exporter: str, force: bool, trust_code: bool,
            limit: tuple[str, ...],
            json_path: str | None, quiet: bool, debug: bool, html_path: Path | None, sarif_path: Path | None) -> None:
    """load → audit → plan → narrow → export → verify → build → inspect → report.

    Exit 0 when verified and built, 1 on a verification mismatch, 2 when refused or rejected.
    The output folder appears only when everything succeeded; an older one trtready wrote is
    replaced (with --force) only then.
    """
    if triton is None and (max_batch is not None or instances is not None):
        usage_error("--max-batch and --instances shape the Triton model: give --triton REPO too")

    def body() -> int:
        from trtready.api import prepare_convert, run_convert

        loaded, request = prepare_convert(
            model, out, target=target, dynamic=dynamic, input_range=input_range,
            input_names=parse_names(input_names), output_names=parse_names(output_names), profile=profile,
            frontend=frontend, io_int32=io == "int32", strict=strict, allow_underflow=allow_underflow,
            baseline=baseline, build=not no_build, verify=not no_verify, inputs=inputs_npz, trials=trials, rtol=rtol,
            atol=atol, exporter=exporter, force=force, trust_code=trust_code, limits=parse_limits(limit),
            triton=triton, max_batch=max_batch, instances=instances)
        serve = request.triton
        inputs = loaded.input_paths + ([Path(inputs_npz)] if inputs_npz else [])
        folders = [Output(out, Kind.FOLDER)] + ([Output(serve.folder, Kind.FOLDER)] if serve is not None else [])
        with session(folders + report_outputs(json_path) + html_outputs(html_path) + sarif_outputs(sarif_path), inputs, force) as s:
            request.fix.session = s  # the folders and the reports checked and locked together
            con = console(stderr=json_path == "-")
            result = run_convert(loaded, request, console=None if quiet else con)
            render_convert(result, con, quiet=quiet)
            if result.deploy is not None:
                render_deploy(result.deploy, quiet, err=json_path == "-")
            data = convert_report_json(result)
            emit_json(data, json_path, s)
            emit_html(data, html_path, s)
            emit_sarif(data, sarif_path, s)
        return 0 if result else 1

    model_folder = triton / out.name if triton is not None else None  # the Triton model convert stages
    writes: list[str | Path | None] = [out, model_folder, *json_file(json_path), html_path, sarif_path]
    with made_repo(triton):  # the jailed child writes into it; a failed run leaves no empty folder
        run_verb(debug, body, models=[model, inputs_npz], reads=[model, inputs_npz], writes=writes, force=force,
                 trust_code=trust_code)
