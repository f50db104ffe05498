"""What the jail costs: the same verb on the same model file, jailed and in-process, alternated.

An ONNX model carries no code, so ``--trust-code`` changes nothing in how it is read — only that the
verb then runs in the trtready process instead of a confined child. Timing ``audit`` and ``fix`` both
ways, alternated in one run, isolates the jail's price (a second interpreter, Landlock and seccomp
set-up, the outbox commit). Medians and the ratio go into BENCHMARKS.md.

    .venv/bin/python bench/jail.py --repeats 7
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _model(folder: Path) -> Path:
    """A tiny BERT exported to ONNX (dynamic batch x sequence), as users hand trtready a file."""
    sys.path.insert(0, str(ROOT))
    from tests.conftest import tiny_bert

    import torch

    model, (ids, mask) = tiny_bert()
    b, s = torch.export.Dim("batch", min=1, max=8), torch.export.Dim("seq", min=2, max=64)
    path = folder / "bert.onnx"
    torch.onnx.export(model, (ids, mask), dynamo=True, verbose=False,
                      dynamic_shapes={"input_ids": {0: b, 1: s}, "attention_mask": {0: b, 1: s}}).save(str(path))
    return path


def _time(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} failed: {proc.stderr.strip()}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=7)
    repeats = parser.parse_args().repeats
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        model = _model(folder)
        dyn = ["--dynamic", "input_ids:0=b[1:8],1=s[2:64]", "--dynamic", "attention_mask:0=b[1:8],1=s[2:64]"]
        verbs = {
            "audit": ["audit", str(model), "--quiet", *dyn],
            "fix": ["fix", str(model), "-o", str(folder / "out.onnx"), "--force", "--quiet", *dyn],
        }
        for verb, args in verbs.items():
            runs: dict[str, list[float]] = {"jailed": [], "in-process": []}
            for _ in range(repeats):
                for label, extra in (("jailed", []), ("in-process", ["--trust-code"])):
                    runs[label].append(_time([sys.executable, "-m", "trtready", *args, *extra], folder))
            med = {k: statistics.median(v) for k, v in runs.items()}
            for label, values in runs.items():
                print(f"{verb:5s} {label:10s}: median {med[label]:.2f} s (runs: {', '.join(f'{v:.2f}' for v in values)})")
            print(f"{verb:5s} jailed / in-process: {med['jailed'] / med['in-process']:.2f}× (medians), "
                  f"+{med['jailed'] - med['in-process']:.2f} s")


if __name__ == "__main__":
    main()
