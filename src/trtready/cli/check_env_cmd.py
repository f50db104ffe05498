"""``trtready check-env MANIFEST``: does this environment match the one an engine was built in?"""

from __future__ import annotations

from pathlib import Path

import click

from trtready.cli.run import json_file, run_verb
from trtready.report.terminal import safe_text


@click.command(name="check-env")
@click.argument("manifest", type=click.Path(path_type=Path))
@click.option("--debug", is_flag=True, default=False, help="Show tracebacks on errors.")
def check_env(manifest: Path, debug: bool) -> None:
    """Exit 0 when the TensorRT library variant, its major.minor and the GPU match MANIFEST, else 1."""
    def body() -> int:
        from trtready.api import run_check_env

        found = run_check_env(manifest)
        breaking, other, unknown, lib = found.breaking, found.other, found.not_compared, found.library
        for line in breaking:
            click.echo(f"MISMATCH {safe_text(line)}")
        for line in other:
            click.echo(f"differs  {safe_text(line)}")
        for line in unknown:
            click.echo(f"unknown  {safe_text(line)}")
        if breaking:
            click.echo(f"NOT COMPATIBLE with {safe_text(manifest.name)}: {len(breaking)} breaking difference(s)")
            return 1
        partly = f"; {len(unknown)} item(s) not compared" if unknown else ""
        click.echo(f"COMPATIBLE with {safe_text(manifest.name)}: {safe_text(lib['name'])} {safe_text(lib['version'])}{partly}")
        return 0

    run_verb(debug, body, models=[str(manifest)], reads=[manifest])
