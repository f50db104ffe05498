"""Entry point: the ``trtready`` group and the error → exit-code mapping (docs/cli.md "Exit codes")."""

from __future__ import annotations

import sys
from typing import Any

import click

from trtready.cli import (
    audit_cmd,
    batch_cmd,
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
from trtready.cli.run import ARGV, shown, usage_error
from trtready.cli.run import json_file as _json_file  # noqa: F401  the name commands used to import from here
from trtready.cli.run import run_verb  # noqa: F401  re-exported: ``main.run_verb`` stays a valid name
from trtready.version import __version__


class _Group(click.Group):
    """The ``trtready`` group: click's own usage errors (unknown option, missing argument, bad choice)
    end as the same one line as every other error, ``trtready: error: …`` with exit 2; ``--help``
    and ``--version`` print as click prints them. It remembers the arguments it parses: a jailed
    child runs exactly these again."""

    def main(self, args: Any = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        ARGV[:] = argv
        for arg in argv:
            if "\x00" in str(arg):  # no path or option can hold one (and os.stat would raise ValueError)
                usage_error(f"argument {shown(arg)} holds a NUL byte")
        try:
            rv = super().main(args=argv, prog_name=prog_name, complete_var=complete_var, standalone_mode=False,
                              **extra)
        except click.exceptions.NoArgsIsHelpError as e:  # bare ``trtready``: the help, as click shows it
            e.show()
            sys.exit(e.exit_code)
        except click.UsageError as e:
            where = f" (see '{e.ctx.command_path} --help')" if e.ctx is not None else ""
            usage_error(e.format_message() + where)
        except click.ClickException as e:
            usage_error(e.format_message(), e.exit_code)
        except click.Abort:  # Ctrl-C while click itself was running (before a verb's body)
            click.echo("trtready: interrupted; no partial output left", err=True)
            sys.exit(130)
        if not standalone_mode:
            return rv
        sys.exit(rv if isinstance(rv, int) else 0)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="trtready")
def cli() -> None:
    """Make PyTorch and ONNX models TensorRT-ready: audit 64-bit tensors, predict each target."""


def _register() -> None:
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
    cli.add_command(batch_cmd.batch)


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
