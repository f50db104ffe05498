"""Narrowing passes on onnx-ir models: each applies one part of a plan (onnx-ir's pass contract).

Every pass is an ``InPlacePass``: it edits the model it is given and says so; ``fix`` hands them a
model loaded for the purpose, never the caller's input file. Decisions are the planner's
(:mod:`trtready.plan`); a pass only carries them out.
"""

from __future__ import annotations

import numpy as np
import onnx_ir as ir


def constant_array(v: ir.Value) -> np.ndarray | None:
    """The value of an initializer or a Constant's output as numpy (None when it has none)."""
    tensor = ir.convenience.get_const_tensor(v)
    return None if tensor is None else np.asarray(tensor.numpy())


class NameSource:
    """Fresh value/node names that collide with nothing in the graph."""

    def __init__(self, graph: ir.Graph) -> None:
        self.used: set[str] = {v.name for v in graph.inputs if v.name} | set(graph.initializers)
        for node in graph:
            self.used.update(o.name for o in node.outputs if o.name)
            if node.name:
                self.used.add(node.name)

    def __call__(self, base: str) -> str:
        name, i = base, 1
        while name in self.used:
            i += 1
            name = f"{base}_{i}"
        self.used.add(name)
        return name
