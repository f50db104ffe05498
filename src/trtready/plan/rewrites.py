"""Which proved rewrites to apply, and a decision for every op finding the target still cannot build.

The matches and their proofs are :mod:`trtready.rewrite_matchers` (below the audit, which asks them
too); this module takes the decisions. Its matcher names are re-exported for the passes that carry
the rewrites out.
"""

from __future__ import annotations

from trtready.audit.findings import Finding, Layer
from trtready.audit.ops import labeled_nodes, onnx_use
from trtready.audit.predict import op_problems
from trtready.lazy import ir
from trtready.plan import Action, Decision
from trtready.rewrite_matchers import (
    IotaGather,
    MaskedAssignment,
    PoolAsReduce,
    find_iota_gathers,
    find_masked_assignments,
    find_pool_reductions,
    node_label,
)
from trtready.targets import TargetProfile

__all__ = ["IotaGather", "MaskedAssignment", "PoolAsReduce", "find_iota_gathers", "find_masked_assignments",
           "find_pool_reductions", "needs_reduce", "node_label", "plan_ops"]


# --- a decision for every op finding --------------------------------------------------------------------


def needs_reduce(match: PoolAsReduce, profile: TargetProfile) -> bool:
    """The target cannot build ``match``'s pooling window: the rewrite is worth applying."""
    limit = profile.pool_window_limit.get(match.spatial)
    return limit is not None and match.window >= limit


def plan_ops(findings: list[Finding], model: ir.Model, profile: TargetProfile, rewritten: list[Decision]) -> list[Decision]:
    """``keep`` for each op the target still cannot build after the rewrites (why, and what the user can
    change); for each torch.export op finding, the decision of the translated nodes from the same source
    line (``rewrite`` when every one was rewritten)."""
    by_id = {d.finding: d for d in rewritten if d.action is Action.REWRITE}
    left = {label: node for label, node in labeled_nodes(model)}
    out: list[Decision] = []
    onnx = [f for f in findings if f.is_op and f.layer is Layer.ONNX]
    for f in onnx:
        node = left.get(f.tensor)
        use = onnx_use(node) if node is not None else None
        problems = op_problems(use, profile) if use is not None else []
        if f.id in by_id or not problems:
            continue
        assert f.op is not None
        change = f"change: {f.op.remedy}" if f.op.remedy else "no exact rewrite is known"
        out.append(Decision(f.id, Action.KEEP, f"{f.op.what}: the {profile.name} build will fail — "
                                              f"{'; '.join(problems)}; {change}"))
    decided = by_id | {d.finding: d for d in out}
    for f in findings:
        if not (f.is_op and f.layer is Layer.FX and f.source is not None and f.op is not None):
            continue
        if not op_problems(f.op, profile):
            continue
        linked = [decided[g.id] for g in onnx if g.source == f.source and g.id in decided]
        if not linked:
            continue
        if all(d.action is Action.REWRITE for d in linked):
            out.append(Decision(f.id, Action.REWRITE, "rewritten in the ONNX translation: " + "; ".join(d.reason for d in linked)))
        else:
            keep = next(d for d in linked if d.action is Action.KEEP)
            out.append(Decision(f.id, Action.KEEP, keep.reason))
    return out
