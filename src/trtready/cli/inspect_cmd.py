"""``trtready inspect FILE [--diff OTHER]``: the TensorRT network view of an ONNX model or an engine."""

from __future__ import annotations

from pathlib import Path

import click

from trtready.cli.options import output_options


@click.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--diff", "other", type=click.Path(path_type=Path), default=None,
              help="Another ONNX model or engine: show both side by side (before → after).")
@click.option("--library", type=click.Choice(["tensorrt_rtx", "tensorrt"]), default=None,
              help="Parser to use (default: tensorrt_rtx, else tensorrt).")
@output_options
def inspect(file: Path, other: Path | None, library: str | None, json_path: str | None, quiet: bool, debug: bool) -> None:
    """Tensors by dtype, INT64 execution vs shape tensors, Cast layers, I/O of FILE's network.

    An engine cannot be deserialized without a supported GPU; its view is read from the manifest
    that ``build`` wrote beside it (ENGINE.json).
    """
    from trtready.cli.main import run_verb

    def body() -> int:
        from trtready.engine.inspect import view_of
        from trtready.report.terminal import console, render_views

        views = [view_of(file, library)] + ([view_of(other, library)] if other else [])
        con = console(stderr=json_path == "-")
        render_views(views, con)
        if json_path is not None:
            from trtready.report.json_report import dumps, write_json_atomic

            data = {"schema_version": "1.0", "verb": "inspect", "views": [{"file": str(p), **v[1].to_json(), "source": v[0]} for p, v in zip([file, other], views)]}
            click.echo(dumps(data)) if json_path == "-" else write_json_atomic(data, json_path)
        return 0

    run_verb(debug, body)
