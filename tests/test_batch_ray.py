"""``batch`` on Ray: one task per model × target, the same rows and reports as the local pool.

One local Ray instance for the module (starting one costs seconds); the batch finds it connected and
leaves it running.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.test_batch import make_list
from trtready.batch import run_batch

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.full_tier("a local Ray cluster started per module")


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    from trtready.batch import ray_runtime_env

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, runtime_env=ray_runtime_env())
    yield
    ray.shutdown()


def _comparable(row: dict) -> dict:
    return {k: v for k, v in row.items() if k != "seconds"}


def _report(out: Path, row: dict) -> dict | None:
    if row["report"] is None:
        return None
    data = json.loads((out / row["report"]).read_text())
    return {k: data[k] for k in ("verdict", "findings", "target", "layers", "model")}


def test_ray_gives_the_local_pools_results(tmp_path: Path, local_ray: None) -> None:
    listing, specs = make_list(tmp_path)
    # two targets: a job per model × target, each in NAME/TARGET/
    targets = ["trt8", "trt10"]
    on_ray = run_batch(listing, tmp_path / "ray", targets=targets, ray=True)
    assert ray.is_initialized()  # the batch used the connected Ray and left it to its owner
    local = run_batch(listing, tmp_path / "pool", targets=targets, jobs=2)
    assert on_ray.executor == {"kind": "ray", "address": "connected"}
    assert local.executor == {"kind": "process-pool", "workers": 2}
    ray_rows = on_ray.to_json()["models"]
    pool_rows = local.to_json()["models"]
    assert [(r["spec"], r["target"]) for r in ray_rows] == [(s, t) for s in specs for t in targets]
    assert [r["folder"] for r in ray_rows][:2] == ["no.such.module-factory/trt8", "no.such.module-factory/trt10"]
    assert [_comparable(r) for r in ray_rows] == [_comparable(r) for r in pool_rows]
    for ray_row, pool_row in zip(ray_rows, pool_rows):
        assert _report(on_ray.out, ray_row) == _report(local.out, pool_row), ray_row["spec"]
    # trt10 handles int64 natively: the ONNX file is ready there and not for trt8; the bad spec fails on both
    assert [r["status"] for r in ray_rows] == ["failed", "failed", "ready", "ready", "not ready", "ready"]
    assert on_ray.exit_code == local.exit_code == 2 and not on_ray

