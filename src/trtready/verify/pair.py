"""Verify two MODEL arguments against each other, whatever their forms."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from trtready import load as loading  # called as loading.load_model: tests replace it there
from trtready.analysis import FxAnalysis, OnnxAnalysis
from trtready.bounds import bounds_from_metadata, check_bound_names, parse_dynamic, parse_input_ranges
from trtready.errors import BadInputError
from trtready.limits import DEFAULT_LIMITS
from trtready.load import ModelKind
from trtready.load.capture import CallLayout, capture
from trtready.verify.compare import Comparison, DEFAULT_ATOL, DEFAULT_RTOL
from trtready.verify.inputs import dim_choices, generate, onnx_input_specs, torch_input_specs
from trtready.verify.run import depth_of_onnx, depth_of_program, verify_runners
from trtready.verify.runners import OrtRunner, TorchRunner, island_label


def _runner_for(loaded: Any, bounds: list[Any], ranges: dict[str, Any],
                limits: Any = None) -> tuple[Any, list[Any] | None, list[str] | None]:
    """(runner, input specs or None, output names or None) for one loaded model."""
    if loaded.kind is ModelKind.ONNX:
        analysis = OnnxAnalysis.of(loaded.onnx, bounds, ranges)
        specs = onnx_input_specs(loaded.onnx, analysis.roles, ranges, analysis.demands)
        runner = OrtRunner(Path(loaded.source), limits=limits or DEFAULT_LIMITS, shapes_from=loaded.onnx)
        return runner, specs, [v.name for v in loaded.onnx.graph.outputs]
    if loaded.kind in (ModelKind.SPEC, ModelKind.PT2):
        ep = loaded.exported
        if ep is None:
            ep = capture(loaded.module, loaded.args, loaded.kwargs, bounds)

        layout = CallLayout.of(ep, *loaded.example())
        specs = torch_input_specs(layout, FxAnalysis.of(ep, ranges), ranges)
        module = loaded.module if loaded.module is not None else ep.module()
        return TorchRunner(module, layout, program=ep, limits=limits or DEFAULT_LIMITS), specs, None
    raise BadInputError(f"{loaded.source}: verify needs a graph (ONNX, .pt2 or a spec), not a {loaded.kind.value}")


def verify_pair(reference: str, candidate: str, *, dynamic: list[str] | None = None,
                input_range: list[str] | None = None, trials: int = 4, rtol: Any = None, atol: Any = None,
                feeds: dict[str, Any] | None = None, trust_code: bool = False, limits: Any = None) -> Comparison:
    """Load both models (as data unless ``trust_code``) and compare them; see :func:`verify_loaded`."""
    limits = limits or DEFAULT_LIMITS
    ref = loading.load_model(reference, trust_code=trust_code, limits=limits)
    cand = loading.load_model(candidate, trust_code=trust_code, limits=limits)
    return verify_loaded(ref, cand, dynamic=dynamic, input_range=input_range, trials=trials, rtol=rtol, atol=atol,
                         feeds=feeds, limits=limits)


def verify_loaded(ref: Any, cand: Any, *, dynamic: list[str] | None = None, input_range: list[str] | None = None,
                  trials: int = 4, rtol: Any = None, atol: Any = None, feeds: dict[str, Any] | None = None,
                  limits: Any = None) -> Comparison:
    """Run both on the same seeded inputs (or ``feeds``); integers compared exactly."""
    limits = limits or DEFAULT_LIMITS
    bounds = parse_dynamic(list(dynamic or []) + ref.dynamic, limits)
    if not bounds and ref.onnx is not None:
        bounds = bounds_from_metadata(ref.onnx)
    ranges = parse_input_ranges(list(input_range or []) + ref.input_ranges)
    ref_runner, ref_specs, ref_names = _runner_for(ref, bounds, ranges, limits)
    cand_runner, cand_specs, cand_names = _runner_for(cand, bounds, ranges, limits)
    specs = ref_specs or cand_specs or []
    check_bound_names([s.name for s in specs], bounds, ranges)
    names = cand_names or ref_names
    if names is None:  # two PyTorch sides: outputs are positional

        sample = generate(specs, dim_choices(specs, bounds)[0], bounds, 0, limits)
        names = [f"output{i}" for i in range(len(ref_runner.run(sample)))]

    depth = depth_of_onnx(ref.onnx) if ref.onnx is not None else depth_of_program(ref.exported) if ref.exported else 0

    labels = (island_label(str(ref.source), ref_runner), island_label(str(cand.source), cand_runner))
    return verify_runners(ref_runner, cand_runner, specs, names, labels=labels, bounds=bounds, depth=depth,
                          trials=trials, rtol=rtol or (DEFAULT_RTOL, {}), atol=atol or (DEFAULT_ATOL, {}), feeds=feeds,
                          limits=limits)
