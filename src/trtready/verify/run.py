"""Drive a verification: generate inputs per trial, run both sides, collect comparisons."""

from __future__ import annotations

from typing import Any

from trtready.bounds import DimBound
from trtready.verify.compare import DEFAULT_ATOL, DEFAULT_RTOL, Comparison, compare_runs
from trtready.verify.inputs import InputSpec, dim_choices, generate


def verify_runners(
    reference: Any,
    candidate: Any,
    specs: list[InputSpec],
    output_names: list[str],
    *,
    labels: tuple[str, str] = ("reference", "candidate"),
    bounds: list[DimBound] | None = None,
    trials: int = 3,
    seed: int = 0,
    rtol: tuple[float, dict[str, float]] = (DEFAULT_RTOL, {}),
    atol: tuple[float, dict[str, float]] = (DEFAULT_ATOL, {}),
    feeds: dict[str, Any] | None = None,
) -> Comparison:
    """Run ``trials`` seeded input sets (dims at opt, min, max, …) through both runners."""
    bounds = bounds or []
    result = Comparison(*labels)
    if feeds is not None:
        result.outputs += compare_runs(reference.run(feeds), candidate.run(feeds), output_names, rtol, atol)
        result.trials = 1
        result.notes.append("inputs from the given .npz")
        return result
    choices = dim_choices(specs, bounds)
    for t in range(max(1, trials)):
        dims = choices[t % len(choices)]
        inputs = generate(specs, dims, bounds, seed + t)
        result.outputs += compare_runs(reference.run(inputs), candidate.run(inputs), output_names, rtol, atol)
    result.trials = max(1, trials)
    roles = ", ".join(f"{s.name}: {s.role.kind}" + (f"[0,{s.role.size})" if s.role.size else "") for s in specs)
    result.notes.append(f"{result.trials} seeded trial(s), dims at {', '.join(map(str, choices))}; inputs {roles}")
    return result
