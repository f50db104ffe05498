"""``audit hf:CONFIG`` on Llama-class 7B and 70B configs: wall time and peak memory, no weights.

Writes the two config.json files to a temporary folder and runs ``python -m trtready audit hf:PATH``
as a user would (a fresh interpreter, the jail included), REPEATS times each. Peak RSS is the
largest of the finished child processes (``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss``, which
covers the jailed grandchild that does the work), CPU time their user + system time (on a machine
shared with other jobs it moves far less than wall time); each configuration runs in its own measuring
process so one model's peak cannot hide the other's. ``--stages`` adds one in-process run per model
that times the stages (imports, build on meta, torch.export, the rest of the audit).

    .venv/bin/python bench/config_audit.py [--repeats 3] [--stages]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CONFIGS = {
    # Llama-2-7B's shape: hidden 4096, 32 layers, 32 heads, MLP 11008, vocabulary 32000
    "7B": {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 4096,
           "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 32,
           "intermediate_size": 11008, "vocab_size": 32000, "max_position_embeddings": 4096,
           "torch_dtype": "float16"},
    # Llama-2-70B's shape: hidden 8192, 80 layers, 64 heads with 8 kv heads, MLP 28672
    "70B": {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 8192,
            "num_hidden_layers": 80, "num_attention_heads": 64, "num_key_value_heads": 8,
            "intermediate_size": 28672, "vocab_size": 32000, "max_position_embeddings": 4096,
            "torch_dtype": "float16"},
}
TARGETS = {"7B": (10.0, 2 * 2**30), "70B": (30.0, 4 * 2**30)}  # seconds, bytes

_MEASURE = """
import json, resource, subprocess, sys, time
start = time.perf_counter()
proc = subprocess.run(sys.argv[1:], capture_output=True, text=True)
wall = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
peak, cpu = usage.ru_maxrss * 1024, usage.ru_utime + usage.ru_stime
print(json.dumps({"code": proc.returncode, "wall": wall, "cpu": cpu, "peak": peak, "line": proc.stdout.strip()[-300:],
                  "err": proc.stderr.strip()[-300:]}))
"""

_STAGES = """
import json, resource, sys, time
t0 = time.perf_counter()
import torch, transformers
from trtready.audit import audit_loaded
from trtready.bounds import parse_dynamic
from trtready.load import load_model
from trtready.load.capture import capture_fitted
t1 = time.perf_counter()
loaded = load_model("hf:" + sys.argv[1], config_only=True)
t2 = time.perf_counter()
bounds = parse_dynamic(loaded.dynamic)
captured = capture_fitted(loaded.module, loaded.args, loaded.kwargs, bounds)
loaded.exported = captured.program
t3 = time.perf_counter()
result = audit_loaded(loaded, bounds)
t4 = time.perf_counter()
print(json.dumps({"imports": t1 - t0, "build": t2 - t1, "export": t3 - t2, "audit": t4 - t3,
                  "nodes": len(loaded.exported.graph.nodes), "findings": len(result.findings),
                  "peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}


def measure(config: Path) -> dict[str, float]:
    cmd = [sys.executable, "-m", "trtready", "audit", f"hf:{config}", "--target", "trt10", "--quiet"]
    out = subprocess.run([sys.executable, "-c", _MEASURE, *cmd], capture_output=True, text=True, env=_env(),
                         check=True)
    data = json.loads(out.stdout)
    if data["code"] not in (0, 1):
        raise SystemExit(f"audit failed: {data['err']}")
    return data


def stages(config: Path) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", _STAGES, str(config)], capture_output=True, text=True, env=_env(),
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--stages", action="store_true", help="also time the stages of one in-process run per model")
    args = ap.parse_args()
    import torch
    import transformers

    print(f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, torch {torch.__version__}, "
          f"transformers {transformers.__version__}; load average before: {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, cfg in CONFIGS.items():
            path = Path(tmp) / name / "config.json"
            path.parent.mkdir()
            path.write_text(json.dumps(cfg))
            runs = [measure(path) for _ in range(args.repeats)]
            walls = [r["wall"] for r in runs]
            peak = max(r["peak"] for r in runs)
            limit_s, limit_b = TARGETS[name]
            cpu = statistics.median(r["cpu"] for r in runs)
            print(f"{name:>3}: wall median {statistics.median(walls):.1f} s (runs: "
                  f"{', '.join(f'{w:.1f}' for w in walls)}; target < {limit_s:.0f} s), CPU median {cpu:.1f} s, peak RSS "
                  f"{peak / 2**20:.0f} MB (target < {limit_b / 2**30:.0f} GB); load average {os.getloadavg()[0]:.2f}")
            print(f"     {runs[-1]['line']}")
            if args.stages:
                s = stages(path)
                print(f"     stages: imports {s['imports']:.1f} s, build on meta {s['build']:.2f} s, torch.export "
                      f"{s['export']:.1f} s ({s['nodes']} nodes), audit after the export {s['audit']:.1f} s "
                      f"({s['findings']} findings); peak RSS {s['peak'] / 2**20:.0f} MB")


if __name__ == "__main__":
    main()
