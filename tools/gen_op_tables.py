"""Turn onnx-tensorrt's operator tables into the package's data: src/trtready/targets/data/*.json.

The tables are copies of ``docs/operators.md`` from onnx/onnx-tensorrt, committed under
``tests/data/onnx_tensorrt/`` with where each came from (``SOURCES``), so the data is regenerated
offline and a test checks that it is (``tests/targets/test_op_tables.py``):

    python tools/gen_op_tables.py            # rewrite the JSON files
    python tools/gen_op_tables.py --check    # exit 1 when a JSON file differs from its table
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
COPIES = ROOT / "tests" / "data" / "onnx_tensorrt"
OUT = ROOT / "src" / "trtready" / "targets" / "data"

# One row per copy. ``commit`` is None where the copy was read from a stored snapshot whose commit
# was not recorded; ``date`` is then the release date the repository's Changelog gives.
SOURCES: tuple[dict[str, Any], ...] = (
    {"tensorrt": "8.6", "copy": "operators-8.6.md", "ref": "8.6-GA",
     "commit": "6872a9473391a73b96741711d52b98c2c3e25146", "date": "2023-03-10"},
    {"tensorrt": "10.1", "copy": "operators-10.1.md", "ref": "10.1-GA",
     "commit": "96e781103cfc4adf4a6bb557e94bac8e693f6f4c", "date": "2024-06-17"},
    {"tensorrt": "10.15", "copy": "operators-10.15.md", "ref": "main (TensorRT 10.15 GA)",
     "commit": None, "date": "2026-02-02"},
)
REPO, PATH = "onnx/onnx-tensorrt", "docs/operators.md"


def parse_operators_md(text: str) -> dict[str, Any]:
    """The table and its notes: ``{"header": …, "notes": […], "ops": {op: {supported, experimental,
    types, restrictions}}}``. A row may end without its closing ``|``; cells are trimmed."""
    lines = text.splitlines()
    header = next((ln.strip() for ln in lines if re.match(r"TensorRT [\d.]+ supports operators", ln)), "")
    notes = [ln.lstrip("> ").removeprefix("Note: ").strip() for ln in lines if ln.startswith("> Note:")]
    ops: dict[str, Any] = {}
    in_table = False
    for ln in lines:
        if ln.startswith("| Operator"):
            in_table = True
            continue
        if not in_table or not ln.startswith("|") or set(ln) <= set("|- "):
            continue
        cells = [c.strip() for c in ln.strip().strip("|").split("|")]
        cells += [""] * (4 - len(cells))
        op, supported, types = cells[0], cells[1].startswith("Y"), cells[2]
        rest = [c for c in cells[3:] if c]
        if not supported and types:  # an N row's third cell is prose (DynamicQuantizeLinear), not types
            rest, types = [types, *rest], ""
        ops[op] = {
            "supported": supported,
            "experimental": "EXPERIMENTAL" in cells[1],
            "types": [t.strip() for t in types.split(",") if t.strip()],
            "restrictions": " | ".join(rest),
        }
    return {"header": header, "notes": notes, "ops": ops}


def table_json(source: dict[str, Any]) -> dict[str, Any]:
    copy = COPIES / source["copy"]
    parsed = parse_operators_md(copy.read_text(encoding="utf-8"))
    return {
        "tensorrt": source["tensorrt"],
        "source": {"repo": REPO, "path": PATH, "ref": source["ref"], "commit": source["commit"],
                   "date": source["date"], "copy": copy.relative_to(ROOT).as_posix()},
        **parsed,
    }


def out_path(source: dict[str, Any]) -> Path:
    return OUT / f"onnx_tensorrt_{source['tensorrt']}.json"


def render(source: dict[str, Any]) -> str:
    return json.dumps(table_json(source), indent=1, sort_keys=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="only compare; exit 1 when a file is out of date")
    args = ap.parse_args(argv)
    stale = []
    for source in SOURCES:
        path, text = out_path(source), render(source)
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(path)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    for path in stale:
        print(f"out of date: {path.relative_to(ROOT)} (run python tools/gen_op_tables.py)", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
