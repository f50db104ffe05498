"""Narrowing passes on onnx-ir models, one concern each (onnx-ir's pass contract).

Each pass is an ``InPlacePass``: it edits the model it is given and says so; ``fix`` hands them a
model loaded for the purpose, never the caller's input file.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def constant_array(v: Any) -> np.ndarray | None:
    """The value of an initializer or Constant output as numpy (None when unreadable)."""
    if v.const_value is not None:
        return np.asarray(v.const_value.numpy())
    node = v.producer()
    if node is None or node.op_type != "Constant":
        return None
    for name, attr in node.attributes.items():
        if name == "value":
            return np.asarray(attr.value.numpy())
        if name == "value_int":
            return np.asarray(attr.value, dtype=np.int64)
        if name == "value_ints":
            return np.asarray(list(attr.value), dtype=np.int64)
        if name == "value_float":
            return np.asarray(attr.value, dtype=np.float32)
        if name == "value_floats":
            return np.asarray(list(attr.value), dtype=np.float32)
    return None


class NameSource:
    """Fresh value/node names that collide with nothing in the graph."""

    def __init__(self, graph: Any) -> None:
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
