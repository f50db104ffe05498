"""Drive a verification: generate inputs per trial, run both sides, collect comparisons.

Each run happens in a worker thread that the main thread watches, so a model that computes for
hours (an ONNX Loop asking for 2**62 trips) is stopped at the ``verify-seconds`` limit, and Ctrl-C
or SIGTERM ends the run within a second: ONNX Runtime is told to terminate through its
``RunOptions``; a PyTorch run cannot be cancelled and is left to end with the process.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any, Protocol

from trtready.bounds import DimBound
from trtready.errors import VerificationRunError
from trtready.lazy import ir, np
from trtready.limits import DEFAULT_LIMITS, Limits, limit_hint
from trtready.verify.compare import DEFAULT_ATOL, DEFAULT_RTOL, Comparison, compare_runs, scaled_atol  # noqa: F401

#: Input sets per verification: the example size, every dim's minimum and maximum, one random size between.
DEFAULT_TRIALS = 4
from trtready.verify.inputs import InputSpec, check_feeds, check_ranges, dim_choices, generate, trial_dims

if TYPE_CHECKING:
    import onnx_ir as ir
    from torch.export import ExportedProgram


class Runner(Protocol):
    """Runs one model on named numpy feeds and returns its outputs in order."""

    def run(self, feeds: dict[str, Any]) -> list[Any]: ...

    def cancel(self) -> None: ...


class Recorded:
    """A runner that runs each distinct set of feeds once and answers again from what it recorded.

    Several comparisons of one verification share a side (the original module is the reference of
    both the PyTorch and the ONNX Runtime comparison) and are given the same seeded inputs: each trial
    runs that side once. An error the runner raised is recorded and raised again for the same feeds.
    Outputs are kept up to ``budget`` bytes in all; past that a run is not recorded (it runs again
    when asked again), so a model with large outputs holds no more than one trial's at a time.
    """

    def __init__(self, runner: Runner, budget: int = 256 << 20) -> None:
        self.runner = runner
        self.runs = 0  # feed sets actually run
        self.budget = budget
        self._seen: dict[Any, tuple[list[Any] | None, Exception | None]] = {}

    @staticmethod
    def _key(feeds: dict[str, Any]) -> Any:
        import hashlib

        out = []
        for name in sorted(feeds):
            a = np.asarray(feeds[name])
            data = repr(a.tolist()).encode() if a.dtype.kind == "O" else a.tobytes()
            out.append((name, a.dtype.str, a.shape, hashlib.blake2b(data, digest_size=16).digest()))
        return tuple(out)

    def _answer(self, key: Any) -> list[Any] | None:
        hit = self._seen.get(key)
        if hit is None:
            return None
        out, err = hit
        if err is not None:
            raise err
        return out

    def recalled(self, feeds: dict[str, Any]) -> list[Any] | None:
        """The outputs recorded for ``feeds`` (the recorded error raised again), None when not run yet."""
        return self._answer(self._key(feeds))

    def run(self, feeds: dict[str, Any]) -> list[Any]:
        key = self._key(feeds)
        known = self._answer(key)
        if known is not None:
            return known
        self.runs += 1
        try:
            result = self.runner.run(feeds)
        except Exception as e:
            self._seen[key] = (None, e)
            raise
        size = sum(int(getattr(o, "nbytes", 0)) for o in result)
        if size <= self.budget:
            self.budget -= size
            self._seen[key] = (result, None)
        return result

    def cancel(self) -> None:
        self.runner.cancel()


def run_bounded(runner: Runner, feeds: dict[str, Any], deadline: float, limits: Limits) -> list[Any]:
    """``runner.run(feeds)`` in a watched thread: stopped at ``deadline`` or on an interrupt. A
    :class:`Recorded` runner that has run these feeds answers at once, without a thread."""
    if isinstance(runner, Recorded):
        known = runner.recalled(feeds)
        if known is not None:
            return known
    box: dict[str, Any] = {}
    done = threading.Event()  # not Thread.join: an interrupted join can report a running thread as ended

    def work() -> None:
        try:
            box["out"] = runner.run(feeds)
        except BaseException as e:  # handed to the main thread
            box["err"] = e
        finally:
            done.set()

    thread = threading.Thread(target=work, name="trtready-verify", daemon=True)
    thread.start()
    try:
        while not done.wait(0.2):
            if time.monotonic() > deadline:
                runner.cancel()
                done.wait(10.0)
                raise VerificationRunError(
                    f"verification stopped after {limits.verify_seconds:g} s, the verify-seconds limit: the model "
                    f"computes too long on the generated inputs ({limit_hint('verify-seconds')})"
                )
    except KeyboardInterrupt:
        runner.cancel()
        done.wait(10.0)  # let ONNX Runtime unwind before the process exits around it
        raise
    if "err" in box:
        raise box["err"]
    out: list[Any] = box["out"]
    return out


def verify_runners(
    reference: Runner,
    candidate: Runner,
    specs: list[InputSpec],
    output_names: list[str],
    *,
    labels: tuple[str, str] = ("reference", "candidate"),
    bounds: list[DimBound] | None = None,
    trials: int = DEFAULT_TRIALS,
    seed: int = 0,
    rtol: tuple[float, dict[str, float]] = (DEFAULT_RTOL, {}),
    atol: tuple[float, dict[str, float]] = (DEFAULT_ATOL, {}),
    feeds: dict[str, Any] | None = None,
    limits: Limits = DEFAULT_LIMITS,
    depth: int = 0,
) -> Comparison:
    """Run seeded input sets through both runners: dims at opt, min and max always (so every dynamic
    axis is run at both ends of its bounds), then random sizes between, ``trials`` sets in all.

    ``depth`` (matmul/conv layers) scales the default float tolerance (:func:`scaled_atol`).
    """
    bounds = bounds or []
    check_ranges(specs)
    if feeds is not None:
        check_feeds(specs, feeds)
    deadline = time.monotonic() + limits.verify_seconds
    result = Comparison(*labels)

    masks = [s.name for s in specs if s.role.kind == "mask"]

    def both(inputs: dict[str, Any], dims: dict[str, int] | None) -> None:
        ref = run_bounded(reference, inputs, deadline, limits)
        cand = run_bounded(candidate, inputs, deadline, limits)
        compared = compare_runs(ref, cand, output_names, rtol, atol, depth, inputs, masks)
        for o in compared:
            o.dims = dims
        result.outputs.extend(compared)

    if feeds is not None:
        both(feeds, None)
        result.trials = 1
        result.excuse_padded()
        result.notes.append("inputs from the given .npz")
        result.notes += [VANISHED.format(name=name) for name in result.vanished()]
        return result
    choices = trial_dims(specs, bounds, max(1, trials), seed)
    for t, dims in enumerate(choices):
        both(generate(specs, dims, bounds, seed + t, limits), dims)
    result.trials = len(choices)
    result.excuse_padded()
    result.probes = probe_out_of_range(reference, candidate, specs, labels, bounds, choices[0], seed, deadline, limits)
    for p in result.probes:
        said = "; ".join(f"{who} {what}" for who, what in p["results"].items())
        result.notes.append(f"out-of-range probe {p['input']} = {p['value']} (a table of {p['rows']} rows): {said}; "
                            f"TensorRT {p['tensorrt']}")
    roles = ", ".join(f"{s.name}: {s.role.kind}" + (f"[0,{s.role.size})" if s.role.size else "") for s in specs)
    covered = len(dim_choices(specs, bounds))
    extra = f" (the {covered} that cover every dim's example size, minimum and maximum)" if covered > trials else ""
    result.notes.append(f"{result.trials} seeded trial(s){extra}, dims at {', '.join(map(str, choices))}; "
                        f"inputs {roles}")
    for name in result.vanished():
        result.notes.append(VANISHED.format(name=name))
    return result


VANISHED = ("output {name} is 0 everywhere in the reference on every trial: the outputs agree, but equal zeros "
            "prove little (do the model's activations vanish?)")


def probe_out_of_range(reference: Runner, candidate: Runner, specs: list[InputSpec], labels: tuple[str, str],
                      bounds: list[DimBound], dims: dict[str, int], seed: int, deadline: float,
                      limits: Limits) -> list[dict[str, Any]]:
    """Each input that indexes a table through moves only, one element set just past the table.

    PyTorch and ONNX Runtime refuse such an input; TensorRT does not check gather indices and reads
    zero rows (NVIDIA/TensorRT#4774). The probe says what each side of the comparison does; it is
    not compared (an invalid input has no right answer).
    """
    out: list[dict[str, Any]] = []
    for s in specs:
        if s.rows is None or s.dtype.kind not in "iu" or s.rows > int(np.iinfo(s.dtype).max):
            continue
        feeds = generate(specs, dims, bounds, seed, limits)
        arr = np.array(feeds[s.name], copy=True)
        flat = arr.reshape(-1)
        if not flat.size:
            continue
        flat[-1] = s.rows
        feeds[s.name] = arr
        results: dict[str, str] = {}
        for label, runner in zip(labels, (reference, candidate)):
            try:
                run_bounded(runner, feeds, deadline, limits)
                results[label] = "returns without an error"
            except KeyboardInterrupt:
                raise
            except Exception as e:  # noqa: BLE001 - what the runtime says is the finding
                text = str(e).splitlines()[0] if str(e) else type(e).__name__
                results[label] = f"raises ({text[:160]})"
        out.append({"input": s.name, "value": s.rows, "rows": s.rows, "results": results,
                    "tensorrt": "reads zero rows there, without an error (NVIDIA/TensorRT#4774)"})
    return out


_DEEP_FX = ("aten.linear", "aten.mm", "aten.bmm", "aten.matmul", "aten.addmm", "aten.conv", "aten.convolution",
            "aten.scaled_dot_product_attention", "aten.baddbmm")
_DEEP_ONNX = {"MatMul", "Gemm", "Conv", "ConvTranspose", "Attention", "Einsum"}


def depth_of_program(ep: ExportedProgram) -> int:
    """Matmul/conv layers of a torch.export program (what float32 rounding accumulates over)."""
    return sum(1 for n in ep.graph.nodes if n.op == "call_function" and str(n.target).startswith(_DEEP_FX))


def depth_of_onnx(model: ir.Model) -> int:
    return sum(1 for n in ir.traversal.RecursiveGraphIterator(model.graph) if n.op_type in _DEEP_ONNX)
