"""``trtready convert MODEL -o DIR``: the whole pipeline in one run, with progress."""

from __future__ import annotations

from pathlib import Path

import click

from trtready.cli.export_cmd import _names
from trtready.cli.options import (
    bounds_options,
    model_options,
    output_options,
    target_option,
)


@click.command()
@click.argument("model")
@click.option("-o", "--output", "out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Output folder: model.pt2/model.onnx, model.engine + manifest, report.json.")
@target_option
@bounds_options
@click.option("--input-names", default=None, metavar="a,b")
@click.option("--output-names", default=None, metavar="x,y")
@click.option("--profile", multiple=True, metavar="'NAME:MIN,OPT,MAX'", help="Optimization profile (see build).")
@click.option("--frontend", type=click.Choice(["onnx", "torch-trt-dynamo"]), default="onnx", show_default=True,
              help="onnx: ONNX → TensorRT engine; torch-trt-dynamo: compile the narrowed program with Torch-TensorRT.")
@click.option("--baseline", is_flag=True, default=False,
              help="Also translate the unmodified model once, to show the network before → after.")
@click.option("--no-build", is_flag=True, default=False, help="Stop after verification.")
@click.option("--force", is_flag=True, default=False, help="Replace an existing output folder.")
@model_options
@output_options
def convert(model: str, out: Path, target: str | None, dynamic: tuple[str, ...], input_range: tuple[str, ...],
            input_names: str | None, output_names: str | None, profile: tuple[str, ...], frontend: str,
            baseline: bool, no_build: bool, force: bool, trust_code: bool, json_path: str | None, quiet: bool,
            debug: bool) -> None:
    """load → audit → plan → narrow → export → verify → build → inspect → report.

    Exit 0 when verified and built, 1 on a verification mismatch, 2 when refused or rejected.
    """
    from trtready.cli.main import run_verb

    def body() -> int:
        import shutil

        from trtready.bounds import parse_dynamic, parse_input_ranges
        from trtready.engine.profiles import parse_profiles
        from trtready.errors import UsageError
        from trtready.fix import FixRequest
        from trtready.load import ModelKind, load_model
        from trtready.pipeline import convert as run
        from trtready.plan import PlanOptions
        from trtready.report.terminal import console, render_convert
        from trtready.targets import resolve_target

        resolved = resolve_target(target or ("torch-trt-dynamo" if frontend == "torch-trt-dynamo" else None))
        if frontend == "onnx" and resolved.profile.library == "torch_tensorrt":
            raise UsageError(f"--target {resolved.name} compiles with Torch-TensorRT: add --frontend torch-trt-dynamo")
        loaded = load_model(model, trust_code=trust_code)
        if out.exists():
            if not force:
                raise UsageError(f"{out}: already exists (use --force to replace it)")
            shutil.rmtree(out) if out.is_dir() else out.unlink()
        onnx_in = loaded.kind is ModelKind.ONNX
        if onnx_in:
            out.mkdir(parents=True)
        req = FixRequest(
            out / "model.onnx" if onnx_in else out, resolved, PlanOptions(),
            parse_dynamic(list(dynamic) + loaded.dynamic), parse_input_ranges(list(input_range) + loaded.input_ranges),
            input_names=_names(input_names), output_names=_names(output_names),
        )
        con = console(stderr=json_path == "-")
        try:
            result = run(loaded, req, build=not no_build, baseline=baseline, frontend=frontend,
                         profiles=parse_profiles(profile), console=None if quiet else con)
        except BaseException:
            if onnx_in:
                shutil.rmtree(out, ignore_errors=True)
            raise
        render_convert(result, con, quiet=quiet)
        if json_path is not None:
            from trtready.report.json_report import (
                convert_report_json,
                dumps,
                write_json_atomic,
            )

            data = convert_report_json(result)
            click.echo(dumps(data)) if json_path == "-" else write_json_atomic(data, json_path)
        return 0 if result else 1

    run_verb(debug, body)
