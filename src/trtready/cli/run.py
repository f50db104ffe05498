"""How every verb runs: the jail, and the project's errors mapped to exit codes (docs/cli.md "Exit codes").

The commands import this module and the group in ``main.py`` imports the commands, so this module
imports no command and not ``main``: the dependency runs one way.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

import click

from trtready import jail
from trtready.errors import TrtReadyError, root_cause
from trtready.report.terminal import safe_text

ARGV: list[str] = []  # the arguments the group was given: a jailed child runs exactly these again


def json_file(json_path: str | None) -> list[str]:
    return [] if json_path is None or json_path == "-" else [json_path]


def run_verb(debug: bool, body: Callable[[], int], *, models: Sequence[str | Path | None] = (),
             reads: Sequence[str | Path | None] = (), writes: Sequence[str | Path | None] = (),
             force: bool = False, trust_code: bool = False) -> None:
    """Run a verb body; map the project's errors to exit 2 with one line on stderr.

    A verb given model files (``models``) without ``--trust-code`` runs in a jailed child process
    (``trtready.jail``) that may read ``reads`` and stage ``writes``; this process only commits what
    it wrote.
    """
    try:
        if jail.wanted([str(m) for m in models if m], trust_code):
            body = partial(jail.run, list(ARGV), [Path(str(p)) for p in reads if p],
                           [Path(str(p)) for p in writes if p], force)
        code = body()
    except click.exceptions.Exit:
        raise
    except KeyboardInterrupt:
        import signal

        # Cleanup already ran while the exception unwound; a second signal must not cut the exit short.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        click.echo("trtready: interrupted; no partial output left", err=True)
        sys.exit(130)
    except Exception as e:  # every failure ends as one line; --debug adds the traceback, same exit code
        if debug:
            import traceback

            traceback.print_exc()
        cause = root_cause(e)
        if isinstance(cause, TrtReadyError):
            click.echo(f"trtready: error: {safe_text(cause)}", err=True)
            sys.exit(cause.exit_code)
        if isinstance(cause, MemoryError):
            click.echo("trtready: error: out of memory (the model or its inputs are too large for this machine; "
                       "see --limit)", err=True)
            sys.exit(2)
        text = str(e).strip().splitlines()[0] if str(e).strip() else ""
        click.echo(f"trtready: error: internal error: {type(e).__name__}: {safe_text(text)} "
                   "(rerun with --debug for details)", err=True)
        sys.exit(2)
    sys.exit(code)


def shown(text: str) -> str:
    return safe_text(repr(text))


def usage_error(message: str, code: int = 2) -> None:
    one_line = " ".join(part.strip() for part in str(message).splitlines() if part.strip())
    click.echo(f"trtready: error: {safe_text(one_line)}", err=True)
    sys.exit(code)
