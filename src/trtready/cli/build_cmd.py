"""``trtready build MODEL.onnx -o model.engine``: a real TensorRT / TensorRT-RTX engine + manifest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from trtready.cli.json_out import emit_json, report_outputs
from trtready.cli.options import output_options
from trtready.cli.run import json_file, run_verb
from trtready.engine.manifest import manifest_path
from trtready.limits import parse_limits
from trtready.outputs import Kind, Output, session
from trtready.report.terminal import console, render_build


@click.command()
@click.argument("model", type=click.Path(path_type=Path))
@click.option("-o", "--output", "out", type=click.Path(path_type=Path), required=True, help="The engine file.")
@click.option("--target", type=click.Choice(["trt-rtx", "trt11", "trt10", "trt8"]), default=None,
              help="Library to build with (default: the TensorRT installed).")
@click.option("--profile", multiple=True, metavar="'NAME:MIN,OPT,MAX'",
              help="Optimization profile of one input, shapes like 1x8 (default: the bounds recorded in the ONNX).")
@click.option("--force", is_flag=True, default=False, help="Replace an engine (and manifest) trtready wrote.")
@click.option("--limit", "limit", multiple=True, metavar="KEY=VALUE", help="Raise a resource limit (see audit).")
@output_options
def build(model: Path, out: Path, target: str | None, profile: tuple[str, ...], force: bool,
          limit: tuple[str, ...], json_path: str | None, quiet: bool, debug: bool) -> None:
    """Build an engine from MODEL.onnx and write OUT plus OUT.json (the manifest).

    Exit 0 when built, 2 when the parser/builder rejects the model or the library is missing.
    """
    def body() -> int:
        import json

        from trtready.api import prepare_build, run_build

        request = prepare_build(model, out, target=target, profile=profile, force=force, limits=parse_limits(limit))
        manifest: dict[str, Any] = {}

        def read_manifest(staged: Path) -> None:  # read before the commit moves it
            manifest.update(json.loads(manifest_path(staged).read_text()))

        with session([Output(out, Kind.ENGINE)] + report_outputs(json_path), [model, *request.data_files], force) as s:
            result = run_build(request, session=s, staged=read_manifest)
            con = console(stderr=json_path == "-")
            render_build(result, con, quiet=quiet)
            emit_json({**manifest, "verb": "build"}, json_path, s)
        return 0

    run_verb(debug, body, models=[str(model)], reads=[model], writes=[out, *json_file(json_path)], force=force)
