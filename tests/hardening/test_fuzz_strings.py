"""String fuzz of ``.pt2`` archives: no string in an archive runs code under trtready.

Every string torch reads from an archive is replaced by payloads (``pt2_strings.py``: what is
enumerated, the payload pool, how cases are drawn). Each case runs through ``audit``; a deterministic
sample — half among the cases ``audit`` read, half among all — also through ``fix``, ``export``,
``verify`` and ``convert`` (Python API, many files per interpreter: one for ``audit``, one for the
other four verbs), and a few through the CLI (as every CLI test: forked from a warm server in ``make
test``, a cold ``python -m trtready`` in the full tier). Per
case: the marker is never created, the input is byte-identical, only the project's own errors escape
(API: :class:`trtready.TrtReadyError`; CLI: one ``trtready: error:`` line, no traceback), and a
refused run leaves nothing behind.

Sizes (docs/hardening.md): ``TRTREADY_FUZZ_STRINGS=N`` cases (full tier: 300; ``make test``: 40),
``…_SEED`` (0), ``…_OTHER`` cases per other verb (full tier: 20; ``make test``: 2, one among the cases
``audit`` read), ``…_CLI`` CLI runs per verb (1; ``make test``: through ``export`` and ``convert`` only),
``…_TORCH=1`` also loads every case with plain torch (``torch.export.load(p).module()``) and reports how
many payloads were live there.
Failing cases are written to ``TRTREADY_FUZZ_STRINGS_FAILURES`` (default: a folder in pytest's
temporary directory): the archive, and a JSON description with the command that replays it.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.hardening import pt2_strings as ps
from tests.tiers import FULL_TIER

CASES = int(os.environ.get("TRTREADY_FUZZ_STRINGS", "300" if FULL_TIER else "40"))
SEED = int(os.environ.get("TRTREADY_FUZZ_STRINGS_SEED", "0"))
# ``audit`` costs about 10 ms a case, a case the other verbs read costs seconds (``convert`` of a readable
# archive: export, fix and verify, ≈ 15 s): ``make test`` keeps the cases and trims the deep sample.
OTHER = int(os.environ.get("TRTREADY_FUZZ_STRINGS_OTHER", "20" if FULL_TIER else "2"))
CLI = int(os.environ.get("TRTREADY_FUZZ_STRINGS_CLI", "1"))
# A CLI run costs a jailed interpreter (≈ 4 s) whatever the case. The API runs above take every verb;
# ``make test`` sends its CLI cases through the two verbs whose outputs the jail commits (a file pair, a
# folder), and hostile payloads meet every verb's CLI in test_hostile.py; the full tier, all five.
CLI_VERBS = ps.VERBS if FULL_TIER else ("export", "convert")
TORCH = os.environ.get("TRTREADY_FUZZ_STRINGS_TORCH") == "1"
CHUNK = 250  # cases generated, run and checked at a time (a long campaign keeps only failures on disk)
_OUTPUTS = {"audit": set(), "fix": {"out"}, "export": {"out.onnx", "out.onnx.data"}, "verify": set(),
            "convert": {"out"}}


@pytest.fixture(scope="module")
def generator(tmp_path_factory: pytest.TempPathFactory) -> ps.Generator:
    return ps.Generator(tmp_path_factory.mktemp("seeds"), SEED)


@pytest.fixture(scope="module")
def failures_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = Path(os.environ.get("TRTREADY_FUZZ_STRINGS_FAILURES") or tmp_path_factory.getbasetemp() / "fuzz-strings")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# The fields the fuzzer must reach (kinds are paths with list indices as [] and name keys as {}).
_EXPECTED_KINDS = [
    "tensor_values.{}.sizes.[].as_expr.expr_str", "sym_int_values.{}.as_expr.expr_str", "sym_int_values.{} (key)",
    "tensor_values.{} (key)", "inputs.[].as_tensor.name", "nodes.[].name", "nodes.[].target",
    "nodes.[].inputs.[].name", "as_sym_int.as_name", "outputs.[].as_tensor.name", "parameter.parameter_name",
    "buffer.buffer_name", "tensor_constant.tensor_constant_name", "user_input.arg.as_tensor.name",
    "constant_input.name", "constant_input.value.as_string", "graph.inputs.[].as_string", "as_graph.name",
    "range_constraints.{} (key)", "opset_version.{} (key)", "verifiers.[]", "torch_version", "device.type",
    "signature.in_spec", "in_spec.<json>.[].children_spec.[].context.<json>.[]", "signature.out_spec",
    "forward_arg_names.[]", "module_call_graph.[].fqn", "metadata.stack_trace", "metadata.nn_module_stack",
    "metadata.torch_fn", "config.{}.path_name", "config.{} (key)", "insert:append@guards_code",
    "insert:custom@graph_module.metadata", "insert:source_fn_stack@", "insert:from_node@",
    "member-name:'models/model.JSON'", "member:extra-program", "member:extra-file", "member-content:archive_version",
    "sample-inputs:strings", "sample-inputs:keys",
]


def test_every_string_is_enumerated(generator: ps.Generator) -> None:
    kinds = set(generator.by_kind)
    for needle in _EXPECTED_KINDS:
        assert any(needle in k for k in kinds), needle
    exprs = {s.value for slots in generator.slots.values() for s in slots if s.path and s.path[-1] == "expr_str"}
    for head in ("Symbol(", "Mul(", "FloorDiv("):
        assert any(e.startswith(head) for e in exprs), head
    # every string of every JSON member is a slot, each with a kind the cases visit
    for name, members in generator.archives.items():
        for full, data in members.items():
            tail = full.split("/", 1)[1]
            if tail.endswith(".json"):
                found = {(s.path, s.is_key) for s in generator.slots[name]
                         if s.member == tail and not s.kind.startswith("insert:")}
                assert found == {(p, k) for p, k, _ in ps._strings(json.loads(data))}
    visited = {generator.kind_of(i) for i in range(len(generator.hot) * 5 // 4 + 5)}
    assert set(generator.hot) <= visited


def test_cases_are_deterministic(generator: ps.Generator, tmp_path: Path) -> None:
    marker = tmp_path / ps.MARKER
    again = ps.Generator(tmp_path / "seeds", SEED)
    for i in (0, 1, 7, 123):
        first, data = generator.case(i, marker)
        second, data2 = again.case(i, marker)
        assert first.describe() == second.describe() and data == data2
    other = ps.Generator(tmp_path / "seeds2", SEED + 1)
    assert [generator.case(i, marker)[0].describe()["mutations"] for i in range(20)] != \
        [other.case(i, marker)[0].describe()["mutations"] for i in range(20)]


# Payloads the pool must be able to deliver, each live against plain torch: (seed model, kind, payload,
# everywhere). If torch changes so that one is no longer live, the fuzzer lost a weapon: find its new form.
_LIVE = [
    ("shapes", "models/model.json:graph_module.graph.tensor_values.{}.sizes.[].as_expr.expr_str", "sympy-S", False),
    ("str", "models/model.json:graph_module.signature.input_specs.[].constant_input.value.as_string",
     "nl-comment-sq", True),
    ("cond", "models/model.json:graph_module.graph.nodes.[].inputs.[].arg.as_graph.name", "cr-fx-dq", False),
    ("cond", "models/model.json:graph_module.signature.input_specs.[].parameter.parameter_name", "cr-fx-dq", True),
    ("shapes", "insert:append@guards_code", "nl-comment", False),
    ("shapes", "member-name:'models/model.JSON'", "sympy-S", False),
    ("cond", "member:extra-program", "sympy-S", False),
    ("shapes", "models/model.json:graph_module.graph.inputs.[].as_tensor.name", "default-arg-star", True),
]


def test_pool_is_live_against_torch(generator: ps.Generator, tmp_path: Path) -> None:
    """The fuzzer is not vacuous: its payloads, in the places it puts them, run code in plain torch."""
    jobs, markers = [], {}
    for i, (model, kind, payload, everywhere) in enumerate(_LIVE):
        folder = tmp_path / f"live{i}"
        folder.mkdir()
        case, data = generator.build(model, kind, payload, everywhere, folder / ps.MARKER)
        assert case.mutations, kind
        (folder / "m.pt2").write_bytes(data)
        jobs.append(ps.Job(str(i), "torch", str(folder / "m.pt2")))
        markers[str(i)] = folder / ps.MARKER
    ps.run_jobs(jobs, tmp_path)
    dead = [_LIVE[int(i)] for i, m in markers.items() if not m.exists()]
    assert not dead


def _check(folder: Path, verb: str, data: bytes, result: dict) -> list[str]:
    """What went wrong with one run (empty when nothing did)."""
    problems = []
    if (folder / ps.MARKER).exists():
        problems.append("marker created: the payload ran")
    if (folder / "m.pt2").read_bytes() != data:
        problems.append("the input changed")
    if "crash" in result:
        problems.append(f"{result['outcome']} escaped: {result.get('message', result['crash'][-300:])}")
    left = {p.name for p in folder.iterdir()} - {"m.pt2", ps.MARKER}
    if result["outcome"] != "ok" and left:
        problems.append(f"a failed run left {sorted(left)}")
    elif left - _OUTPUTS[verb]:
        problems.append(f"unexpected files {sorted(left - _OUTPUTS[verb])}")
    return problems


def _write_failure(failures_dir: Path, case: ps.Case, verb: str, data: bytes, result: dict,
                   problems: list[str]) -> str:
    stem = f"{case.name}-{verb}"
    (failures_dir / f"{stem}.pt2").write_bytes(data)
    desc = {**case.describe(), "verb": verb, "result": result, "problems": problems,
            "replay": f"cd <repo> && PYTHONPATH=src python -m tests.hardening.pt2_strings replay "
                      f"{failures_dir / stem}.json"}
    (failures_dir / f"{stem}.json").write_text(json.dumps(desc, indent=1))
    return f"{stem} [{case.mutations[0].kind if case.mutations else '-'} <- " \
           f"{case.mutations[0].payload if case.mutations else '-'}]: {problems[0][:300]}"


def _run_verb(generator: ps.Generator, base: Path, verb: str, indices: list[int], failures_dir: Path,
              stats: Counter, live: Counter | None = None) -> tuple[list[str], dict[int, str]]:
    """Run ``indices`` through ``verb`` (API) in chunks; failures written out; outcome per case."""
    failures, outcomes = _run_pairs(generator, base, [(verb, i) for i in indices], failures_dir, stats, live)
    return failures, {i: o for (_, i), o in outcomes.items()}


def _run_pairs(generator: ps.Generator, base: Path, pairs: list[tuple[str, int]], failures_dir: Path,
               stats: Counter, live: Counter | None = None) -> tuple[list[str], dict[tuple[str, int], str]]:
    """Run each (verb, case) pair (API), many to an interpreter, in chunks; failures written out."""
    failures, outcomes = [], {}
    for start in range(0, len(pairs), CHUNK):
        chunk = pairs[start:start + CHUNK]
        work = base / f"{'-'.join(dict.fromkeys(v for v, _ in chunk))}-{start}"
        work.mkdir()
        jobs, cases = [], {}
        for verb, i in chunk:
            folder = work / f"{verb}-c{i}"
            folder.mkdir()
            case, data = generator.case(i, folder / ps.MARKER)
            (folder / "m.pt2").write_bytes(data)
            cases[verb, i] = (case, data, folder)
            out = folder / ("out.onnx" if verb == "export" else "out")
            jobs.append(ps.Job(f"{verb}-{i}", verb, str(folder / "m.pt2"), str(out)))
        results = ps.run_jobs(jobs, work)
        for (verb, i), (case, data, folder) in cases.items():
            result = results[f"{verb}-{i}"]
            outcomes[verb, i] = result["outcome"]
            if verb == "torch":
                if live is not None and (folder / ps.MARKER).exists():
                    live[case.mutations[0].payload if case.mutations else "-"] += 1
                continue
            stats[f"{verb}: {result['outcome']}"] += 1
            problems = _check(folder, verb, data, result)
            if problems:
                failures.append(_write_failure(failures_dir, case, verb, data, result, problems))
        shutil.rmtree(work, ignore_errors=True)
    return failures, outcomes


def _sample(rng: random.Random, preferred: list[int], everything: list[int], n: int) -> list[int]:
    """``n`` cases: half among ``preferred`` (read by audit: they reach deeper), the rest among all."""
    first = rng.sample(preferred, min(len(preferred), n // 2))
    rest = [i for i in everything if i not in set(first)]
    return sorted(first + rng.sample(rest, min(len(rest), n - len(first))))


def test_strings_never_run_code(generator: ps.Generator, tmp_path: Path, failures_dir: Path) -> None:
    stats: Counter = Counter()
    everything = list(range(CASES))
    failures, outcomes = _run_verb(generator, tmp_path, "audit", everything, failures_dir, stats)
    read = [i for i, o in outcomes.items() if o == "ok"]
    rng = random.Random(f"{SEED}:sample")
    pairs = [(verb, i) for verb in ("fix", "export", "verify", "convert")
             for i in _sample(rng, read, everything, OTHER)]
    more, _ = _run_pairs(generator, tmp_path, pairs, failures_dir, stats)
    failures += more
    for verb in ps.VERBS:
        for i in _sample(rng, read, everything, CLI):
            if verb not in CLI_VERBS:
                continue  # drawn all the same, so the cases of the other verbs are the full tier's
            failures += _cli_case(generator, tmp_path, verb, i, failures_dir, stats)
    live: Counter = Counter()
    if TORCH:
        _run_verb(generator, tmp_path, "torch", everything, failures_dir, stats, live)
    summary = {"cases": CASES, "seed": SEED, "outcomes": dict(sorted(stats.items())),
               "live_under_plain_torch": {"total": sum(live.values()), "by_payload": dict(live.most_common())}
               if TORCH else "not measured (TRTREADY_FUZZ_STRINGS_TORCH=1)", "failures": len(failures)}
    (failures_dir / f"summary-s{SEED}.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary, indent=1))
    assert not failures, f"{len(failures)} failing runs, written to {failures_dir}:\n" + "\n".join(failures[:25])


def _cli_case(generator: ps.Generator, base: Path, verb: str, i: int, failures_dir: Path, stats: Counter) -> list[str]:
    folder = base / f"cli-{verb}-{i}"
    folder.mkdir()
    case, data = generator.case(i, folder / ps.MARKER)
    path = folder / "m.pt2"
    path.write_bytes(data)
    out = folder / ("out.onnx" if verb == "export" else "out")
    args = {"audit": ["audit", str(path)], "fix": ["fix", str(path), "-o", str(out)],
            "export": ["export", str(path), "-o", str(out)], "verify": ["verify", str(path), str(path)],
            "convert": ["convert", str(path), "-o", str(out)]}[verb]
    r = run_cli(*args, cwd=folder)
    code, stdout, stderr = r.code, r.stdout, r.stderr
    stats[f"cli {verb}: exit {code}"] += 1
    result = {"outcome": "ok" if code in (0, 1) else f"exit {code}", "stderr": stderr[-2000:]}
    problems = _check(folder, verb, data, result)
    if code not in (0, 1, 2):
        problems.append(f"exit code {code}")
    if "Traceback" in stdout + stderr:
        problems.append("a traceback was printed")
    if (code == 2 or "trtready: error:" in stderr) and not (
            stderr.startswith("trtready: error:") and stderr.count("\n") == 1):
        problems.append(f"the error is not one `trtready: error:` line: {stderr[-500:]!r}")
    if problems:
        return [_write_failure(failures_dir, case, f"cli-{verb}", data, result, problems)]
    return []
