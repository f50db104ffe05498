"""``--json PATH|-``: the report as one more output of the run (checked with the others, before work)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from trtready.outputs import Kind, Output, OutputSession, dumps, write_json


def report_outputs(json_path: str | None) -> list[Output]:
    """The report's :class:`Output`, to check and lock with the verb's own outputs; none for stdout."""
    return [] if json_path in (None, "-") else [Output(Path(json_path), Kind.REPORT)]


def emit_json(data: dict[str, Any], json_path: str | None, session: OutputSession) -> None:
    if json_path is None:
        return
    if json_path == "-":
        click.echo(dumps(data))
        return
    path = Path(json_path)
    write_json(data, session.stage(path))
    session.commit(path)
