"""``trtready inspect FILE [--diff OTHER]``: the TensorRT network view of an ONNX model or an engine."""

from __future__ import annotations

from pathlib import Path

import click

from trtready.cli.json_out import emit_json, report_outputs
from trtready.cli.options import output_options
from trtready.cli.run import json_file, run_verb
from trtready.outputs import session
from trtready.report.terminal import console, render_views
from trtready.version import __version__


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
    def body() -> int:
        from trtready.api import inspect_reads, run_inspect

        files = [file] + ([other] if other else [])
        with session(report_outputs(json_path), inspect_reads(files)) as s:
            views = run_inspect(files, library)
            con = console(stderr=json_path == "-")
            render_views(views, con, labels=[str(f) for f in files])
            data = {"schema_version": "1.0", "tool_version": __version__, "verb": "inspect",
                    "views": [{"file": str(p), **v[1].to_json(), "source": v[0]} for p, v in zip(files, views)]}
            emit_json(data, json_path, s)
        return 0

    run_verb(debug, body, models=[str(file), str(other or "")], reads=[file, other], writes=json_file(json_path))
