"""FloatIslandPass: the nodes of one op on one low-precision float type compute in float32, for ONNX Runtime.

ONNX Runtime's CPU provider has no kernel for some ops on bfloat16 or float16 (``Mul`` on bfloat16:
Falcon's ALiBi in a bfloat16 model), so it cannot load a model TensorRT builds. Verification then
runs a copy in which each such node reads its low-precision inputs cast up to float32 and its
low-precision outputs are rounded back::

    y = Mul(a, b)                         # bfloat16
    →  y = Cast<to=BFLOAT16>(Mul(Cast<to=FLOAT>(a), Cast<to=FLOAT>(b)))

Every bfloat16 and float16 value is exact in float32, and rounding the float32 result back is how
PyTorch's CPU kernels compute those types, so the copy computes what the module does; the file
trtready writes is never this copy. Ops whose result type is set by an attribute rather than their
inputs (Cast, ConstantOfShape, random ops…) are not matched.
"""

from __future__ import annotations

import onnx_ir as ir

#: The types an island widens, and what they widen to.
LOW_FLOATS = (ir.DataType.BFLOAT16, ir.DataType.FLOAT16)
_TYPED_BY_ATTRIBUTE = {"Cast", "CastLike", "ConstantOfShape", "Constant", "EyeLike", "RandomNormal",
                       "RandomNormalLike", "RandomUniform", "RandomUniformLike", "Multinomial", "Bernoulli"}


def islandable(node: ir.Node, dtype: ir.DataType) -> bool:
    """Whether ``node`` reads ``dtype`` (one of :data:`LOW_FLOATS`) and its outputs' types follow its inputs'."""
    return (dtype in LOW_FLOATS and node.op_type not in _TYPED_BY_ATTRIBUTE and node.domain in ("", "ai.onnx")
            and any(v is not None and v.dtype == dtype for v in node.inputs))


class FloatIslandPass(ir.passes.InPlacePass):
    """Run every ``op_type`` node (default domain, any graph) that reads ``dtype`` in float32."""

    def __init__(self, op_type: str, dtype: ir.DataType) -> None:
        super().__init__()
        self.op_type, self.dtype = op_type, dtype
        self.count = 0  # nodes widened by the last call

    def call(self, model: ir.Model) -> ir.passes.PassResult:
        self.count = 0
        self._names = {n.name for n in ir.traversal.RecursiveGraphIterator(model.graph) if n.name}
        for node in list(ir.traversal.RecursiveGraphIterator(model.graph)):
            if node.op_type == self.op_type and islandable(node, self.dtype) and node.graph is not None:
                self._widen(node.graph, node)
                self.count += 1
        return ir.passes.PassResult(model, modified=self.count > 0)

    def _name(self, base: str) -> str:
        """``base``, or ``base_2``…: ONNX Runtime refuses two nodes of one name."""
        name, k = base, 1
        while name in self._names:
            k += 1
            name = f"{base}_{k}"
        self._names.add(name)
        return name

    def _widen(self, graph: ir.Graph, node: ir.Node) -> None:
        before: list[ir.Node] = []
        inputs: list[ir.Value | None] = []
        for i, v in enumerate(node.inputs):
            if v is not None and v.dtype == self.dtype:
                cast = ir.node("Cast", [v], attributes={"to": ir.DataType.FLOAT}, name=self._name(f"{node.name or node.op_type}_in{i}_to_float"))
                cast.outputs[0].dtype, cast.outputs[0].shape = ir.DataType.FLOAT, v.shape
                before.append(cast)
                inputs.append(cast.outputs[0])
            else:
                inputs.append(v)
        wide = ir.Node(node.domain, node.op_type, inputs, attributes=list(node.attributes.values()),
                       overload=node.overload, version=node.version, num_outputs=len(node.outputs),
                       name=self._name(f"{node.name or node.op_type}_float"))
        after: list[ir.Node] = []
        replacements: list[ir.Value] = []
        for old, new in zip(node.outputs, wide.outputs):
            new.shape = old.shape
            if old.dtype == self.dtype:
                new.dtype = ir.DataType.FLOAT
                back = ir.node("Cast", [new], attributes={"to": self.dtype}, name=self._name(f"{node.name or node.op_type}_out_rounded"))
                back.outputs[0].dtype, back.outputs[0].shape = self.dtype, old.shape
                after.append(back)
                replacements.append(back.outputs[0])
            else:
                new.type = old.type
                replacements.append(new)
        ir.convenience.replace_nodes_and_values(graph, node, [node], [*before, wide, *after],
                                                list(node.outputs), replacements)
