"""The shape-expression grammar: what torch writes parses and prints back to the same sympy value;
anything else is refused before any string reaches sympy."""

from __future__ import annotations

import pytest
import sympy

from trtready.errors import BadInputError
from trtready.load import symexpr

# Written by torch.export.save (torch 2.13): symbols, sums, products, floor division, modulo, max,
# squared strides, and the older infix form.
TORCH_WRITES = [
    "Symbol('s70', positive=True, integer=True)",
    "Add(Symbol('s27', positive=True, integer=True), Integer(-1))",
    "FloorDiv(Symbol('s27', positive=True, integer=True), Integer(2))",
    "Max(Integer(3), Symbol('s17', positive=True, integer=True))",
    "Mod(Symbol('s27', positive=True, integer=True), Integer(3))",
    "Mul(Integer(2), Symbol('s17', positive=True, integer=True), Symbol('s27', positive=True, integer=True))",
    "Pow(Symbol('s53', positive=True, integer=True), Integer(2))",
    "s0*s1 + 2*s0 - 1",
    "Min(s0, 8) // 2 % 3",
]


def _torch_locals() -> dict[str, object]:
    from torch.utils._sympy.functions import FloorDiv, Mod, PythonMod

    return {"FloorDiv": FloorDiv, "Mod": Mod, "PythonMod": PythonMod}


@pytest.mark.parametrize("text", TORCH_WRITES)
def test_torch_expressions_print_back_to_the_same_value(text: str) -> None:
    """Printed from the parse tree, the expression means what torch wrote (compared by sympy here, on
    the test's own strings only)."""
    printed = symexpr.canonical(text)
    original = sympy.sympify(text, locals=_torch_locals())
    again = sympy.sympify(printed, locals=_torch_locals())
    names = sorted(symexpr.parse(text).symbols())
    for values in ([2, 3], [5, 64], [1, 1]):
        sub = {sympy.Symbol(n, positive=True, integer=True): v for n, v in zip(names, values)}
        sub.update({sympy.Symbol(n): v for n, v in zip(names, values)})
        assert int(original.subs(sub)) == int(again.subs(sub)), (text, printed, values)


def test_symbol_assumptions_are_kept() -> None:
    e = symexpr.parse("Symbol('s3', positive=True, integer=True)")
    assert e.kind == "symbol" and e.value == "s3"
    assert dict(e.assumptions) == {"positive": True, "integer": True}


@pytest.mark.parametrize("text, why", [
    ("S(\"__import__('os').system('id')\")", "unexpected character"),
    ("S('s0')", "not part of the shape grammar"),
    ("sympify('1+1')", "not part of the shape grammar"),
    ("Symbol('s0') + Lambda(x, x)", "not part of the shape grammar"),
    ("Symbol('__import__')", "size-symbol name"),
    ("Symbol('s0', **{'a': 1})", "unexpected character"),
    ("Symbol('s0', commutative=f())", "assumption"),
    ("s0.__class__", "unexpected character"),
    ("Integer('1')", "integer literal"),
    ("Float(1.5)", "unexpected character"),
    ("Float(1)", "not part of the shape grammar"),
    ("1.5", "unexpected"),
    ("Max(s0)) + 1", "after the expression"),
    ("Pow(s0, s1)", "natural exponent"),
    ("Pow(s0, Integer(100))", "natural exponent"),
    ("FloorDiv(s0, 2, 3)", "3 arguments"),
    ("open", "not a size symbol"),
    ("s0 + 'x'", "unexpected"),
    ("", "empty"),
    ("s0\n+ __import__('os')", "not part of the shape grammar"),
])
def test_outside_the_grammar_is_refused(text: str, why: str) -> None:
    with pytest.raises(BadInputError, match=why):
        symexpr.parse(text)


def test_size_limits() -> None:
    with pytest.raises(BadInputError, match="longer than"):
        symexpr.parse("s0+" * 2000 + "s0")
    with pytest.raises(BadInputError, match="nested deeper"):
        symexpr.parse("Max(" * 100 + "s0" + ")" * 100)
    with pytest.raises(BadInputError, match="out of range"):
        symexpr.parse(str(2**70))


def test_printed_text_holds_only_grammar_tokens() -> None:
    printed = symexpr.canonical("Max(Integer(3), s17) + FloorDiv(s0, 2) * -1")
    assert set(printed) <= set("AddMulFloorDivMaxIntegerSymbol(),' -=0123456789sTruepositiveintg")
