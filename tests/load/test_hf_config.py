"""``hf:`` — a transformers config audited without weights (docs/cli.md, "Config-only audit").

The meta build must not lose a finding: the same architecture built with real random weights and
audited through a module spec gives the same state and FX findings, intervals and outcomes.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from trtready.report.json_report import schema

pytest.importorskip("transformers")

LLAMA = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2,
         "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 128, "vocab_size": 128,
         "max_position_embeddings": 64, "torch_dtype": "bfloat16"}
BERT = {"architectures": ["BertModel"], "model_type": "bert", "hidden_size": 64, "num_hidden_layers": 2,
        "num_attention_heads": 4, "intermediate_size": 128, "vocab_size": 128, "max_position_embeddings": 64}

# The same architecture with real random weights, called as the hf: build calls it (batch 2 × seq 16,
# seeded ids, a mask of ones, batch [1:4] × seq [2:max positions]).
TWIN = textwrap.dedent('''
    import json, torch, transformers
    from trtready import ModelSpec

    def _twin(name, cls, config_cls):
        data = json.load(open(name))
        config = getattr(transformers, config_cls)(
            **{k: v for k, v in data.items() if k not in ("model_type", "architectures")})
        config.use_cache = False
        torch.manual_seed(0)
        model = getattr(transformers, cls)(config).eval()
        ids = torch.randint(0, config.vocab_size, (2, 16), generator=torch.Generator().manual_seed(0))
        kwargs = {"input_ids": ids, "attention_mask": torch.ones(2, 16, dtype=torch.int64)}
        seq = config.max_position_embeddings
        return ModelSpec(model, (), kwargs, dynamic=[f"{n}:0=batch[1:4],1=seq[2:{seq}]" for n in kwargs])

    def llama():
        return _twin("llama/config.json", "LlamaForCausalLM", "LlamaConfig")

    def bert():
        return _twin("bert/config.json", "BertModel", "BertConfig")
''')


@pytest.fixture
def configs(tmp_path: Path) -> Path:
    for name, data in (("llama", LLAMA), ("bert", BERT)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.json").write_text(json.dumps(data))
    (tmp_path / "twins.py").write_text(TWIN)
    return tmp_path


def _report(cli: Any, model: str, cwd: Path, target: str, out: str) -> dict[str, Any]:
    res = cli("audit", model, "--target", target, "--json", out, cwd=cwd)
    assert res.code in (0, 1), res.stderr
    return dict(json.loads((cwd / out).read_text()), _stdout=res.stdout)


def _computed(f: dict[str, Any]) -> bool:
    """An int64 value the graph computes over the sequence (positions, mask indices), not an input."""
    return f["id"].startswith("fx:") and f["id"] not in ("fx:input_ids", "fx:attention_mask") \
        and "seq" in str(f["shape"])


def _seen(report: dict[str, Any]) -> dict[str, tuple[Any, ...]]:
    return {f["id"]: (f["dtype"], f["shape"], f["interval"], {t: p["outcome"] for t, p in f["predictions"].items()})
            for f in report["findings"]}


@pytest.mark.parametrize("name", ["llama", "bert"])
def test_config_only_audit_finds_what_the_weighted_model_shows(cli: Any, configs: Path, name: str) -> None:
    hf = _report(cli, f"hf:{name}", configs, "trt8", "hf.json")  # a folder: its config.json
    spec = _report(cli, f"twins:{name}", configs, "trt8", "spec.json")
    assert _seen(hf) == _seen(spec)
    assert hf["verdict"]["ready"] == spec["verdict"]["ready"]
    assert hf["verdict"]["line"].startswith(spec["verdict"]["line"])
    int64 = {i for i, (dtype, *_rest) in _seen(hf).items() if dtype == "int64"}
    assert any(i.startswith("fx:") for i in int64)
    # the default bounds: seq up to max_position_embeddings (64), so positions reach 63
    positions = [f["interval"] for f in hf["findings"] if _computed(f)]
    assert {"lo": 0, "hi": 63} in positions and all(i is None or i["hi"] <= 63 for i in positions)
    if name == "bert":  # its int64 position_ids buffer keeps its real values: 0..63
        ids = next(f for f in hf["findings"] if f["id"] == "state:embeddings.position_ids")
        assert ids["interval"] == {"lo": 0, "hi": 63}
    # what a weightless build did not do is said, in the report and on the terminal
    assert hf["model"]["kind"] == "hf-config"
    assert hf["model"]["config_only"]["model_class"] == (LLAMA if name == "llama" else BERT)["architectures"][0]
    assert hf["model"]["config_only"]["chosen_by"] == "architectures[0]"
    assert {k: hf["model"]["config_only"][k] for k in ("weights_loaded", "float_values_read", "exported",
                                                        "verified")} == dict.fromkeys(
        ("weights_loaded", "float_values_read", "exported", "verified"), False)
    assert hf["layers"]["onnx"].startswith("skipped: config only")
    assert "weights not loaded, float values not read, nothing exported or verified" in hf["verdict"]["line"]
    assert "weights not loaded" in " ".join(hf["_stdout"].split())
    assert "config_only" not in spec["model"]
    # a config file is a model file: read in the jail where the machine has one (docs/hardening.md)
    from trtready.jail import isolation

    if isolation().available:
        assert hf["environment"]["isolation"].startswith("jail:")
    jsonschema.Draft202012Validator(schema()).validate({k: v for k, v in hf.items() if k != "_stdout"})


def test_model_type_name_and_overrides(cli: Any, tmp_path: Path) -> None:
    """``hf:llama`` is ``LlamaConfig()``'s defaults, ``--hf-set`` changes fields, AutoModel is the class."""
    res = cli("audit", "hf:llama", "--target", "trt10", "--hf-set", "num_hidden_layers=1",
              "--hf-set", "hidden_size=64", "--hf-set", "intermediate_size=128", "--hf-set", "vocab_size=128",
              "--dynamic", "input_ids:0=batch[1:2],1=seq[2:32]", "--dynamic", "attention_mask:0=batch[1:2],1=seq[2:32]",
              "--json", "r.json", cwd=tmp_path)
    assert res.code == 0, res.stderr
    data = json.loads((tmp_path / "r.json").read_text())
    info = data["model"]["config_only"]
    assert (info["model_class"], info["chosen_by"], info["config"]) == (
        "LlamaModel", "AutoModel for model_type 'llama'", None)
    assert info["overrides"] == {"num_hidden_layers": 1, "hidden_size": 64, "intermediate_size": 128,
                                 "vocab_size": 128}
    # --dynamic replaces the default bounds (seq up to LlamaConfig's max_position_embeddings, 2048)
    positions = [f["interval"] for f in data["findings"] if _computed(f)]
    assert {"lo": 0, "hi": 31} in positions and all(i is None or i["hi"] <= 31 for i in positions)


@pytest.mark.parametrize("content, message", [
    ("{bad", "not valid JSON"),
    ('{"model_type": "nosuch"}', "unknown model_type 'nosuch'"),
    ('{"model_type": "llama", "auto_map": {"AutoModel": "modeling_x.X"}}', "custom code (auto_map)"),
    ('[1, 2]', "must be a JSON object"),
    ('{"hidden_size": 8}', "has no model_type"),
])
def test_bad_config_is_one_line_exit_2(cli: Any, tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "config.json").write_text(content)
    res = cli("audit", f"hf:{tmp_path / 'config.json'}")
    assert res.code == 2
    assert res.stderr.count("\n") == 1 and message in res.stderr and "Traceback" not in res.stderr


def test_auto_map_is_refused_even_with_trust_code(cli: Any, tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text('{"model_type": "llama", "auto_map": {"AutoModel": "m.X"}}')
    res = cli("audit", f"hf:{tmp_path}", "--trust-code")
    assert res.code == 2 and "auto_map" in res.stderr and res.stderr.count("\n") == 1


def test_missing_config_is_one_line_exit_2(cli: Any, tmp_path: Path) -> None:
    res = cli("audit", f"hf:{tmp_path}/")  # a folder without config.json
    assert res.code == 2 and "no such file" in res.stderr and res.stderr.count("\n") == 1


@pytest.mark.parametrize("verb", [["fix", "-o", "out"], ["convert", "-o", "out"], ["export", "-o", "out.onnx"]])
def test_verbs_that_need_weights_refuse(cli: Any, configs: Path, verb: list[str]) -> None:
    res = cli(verb[0], "hf:llama", *verb[1:], cwd=configs)
    assert res.code == 2, res.stderr
    assert res.stderr.count("\n") == 1 and "a config has no weights, so only `audit` takes it" in res.stderr
    assert not (configs / "out").exists() and not (configs / "out.onnx").exists()


def test_hf_set_needs_an_hf_model(cli: Any, tmp_path: Path) -> None:
    res = cli("audit", "trtready.demo:hash", "--hf-set", "a=1")
    assert res.code == 2 and "--hf-set" in res.stderr


MEMORY_PROBE = textwrap.dedent('''
    import json, resource, sys
    import torch, transformers  # imported before the baseline: their own pages are not the model's
    from trtready.audit import audit_loaded
    from trtready.bounds import parse_dynamic
    from trtready.load import load_model

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    loaded = load_model("hf:" + sys.argv[1], config_only=True)
    result = audit_loaded(loaded, parse_dynamic(loaded.dynamic))
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    weights = sum(p.numel() * p.element_size() for p in loaded.module.parameters())
    meta = all(p.device.type == "meta" for p in loaded.module.parameters())
    print(json.dumps({"growth": after - before, "weights": weights, "meta": meta,
                      "fx": result.layers.get("fx")}))
''')


def test_peak_memory_stays_far_below_the_weights(tmp_path: Path) -> None:
    """hidden 1024 × 8 layers × vocab 32000: 912 MB of float32 weights (LlamaForCausalLM, untied head).

    Materialising the weights would grow the process by at least their size. The bound, a quarter of
    it, leaves room for what the audit itself holds — torch.export's graph and fake tensors, the FX
    analysis (about 100 MB measured at this size) — and fails as soon as a quarter of the weights get
    real storage.
    """
    cfg = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 1024,
           "num_hidden_layers": 8, "num_attention_heads": 16, "intermediate_size": 4096, "vocab_size": 32000,
           "max_position_embeddings": 2048}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg))
    (tmp_path / "probe.py").write_text(MEMORY_PROBE)
    proc = subprocess.run([sys.executable, str(tmp_path / "probe.py"), str(path)], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["meta"] and out["fx"] == "done"
    # embed + head 2 × 32000 × 1024, 8 × (4 × 1024² attention + 3 × 1024 × 4096 MLP + 2 norms), final norm
    params = 2 * 32000 * 1024 + 8 * (4 * 1024**2 + 3 * 1024 * 4096 + 2 * 1024) + 1024
    assert out["weights"] == 4 * params
    assert out["growth"] < out["weights"] / 4, out


def test_a_64_bit_parameter_without_values_is_a_gap_never_ready() -> None:
    """Without weights a 64-bit parameter has no values to prove anything by: the state layer failed."""
    import torch

    from trtready.audit import AuditReport, audit_loaded
    from trtready.load import LoadedModel, ModelKind
    from trtready.load.hf_config import HfBuild
    from trtready.load.state import entries_from_module
    from trtready.targets import resolve_target

    module = torch.nn.Module()
    module.table = torch.nn.Parameter(torch.empty(4, dtype=torch.int64, device="meta"), requires_grad=False)
    module.register_buffer("steps", torch.arange(3))  # a real buffer: read, not a gap
    loaded = LoadedModel("hf:x", ModelKind.HF_CONFIG, None, module=module, state=entries_from_module(module),
                         hf=HfBuild("X", "architectures[0]", "x", None))
    report = AuditReport(audit_loaded(loaded), resolve_target("trt10"))
    assert report.result.layers["state"] == "failed: 1 64-bit parameter(s) have no values without weights (table)"
    assert not report.ready
    assert report.verdict().startswith("NOT READY for trt10: could not analyse the state layer")
    steps = next(f for f in report.findings if f.id == "state:steps")
    assert (steps.interval.lo, steps.interval.hi) == (0, 2)
