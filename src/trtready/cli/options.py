"""Option groups shared by the verbs (docs/cli.md "Shared options"), Polygraphy-style.

Options default to ``None``; the library owns the real defaults.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from trtready.targets import TARGET_NAMES

F = TypeVar("F", bound=Callable[..., Any])

TARGETS = TARGET_NAMES  # every profile in trtready.targets, in its order


def _apply(fn: F, decorators: list[Callable[[F], F]]) -> F:
    for d in reversed(decorators):
        fn = d(fn)
    return fn


def target_option(fn: F) -> F:
    return click.option(
        "--target", type=click.Choice(TARGETS), default=None,
        help="TensorRT target to predict for (default: the TensorRT installed; else trt10).",
    )(fn)


def dynamic_option(fn: F) -> F:
    return click.option("--dynamic", multiple=True, metavar="'NAME:AXIS=DIM[MIN:MAX],…'",
                        help="Dynamic dimension bounds, e.g. 'input_ids:0=batch[1:8],1=seq[1:128]'. May repeat.")(fn)


def bounds_options(fn: F) -> F:
    return _apply(fn, [
        dynamic_option,
        click.option("--input-range", multiple=True, metavar="'NAME:LO..HI'",
                     help="Known value range of an integer input. May repeat."),
    ])


def model_options(fn: F) -> F:
    return _apply(fn, [
        click.option("--trust-code", is_flag=True, default=False,
                     help="DANGEROUS: run what model files carry (pickled objects in checkpoints and .pt2, "
                          "TorchScript's code). Only for files from authors you trust."),
        click.option("--limit", "limit", multiple=True, metavar="KEY=VALUE",
                     help="Raise a resource limit: tensor-elements, tensor-rank, graph-nodes, archive-bytes, "
                          "compression-ratio, archive-members, verify-seconds (docs/hardening.md). May repeat."),
    ])


def plan_options(fn: F) -> F:
    """What may be narrowed: graph I/O too (--io int32), nothing unproved (--strict), underflow."""
    return _apply(fn, [
        click.option("--io", "io", type=click.Choice(["keep", "int32"]), default="keep", show_default=True,
                     help="int32: integer graph inputs/outputs whose range is proved become INT32 "
                          "bindings (refused where not proved)."),
        click.option("--strict", is_flag=True, default=False, help="Refuse any 64-bit value not proved to fit."),
        click.option("--allow-underflow", is_flag=True, default=False,
                     help="Accept float64 values that underflow to zero in float32."),
    ])


def output_options(fn: F) -> F:
    return _apply(fn, [
        click.option("--json", "json_path", metavar="PATH|-", default=None, help="Write the JSON report ('-' = stdout)."),
        click.option("--quiet", is_flag=True, default=False, help="Print only the verdict line."),
        click.option("--debug", is_flag=True, default=False, help="Show tracebacks on errors."),
    ])


def verify_options(fn: F) -> F:
    return _apply(fn, [
        click.option("--inputs", "inputs_npz", metavar="FILE.npz", default=None,
                     help="Verification inputs by input name (else generated from each input's role)."),
        click.option("--trials", type=click.IntRange(1, 1000), default=4, show_default=True,
                     help="Seeded input sets: dynamic dims at the example size, min and max always, then random sizes between."),
        click.option("--rtol", multiple=True, metavar="[NAME:]V", help="Relative tolerance for floats (default 1e-5)."),
        click.option("--atol", multiple=True, metavar="[NAME:]V", help="Absolute tolerance for floats (default: scaled to each output's magnitude and the model's depth, at least 1e-6)."),
    ])


def exporter_option(fn: F) -> F:
    return click.option(
        "--exporter", type=click.Choice(["auto", "dynamo", "torchscript"]), default="auto", show_default=True,
        help="auto: torch.onnx (dynamo), then its proved recoveries, then torch.onnx (dynamo=False), until a file "
             "translates and verifies; dynamo or torchscript: that exporter only. The report says which wrote it.",
    )(fn)


def parse_names(text: str | None) -> list[str] | None:
    """``--input-names a,b`` / ``--output-names x,y`` as a list; ``None`` when not given (the exporter names)."""
    return [n.strip() for n in text.split(",")] if text else None
