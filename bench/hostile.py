"""Figures for docs/hardening.md: what hostile and oversized inputs cost trtready, measured.

For every bomb: exit code, wall time and the peak RSS of the trtready process (``wait4``), run under
the same 3 GB address-space limit as the tests. For every live payload: whether it ran. And the time
an audit takes on an ONNX graph with 100k initializers (linear, where onnx-ir's shape inference pass
is quadratic).

    .venv/bin/python bench/hostile.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.hardening import craft  # noqa: E402
from tests.hardening.bombs import cases, onnx_endless_loop, run_limited  # noqa: E402

PAYLOADS = {
    "pt2 pickled weight": craft.pt2_pickled_weight,
    "pt2 opaque constant": craft.pt2_opaque_constant,
    "pt2 example inputs": craft.pt2_sample_inputs,
    "pt2 sympy expression": craft.pt2_sympy_expression,
    "pt2 guard code": craft.pt2_guard_code,
    "TorchScript __setstate__": craft.torchscript_setstate,
}


def _sum_model(path: Path, n: int) -> Path:
    import onnx
    from onnx import TensorProto, helper

    inits = [helper.make_tensor(f"c{i}", TensorProto.DOUBLE, [1], [float(i)]) for i in range(n)]
    g = helper.make_graph([helper.make_node("Sum", ["x"] + [f"c{i}" for i in range(n)], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.DOUBLE, [1])],
                          [helper.make_tensor_value_info("y", TensorProto.DOUBLE, [1])], inits)
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def main() -> None:
    print("| input | exit | seconds | peak RSS |")
    print("|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        for name, (maker, extra) in sorted(cases().items()):
            folder = base / name
            folder.mkdir()
            r = run_limited(["audit", str(maker(folder)), *extra], folder)
            print(f"| {name} | {r.code} | {r.seconds:.1f} | {r.peak_rss_mb:.0f} MB |")
        folder = base / "loop"
        folder.mkdir()
        r = run_limited(["fix", str(onnx_endless_loop(folder)), "-o", str(folder / "o.onnx"), "--limit",
                         "verify-seconds=10"], folder)
        print(f"| ONNX Loop of 2**62 trips (fix, verify-seconds=10) | {r.code} | {r.seconds:.1f} | {r.peak_rss_mb:.0f} MB |")
        for n in (10_000, 100_000):
            folder = base / f"sum{n}"
            folder.mkdir()
            r = run_limited(["audit", str(_sum_model(folder / "sum.onnx", n)), "--quiet"], folder, timeout=3600)
            print(f"| Sum over {n} initializers (audit) | {r.code} | {r.seconds:.1f} | {r.peak_rss_mb:.0f} MB |")
        print()
        print("| payload | ran without trtready | ran under `trtready audit` |")
        print("|---|---|---|")
        import subprocess

        for name, maker in PAYLOADS.items():
            folder = base / name.replace(" ", "_")
            folder.mkdir()
            marker = folder / "PWNED"
            path = maker(folder, marker)
            run_limited(["audit", str(path)], folder)
            under = marker.exists()
            trigger = "torch.jit.load(p)" if path.suffix == ".pt" else "torch.export.load(p).module()(torch.randn(2, 4))"
            code = f"import torch\np = {str(path)!r}\ntry:\n    {trigger}\nexcept Exception:\n    pass\n"
            subprocess.run([sys.executable, "-c", code], capture_output=True, cwd=folder)
            print(f"| {name} | {'yes' if marker.exists() else 'no'} | {'YES' if under else 'no'} |")


if __name__ == "__main__":
    main()
