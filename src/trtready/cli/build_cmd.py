"""``trtready build MODEL.onnx -o model.engine``: a real TensorRT / TensorRT-RTX engine + manifest."""

from __future__ import annotations

from pathlib import Path

import click

from trtready.cli.options import output_options


@click.command()
@click.argument("model", type=click.Path(path_type=Path))
@click.option("-o", "--output", "out", type=click.Path(path_type=Path), required=True, help="The engine file.")
@click.option("--target", type=click.Choice(["trt-rtx", "trt10", "trt8"]), default=None,
              help="Library to build with (default: the TensorRT installed).")
@click.option("--profile", multiple=True, metavar="'NAME:MIN,OPT,MAX'",
              help="Optimization profile of one input, shapes like 1x8 (default: the bounds recorded in the ONNX).")
@click.option("--force", is_flag=True, default=False, help="Overwrite an existing engine.")
@output_options
def build(model: Path, out: Path, target: str | None, profile: tuple[str, ...], force: bool,
          json_path: str | None, quiet: bool, debug: bool) -> None:
    """Build an engine from MODEL.onnx and write OUT plus OUT.json (the manifest).

    Exit 0 when built, 2 when the parser/builder rejects the model or the library is missing.
    """
    from trtready.cli.main import run_verb

    def body() -> int:
        from trtready.engine.engine import build_engine
        from trtready.engine.profiles import parse_profiles
        from trtready.errors import BadInputError
        from trtready.load.detect import ModelKind, detect
        from trtready.outputs import check_output
        from trtready.report.terminal import console, render_build
        from trtready.targets import resolve_target

        if detect(str(model)) is not ModelKind.ONNX:
            raise BadInputError(f"{model}: build takes an ONNX model (export or fix one first)")
        check_output(out, [model], force)
        result = build_engine(model, out, resolve_target(target), parse_profiles(profile))
        con = console(stderr=json_path == "-")
        render_build(result, con, quiet=quiet)
        if json_path is not None:
            import json

            from trtready.report.json_report import dumps, write_json_atomic

            data = json.loads(result.manifest.read_text())
            click.echo(dumps(data)) if json_path == "-" else write_json_atomic(data, json_path)
        return 0

    run_verb(debug, body)
