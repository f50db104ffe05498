"""``trtready deploy MANIFEST --triton REPO``: the engine's bindings carried to a Triton model repository."""

from __future__ import annotations

from pathlib import Path

import click

from trtready.cli.deploy_out import render_deploy, triton_options
from trtready.cli.run import run_verb
from trtready.deploy import made_repo
from trtready.deploy.triton import check_name, default_name
from trtready.errors import TrtReadyError


@click.command()
@click.argument("manifest", type=click.Path(path_type=Path))
@click.option("--triton", "triton", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Triton model repository: writes REPO/NAME/config.pbtxt and REPO/NAME/1/model.plan.")
@triton_options
@click.option("--name", default=None, help="Model name (default: the engine's stem; for model.engine, its folder).")
@click.option("--force", is_flag=True, default=False, help="Replace a REPO/NAME folder trtready wrote.")
@click.option("--quiet", is_flag=True, default=False, help="Print only the verdict line.")
@click.option("--debug", is_flag=True, default=False, help="Show tracebacks on errors.")
def deploy(manifest: Path, triton: Path, max_batch: int | None, instances: int | None, name: str | None, force: bool,
           quiet: bool, debug: bool) -> None:
    """Write a Triton model for the engine MANIFEST describes: names, data types, dims and batching
    from its bindings and optimization profile.

    Exit 0 when written, 2 on a bad manifest, an engine that is not the manifest's, or options
    the bindings cannot serve.
    """
    def body() -> int:
        from trtready.api import deploy as run

        render_deploy(run(manifest, triton, name=name, max_batch=max_batch, instances=instances, force=force), quiet)
        return 0

    with made_repo(triton):  # the jailed child writes into it; a failed run leaves no empty folder
        folder = _folder(manifest, triton, name)
        run_verb(debug, body, models=[str(manifest)], reads=[manifest], writes=[folder] if folder else [],
                 force=force)


def _folder(manifest: Path, repo: Path, name: str | None) -> Path | None:
    """``REPO/NAME`` as the parent process must know it before a jailed run (None: the child says why)."""
    try:
        if name is None:  # the engine's name only: the manifest as bounded JSON data, the engine unread
            from trtready.engine.manifest import read_manifest

            engine = (read_manifest(manifest).get("engine") or {}).get("path")
            if not isinstance(engine, str):
                return None
            name = default_name(manifest.parent / engine)
        return repo / check_name(name)
    except TrtReadyError:
        return None
