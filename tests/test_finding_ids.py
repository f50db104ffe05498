"""Finding ids are written and read in one place: each kind of id reads back as what it names, and an id
of another layer or kind reads as nothing."""

from __future__ import annotations

from trtready.finding_ids import (Layer, build_finding_id, index_finding_id, op_finding_id, plugin_finding_id,
                                  tensor_finding_id, tensor_name)


def test_each_kind_of_id_reads_back_only_as_what_it_names() -> None:
    for layer in (Layer.STATE, Layer.FX, Layer.ONNX):
        fid = tensor_finding_id(layer, "a:b/c")  # names may hold the separator
        assert tensor_name(fid, layer) == "a:b/c"
        assert all(tensor_name(fid, other) is None for other in Layer if other is not layer)
        assert tensor_name(index_finding_id(layer, "gather"), layer) is None
        assert tensor_name(op_finding_id(layer, "n"), layer) is None
    assert tensor_name(plugin_finding_id("p"), Layer.ONNX) is None
    assert build_finding_id("binding", "x") == "trt:binding:x"
    assert len({tensor_finding_id(Layer.ONNX, "x"), index_finding_id(Layer.ONNX, "x"), op_finding_id(Layer.ONNX, "x"),
                plugin_finding_id("x")}) == 4
