"""What ``deploy`` and ``convert --triton`` share on the command line: the Triton options and the result's lines."""

from __future__ import annotations

from typing import Any

import click

from trtready.report.terminal import safe_text


def triton_options(fn: Any) -> Any:
    """``--max-batch`` and ``--instances``, shared by ``deploy`` and ``convert --triton``."""
    fn = click.option("--instances", type=int, default=None, metavar="N",
                      help="Triton instances of the model per GPU (instance_group; default: Triton's).")(fn)
    return click.option("--max-batch", type=int, default=None, metavar="N",
                        help="Let Triton batch requests up to N along the first dim (needs a dynamic first dim in "
                             "every binding and a profile covering 1..N; default: no Triton batching).")(fn)


def render_deploy(result: Any, quiet: bool, err: bool = False) -> None:
    """The bindings the config states, notes, and one verdict line (on stderr when stdout carries JSON)."""
    from functools import partial

    echo = partial(click.echo, err=err)

    if not quiet:
        for b in result.contract.bindings:
            echo(f"  {b.kind:6} {safe_text(b.name)}: {b.dtype} {list(b.shape)}")
        for note in result.notes:
            echo(f"  note: {safe_text(note)}")
    batching = (f"Triton batching up to {result.max_batch_size}" if result.max_batch_size
                else "no Triton batching (max_batch_size 0)")
    echo(f"DEPLOYED {safe_text(str(result.folder))}: config.pbtxt, 1/model.plan, run_engine.py; {batching}")
