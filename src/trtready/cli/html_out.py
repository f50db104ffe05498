"""``--html PATH``: the HTML report as one more output of the run, rendered from the report.json dict."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from trtready.outputs import Kind, Output, OutputSession, write_bytes
from trtready.report.html import render_html

html_option = click.option(
    "--html", "html_path", type=click.Path(dir_okay=False, path_type=Path), default=None, metavar="PATH",
    help="Write the HTML report: one self-contained file (findings, dtype-flow picture), from the JSON report's data.")


def html_outputs(html_path: Path | None) -> list[Output]:
    """The HTML report's :class:`Output`, checked and locked with the verb's own outputs."""
    return [] if html_path is None else [Output(html_path, Kind.REPORT)]


def emit_html(data: dict[str, Any], html_path: Path | None, session: OutputSession) -> None:
    if html_path is None:
        return
    write_bytes(render_html(data).encode("utf-8"), session.stage(html_path))
    session.commit(html_path)
