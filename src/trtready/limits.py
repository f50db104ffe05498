"""Resource limits: declared sizes are checked against these before anything is allocated.

A model file is data from somewhere else. A 96-byte ONNX can declare a 2**62-element tensor, a
3 MB zip can inflate to gigabytes, a checkpoint can hold a zero-stride view of 2**40 elements over
one stored value, and an ONNX Loop can ask for 2**62 iterations. Each of these is refused (or, for
run time, stopped) with one line naming the limit and the ``--limit KEY=VALUE`` that raises it.
The defaults fit real models of today's sizes (docs/hardening.md lists them with their reasons).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from trtready.errors import UsageError

INT_LIMIT_MAX = 2**63 - 1  # every integer limit is compared with sizes that int64 must hold
SECONDS_MAX = 10.0**9  # about 31 years: past it a deadline is no deadline


@dataclass(frozen=True)
class Limits:
    """Upper bounds on what one input may declare or cost.

    Attributes:
        tensor_elements: elements of one tensor, as declared (ONNX shapes, checkpoint views,
            safetensors and ``.npz`` headers, generated verification inputs). 2**32 holds the largest
            embedding tables in use (a 128k × 16k table is 2.1e9 elements).
        archive_bytes: total unpacked size of one zip archive (``.pt2``, checkpoint, TorchScript, ``.npz``).
        compression_ratio: unpacked/packed size of one zip member of more than 1 MiB. torch and
            numpy store weights uncompressed (ratio 1); ratios in the thousands are zip bombs.
        archive_members: members of one zip archive.
        verify_seconds: wall time of one verification run (all trials of one comparison).
        graph_nodes: nodes of one ONNX model, counted over the main graph, every subgraph and every
            function body. Real exports stay far below the default: a Llama-70B decoder exported with
            torch.onnx has some tens of thousands of nodes (80 layers of a few hundred), a Stable
            Diffusion UNet a few thousand; a mixture-of-experts model with every expert unrolled
            (DeepSeek-V3: 61 layers of 256 experts) reaches about 150,000. Loading and analysing a node
            costs about 5 KB and 0.15 ms (a crafted 1,000,000-node chain took 5.4 GB and 154 s), so
            500,000 keeps the worst case near 2.5 GB while admitting every real model above.
        tensor_rank: dimensions of one declared shape (I/O, value_info, initializers, constants,
            checkpoint and safetensors entries, ``.npz`` headers). TensorRT stops at 8 dimensions,
            numpy and PyTorch at 64; a rank of millions is only a way to make every shape
            computation cost gigabytes.
    """

    tensor_elements: int = 2**32
    archive_bytes: int = 64 * 2**30
    compression_ratio: int = 200
    archive_members: int = 1_000_000
    verify_seconds: float = 900.0
    graph_nodes: int = 500_000
    tensor_rank: int = 64

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            is_float = f.type in (float, "float")
            ok = (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
                  and 0 < value <= (SECONDS_MAX if is_float else INT_LIMIT_MAX)
                  and (is_float or isinstance(value, int)))
            if not ok:
                raise UsageError(f"limit {f.name.replace('_', '-')}={value!r}: must be a positive "
                                 + ("finite number of seconds" if is_float else "integer below 2**63"))

    @property
    def keys(self) -> list[str]:
        return [f.name.replace("_", "-") for f in dataclasses.fields(self)]


DEFAULT_LIMITS = Limits()


def parse_limits(specs: list[str] | tuple[str, ...] | None, base: Limits = DEFAULT_LIMITS) -> Limits:
    """``['tensor-elements=8589934592', 'verify-seconds=60']`` → :class:`Limits` (later entries win)."""
    changes: dict[str, int | float] = {}
    for spec in specs or ():
        key, sep, value = spec.partition("=")
        field = key.strip().replace("-", "_")
        types = {f.name: f.type for f in dataclasses.fields(Limits)}
        if not sep or field not in types:
            raise UsageError(f"--limit {spec!r}: expected KEY=VALUE with KEY one of {', '.join(base.keys)}")
        is_float = types[field] in (float, "float")
        try:
            number: int | float = float(value) if is_float else int(value.strip(), 0)
        except ValueError:
            kind = "a number" if is_float else "an integer"
            raise UsageError(f"--limit {spec!r}: {value.strip()!r} is not {kind}") from None
        if is_float and not math.isfinite(number):
            raise UsageError(f"--limit {spec!r}: must be a finite number of seconds")
        if number <= 0:
            raise UsageError(f"--limit {spec!r}: must be positive")
        top = SECONDS_MAX if is_float else INT_LIMIT_MAX
        if number > top:
            raise UsageError(f"--limit {spec!r}: must be at most {top:g}" if is_float else
                             f"--limit {spec!r}: must be at most 2**63-1 ({INT_LIMIT_MAX})")
        changes[field] = number
    return dataclasses.replace(base, **changes) if changes else base  # type: ignore[arg-type]


def limit_hint(key: str) -> str:
    """The option that raises one limit, for error messages."""
    return f"raise it with --limit {key}=N if the file is trusted"
