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
    except Exception as e:  # every failure ends as one line; --debug adds the traceback, same exit code
        if debug:
            import traceback

            traceback.print_exc()
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
        click.echo(f"trtready: error: internal error: {type(e).__name__}: {safe_text(text)} "
                   "(rerun with --debug for details)", err=True)
        sys.exit(2)
    sys.exit(code)


class _Group(click.Group):
    """The ``trtready`` group: click's own usage errors (unknown option, missing argument, bad choice)
    end as the same one line as every other error, ``trtready: error: …`` with exit 2; ``--help``
    and ``--version`` print as click prints them. It remembers the arguments it parses: a jailed
    child runs exactly these again."""

    def main(self, args: Any = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        _ARGV[:] = argv
        for arg in argv:
            if "\x00" in str(arg):  # no path or option can hold one (and os.stat would raise ValueError)
                _usage_error(f"argument {_shown(arg)} holds a NUL byte")
        try:
            rv = super().main(args=argv, prog_name=prog_name, complete_var=complete_var, standalone_mode=False,
                              **extra)
        except click.exceptions.NoArgsIsHelpError as e:  # bare ``trtready``: the help, as click shows it
            e.show()
            sys.exit(e.exit_code)
        except click.UsageError as e:
            where = f" (see '{e.ctx.command_path} --help')" if e.ctx is not None else ""
            _usage_error(e.format_message() + where)
        except click.ClickException as e:
            _usage_error(e.format_message(), e.exit_code)
        except click.Abort:  # Ctrl-C while click itself was running (before a verb's body)
            click.echo("trtready: interrupted; no partial output left", err=True)
            sys.exit(130)
        if not standalone_mode:
            return rv
        sys.exit(rv if isinstance(rv, int) else 0)


def _shown(text: str) -> str:
    from trtready.report.terminal import safe_text

    return safe_text(repr(text))


def _usage_error(message: str, code: int = 2) -> None:
    from trtready.report.terminal import safe_text

    one_line = " ".join(part.strip() for part in str(message).splitlines() if part.strip())
    click.echo(f"trtready: error: {safe_text(one_line)}", err=True)
    sys.exit(code)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="trtready")
def cli() -> None:
    """Make PyTorch and ONNX models TensorRT-ready: audit 64-bit tensors, predict each target."""


def _register() -> None:
    from trtready.cli import (
        audit_cmd,
        build_cmd,
        check_config_cmd,
        check_env_cmd,
        convert_cmd,
        demo_cmd,
        deploy_cmd,
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
    cli.add_command(deploy_cmd.deploy)
    cli.add_command(check_config_cmd.check_config)


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
