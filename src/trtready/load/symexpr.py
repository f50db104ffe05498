"""Symbolic shape expressions of a ``.pt2`` archive, parsed by a grammar of trtready's own.

torch writes every symbolic size as a sympy expression string (``expr_str``) and reads it back with
``sympy.sympify``, which evaluates the string as Python: an archive can make that run anything. The
untrusted reader never hands an archive's string to sympy. It parses each expression with the small
grammar below into an :class:`Expr` tree and prints a new string from that tree; only the printed
string reaches torch's deserializer, and it can hold nothing but what the grammar allows:

    expr     := sum
    sum      := product (("+" | "-") product)*
    product  := unary (("*" | "//" | "%") unary)*
    unary    := "-" unary | atom
    atom     := INTEGER | SYMBOL | "(" expr ")" | call
    call     := HEAD "(" [arg ("," arg)*] ")"
    arg      := expr | KEYWORD "=" ("True" | "False")        (keywords only in Symbol)

``HEAD`` is one of a fixed set — sympy's printed form of integers, symbols, +, *, //, %, min and max
(``Integer``, ``Symbol``, ``Add``, ``Mul``, ``FloorDiv``, ``Mod``, ``PythonMod``, ``Min``, ``Max``, and ``Pow``
with a small natural exponent, which is how sympy prints ``s*s``), and for
symbolic booleans the comparisons and ``And``/``Or``/``Not``. A symbol is named by a quoted literal of
letters and digits (``Symbol('s70', positive=True, integer=True)``) or bare (``s70``). Anything else —
another function, a string that is not a symbol name, an attribute, a float — is refused with the
expression's first characters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from trtready.errors import BadInputError

# torch names size symbols with a short prefix and a number: s0, s70, u3 (unbacked), ...
SYMBOL_RE = re.compile(r"[a-z]{1,8}[0-9]{1,9}")
MAX_LENGTH = 4096  # real expressions are a few hundred characters at most
MAX_DEPTH = 64
MAX_INT = 2**64
MAX_POWER = 8  # sympy prints s*s as Pow(s, 2): strides of flattened views

_ARITH = {"Add", "Mul", "FloorDiv", "Mod", "PythonMod", "Min", "Max"}
_BOOL = {"Eq", "Ne", "Lt", "Le", "Gt", "Ge", "Equality", "Unequality", "StrictLessThan", "LessThan",
         "StrictGreaterThan", "GreaterThan", "And", "Or", "Not"}
_ARITY = {"FloorDiv": 2, "Mod": 2, "PythonMod": 2, "Not": 1, "Pow": 2,
          **{h: 2 for h in ("Eq", "Ne", "Lt", "Le", "Gt", "Ge", "Equality", "Unequality", "StrictLessThan",
                            "LessThan", "StrictGreaterThan", "GreaterThan")}}
_ASSUMPTIONS = {"positive", "negative", "nonnegative", "nonpositive", "integer", "real", "finite", "zero",
                "nonzero", "even", "odd", "extended_real"}
_BOOL_LITERALS = {"True", "False", "true", "false"}

_TOKEN_RE = re.compile(r"\s*(?:(//|[-+*%(),=])|([0-9]+)|([A-Za-z_][A-Za-z0-9_]*)|('[^'\\]*'))")


@dataclass(frozen=True)
class Expr:
    """One node of a parsed expression: ``int``, ``symbol``, ``bool`` or an operator ``head`` with args."""

    kind: str  # "int" | "symbol" | "bool" | "op"
    value: int | str | bool = 0
    args: tuple[Expr, ...] = ()
    assumptions: tuple[tuple[str, bool], ...] = ()

    def symbols(self) -> set[str]:
        if self.kind == "symbol":
            return {str(self.value)}
        out: set[str] = set()
        for a in self.args:
            out |= a.symbols()
        return out


def _refuse(text: str, why: str) -> BadInputError:
    return BadInputError(f"shape expression {text[:60]!r}: {why}")


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[tuple[str, str]] = []
        pos = 0
        while pos < len(text):
            if text[pos:].strip() == "":
                break
            m = _TOKEN_RE.match(text, pos)
            if m is None:
                raise _refuse(text, f"unexpected character {text[pos:pos + 1]!r} at {pos}")
            punct, number, name, quoted = m.groups()
            if punct is not None:
                self.tokens.append(("p", punct))
            elif number is not None:
                self.tokens.append(("int", number))
            elif name is not None:
                self.tokens.append(("name", name))
            else:
                self.tokens.append(("str", quoted[1:-1]))
            pos = m.end()
        self.i = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        tok = self.peek()
        if tok is None or (value is not None and tok[1] != value):
            raise _refuse(self.text, f"expected {value or 'more'} at token {self.i}")
        self.i += 1
        return tok

    def expr(self, depth: int) -> Expr:
        if depth > MAX_DEPTH:
            raise _refuse(self.text, f"nested deeper than {MAX_DEPTH}")
        left = self.product(depth)
        while (tok := self.peek()) is not None and tok[1] in ("+", "-"):
            self.take()
            right = self.product(depth)
            if tok[1] == "-":
                right = Expr("op", "Mul", (Expr("int", -1), right))
            left = Expr("op", "Add", (left, right))
        return left

    def product(self, depth: int) -> Expr:
        left = self.unary(depth)
        while (tok := self.peek()) is not None and tok[1] in ("*", "//", "%"):
            self.take()
            right = self.unary(depth)
            head = {"*": "Mul", "//": "FloorDiv", "%": "PythonMod"}[tok[1]]
            left = Expr("op", head, (left, right))
        return left

    def unary(self, depth: int) -> Expr:
        tok = self.peek()
        if tok is not None and tok[1] == "-":
            self.take()
            inner = self.unary(depth + 1)
            if inner.kind == "int":
                return Expr("int", -int(inner.value))
            return Expr("op", "Mul", (Expr("int", -1), inner))
        return self.atom(depth)

    def atom(self, depth: int) -> Expr:
        kind, value = self.take()
        if kind == "int":
            n = int(value)
            if n > MAX_INT:
                raise _refuse(self.text, "integer out of range")
            return Expr("int", n)
        if kind == "p" and value == "(":
            inner = self.expr(depth + 1)
            self.take(")")
            return inner
        if kind != "name":
            raise _refuse(self.text, f"unexpected {value!r}")
        nxt = self.peek()
        if nxt is None or nxt[1] != "(":
            if value in _BOOL_LITERALS:
                return Expr("bool", value in ("True", "true"))
            if not SYMBOL_RE.fullmatch(value):
                raise _refuse(self.text, f"{value!r} is not a size symbol")
            return Expr("symbol", value)
        self.take("(")
        if value == "Integer":
            sign = -1 if self.peek() == ("p", "-") else 1
            if sign < 0:
                self.take()
            kind, digits = self.take()
            if kind != "int" or int(digits) > MAX_INT:
                raise _refuse(self.text, "Integer() takes one integer literal")
            self.take(")")
            return Expr("int", sign * int(digits))
        if value == "Symbol":
            return self.symbol()
        if value not in _ARITH and value not in _BOOL and value != "Pow":
            raise _refuse(self.text, f"{value}() is not part of the shape grammar")
        args = [self.expr(depth + 1)]
        while self.peek() == ("p", ","):
            self.take()
            args.append(self.expr(depth + 1))
        self.take(")")
        arity = _ARITY.get(value)
        if (arity is not None and len(args) != arity) or len(args) < 1:
            raise _refuse(self.text, f"{value}() with {len(args)} arguments")
        if value == "Pow" and not (args[1].kind == "int" and 0 <= int(args[1].value) <= MAX_POWER):
            raise _refuse(self.text, f"Pow() takes a natural exponent up to {MAX_POWER} (a repeated product)")
        return Expr("op", value, tuple(args))

    def symbol(self) -> Expr:
        kind, name = self.take()
        if kind != "str" or not SYMBOL_RE.fullmatch(name):
            raise _refuse(self.text, "Symbol() takes a quoted size-symbol name such as 's0'")
        assumptions: list[tuple[str, bool]] = []
        while self.peek() == ("p", ","):
            self.take()
            kind, key = self.take()
            self.take("=")
            _, flag = self.take()
            if kind != "name" or key not in _ASSUMPTIONS or flag not in ("True", "False"):
                raise _refuse(self.text, "Symbol() takes only assumption=True/False keywords")
            assumptions.append((key, flag == "True"))
        self.take(")")
        return Expr("symbol", name, assumptions=tuple(sorted(assumptions)))


def parse(text: str) -> Expr:
    """Parse one expression; raises :class:`BadInputError` for anything outside the grammar."""
    if not isinstance(text, str):
        raise BadInputError("a shape expression is not a string")
    if len(text) > MAX_LENGTH:
        raise _refuse(text, f"longer than {MAX_LENGTH} characters")
    p = _Parser(text)
    if not p.tokens:
        raise _refuse(text, "empty")
    out = p.expr(0)
    if p.peek() is not None:
        raise _refuse(text, f"unexpected {p.peek()[1]!r} after the expression")  # type: ignore[index]
    return out


def to_sympy_text(e: Expr) -> str:
    """sympy's printed (``srepr``) form of ``e``: the only expression text torch's deserializer sees."""
    if e.kind == "int":
        return f"Integer({int(e.value)})"
    if e.kind == "bool":
        return "true" if e.value else "false"
    if e.kind == "symbol":
        flags = "".join(f", {k}={v}" for k, v in e.assumptions)
        return f"Symbol('{e.value}'{flags})"
    return f"{e.value}({', '.join(to_sympy_text(a) for a in e.args)})"


def canonical(text: str) -> str:
    """The expression re-printed from its parse tree (raises for anything outside the grammar)."""
    return to_sympy_text(parse(text))
