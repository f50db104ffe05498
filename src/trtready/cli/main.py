"""Entry point: the ``trtready`` group and the error → exit-code mapping (docs/cli.md "Exit codes")."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import click

from trtready import __version__


_ARGV: list[str] = []  # the arguments main() was given: a jailed child runs exactly these again


def _json_file(json_path: str | None) -> list[str]:
    return [] if json_path is None or json_path == "-" else [json_path]


def run_verb(debug: bool, body: Callable[[], int], *, models: Sequence[str | Path | None] = (),
             reads: Sequence[str | Path | None] = (), writes: Sequence[str | Path | None] = (),
             force: bool = False, trust_code: bool = False) -> None:
    """Run a verb body; map the project's errors to exit 2 with one line on stderr.

    A verb given model files (``models``) without ``--trust-code`` runs in a jailed child process
    (``trtready.jail``) that may read ``reads`` and stage ``writes``; this process only commits what
    it wrote.
    """
    from trtready.errors import TrtReadyError, root_cause

    try:
        from trtready import jail

        if jail.wanted([str(m) for m in models if m], trust_code):
            body = partial(jail.run, list(_ARGV), [Path(str(p)) for p in reads if p],
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
    except Exception as e:  # every failure ends as one line unless --debug
        if debug:
            raise
        from trtready.report.terminal import safe_text

        cause = root_cause(e)
        if isinstance(cause, TrtReadyError):
            click.echo(f"trtready: error: {safe_text(cause)}", err=True)
            sys.exit(cause.exit_code)
        if isinstance(cause, MemoryError):
            click.echo("trtready: error: out of memory (the model or its inputs are too large for this machine; "
                       "see --limit)", err=True)
            sys.exit(2)
        text = str(e).strip().splitlines()[0] if str(e).strip() else ""
        click.echo(f"trtready: internal error: {type(e).__name__}: {safe_text(text)} "
                   "(rerun with --debug for details)", err=True)
        sys.exit(2)
    sys.exit(code)


class _Group(click.Group):
    """The ``trtready`` group: remembers the arguments it parses (a jailed child runs them again)."""

    def main(self, args: Sequence[str] | None = None, *a: Any, **kw: Any) -> Any:
        _ARGV[:] = list(args) if args is not None else sys.argv[1:]
        return super().main(args, *a, **kw)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="trtready")
def cli() -> None:
    """Make PyTorch and ONNX models TensorRT-ready: audit 64-bit tensors, predict each target."""


def _register() -> None:
    from trtready.cli import (
        audit_cmd,
        build_cmd,
        check_env_cmd,
        convert_cmd,
        demo_cmd,
        export_cmd,
        fix_cmd,
        inspect_cmd,
        verify_cmd,
    )

    cli.add_command(audit_cmd.audit)
    cli.add_command(fix_cmd.fix)
    cli.add_command(verify_cmd.verify)
    cli.add_command(export_cmd.export)
    cli.add_command(build_cmd.build)
    cli.add_command(inspect_cmd.inspect)
    cli.add_command(check_env_cmd.check_env)
    cli.add_command(convert_cmd.convert)
    cli.add_command(demo_cmd.demo)


_register()


def _terminate(signum: int, frame: Any) -> None:
    """SIGTERM unwinds like Ctrl-C, so every writer's cleanup runs and no partial file stays."""
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> Any:
    import signal
    import warnings

    signal.signal(signal.SIGTERM, _terminate)
    if "--debug" not in (argv if argv is not None else sys.argv):
        # torch/onnx/transformers announce their own API changes; nothing a user of trtready can act on
        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", category=DeprecationWarning)
    return cli.main(args=argv, prog_name="trtready")


if __name__ == "__main__":  # pragma: no cover
    main()
