"""``trtready check-config MANIFEST config.pbtxt``: does a Triton config state the engine's bindings?"""

from __future__ import annotations

from pathlib import Path

import click

from trtready.cli.run import run_verb
from trtready.report.terminal import safe_text


@click.command(name="check-config")
@click.argument("manifest", type=click.Path(path_type=Path))
@click.argument("config", type=click.Path(path_type=Path))
@click.option("--debug", is_flag=True, default=False, help="Show tracebacks on errors.")
def check_config(manifest: Path, config: Path, debug: bool) -> None:
    """One line per mismatch between CONFIG and the engine of MANIFEST (data type, name, rank, dims
    against the profile, max batch size). Exit 0 when consistent, 1 on any mismatch, 2 on bad input."""
    def body() -> int:
        from trtready.api import check_config as run

        result = run(manifest, config)
        for line in result.mismatches:
            click.echo(f"MISMATCH {safe_text(line)}")
        if result.mismatches:
            click.echo(f"NOT CONSISTENT: {safe_text(config.name)} disagrees with {safe_text(manifest.name)} in "
                       f"{len(result.mismatches)} place(s)")
            return 1
        click.echo(f"CONSISTENT: {safe_text(config.name)} states the bindings of {safe_text(manifest.name)}")
        return 0

    run_verb(debug, body, models=[str(manifest), str(config)], reads=[manifest, config])
