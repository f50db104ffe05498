"""``trtready build MODEL.onnx -o model.engine``: a real TensorRT / TensorRT-RTX engine + manifest."""

from __future__ import annotations

from pathlib import Path

import click

from trtready.cli.options import output_options
from trtready.cli.run import json_file, run_verb


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

        from trtready.cli.json_out import emit_json, report_outputs
        from trtready.engine.engine import build as build_network
        from trtready.engine.engine import library_for, write_engine
        from trtready.engine.manifest import manifest_path
        from trtready.engine.profiles import parse_profiles
        from trtready.errors import BadInputError
        from trtready.limits import parse_limits
        from trtready.load.detect import ModelKind, detect
        from trtready.load.onnx_file import load_onnx
        from trtready.outputs import Kind, Output, session
        from trtready.report.terminal import console, render_build
        from trtready.targets import resolve_target

        if detect(str(model)) is not ModelKind.ONNX:
            raise BadInputError(f"{model}: build takes an ONNX model (export or fix one first)")
        resolved = resolve_target(target)
        library_for(resolved)
        _, data_files, _ = load_onnx(model, parse_limits(limit))
        engine = Output(out, Kind.ENGINE)
        with session([engine] + report_outputs(json_path), [model, *data_files], force) as s:
            built = build_network(model, resolved, parse_profiles(profile))
            staged = s.stage(out)
            result = write_engine(built, staged, out)
            manifest = json.loads(manifest_path(staged).read_text())  # read before the commit moves it
            s.commit(out)
            con = console(stderr=json_path == "-")
            render_build(result, con, quiet=quiet)
            emit_json({**manifest, "verb": "build"}, json_path, s)
        return 0

    run_verb(debug, body, models=[str(model)], reads=[model], writes=[out, *json_file(json_path)], force=force)
