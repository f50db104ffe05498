"""``trtready audit MODEL``: list every 64-bit tensor and what the target does with it."""

from __future__ import annotations

import click

from trtready.cli.options import (
    bounds_options,
    model_options,
    output_options,
    target_option,
)


@click.command()
@click.argument("model")
@target_option
@bounds_options
@model_options
@output_options
def audit(
    model: str,
    target: str | None,
    dynamic: tuple[str, ...],
    input_range: tuple[str, ...],
    trust_code: bool,
    json_path: str | None,
    quiet: bool,
    debug: bool,
) -> None:
    """Audit MODEL (.onnx, .pt2, TorchScript, checkpoint, .safetensors or package.module:factory).

    Exit 0 when the model is ready for the target, 1 when it is not, 2 on bad input.
    """
    from trtready.cli.main import run_verb

    def body() -> int:
        import trtready
        from trtready.report.json_report import (
            audit_report_json,
            dumps,
            write_json_atomic,
        )
        from trtready.report.terminal import console, render_audit

        report = trtready.audit(
            model, target=target, dynamic=list(dynamic), input_range=list(input_range), trust_code=trust_code
        )
        con = console(stderr=json_path == "-")
        if quiet:
            con.print(report.verdict(), overflow="fold")
        else:
            render_audit(report, con)
        if json_path is not None:
            data = audit_report_json(report)
            if json_path == "-":
                click.echo(dumps(data))
            else:
                write_json_atomic(data, json_path)
        return 0 if report.ready else 1

    run_verb(debug, body)
