"""``--sarif PATH``: the SARIF 2.1.0 log as one more output of the run, rendered from the report.json dict."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from trtready.outputs import Kind, Output, OutputSession, write_json
from trtready.report.sarif import render_sarif

sarif_option = click.option(
    "--sarif", "sarif_path", type=click.Path(dir_okay=False, path_type=Path), default=None, metavar="PATH",
    help="Write the findings as a SARIF 2.1.0 log (code scanning), one result per finding under its rule id.")


def sarif_outputs(sarif_path: Path | None) -> list[Output]:
    """The SARIF log's :class:`Output`, checked and locked with the verb's own outputs."""
    return [] if sarif_path is None else [Output(sarif_path, Kind.REPORT)]


def emit_sarif(data: dict[str, Any], sarif_path: Path | None, session: OutputSession) -> None:
    if sarif_path is None:
        return
    write_json(render_sarif(data), session.stage(sarif_path))
    session.commit(sarif_path)
