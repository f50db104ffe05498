"""torch.export's suggested fixes: read by a grammar (never eval), applied only where they keep the user's bounds."""

from __future__ import annotations

import pytest
import torch

from trtready.bounds import DimBound, parse_dynamic
from trtready.dim_fixes import apply_fixes, parse_fixes
from trtready.errors import UpstreamError
from trtready.load.capture import capture_fitted

EVEN = """Constraints violated (seq)! For more information, run with TORCH_LOGS="+dynamic".
  - Not all values of seq = L['x'].size()[1] in the specified range seq <= 32 satisfy the generated guard (L['x'].size()[1] // 2) != L['x'].size()[1].
Suggested fixes:
  _seq = Dim('_seq', min=1, max=16)
  seq = 2*_seq

The error above occurred when calling torch.export.export. If you would like to view some more information about this error, and get a list of all other errors that may occur in your export call, you can replace your `export()` call with `draft_export()`.
"""


def _fixes(*lines: str) -> str:
    return "Constraints violated (x)!\nSuggested fixes:\n" + "\n".join(f"  {ln}" for ln in lines) + "\n\nThe error above"


def test_the_block_is_read_line_by_line() -> None:
    fixes = parse_fixes(EVEN)
    assert fixes is not None and [f.name for f in fixes] == ["_seq", "seq"]
    assert fixes[0].is_dim and (fixes[0].lo, fixes[0].hi) == (1, 16)
    assert (fixes[1].base, fixes[1].scale, fixes[1].offset) == ("_seq", 2, 0)
    assert parse_fixes(_fixes("seq = 16"))[0].constant == 16  # type: ignore[index]
    assert parse_fixes(_fixes("other = seq"))[0].base == "seq"  # type: ignore[index]
    derived = parse_fixes(_fixes("seq2 = 2*seq - 1"))[0]  # type: ignore[index]
    assert (derived.base, derived.scale, derived.offset) == ("seq", 2, -1)
    assert parse_fixes(_fixes("seq = Dim('seq', max=20)"))[0].hi == 20  # type: ignore[index]


@pytest.mark.parametrize("text", [
    "no block here",
    _fixes("seq = __import__('os').system('echo hi')"),  # never evaluated: outside the grammar
    _fixes("seq = Dim('other', max=3)"),  # a Dim named after another dim
    _fixes("seq = 2**_seq"),
])
def test_anything_outside_the_grammar_is_not_a_fix(text: str) -> None:
    assert parse_fixes(text) is None


def _bounds(*specs: str) -> list[DimBound]:
    return parse_dynamic(list(specs))


def test_a_multiple_of_constraint_that_keeps_both_ends_is_applied_as_a_step() -> None:
    applied = apply_fixes(parse_fixes(EVEN) or [], _bounds("x:0=batch[1:4],1=seq[4:32]"))
    assert applied.usable and not applied.refused
    seq = next(b for b in applied.bounds if b.dim == "seq")
    assert (seq.lo, seq.hi, seq.step) == (4, 32, 2)
    assert "steps of 2" in applied.changes[0]


def test_a_multiple_of_constraint_that_misses_an_end_is_refused_with_the_reason() -> None:
    applied = apply_fixes(parse_fixes(EVEN) or [], _bounds("x:1=seq[1:32]"))
    assert not applied.usable and "does not reach both ends of your seq[1:32]" in applied.refused[0]


@pytest.mark.parametrize("line, bounds, words", [
    ("seq = Dim('seq', max=20)", "x:1=seq[2:32]", "would narrow your seq[2:32] to [2:20]"),
    ("seq = 16", "x:1=seq[2:32]", "fixes seq to 16"),
    ("seq2 = 2*seq", "x:1=seq[2:32],2=seq2[2:64]", "the ranges do not match"),
])
def test_fixes_that_do_not_keep_the_bounds_are_refused(line: str, bounds: str, words: str) -> None:
    applied = apply_fixes(parse_fixes(_fixes(line)) or [], _bounds(bounds))
    assert not applied.usable and words in applied.refused[0]


def test_two_user_dims_with_one_range_become_one_dim() -> None:
    applied = apply_fixes(parse_fixes(_fixes("other = seq")) or [], _bounds("x:0=seq[2:32]", "y:0=other[2:32]"))
    assert applied.usable
    assert {b.input: b.dim for b in applied.bounds} == {"x": "seq", "y": "seq"}


class Pairs(torch.nn.Module):
    """Folds a sequence into pairs: only even lengths are valid, and torch.export says so."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = torch.nn.Linear(16, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, s, d = x.shape
        return self.lin(x.reshape(b, s // 2, 2 * d))


def test_capture_applies_the_fix_once_and_says_so() -> None:
    x = torch.randn(2, 16, 8)
    captured = capture_fitted(Pairs(), (x,), {}, _bounds("x:0=batch[1:4],1=seq[4:32]"))
    seq = next(b for b in captured.bounds if b.dim == "seq")
    assert seq.step == 2 and captured.changes
    for s in (4, 18, 32):  # both ends and an even size between
        torch.testing.assert_close(captured.program.module()(torch.randn(3, s, 8)).shape, torch.Size([3, s // 2, 4]))


def test_capture_refuses_a_fix_whose_program_narrows_the_bounds() -> None:
    """torch suggests seq = 2*_seq with _seq >= 1, but the program it then makes guards seq // 2 != 1:
    seq = 2 is lost, so the fix is not taken and the error says which sizes the program keeps."""
    with pytest.raises(UpstreamError, match=r"takes only seq in \[4:32\], not \[2:32\]"):
        capture_fitted(Pairs(), (torch.randn(2, 16, 8),), {}, _bounds("x:0=batch[1:4],1=seq[2:32]"))


def test_capture_names_the_fix_it_did_not_take() -> None:
    with pytest.raises(UpstreamError, match="do not keep your --dynamic bounds"):
        capture_fitted(Pairs(), (torch.randn(2, 16, 8),), {}, _bounds("x:1=seq[1:32]"))
