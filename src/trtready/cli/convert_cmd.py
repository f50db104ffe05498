"""``trtready convert MODEL -o DIR``: the whole pipeline in one run, with progress."""

from __future__ import annotations

from pathlib import Path

import click

from trtready.cli.deploy_out import render_deploy, triton_options
from trtready.cli.html_out import html_option
from trtready.cli.sarif_out import sarif_option
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
    serve = None
    if triton is not None:
        from trtready.deploy import TritonRequest

        serve = TritonRequest(triton, out.name, max_batch, instances)
    elif max_batch is not None or instances is not None:
        usage_error("--max-batch and --instances shape the Triton model: give --triton REPO too")

    def body() -> int:
        from trtready.bounds import parse_dynamic, parse_input_ranges
        from trtready.cli.html_out import emit_html, html_outputs
        from trtready.cli.sarif_out import emit_sarif, sarif_outputs
        from trtready.cli.json_out import emit_json, report_outputs
        from trtready.engine.profiles import parse_profiles
        from trtready.errors import UsageError
        from trtready.fix import FixRequest
        from trtready.limits import parse_limits
        from trtready.load import load_model
        from trtready.outputs import Kind, Output, session
        from trtready.pipeline import convert as run
        from trtready.plan import PlanOptions
        from trtready.report.json_report import convert_report_json
        from trtready.report.terminal import console, render_convert
        from trtready.targets import resolve_target
        from trtready.verify.compare import DEFAULT_ATOL, DEFAULT_RTOL, parse_tolerances
        from trtready.verify.inputs import load_npz

        resolved = resolve_target(target or ("torch-trt-dynamo" if frontend == "torch-trt-dynamo" else None))
        if frontend == "onnx" and resolved.profile.library == "torch_tensorrt":
            raise UsageError(f"--target {resolved.name} compiles with Torch-TensorRT: add --frontend torch-trt-dynamo")
        limits = parse_limits(limit)
        loaded = load_model(model, trust_code=trust_code, limits=limits)
        inputs = loaded.input_paths + ([Path(inputs_npz)] if inputs_npz else [])
        if serve is not None:
            from trtready.deploy.triton import check_name

            check_name(serve.name)
        folders = [Output(out, Kind.FOLDER)] + ([Output(serve.folder, Kind.FOLDER)] if serve is not None else [])
        with session(folders + report_outputs(json_path) + html_outputs(html_path) + sarif_outputs(sarif_path), inputs, force) as s:
            req = FixRequest(
                out, resolved, PlanOptions(strict=strict, io_int32=io == "int32", allow_underflow=allow_underflow),
                parse_dynamic(list(dynamic) + loaded.dynamic, limits),
                parse_input_ranges(list(input_range) + loaded.input_ranges),
                verify=not no_verify, trials=trials, force=force,
                rtol=parse_tolerances(rtol, DEFAULT_RTOL), atol=parse_tolerances(atol, DEFAULT_ATOL),
                feeds=load_npz(inputs_npz, limits) if inputs_npz else None,
                input_names=parse_names(input_names), output_names=parse_names(output_names), limits=limits, session=s,
                exporter=exporter,
            )
            con = console(stderr=json_path == "-")
            result = run(loaded, req, build=not no_build, baseline=baseline, frontend=frontend,
                         profiles=parse_profiles(profile), console=None if quiet else con, triton=serve)
            render_convert(result, con, quiet=quiet)
            if result.deploy is not None:
                render_deploy(result.deploy, quiet, err=json_path == "-")
            data = convert_report_json(result)
            emit_json(data, json_path, s)
            emit_html(data, html_path, s)
            emit_sarif(data, sarif_path, s)
        return 0 if result else 1

    from trtready.deploy import made_repo

    writes: list[str | Path | None] = [out, *([serve.folder] if serve else []), *json_file(json_path), html_path, sarif_path]
    with made_repo(triton):  # the jailed child writes into it; a failed run leaves no empty folder
        run_verb(debug, body, models=[model, inputs_npz], reads=[model, inputs_npz], writes=writes, force=force,
                 trust_code=trust_code)
