"""``trtready export MODEL -o OUT --format onnx|pt2|torchscript``: names and bounds the user chose."""

from __future__ import annotations

from pathlib import Path

import click

from trtready.cli.json_out import emit_json, report_outputs
from trtready.cli.options import (
    dynamic_option,
    exporter_option,
    model_options,
    output_options,
    parse_names,
)
from trtready.cli.run import json_file, run_verb
from trtready.limits import parse_limits
from trtready.outputs import Kind, Output, session
from trtready.report.terminal import safe_text
from trtready.version import __version__


@click.command()
@click.argument("model")
@click.option("-o", "--output", "out", type=click.Path(path_type=Path), required=True)
@click.option("--format", "fmt", type=click.Choice(["onnx", "pt2", "torchscript"]), default="onnx", show_default=True)
@click.option("--input-names", default=None, metavar="a,b", help="Names of the ONNX graph inputs.")
@click.option("--output-names", default=None, metavar="x,y", help="Names of the ONNX graph outputs.")
@dynamic_option
@exporter_option
@click.option("--force", is_flag=True, default=False, help="Overwrite an existing output.")
@model_options
@output_options
def export(model: str, out: Path, fmt: str, input_names: str | None, output_names: str | None,
           dynamic: tuple[str, ...], exporter: str, force: bool, trust_code: bool,
           limit: tuple[str, ...], json_path: str | None, quiet: bool, debug: bool) -> None:
    """Export MODEL (a spec or .pt2) to ONNX (one torch.onnx translation), .pt2 or TorchScript.

    ONNX outputs of dict/ModelOutput results are named from their keys unless --output-names says
    otherwise; the --dynamic bounds and example shapes are recorded for `build`.
    """
    def body() -> int:
        from trtready.api import prepare_export, run_export

        loaded, request = prepare_export(model, out, format=fmt, input_names=parse_names(input_names),
                                         output_names=parse_names(output_names), dynamic=dynamic, exporter=exporter,
                                         force=force, trust_code=trust_code, limits=parse_limits(limit))
        main = Output(out, Kind.ONNX if fmt == "onnx" else Kind.FILE)
        with session([main] + report_outputs(json_path), loaded.input_paths, force) as s:
            result = run_export(loaded, request, session=s)
            if not quiet:
                click.echo(f"inputs:  {safe_text(', '.join(result.input_names))}")
                if result.output_names:
                    click.echo(f"outputs: {safe_text(', '.join(result.output_names))}")
                for note in result.notes:
                    click.echo(f"note: {note}")
            click.echo(f"EXPORTED {fmt}: {safe_text(', '.join(str(p) for p in result.written))}")
            emit_json({"schema_version": "1.0", "tool_version": _version(), "verb": "export", "format": fmt,
                       "written": [str(p) for p in result.written], "inputs": result.input_names,
                       "outputs": result.output_names, "notes": result.notes,
                       "export": result.export.to_json() if result.export is not None else None}, json_path, s)
        return 0

    run_verb(debug, body, models=[model], reads=[model], writes=[out, *json_file(json_path)], force=force,
             trust_code=trust_code)


def _version() -> str:
    return __version__
