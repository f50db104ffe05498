"""``trtready verify REFERENCE CANDIDATE``: run both on the same inputs; integers compared exactly."""

from __future__ import annotations

import click

from trtready.cli.options import (
    bounds_options,
    model_options,
    output_options,
    verify_options,
)


@click.command()
@click.argument("reference")
@click.argument("candidate")
@bounds_options
@verify_options
@model_options
@output_options
def verify(reference: str, candidate: str, dynamic: tuple[str, ...], input_range: tuple[str, ...],
           inputs_npz: str | None, trials: int, rtol: tuple[str, ...], atol: tuple[str, ...], trust_code: bool,
           json_path: str | None, quiet: bool, debug: bool) -> None:
    """Compare CANDIDATE against REFERENCE (ONNX in ONNX Runtime; specs and .pt2 in PyTorch).

    Exit 0 when every output matches (integers exactly, floats within tolerance), 1 on a mismatch.
    """
    from trtready.cli.main import run_verb

    def body() -> int:
        from trtready.report.json_report import dumps
        from trtready.report.terminal import console, render_comparison
        from trtready.verify.compare import DEFAULT_ATOL, DEFAULT_RTOL, parse_tolerances
        from trtready.verify.inputs import load_npz
        from trtready.verify.pair import verify_pair

        cmp = verify_pair(
            reference, candidate, dynamic=list(dynamic), input_range=list(input_range), trials=trials,
            rtol=parse_tolerances(rtol, DEFAULT_RTOL), atol=parse_tolerances(atol, DEFAULT_ATOL),
            feeds=load_npz(inputs_npz) if inputs_npz else None, trust_code=trust_code,
        )
        con = console(stderr=json_path == "-")
        render_comparison(cmp, con, quiet=quiet)
        if json_path is not None:
            from trtready.report.json_report import write_json_atomic

            data = {"schema_version": "1.0", "verb": "verify", "verification": cmp.to_json()}
            click.echo(dumps(data)) if json_path == "-" else write_json_atomic(data, json_path)
        return 0 if cmp else 1

    run_verb(debug, body)
