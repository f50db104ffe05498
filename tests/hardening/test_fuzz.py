"""Fuzz: mutated ONNX models through load + audit + fix raise only the project's own errors.

CI runs a bounded number of cases; ``TRTREADY_FUZZ_CASES=10000`` runs a long campaign (docs/hardening.md).
"""

from __future__ import annotations

import os

import numpy as np
import onnx
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

import trtready
from trtready.errors import TrtReadyError, root_cause

CASES = int(os.environ.get("TRTREADY_FUZZ_CASES", "150"))
OPS = ["Add", "Mul", "Gather", "Reshape", "Shape", "Cast", "Range", "Slice", "Concat", "ArgMax", "Where",
       "Unsqueeze", "Mod", "CumSum", "NoSuch", "Identity", "If"]


def seed_model() -> onnx.ModelProto:
    t = numpy_helper.from_array(np.arange(20, dtype=np.float32).reshape(10, 2), "t")
    k = numpy_helper.from_array(np.array(3, dtype=np.int64), "k")
    shp = numpy_helper.from_array(np.array([-1], dtype=np.int64), "shp")
    nodes = [
        helper.make_node("Add", ["ids", "k"], ["a"]),
        helper.make_node("Mod", ["a", "ten"], ["m"]),
        helper.make_node("Gather", ["t", "m"], ["g"]),
        helper.make_node("Reshape", ["g", "shp"], ["y"]),
        helper.make_node("Shape", ["ids"], ["s"]),
        helper.make_node("Cast", ["s"], ["sd"], to=TensorProto.DOUBLE),
    ]
    ten = numpy_helper.from_array(np.array(10, dtype=np.int64), "ten")
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("ids", TensorProto.INT64, ["N"])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None),
                           helper.make_tensor_value_info("sd", TensorProto.DOUBLE, None)], [t, k, shp, ten])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 20)])


@st.composite
def mutated(draw) -> bytes:
    m = seed_model()
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["op", "drop", "input", "dtype", "dims", "attr", "opset", "external", "bytes",
                                     "truncate", "output"]))
        nodes = m.graph.node
        if kind == "op" and nodes:
            nodes[draw(st.integers(0, len(nodes) - 1))].op_type = draw(st.sampled_from(OPS))
        elif kind == "drop" and nodes:
            del nodes[draw(st.integers(0, len(nodes) - 1))]
        elif kind == "input" and nodes:
            n = nodes[draw(st.integers(0, len(nodes) - 1))]
            if n.input:
                n.input[draw(st.integers(0, len(n.input) - 1))] = draw(st.sampled_from(["ids", "t", "k", "a", "zz", ""]))
        elif kind == "dtype" and m.graph.initializer:
            m.graph.initializer[draw(st.integers(0, len(m.graph.initializer) - 1))].data_type = draw(
                st.sampled_from([1, 6, 7, 9, 11, 16, 0, 99]))
        elif kind == "dims" and m.graph.initializer:
            init = m.graph.initializer[draw(st.integers(0, len(m.graph.initializer) - 1))]
            init.dims[:] = draw(st.lists(st.integers(0, 5), max_size=3))
        elif kind == "attr" and nodes:
            n = nodes[draw(st.integers(0, len(nodes) - 1))]
            n.attribute.append(helper.make_attribute(draw(st.sampled_from(["axis", "to", "value", "keepdims"])),
                                                     draw(st.integers(-5, 20))))
        elif kind == "opset":
            m.opset_import[0].version = draw(st.integers(1, 40))
        elif kind == "external" and m.graph.initializer:
            init = m.graph.initializer[0]
            init.data_location = TensorProto.EXTERNAL
            del init.external_data[:]
            for key, val in (("location", draw(st.sampled_from(["w.bin", "../w.bin", "/etc/passwd", ""]))),
                             ("length", str(draw(st.integers(0, 100))))):
                e = init.external_data.add()
                e.key, e.value = key, val
        elif kind == "output":
            m.graph.output[0].name = draw(st.sampled_from(["ids", "k", "nope", ""]))
    data = bytearray(m.SerializeToString())
    if draw(st.booleans()):
        for _ in range(draw(st.integers(1, 4))):
            data[draw(st.integers(0, len(data) - 1))] ^= draw(st.integers(1, 255))
    if draw(st.integers(0, 4)) == 0:
        data = data[: draw(st.integers(0, len(data)))]
    return bytes(data)


@settings(max_examples=CASES, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                    HealthCheck.function_scoped_fixture])
@given(mutated())
def test_mutated_models_raise_only_project_errors(tmp_path_factory, data: bytes) -> None:
    folder = tmp_path_factory.mktemp("fuzz")
    path = folder / "m.onnx"
    path.write_bytes(data)
    (folder / "w.bin").write_bytes(b"\0" * 64)
    for label, call in (
        ("audit", lambda: trtready.audit(str(path), target="trt8")),
        ("fix", lambda: trtready.fix(str(path), folder / "out.onnx", input_range=["ids:0..5"], trials=1, force=True)),
    ):
        try:
            call()
            event(f"{label}: ok")
        except TrtReadyError as e:
            event(f"{label}: {type(e).__name__}")
        except Exception as e:  # noqa: BLE001 - anything else is a crash the fuzzer found
            if not isinstance(root_cause(e), TrtReadyError):
                raise
    assert path.read_bytes() == data  # the input is never modified


# --- .pt2 archives: JSON, payload configs and zip members mutated, with live payloads in the pool ----------
PT2_CASES = int(os.environ.get("TRTREADY_FUZZ_PT2_CASES", str(max(40, CASES // 3))))
_SEED_PT2: dict[str, bytes] = {}


def _seed_pt2() -> bytes:
    if "seed" not in _SEED_PT2:
        import tempfile
        from pathlib import Path

        from tests.hardening.craft import clean_pt2

        with tempfile.TemporaryDirectory() as tmp:
            _SEED_PT2["seed"] = clean_pt2(Path(tmp) / "seed.pt2").read_bytes()
    return _SEED_PT2["seed"]


_EVIL_STRINGS = [
    "__import__('builtins').open('{marker}', 'w')", "torch.load", "torch.ops.aten.from_file.default", "os.system",
    "Symbol('s', positive=True)", "FloorDiv(s0, 2)", "", "_operator.getitem", "math.floor", "torch.sym_max",
    "L['x'].size()[0] <= 8", "open('{marker}', 'w') is not None",
]


@st.composite
def mutated_pt2(draw, marker: str) -> bytes:
    import io
    import json as _json
    import zipfile

    from tests.hardening.craft import payload_pickle

    src = zipfile.ZipFile(io.BytesIO(_seed_pt2()))
    members = {i.filename: src.read(i) for i in src.infolist()}
    names = sorted(members)
    for _ in range(draw(st.integers(1, 4))):
        name = draw(st.sampled_from(names))
        kind = draw(st.sampled_from(["json", "payload", "drop", "bytes", "add"]))
        if kind == "json" and name.endswith(".json"):
            try:
                obj = _json.loads(members[name])
            except ValueError:
                continue
            stack, slots = [obj], []
            while stack:
                cur = stack.pop()
                if isinstance(cur, dict):
                    slots += [(cur, k) for k in cur]
                    stack.extend(cur.values())
                elif isinstance(cur, list):
                    slots += [(cur, i) for i in range(len(cur))]
                    stack.extend(cur)
            if slots:
                holder, key = draw(st.sampled_from(slots))
                holder[key] = draw(st.one_of(
                    st.sampled_from(_EVIL_STRINGS).map(lambda s: s.format(marker=marker)),
                    st.integers(-2**63, 2**64), st.booleans(), st.none(), st.just([]), st.just({}),
                ))
            members[name] = _json.dumps(obj).encode()
        elif kind == "payload":
            members[name] = payload_pickle(marker)
        elif kind == "drop" and len(members) > 1:
            members.pop(name, None)
            names = sorted(members)
        elif kind == "bytes" and members.get(name):
            data = bytearray(members[name])
            data[draw(st.integers(0, len(data) - 1))] ^= draw(st.integers(1, 255))
            members[name] = bytes(data)
        elif kind == "add":
            root = names[0].split("/", 1)[0]
            tail = draw(st.sampled_from(["data/aotinductor/model/x.so", "data/weights/model.pt", "extra/x",
                                         "serialized_exported_program.json", "data/constants/opaque_obj_0"]))
            members[f"{root}/{tail}"] = payload_pickle(marker)
            names = sorted(members)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    data = out.getvalue()
    if draw(st.integers(0, 5)) == 0:
        data = data[: draw(st.integers(0, len(data)))]
    return data


# One fixed path, so that the generated archives (which embed it) are the same from run to run.
_MARKER = "/tmp/trtready-fuzz-pt2-PWNED"


@settings(max_examples=PT2_CASES, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                        HealthCheck.function_scoped_fixture])
@given(mutated_pt2(_MARKER))
def test_mutated_pt2_archives_never_run_code(tmp_path_factory, raw: bytes) -> None:
    from pathlib import Path

    folder = tmp_path_factory.mktemp("fuzz_pt2")
    marker = Path(_MARKER)
    marker.unlink(missing_ok=True)
    path = folder / "m.pt2"
    path.write_bytes(raw)
    try:
        trtready.audit(str(path), target="trt-rtx")
        event("pt2 audit: ok")
    except TrtReadyError as e:
        event(f"pt2 audit: {type(e).__name__}")
    except Exception as e:  # noqa: BLE001 - anything else is a crash the fuzzer found
        if not isinstance(root_cause(e), TrtReadyError):
            raise
    assert not marker.exists(), "a payload ran"
    assert path.read_bytes() == raw


# --- safetensors headers ------------------------------------------------------------------------------------
@st.composite
def safetensors_file(draw) -> bytes:
    import json as _json
    import struct

    entries = {}
    for i in range(draw(st.integers(0, 3))):
        entry = {
            "dtype": draw(st.sampled_from(["I64", "F64", "U64", "F32", "I8", "BOOL", "X", 7])),
            "shape": draw(st.one_of(st.lists(st.integers(-3, 2**40), max_size=3), st.just("2"), st.just([2.5]))),
            "data_offsets": draw(st.one_of(st.lists(st.integers(-16, 80), min_size=2, max_size=2),
                                           st.just([0]), st.just("0,8"))),
        }
        for key in draw(st.lists(st.sampled_from(list(entry)), max_size=1)):
            entry.pop(key)
        entries[f"t{i}"] = entry
    if draw(st.booleans()):
        entries["__metadata__"] = draw(st.sampled_from([{"a": "b"}, [], "x", None]))
    header = _json.dumps(entries).encode()
    declared = draw(st.one_of(st.just(len(header)), st.integers(0, 2**64 - 1)))
    body = draw(st.binary(min_size=0, max_size=80))
    return struct.pack("<Q", declared) + header + body


@settings(max_examples=CASES, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                    HealthCheck.function_scoped_fixture])
@given(safetensors_file())
def test_mutated_safetensors_raise_only_project_errors(tmp_path_factory, raw: bytes) -> None:
    folder = tmp_path_factory.mktemp("fuzz_st")
    path = folder / "m.safetensors"
    path.write_bytes(raw)
    try:
        trtready.audit(str(path), target="trt8")
        event("safetensors audit: ok")
    except TrtReadyError as e:
        event(f"safetensors audit: {type(e).__name__}")
    assert path.read_bytes() == raw
