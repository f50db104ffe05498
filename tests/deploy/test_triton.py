"""Triton model entries written from real engine manifests, read back with Triton's own schema.

The engines are built with TensorRT-RTX on the CPU; their manifests record the bindings. Every
config here is parsed by ``tritonclient.grpc.model_config_pb2`` (Triton's ``model_config.proto``)
and each field is compared with the manifest it was written from.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

import trtready
from tests.conftest import run_cli
from trtready.errors import BadInputError, UsageError

pb = pytest.importorskip("tritonclient.grpc.model_config_pb2", reason="tritonclient is in the test extra")
from google.protobuf import text_format  # noqa: E402  (after the importorskip that guards it)

# The test's own reading of Triton's data types, written from model_config.proto's enum, not from trtready.
EXPECTED_TYPE = {"FLOAT": "TYPE_FP32", "HALF": "TYPE_FP16", "INT32": "TYPE_INT32", "INT64": "TYPE_INT64",
                 "BOOL": "TYPE_BOOL", "UINT8": "TYPE_UINT8", "INT8": "TYPE_INT8", "BF16": "TYPE_BF16"}
BERT_DYNAMIC = ["input_ids:0=batch[1:8],1=seq[2:64]", "attention_mask:0=batch[1:8],1=seq[2:64]"]


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory, bert_onnx: Path) -> dict[str, Any]:
    """``convert --triton`` of the demo models and a tiny BERT with dynamic batch x seq."""
    root = tmp_path_factory.mktemp("deploy")
    repo = root / "repo"  # made by convert: a missing repository folder is created
    runs = {
        "token_model": trtready.convert("trtready.demo:token_model", root / "token_model", target="trt-rtx",
                                        triton=repo),
        "bn_cnn": trtready.convert("trtready.demo:bn_cnn", root / "bn_cnn", target="trt-rtx", triton=repo),
        "float64_buffer": trtready.convert("trtready.demo:float64_buffer", root / "float64_buffer",
                                           target="trt-rtx", triton=repo),
        "hash_model": trtready.convert("trtready.demo:hash_model", root / "hash_model", target="trt-rtx",
                                       triton=repo),
        "bert": trtready.convert(str(bert_onnx), root / "bert", target="trt-rtx", dynamic=BERT_DYNAMIC,
                                 triton=repo, max_batch=8, instances=2),
    }
    return {"root": root, "repo": repo, "runs": runs}


def parse(path: Path) -> Any:
    return text_format.Parse(path.read_text(), pb.ModelConfig())


def manifest_of(converted: dict[str, Any], name: str) -> dict[str, Any]:
    return json.loads((converted["root"] / name / "model.engine.json").read_text())


@pytest.mark.parametrize("name", ["token_model", "bn_cnn", "float64_buffer", "hash_model", "bert"])
def test_convert_triton_writes_a_config_tritons_schema_reads_as_the_engines_bindings(converted, name: str) -> None:
    folder = converted["repo"] / name
    manifest = manifest_of(converted, name)
    cfg = parse(folder / "config.pbtxt")
    assert cfg.name == name and cfg.platform == "tensorrt_plan"
    batching = name == "bert"
    assert cfg.max_batch_size == (8 if batching else 0) and cfg.HasField("dynamic_batching") == batching
    for entries, bindings in ((cfg.input, manifest["io"]["inputs"]), (cfg.output, manifest["io"]["outputs"])):
        assert [t.name for t in entries] == [b["name"] for b in bindings]
        for t, b in zip(entries, bindings):
            assert pb.DataType.Name(t.data_type) == EXPECTED_TYPE[b["dtype"]], b
            assert list(t.dims) == (b["shape"][1:] if batching else b["shape"]), b
            assert not t.HasField("reshape")
    if batching:
        (group,) = cfg.instance_group
        assert group.count == 2 and group.kind == pb.ModelInstanceGroup.KIND_GPU
    else:
        assert not cfg.instance_group
    plan = folder / "1" / "model.plan"
    assert hashlib.sha256(plan.read_bytes()).hexdigest() == manifest["engine"]["sha256"]
    # what Triton would serve round-trips unchanged through the schema
    assert parse(folder / "config.pbtxt") == pb.ModelConfig.FromString(cfg.SerializeToString())


def test_the_int64_bindings_of_the_token_model_are_declared_int64(converted) -> None:
    """The engine keeps INT64 ids and argmax (--io keep): a TYPE_INT32 config would not load (#7307)."""
    cfg = parse(converted["repo"] / "token_model" / "config.pbtxt")
    types = {t.name: pb.DataType.Name(t.data_type) for t in list(cfg.input) + list(cfg.output)}
    assert types == {"input_ids": "TYPE_INT64", "linear": "TYPE_FP32", "argmax": "TYPE_INT64"}
    dims = {t.name: list(t.dims) for t in list(cfg.input) + list(cfg.output)}
    assert dims == {"input_ids": [-1, -1], "linear": [-1, -1, 5], "argmax": [-1, -1]}


def test_convert_report_records_the_triton_model_and_validates(converted) -> None:
    import jsonschema

    from trtready.report.json_report import schema

    report = json.loads((converted["root"] / "bert" / "report.json").read_text())
    jsonschema.Draft202012Validator(schema()).validate(report)
    triton = report["deploy"]["triton"]
    assert triton["name"] == "bert" and triton["max_batch_size"] == 8
    assert any("tensorrt_rtx" in n and "Triton's TensorRT backend" in n for n in triton["notes"])


def test_generated_configs_pass_check_config(converted) -> None:
    for name in ("token_model", "bn_cnn", "float64_buffer", "hash_model", "bert"):
        result = trtready.check_config(converted["root"] / name / "model.engine.json",
                                       converted["repo"] / name / "config.pbtxt")
        assert result and result.mismatches == [], (name, result.mismatches)


def test_check_config_cli_catches_int32_declared_for_an_int64_binding(converted, tmp_path: Path) -> None:
    manifest = converted["root"] / "token_model" / "model.engine.json"
    good = converted["repo"] / "token_model" / "config.pbtxt"
    cfg = parse(good)
    cfg.input[0].data_type = pb.TYPE_INT32  # input_ids: what a hand-written config often says
    doctored = tmp_path / "config.pbtxt"
    doctored.write_text(text_format.MessageToString(cfg))
    r = run_cli("check-config", str(manifest), str(doctored))
    assert r.code == 1, r.stderr
    assert r.stdout.splitlines()[0] == ("MISMATCH input input_ids: data_type TYPE_INT32, the engine binds INT64 "
                                        "(TYPE_INT64)")
    assert sum(line.startswith("MISMATCH") for line in r.stdout.splitlines()) == 1
    ok = run_cli("check-config", str(manifest), str(good))
    assert ok.code == 0 and ok.stdout.startswith("CONSISTENT"), ok.stdout + ok.stderr


def test_check_config_names_each_mismatch(converted) -> None:
    from trtready.deploy import engine_contract
    from trtready.deploy.triton import check_config

    bert = engine_contract(converted["root"] / "bert" / "model.engine.json")
    cfg = parse(converted["repo"] / "bert" / "config.pbtxt")
    cfg.max_batch_size = 16  # the profile covers batch 1..8
    cfg.input[0].name = "ids"  # renamed: the engine's input_ids is missing, ids is foreign
    cfg.input[1].dims[:] = [-1, 4]  # rank 2 + batch; the engine's attention_mask is [-1, -1]
    cfg.output[0].dims[:] = [128, 32]  # seq 128 where the engine decides; 32 is its fixed hidden size
    cfg.output[1].dims[:] = [16]  # pooler output: hidden size is 32
    lines = check_config(bert, cfg)
    assert lines == [
        "max_batch_size 16: input input_ids's profile covers batch 1..8, not 1..16",
        "max_batch_size 16: input attention_mask's profile covers batch 1..8, not 1..16",
        "input input_ids: the engine has it, the config does not",
        "input attention_mask: rank 2 plus Triton's batch dim, the engine's is 2 (shape [-1, -1])",
        "input ids: in the config, not an input of the engine",
        "output tanh: dims[0] is 16, the engine's is fixed at 32",
    ]
    # a static size inside the profile is consistent; one outside it is named
    cfg = parse(converted["repo"] / "bert" / "config.pbtxt")
    cfg.input[0].dims[:] = [64]
    cfg.input[1].dims[:] = [65]
    assert check_config(bert, cfg) == ["input attention_mask: dims[0] is 65, outside the engine profile's 2..64"]
    token = engine_contract(converted["root"] / "token_model" / "model.engine.json")
    cfg = parse(converted["repo"] / "token_model" / "config.pbtxt")
    cfg.platform = "onnxruntime_onnx"
    cfg.output[0].dims[:] = [-1, -1, -1]
    assert check_config(token, cfg) == [
        "platform 'onnxruntime_onnx': a TensorRT engine is served by platform 'tensorrt_plan' (backend 'tensorrt')",
        "output linear: dims[2] is -1 (any size), the engine's is fixed at 5",
    ]


def test_check_config_bad_input_is_one_line_exit_2(converted, tmp_path: Path) -> None:
    manifest = converted["root"] / "token_model" / "model.engine.json"
    junk = tmp_path / "config.pbtxt"
    junk.write_text("input { nme: 'x' }\n")
    r = run_cli("check-config", str(manifest), str(junk))
    assert r.code == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "not a Triton model config" in r.stderr and "Traceback" not in r.stderr
    r = run_cli("check-config", str(tmp_path / "none.json"), str(junk))
    assert r.code == 2 and "no such manifest" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_a_failed_deploy_or_convert_leaves_no_repository_folder(converted, tmp_path: Path) -> None:
    """The repository folder a run makes for itself is gone again when the run fails: nothing half-written."""
    not_a_manifest = tmp_path / "notes.json"
    not_a_manifest.write_text("{}")
    r = run_cli("deploy", str(not_a_manifest), "--triton", str(tmp_path / "repo-a"))
    assert r.code == 2 and "trtready: error:" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "repo-a").exists()
    r = run_cli("convert", str(tmp_path / "missing.onnx"), "-o", str(tmp_path / "out"), "--triton",
                str(tmp_path / "repo-b"))
    assert r.code == 2 and not (tmp_path / "repo-b").exists() and not (tmp_path / "out").exists()
    with pytest.raises(BadInputError):
        trtready.deploy(not_a_manifest, tmp_path / "repo-c")
    assert not (tmp_path / "repo-c").exists()
    # a repository that existed before stays, empty or not
    (tmp_path / "repo-d").mkdir()
    r = run_cli("deploy", str(not_a_manifest), "--triton", str(tmp_path / "repo-d"))
    assert r.code == 2 and (tmp_path / "repo-d").is_dir()


def test_deploy_cli_and_force_semantics(converted, tmp_path: Path) -> None:
    manifest = converted["root"] / "token_model" / "model.engine.json"
    repo = tmp_path / "models"
    r = run_cli("deploy", str(manifest), "--triton", str(repo))
    # model.engine is named after its folder, as convert names its Triton model
    assert r.code == 0 and "DEPLOYED" in r.stdout, r.stderr
    folder = repo / "token_model"
    assert sorted(p.name for p in folder.iterdir()) == [".trtready.json", "1", "config.pbtxt", "run_engine.py"]
    before = (folder / "config.pbtxt").read_text()
    again = run_cli("deploy", str(manifest), "--triton", str(repo), "--max-batch", "4")
    assert again.code == 2 and "--force" in again.stderr
    assert (folder / "config.pbtxt").read_text() == before  # refused: nothing touched
    forced = run_cli("deploy", str(manifest), "--triton", str(repo), "--max-batch", "4", "--force", "--name", "tok")
    assert forced.code == 0 and parse(repo / "tok" / "config.pbtxt").max_batch_size == 4
    (folder / "labels.txt").write_text("mine\n")  # a file trtready did not write
    foreign = run_cli("deploy", str(manifest), "--triton", str(repo), "--force")
    assert foreign.code == 2 and "did not write" in foreign.stderr
    assert (folder / "labels.txt").read_text() == "mine\n" and (folder / "config.pbtxt").read_text() == before


def test_max_batch_is_refused_where_triton_could_not_batch(converted, tmp_path: Path) -> None:
    import onnx_ir as ir

    from trtready.engine.engine import build_engine
    from trtready.targets import resolve_target

    bert = converted["root"] / "bert" / "model.engine.json"
    with pytest.raises(UsageError, match=r"--max-batch 9: input input_ids's profile covers batch 1\.\.8, not 1\.\.9"):
        trtready.deploy(bert, tmp_path / "r", max_batch=9)
    model = ir.from_onnx_text("""
    <ir_version: 10, opset_import: ["" : 20]>
    g (int64[4] x) => (int64[4] y) { y = Add(x, x) }
    """)
    ir.save(model, str(tmp_path / "static.onnx"))
    built = build_engine(tmp_path / "static.onnx", tmp_path / "static.engine", resolve_target("trt-rtx"), {})
    with pytest.raises(UsageError, match=r"--max-batch 2: input x has shape \[4\], no dynamic first dim"):
        trtready.deploy(built.manifest, tmp_path / "r", max_batch=2)
    assert not (tmp_path / "r" / "static").exists()
    result = trtready.deploy(built.manifest, tmp_path / "r")
    cfg = parse(result.folder / "config.pbtxt")
    assert cfg.max_batch_size == 0 and [list(t.dims) for t in list(cfg.input) + list(cfg.output)] == [[4], [4]]
    assert pb.DataType.Name(cfg.input[0].data_type) == "TYPE_INT64"


def test_io_int32_changes_the_serving_contract(converted, tmp_path: Path) -> None:
    """``--io int32`` narrows the argmax output: the engine binds INT32, and so does its config; the
    config written for the --io keep engine no longer matches it."""
    narrowed = trtready.convert("trtready.demo:token_model", tmp_path / "token_model", target="trt-rtx",
                                io_int32=True, triton=tmp_path / "repo")
    cfg = parse(narrowed.deploy.folder / "config.pbtxt")
    manifest = json.loads((tmp_path / "token_model" / "model.engine.json").read_text())
    dtypes = {b["name"]: b["dtype"] for b in manifest["io"]["inputs"] + manifest["io"]["outputs"]}
    assert dtypes["argmax"] == "INT32"
    assert {t.name: pb.DataType.Name(t.data_type) for t in cfg.output}["argmax"] == "TYPE_INT32"
    old = trtready.check_config(tmp_path / "token_model" / "model.engine.json",
                                converted["repo"] / "token_model" / "config.pbtxt")
    assert "output argmax: data_type TYPE_INT64, the engine binds INT32 (TYPE_INT32)" in old.mismatches


def test_a_manifest_whose_engine_changed_is_refused(converted, tmp_path: Path) -> None:
    src = converted["root"] / "token_model"
    shutil.copy(src / "model.engine.json", tmp_path / "model.engine.json")
    (tmp_path / "model.engine").write_bytes((src / "model.engine").read_bytes()[:-1] + b"\x00")
    with pytest.raises(BadInputError, match="not the engine this manifest describes"):
        trtready.deploy(tmp_path / "model.engine.json", tmp_path / "repo")
    assert not (tmp_path / "repo").exists() or not any((tmp_path / "repo").iterdir())
    r = run_cli("deploy", str(tmp_path / "model.engine.json"), "--triton", str(tmp_path / "repo"))
    assert r.code == 2 and "sha256 differs" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_the_runtime_snippet_allocates_every_binding_as_the_manifest_says(converted) -> None:
    """The snippet compiles, its tables are the manifest's bindings, and its allocator makes tensors of
    those dtypes and shapes (on the CPU here; running the engine needs a GPU it was built for)."""
    import torch

    for name in ("token_model", "bert"):
        source = (converted["repo"] / name / "run_engine.py").read_text()
        code = compile(source, "run_engine.py", "exec")
        scope: dict[str, Any] = {"__name__": "run_engine"}
        exec(code, scope)  # defines tables and functions; runs nothing (the engine run is under __main__)
        manifest = manifest_of(converted, name)
        assert scope["LIBRARY"] == manifest["library"]["name"] == "tensorrt_rtx"
        torch_name = {"FLOAT": "float32", "INT64": "int64", "INT32": "int32"}
        assert {k: v[0] for k, v in scope["INPUTS"].items()} == {b["name"]: torch_name[b["dtype"]]
                                                                 for b in manifest["io"]["inputs"]}
        assert {k: v[0] for k, v in scope["OUTPUTS"].items()} == {b["name"]: torch_name[b["dtype"]]
                                                                  for b in manifest["io"]["outputs"]}
        for b in manifest["io"]["inputs"]:
            assert list(scope["INPUTS"][b["name"]][1]) == manifest["profiles"][b["name"]]["opt"]
        shapes = {k: v[1] for k, v in scope["INPUTS"].items()}
        tensors = scope["allocate"](shapes, device="cpu")
        for k, (dtype, shape) in scope["INPUTS"].items():
            assert tensors[k].dtype == getattr(torch, dtype) and tuple(tensors[k].shape) == tuple(shape)
    token = manifest_of(converted, "token_model")
    assert {b["name"]: b["dtype"] for b in token["io"]["inputs"]} == {"input_ids": "INT64"}


def test_a_batched_vector_binding_is_one_value_per_request(tmp_path: Path) -> None:
    """A binding of shape [-1] under Triton batching has no dims left: Triton's form is dims [1] with an
    empty reshape, and check-config reads it back as consistent."""
    import onnx_ir as ir

    from trtready.engine.engine import build_engine
    from trtready.engine.profiles import parse_profiles
    from trtready.targets import resolve_target

    model = ir.from_onnx_text("""
    <ir_version: 10, opset_import: ["" : 20]>
    g (int64[N] x) => (int64[N] y) { y = Add(x, x) }
    """)
    ir.save(model, str(tmp_path / "vec.onnx"))
    built = build_engine(tmp_path / "vec.onnx", tmp_path / "vec.engine", resolve_target("trt-rtx"),
                         parse_profiles(["x:1,4,8"]))
    result = trtready.deploy(built.manifest, tmp_path / "repo", max_batch=8)
    cfg = parse(result.folder / "config.pbtxt")
    assert cfg.max_batch_size == 8
    for t in list(cfg.input) + list(cfg.output):
        assert list(t.dims) == [1] and t.HasField("reshape") and list(t.reshape.shape) == []
    assert trtready.check_config(built.manifest, result.folder / "config.pbtxt")
    unbatched = trtready.deploy(built.manifest, tmp_path / "repo", name="vec_full")
    full = parse(unbatched.folder / "config.pbtxt")
    assert full.max_batch_size == 0 and [list(t.dims) for t in full.input] == [[-1]]
    assert not full.input[0].HasField("reshape")


def test_a_crafted_manifest_stays_data_in_every_file_deploy_writes(converted, tmp_path: Path) -> None:
    """Binding and file names from a manifest are quoted by protobuf in config.pbtxt and are repr()
    literals in run_engine.py: none becomes a config field or code; a library that is not a TensorRT
    runtime is refused (the snippet would import it)."""
    src = converted["root"] / "token_model"
    manifest = json.loads((src / "model.engine.json").read_text())
    engine = 'x"""\nopen("PWNED", "w")\n#.engine'
    shutil.copy(src / "model.engine", tmp_path / engine)
    evil = 'ids"\n}\ninput {\n  name: "extra'
    payload = "__import__('os').system('touch PWNED')"
    manifest["engine"]["path"] = engine
    manifest["io"]["inputs"][0]["name"] = evil
    manifest["profiles"] = {evil: manifest["profiles"]["input_ids"]}
    manifest["io"]["outputs"][0]["name"] = payload
    path = tmp_path / "crafted\n}.json"
    path.write_text(json.dumps(manifest))
    result = trtready.deploy(path, tmp_path / "repo", name="crafted")
    cfg = parse(result.folder / "config.pbtxt")
    assert [t.name for t in cfg.input] == [evil] and [t.name for t in cfg.output][0] == payload
    scope: dict[str, Any] = {"__name__": "run_engine"}
    exec(compile((result.folder / "run_engine.py").read_text(), "run_engine.py", "exec"), scope)
    assert list(scope["INPUTS"]) == [evil] and scope["ENGINE"] == engine
    assert not (tmp_path / "PWNED").exists() and not Path("PWNED").exists()
    manifest["library"]["name"] = "antigravity"
    path.write_text(json.dumps(manifest))
    with pytest.raises(BadInputError, match="'antigravity' is not a TensorRT runtime"):
        trtready.deploy(path, tmp_path / "repo", name="other")
    assert not (tmp_path / "repo" / "other").exists()


def test_convert_triton_of_the_zoo_bert_on_the_command_line(tmp_path: Path) -> None:
    """The zoo's BERT as its users call it (keyword inputs, dynamic batch x seq) through ``convert --triton``:
    the written config states the engine's bindings, and ``check-config`` of it against the manifest is clean."""
    from tests.conftest import ROOT

    repo = tmp_path / "repo"
    res = run_cli("convert", "tests.zoo.models:bert", "-o", str(tmp_path / "bert"), "--target", "trt-rtx",
                  "--triton", str(repo), "--max-batch", "4", cwd=ROOT)
    assert res.code == 0, res.stderr[-2000:]
    manifest = json.loads((tmp_path / "bert" / "model.engine.json").read_text())
    cfg = parse(repo / "bert" / "config.pbtxt")
    assert cfg.max_batch_size == 4 and cfg.HasField("dynamic_batching")
    declared = {t.name: (pb.DataType.Name(t.data_type), list(t.dims)) for t in cfg.input}
    bound = {b["name"]: b for b in manifest["io"]["inputs"]}
    assert set(declared) == set(bound) == {"input_ids", "attention_mask"}
    for name, (dtype, dims) in declared.items():
        assert dtype == EXPECTED_TYPE[bound[name]["dtype"]] == "TYPE_INT64", (name, dtype)
        assert dims == [-1] and bound[name]["shape"] == [-1, -1]  # the batch is Triton's; seq stays dynamic
    outputs = {t.name: (pb.DataType.Name(t.data_type), list(t.dims)) for t in cfg.output}
    assert outputs == {b["name"]: (EXPECTED_TYPE[b["dtype"]], b["shape"][1:]) for b in manifest["io"]["outputs"]}
    check = run_cli("check-config", str(tmp_path / "bert" / "model.engine.json"), str(repo / "bert" / "config.pbtxt"))
    assert check.code == 0, check.stdout + check.stderr
