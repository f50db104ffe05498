"""The rule registry is frozen (ids never renumbered nor reused) and covers every finding the code can make."""

from __future__ import annotations

import itertools

import pytest

from trtready import rules
from trtready.audit import fx as audit_fx
from trtready.audit import onnx_graph
from trtready.audit.findings import Finding, Kind, Layer, OpUse, Role, op_rule, rule_of
from trtready.load.state import WIDE_DTYPES
from trtready.targets import PROFILES

# Append here; never edit or remove a line. A retired rule keeps its line (and ``retired=True`` in the registry).
FROZEN = [
    ("TRT001", "int64-state"),
    ("TRT002", "int64-io"),
    ("TRT003", "int64-constant"),
    ("TRT004", "int64-value"),
    ("TRT011", "float64-state"),
    ("TRT012", "float64-io"),
    ("TRT013", "float64-constant"),
    ("TRT014", "float64-value"),
    ("TRT021", "uint64-tensor"),
    ("TRT031", "op-unsupported"),
    ("TRT032", "op-form-unsupported"),
    ("TRT033", "pool-window"),
    ("TRT041", "index-unproved"),
    ("TRT051", "plugin-boundary"),
    ("TRT061", "build-log"),
    ("TRT071", "layer-not-analysed"),
    ("TRT072", "verification-mismatch"),
]


def test_the_registry_is_the_frozen_list_in_order() -> None:
    assert [(r.id, r.name) for r in rules.RULES] == FROZEN
    assert len(rules.BY_ID) == len(rules.RULES) == len({r.name for r in rules.RULES})


@pytest.mark.parametrize("rule", rules.RULES, ids=lambda r: r.id)
def test_each_rule_has_a_one_line_description_and_a_help_text(rule: rules.Rule) -> None:
    assert rule.short.endswith(".") and "\n" not in rule.short and len(rule.short) <= 120
    assert len(rule.help) > len(rule.short) // 2 and "\n" not in rule.help


def _dtypes() -> set[str]:
    """Every dtype a 64-bit tensor finding can carry: the audit's own tables, state, FX and ONNX."""
    return set(WIDE_DTYPES) | set(audit_fx._DTYPES.values()) | set(onnx_graph._DTYPES.values())


def _use(kind: Kind) -> OpUse | None:
    return OpUse("NonZero n", ("NonZero",)) if kind is Kind.OP_UNSUPPORTED else None


def test_every_kind_role_dtype_and_layer_the_code_can_make_has_a_rule() -> None:
    seen = set()
    for kind, role, dtype, layer in itertools.product(Kind, Role, sorted(_dtypes()), Layer):
        f = Finding(id="x", layer=layer, tensor="t", dtype=dtype, shape=None, where="w", role=role, kind=kind,
                    op=_use(kind))
        rule = rule_of(f)
        assert rules.BY_ID[rule.id] is rule and not rule.retired
        assert f.to_json()["rule"] == rule.id
        seen.add(rule.id)
    # every other finding rule is reached here; the op forms and pool windows by the op test below, and
    # the two run-level rules come from the report, not from a finding
    assert seen == {r.id for r in rules.RULES} - {rules.OP_FORM_UNSUPPORTED.id, rules.POOL_WINDOW.id,
                                                  rules.LAYER_NOT_ANALYSED.id, rules.VERIFICATION_MISMATCH.id}


def test_the_wide_rules_follow_dtype_and_place() -> None:
    def rule(dtype: str, role: Role) -> str:
        return rule_of(Finding(id="x", layer=Layer.ONNX, tensor="t", dtype=dtype, shape=None, where="w", role=role)).id

    assert [rule("int64", r) for r in (Role.BUFFER, Role.OUTPUT, Role.INITIALIZER, Role.INTERMEDIATE)] == [
        "TRT001", "TRT002", "TRT003", "TRT004"]
    assert [rule("float64", r) for r in (Role.PARAMETER, Role.INPUT, Role.CONSTANT, Role.INTERMEDIATE)] == [
        "TRT011", "TRT012", "TRT013", "TRT014"]
    assert {rule("uint64", r) for r in Role} == {"TRT021"}


def test_every_op_and_form_a_target_lacks_maps_to_its_rule() -> None:
    """Derived from the targets' own tables: a key with ``:`` is a form of an op that imports."""
    keys = {k for p in PROFILES.values() for k in p.unsupported_ops}
    assert any(":" in k for k in keys) and any(":" not in k for k in keys)
    for key in keys:
        base = key.split(":", 1)[0]
        ops = (base, key) if ":" in key else (key,)
        expected = rules.OP_FORM_UNSUPPORTED if ":" in key and all(base not in p.unsupported_ops
                                                                  for p in PROFILES.values()) else rules.OP_UNSUPPORTED
        assert op_rule(OpUse(f"{base} n", ops)) is expected, key
    window = OpUse("AveragePool n", ("AveragePool",), pool="AveragePool", window=100_000, spatial=2)
    assert op_rule(window) is rules.POOL_WINDOW
