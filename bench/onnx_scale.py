"""``audit`` and ``fix`` on large ONNX graphs: wall time and peak RSS against the node count, and a
model over 2 GB whose weights live in external data.

The synthetic graphs hold what exported transformers hold, repeated: per block the shape arithmetic
of a reshape around a MatMul (Shape → Gather → Unsqueeze → Concat → Reshape → MatMul → Reshape → Add)
and an int64 position chain (Add → Cast → Unsqueeze → Add into the activations), with per-block
initializers; then wide fan-in at the end — a Sum over every block's activations, a Sum over every
block's bias initializer and a Concat of every block's int64 size. The large model has three
800 MB float32 embedding tables and a 128 MB int64 position table, all in one external-data file,
gathered by int64 ids.

Each command runs as a user runs it (``python -m trtready``, the jail included) inside a measuring
process; peak RSS is the largest finished child's (``getrusage(RUSAGE_CHILDREN)``, which counts the
jailed grandchild). ``--profile N`` runs audit and fix on the N-node graph in-process under
cProfile instead and prints the top functions.

    .venv/bin/python bench/onnx_scale.py [--sizes 1000,10000,30000,100000] [--big] [--repeats N] [--json OUT]
    .venv/bin/python bench/onnx_scale.py --render OUT    # the table and plot of an earlier --json
    .venv/bin/python bench/onnx_scale.py --profile 10000
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = Path(__file__).resolve().parents[1]
HIDDEN = 8
NODES_PER_BLOCK = 12
BIG_ROWS, BIG_COLS, BIG_TABLES = 200_000, 1000, 3  # 3 × 800 MB float32
BIG_POSITIONS = 1 << 24  # int64: 128 MB
ALIGN = 4096
# Verification runs the model at the ends of these bounds, and ONNX Runtime's arena keeps what it
# allocated: at 8 × 2048 the chain's final Sum holds every block's [batch, seq, 8] activation at once
# (427 MB on the 10k graph) and each of the large model's gathered activations is 65 MB. Small bounds
# keep the measurement about the graph and the weights. x's dims are the same symbols as ids'.
DYNAMIC = "ids:0=batch[1:2],1=seq[1:64]"

_MEASURE = """
import json, resource, subprocess, sys, time
start = time.perf_counter()
proc = subprocess.run(sys.argv[1:], capture_output=True, text=True)
wall = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
peak, cpu = usage.ru_maxrss * 1024, usage.ru_utime + usage.ru_stime
print(json.dumps({"code": proc.returncode, "wall": wall, "cpu": cpu, "peak": peak, "out": proc.stdout.strip()[-400:],
                  "err": proc.stderr.strip()[-400:]}))
"""


def chain_model(nodes: int) -> onnx.ModelProto:
    """About ``nodes`` nodes: NODES_PER_BLOCK per block plus the fan-in at the end."""
    blocks = max(1, (nodes - 5) // NODES_PER_BLOCK)
    init: list[TensorProto] = [
        numpy_helper.from_array(np.array([0], np.int64), "axes0"),
        numpy_helper.from_array(np.array([-1], np.int64), "axes_last"),
        numpy_helper.from_array(np.array([-1], np.int64), "minus1"),
    ]
    out: list[onnx.NodeProto] = []
    h, p = "x", "ids"
    acts, biases, sizes = [], [], []
    w = (0.5 * np.eye(HIDDEN)).astype(np.float32)
    for k in range(blocks):
        init += [numpy_helper.from_array(np.array(2, np.int64), f"idx{k}"),
                 numpy_helper.from_array(w, f"w{k}"),
                 numpy_helper.from_array(np.full(HIDDEN, (k % 7) * 0.125, np.float32), f"b{k}"),
                 numpy_helper.from_array(np.array(1, np.int64), f"one{k}")]
        out += [
            helper.make_node("Shape", [h], [f"s{k}"], name=f"shape{k}"),
            helper.make_node("Gather", [f"s{k}", f"idx{k}"], [f"d{k}"], name=f"gather{k}", axis=0),
            helper.make_node("Unsqueeze", [f"d{k}", "axes0"], [f"u{k}"], name=f"unsq{k}"),
            helper.make_node("Concat", ["minus1", f"u{k}"], [f"t{k}"], name=f"concat{k}", axis=0),
            helper.make_node("Reshape", [h, f"t{k}"], [f"r{k}"], name=f"flat{k}"),
            helper.make_node("MatMul", [f"r{k}", f"w{k}"], [f"m{k}"], name=f"matmul{k}"),
            helper.make_node("Reshape", [f"m{k}", f"s{k}"], [f"g{k}"], name=f"unflat{k}"),
            helper.make_node("Add", [f"g{k}", f"b{k}"], [f"a{k}"], name=f"bias{k}"),
            helper.make_node("Add", [p, f"one{k}"], [f"p{k}"], name=f"pos{k}"),
            helper.make_node("Cast", [f"p{k}"], [f"f{k}"], name=f"cast{k}", to=TensorProto.FLOAT),
            helper.make_node("Unsqueeze", [f"f{k}", "axes_last"], [f"e{k}"], name=f"unsqf{k}"),
            helper.make_node("Add", [f"a{k}", f"e{k}"], [f"h{k}"], name=f"res{k}"),
        ]
        h, p = f"h{k}", f"p{k}"
        acts.append(f"a{k}")
        biases.append(f"b{k}")
        sizes.append(f"u{k}")
    out += [
        helper.make_node("Sum", biases, ["bias_sum"], name="bias_sum"),
        helper.make_node("Add", [h, "bias_sum"], ["y"], name="out_y"),
        helper.make_node("Sum", acts, ["z"], name="act_sum"),
        helper.make_node("Concat", sizes, ["dims"], name="dims", axis=0),
        helper.make_node("Identity", [p], ["pos"], name="out_pos"),
    ]
    graph = helper.make_graph(
        out, f"chain{nodes}",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "seq", HIDDEN]),
         helper.make_tensor_value_info("ids", TensorProto.INT64, ["batch", "seq"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", "seq", HIDDEN]),
         helper.make_tensor_value_info("z", TensorProto.FLOAT, ["batch", "seq", HIDDEN]),
         helper.make_tensor_value_info("dims", TensorProto.INT64, [blocks]),
         helper.make_tensor_value_info("pos", TensorProto.INT64, ["batch", "seq"])],
        init,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=9)


def _external(name: str, dtype: int, dims: list[int], location: str, offset: int, length: int) -> TensorProto:
    t = TensorProto(name=name, data_type=dtype, dims=dims, data_location=TensorProto.EXTERNAL)
    for key, value in (("location", location), ("offset", str(offset)), ("length", str(length))):
        entry = t.external_data.add()
        entry.key, entry.value = key, value
    return t


def big_model(folder: Path) -> Path:
    """BIG_TABLES float32 tables of BIG_ROWS × BIG_COLS and an int64 position table, written in
    chunks into one data file (aligned like onnx-ir's writer), so this script never holds a table."""
    data_name = "big.onnx.data"
    tensors = []
    offset = 0
    with open(folder / data_name, "wb") as f:
        for i in range(BIG_TABLES):
            offset = -(-offset // ALIGN) * ALIGN
            f.seek(offset)
            rows = 10_000
            for r0 in range(0, BIG_ROWS, rows):
                block = (np.arange(r0, r0 + rows, dtype=np.float32)[:, None] * 1e-3
                         + np.arange(BIG_COLS, dtype=np.float32)[None, :] * (i + 1) * 1e-4)
                f.write(block.astype(np.float32).tobytes())
            length = BIG_ROWS * BIG_COLS * 4
            tensors.append(_external(f"embed{i}", TensorProto.FLOAT, [BIG_ROWS, BIG_COLS], data_name, offset, length))
            offset += length
        offset = -(-offset // ALIGN) * ALIGN
        f.seek(offset)
        step = 1 << 20
        for s0 in range(0, BIG_POSITIONS, step):
            f.write(np.arange(s0, s0 + step, dtype=np.int64).tobytes())
        tensors.append(_external("positions", TensorProto.INT64, [BIG_POSITIONS], data_name, offset, BIG_POSITIONS * 8))
    tensors += [numpy_helper.from_array(np.array(1, np.int64), "one"),
                numpy_helper.from_array(np.array(0, np.int64), "zero"),
                numpy_helper.from_array(np.array([-1], np.int64), "axes_last")]
    nodes = [
        helper.make_node("Shape", ["ids"], ["s"]),
        helper.make_node("Gather", ["s", "one"], ["seq"], axis=0),
        helper.make_node("Range", ["zero", "seq", "one"], ["r"]),
        helper.make_node("Gather", ["positions", "r"], ["pos"], axis=0),
        helper.make_node("Cast", ["pos"], ["posf"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["posf", "axes_last"], ["pose"]),
    ]
    acc = "pose"
    for i in range(BIG_TABLES):
        nodes += [helper.make_node("Gather", [f"embed{i}", "ids"], [f"e{i}"], axis=0),
                  helper.make_node("Add", [acc, f"e{i}"], [f"acc{i}"])]
        acc = f"acc{i}"
    nodes.append(helper.make_node("Identity", [acc], ["y"]))
    graph = helper.make_graph(
        nodes, "big",
        [helper.make_tensor_value_info("ids", TensorProto.INT64, ["batch", "seq"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", "seq", BIG_COLS]),
         helper.make_tensor_value_info("pos", TensorProto.INT64, ["seq"])],
        tensors,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=9)
    path = folder / "big.onnx"
    path.write_bytes(model.SerializeToString())
    return path


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}


def measure(args: list[str]) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "trtready", *args]
    out = subprocess.run([sys.executable, "-c", _MEASURE, *cmd], capture_output=True, text=True, env=_env(),
                         check=True)
    data: dict[str, Any] = json.loads(out.stdout)
    if data["code"] not in (0, 1):
        raise SystemExit(f"{' '.join(args[:2])} failed ({data['code']}): {data['err']}")
    return data


def _commands(model: Path, out: Path, ranges: str) -> dict[str, list[str]]:
    common = ["--target", "trt8", "--quiet", "--dynamic", DYNAMIC]
    rng = ["--input-range", ranges] if ranges else []
    return {"audit": ["audit", str(model), *common, *rng],
            "fix": ["fix", str(model), "-o", str(out), *common, *rng, "--io", "int32", "--trials", "1"]}


def run_chain(nodes: int, tmp: Path, repeats: int, verbs: tuple[str, ...] = ("audit", "fix")) -> dict[str, Any]:
    model = chain_model(nodes)
    path = tmp / f"chain{nodes}.onnx"
    onnx.save(model, path)
    row: dict[str, Any] = {"nodes": len(model.graph.node), "initializers": len(model.graph.initializer),
                           "bytes": path.stat().st_size}
    for verb, cmd in _commands(path, tmp / f"chain{nodes}.fixed.onnx", "ids:0..1000").items():
        if verb not in verbs:
            continue
        runs = []
        for _ in range(repeats):
            (tmp / f"chain{nodes}.fixed.onnx").unlink(missing_ok=True)
            runs.append(measure(cmd))
        row[verb] = {"walls": [r["wall"] for r in runs], "cpus": [r["cpu"] for r in runs],
                     "peak": max(r["peak"] for r in runs),
                     "line": runs[-1]["out"].splitlines()[-1] if runs[-1]["out"] else ""}
        print(f"{row['nodes']:>7} nodes {verb:>5}: {min(row[verb]['walls']):6.2f} s (CPU {min(row[verb]['cpus']):.2f} s), "
              f"{row[verb]['peak'] / 2**20:6.0f} MB; load {os.getloadavg()[0]:.2f}; {row[verb]['line'][:100]}", flush=True)
    return row


def run_big(tmp: Path) -> dict[str, Any]:
    folder = tmp / "big"
    folder.mkdir()
    t0 = time.perf_counter()
    path = big_model(folder)
    data = folder / "big.onnx.data"
    row: dict[str, Any] = {"write": time.perf_counter() - t0, "bytes": data.stat().st_size + path.stat().st_size,
                           "largest": BIG_ROWS * BIG_COLS * 4, "graph": path.stat().st_size}
    before = os.stat(data)
    out = tmp / "bigout" / "big.fixed.onnx"
    out.parent.mkdir()
    for verb, cmd in _commands(path, out, "ids:0..199999").items():
        r = measure(cmd)
        row[verb] = {"walls": [r["wall"]], "peak": r["peak"], "line": r["out"].splitlines()[-1] if r["out"] else ""}
        print(f"  >2 GB {verb:>5}: {r['wall']:6.2f} s, {r['peak'] / 2**20:6.0f} MB; load {os.getloadavg()[0]:.2f}; "
              f"{row[verb]['line'][:120]}", flush=True)
    after = os.stat(data)
    row["input_untouched"] = (before.st_mtime_ns, before.st_size) == (after.st_mtime_ns, after.st_size)
    row["output"] = sorted((p.name, p.stat().st_size) for p in out.parent.iterdir())
    fixed = onnx.load(out, load_external_data=False)
    row["output_external"] = sum(t.data_location == TensorProto.EXTERNAL for t in fixed.graph.initializer)
    row["output_types"] = {t.name: TensorProto.DataType.Name(t.data_type) for t in fixed.graph.initializer
                           if t.name.startswith(("embed", "positions"))}
    print(f"  output {row['output']}, {row['output_external']} external initializers, {row['output_types']}, "
          f"input data untouched: {row['input_untouched']}", flush=True)
    shutil.rmtree(folder)
    shutil.rmtree(out.parent)
    return row


def profile(nodes: int) -> None:
    import cProfile
    import pstats

    from trtready.cli.main import main as cli_main

    with tempfile.TemporaryDirectory(dir=ROOT) as tmp:
        path = Path(tmp) / f"chain{nodes}.onnx"
        onnx.save(chain_model(nodes), path)
        for verb, cmd in _commands(path, Path(tmp) / "fixed.onnx", "ids:0..1000").items():
            prof = cProfile.Profile()
            t0 = time.perf_counter()
            prof.enable()
            try:
                cli_main([*cmd, "--trust-code"])
            except SystemExit:
                pass
            prof.disable()
            print(f"== {verb} {nodes} nodes: {time.perf_counter() - t0:.2f} s")
            pstats.Stats(prof).sort_stats("cumulative").print_stats(45)


def render(result: dict[str, Any]) -> str:
    """The measurements as BENCHMARKS.md shows them: a table and a log-log text plot of wall time."""
    lines = ["| nodes | initializers | audit wall | audit CPU | audit peak RSS | fix wall | fix CPU | fix peak RSS |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|"]

    def cells(v: dict[str, Any] | None) -> str:  # a verb not run, or run before CPU time was recorded: –
        if v is None:
            return "– | – | –"
        cpu = f"{min(v['cpus']):.2f} s" if v.get("cpus") else "–"
        return f"{min(v['walls']):.2f} s | {cpu} | {v['peak'] / 2**20:.0f} MB"

    for r in result["chains"]:
        lines.append(f"| {r['nodes']} | {r['initializers']} | {cells(r.get('audit'))} | {cells(r.get('fix'))} |")
    lines += ["", "```", *_plot(result["chains"]), "```"]
    big = result.get("big")
    if big:
        budget = 1.5 * (big["largest"] + big["graph"])
        lines += ["", f"> 2 GB model: {big['bytes'] / 1e9:.2f} GB ({big['largest'] / 2**20:.0f} MB largest tensor); "
                      f"peak RSS budget 1.5 × (largest tensor + graph) = {budget / 2**20:.0f} MB", ""]
        for verb in ("audit", "fix"):
            lines.append(f"- {verb}: {big[verb]['walls'][0]:.1f} s, peak RSS {big[verb]['peak'] / 2**20:.0f} MB "
                         f"({big[verb]['peak'] / budget:.2f} of the budget)")
        lines.append(f"- output: {', '.join(f'{n} ({b / 1e9:.2f} GB)' if b > 1e6 else f'{n} ({b} B)' for n, b in big['output'])}; "
                     f"{big['output_external']} initializers external; input data file untouched: {big['input_untouched']}")
    return "\n".join(lines)


def _plot(rows: list[dict[str, Any]], width: int = 60, height: int = 14) -> list[str]:
    """Wall time against node count, both axes logarithmic; a = audit, f = fix, · = linear from the first."""
    import math

    verbs = [v for v in ("audit", "fix") if all(v in r for r in rows)]
    pts = [(r["nodes"], min(r[v]["walls"]), v[0]) for r in rows for v in verbs]
    xs = [math.log10(p[0]) for p in pts]
    first = {v: min(rows[0][v]["walls"]) for v in verbs}
    ideal = [(r["nodes"], first[v] * r["nodes"] / rows[0]["nodes"], "·") for r in rows for v in verbs]
    ys = [math.log10(p[1]) for p in pts + ideal]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    grid = [[" "] * (width + 1) for _ in range(height + 1)]
    for n, t, mark in ideal + pts:
        cx = round((math.log10(n) - x0) / (x1 - x0 or 1) * width)
        cy = height - round((math.log10(t) - y0) / (y1 - y0 or 1) * height)
        grid[cy][cx] = mark if grid[cy][cx] in (" ", "·") else "*"
    out = []
    for i, row in enumerate(grid):
        label = 10 ** (y1 - (y1 - y0) * i / height)
        out.append(f"{label:8.1f} s |" + "".join(row))
    out.append(" " * 11 + "+" + "-" * (width + 1))
    ticks = " " * 12
    for r in rows:
        pos = 12 + round((math.log10(r["nodes"]) - x0) / (x1 - x0 or 1) * width)
        ticks = ticks.ljust(pos) + str(r["nodes"])
    out.append(ticks)
    out.append(" " * 12 + "nodes (log); a audit, f fix, * both, · linear from the smallest graph")
    return out


def _versions() -> str:
    import onnx_ir
    import onnxruntime

    return (f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, onnx {onnx.__version__}, "
            f"onnx-ir {onnx_ir.__version__}, onnxruntime {onnxruntime.__version__}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1000,10000,30000,100000")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--big", action="store_true", help="also the > 2 GB external-data model")
    ap.add_argument("--verbs", default="audit,fix", help="which of audit,fix to run on the chain graphs (fix at 100k "
                    "takes minutes)")
    ap.add_argument("--profile", type=int, help="profile audit and fix of one graph size in-process")
    ap.add_argument("--json", type=Path, help="write the measurements here")
    ap.add_argument("--render", type=Path, help="print the table and plot of a --json file, measure nothing")
    args = ap.parse_args()
    if args.render:
        print(render(json.loads(args.render.read_text())))
        return
    if args.profile:
        profile(args.profile)
        return
    print(f"{_versions()}; {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC; "
          f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    result: dict[str, Any] = {"versions": _versions(), "load_before": os.getloadavg(), "chains": []}
    with tempfile.TemporaryDirectory(dir="/work" if Path("/work").is_dir() else None) as tmp:
        for n in [int(s) for s in args.sizes.split(",") if s]:
            result["chains"].append(run_chain(n, Path(tmp), args.repeats, tuple(args.verbs.split(","))))
        if args.big:
            result["big"] = run_big(Path(tmp))
    result["load_after"] = os.getloadavg()
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    print(render(result))


if __name__ == "__main__":
    main()
