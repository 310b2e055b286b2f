"""PICS answers and the Part 5 condition language.

OCPP 2.0.1 Part 5 makes a conditional (C) test case mandatory when a condition over the vendor's
Protocol Implementation Conformance Statement holds: optional features (``C-30``, ``AS-2``, ``UI-1.2`` …,
Part 5 tables 2 and 3), additional questions (``AQ-2``, Appendix A) and hardware features (``HFS-8``,
Appendix B). Part 5 writes these conditions as free text with AND/OR/NOT; we transcribe them into a tiny
expression language and evaluate them here, so test selection is data, not code.

Grammar (keywords are case-insensitive, so transcriptions may keep Part 5's capitalisation)::

    expr       := and_expr ("or" and_expr)*
    and_expr   := not_expr ("and" not_expr)*
    not_expr   := "not" not_expr | comparison
    comparison := atom [("<" | "<=" | ">" | ">=" | "==" | "!=") NUMBER]
    atom       := IDENT | "(" expr ")"

Identifiers:
- PICS ids such as ``C-09.2``, ``AQ-2``, ``HFS-8``;
- ``profile:<key>`` for Part 5 conditions that name a certification profile ("or ISO 15118 support",
  "NOT Smart Charging"); true when the PICS claims that profile;
- ``subtype:<key>`` for Part 5's product subtypes ("Mode 1/2-only Charging Station").

An identifier the PICS does not answer is false: Part 5 features are optional, so silence means
"not supported". The explanation says so explicitly, because a typo in a PICS file looks the same.
"""

from __future__ import annotations

import functools
import hashlib
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Collection
from typing import Literal, Union

Role = Literal["cs", "csms"]
Answer = bool | int | float

ROLES: tuple[Role, ...] = ("cs", "csms")

# Part 5 §2, Table 1: the eight certification profiles (our keys → official names live in profiles.json).
PROFILE_KEYS: frozenset[str] = frozenset({
    "core", "advanced_security", "local_auth_list", "smart_charging",
    "advanced_device_management", "advanced_user_interface", "reservation", "iso15118",
})

# Part 5 names one product subtype in its conditions: "Mode 1/2-only Charging Station".
PRODUCT_SUBTYPES: dict[str, str] = {"mode_1_2_only": "Mode 1/2-only Charging Station"}

_PICS_ID = re.compile(r"[A-Z]{1,4}-\d+(?:\.\d+)*")
_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<number>\d+(?:\.\d+)?(?![\w.-]))
  | (?P<ident>[A-Za-z][A-Za-z0-9_]*(?:[-:.][A-Za-z0-9_]+)*)
  | (?P<op><=|>=|==|!=|<|>)
  | (?P<paren>[()])
""", re.VERBOSE)
_KEYWORDS = frozenset({"and", "or", "not"})

# Which PICS table answers which id prefix (Part 5 tables 2/3, Appendix A, Appendix B).
_SECTION_OF_PREFIX = {"AQ": "questions", "HFS": "hardware"}


class ConditionSyntaxError(ValueError):
    """A condition string does not follow the grammar; the message points at the offending column."""

    def __init__(self, message: str, expr: str, position: int) -> None:
        self.expr = expr
        self.position = position
        super().__init__(f"{message} at position {position}:\n  {expr}\n  {' ' * position}^")


class PicsError(ValueError):
    """A PICS file is malformed, or an answer has the wrong type for the condition that reads it."""


# --- syntax tree -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Ident:
    name: str


@dataclass(frozen=True)
class Not:
    operand: Node


@dataclass(frozen=True)
class And:
    operands: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    operands: tuple[Node, ...]


@dataclass(frozen=True)
class Compare:
    ident: Ident
    op: str
    value: float


Node = Union[Ident, Not, And, Or, Compare]


# --- lexer and parser --------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Token:
    kind: str  # "ident", "number", "op", "paren", keyword text, or "end"
    text: str
    pos: int


def _tokenize(expr: str) -> list[_Token]:
    """Split a condition into tokens; anything unrecognised is reported at its column."""
    tokens: list[_Token] = []
    pos = 0
    while pos < len(expr):
        match = _TOKEN.match(expr, pos)
        if match is None:
            raise ConditionSyntaxError(f"unexpected character {expr[pos]!r}", expr, pos)
        kind = match.lastgroup or ""
        text = match.group()
        if kind == "ident" and text.lower() in _KEYWORDS:
            kind = text.lower()
        if kind != "space":
            tokens.append(_Token(kind, text, pos))
        pos = match.end()
    tokens.append(_Token("end", "", len(expr)))
    return tokens


def _check_identifier(token: _Token, expr: str) -> Ident:
    """Accept only the identifier forms Part 5 conditions use, so typos fail at load time."""
    name = token.text
    namespace, _, key = name.partition(":")
    if key:
        known = {"profile": PROFILE_KEYS, "subtype": PRODUCT_SUBTYPES.keys()}.get(namespace)
        if known is None:
            raise ConditionSyntaxError(f"unknown namespace {namespace!r} (use profile: or subtype:)", expr, token.pos)
        if key not in known:
            raise ConditionSyntaxError(f"unknown {namespace} {key!r} (known: {', '.join(sorted(known))})",
                                       expr, token.pos)
    elif not _PICS_ID.fullmatch(name):
        raise ConditionSyntaxError(f"{name!r} is not a PICS id like C-30, AQ-2 or HFS-8", expr, token.pos)
    return Ident(name)


class _Parser:
    """Recursive descent over the token list; one method per grammar rule."""

    def __init__(self, expr: str) -> None:
        self.expr = expr
        self.tokens = _tokenize(expr)
        self.index = 0

    @property
    def current(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        token = self.current
        self.index += 1
        return token

    def fail(self, message: str) -> ConditionSyntaxError:
        found = self.current.text or "end of condition"
        return ConditionSyntaxError(f"{message}, found {found!r}", self.expr, self.current.pos)

    def parse(self) -> Node:
        if self.current.kind == "end":
            raise ConditionSyntaxError("empty condition", self.expr, 0)
        node = self.or_expr()
        if self.current.kind != "end":
            raise self.fail("expected 'and', 'or' or end of condition")
        return node

    def or_expr(self) -> Node:
        operands = [self.and_expr()]
        while self.current.kind == "or":
            self.advance()
            operands.append(self.and_expr())
        return operands[0] if len(operands) == 1 else Or(tuple(operands))

    def and_expr(self) -> Node:
        operands = [self.not_expr()]
        while self.current.kind == "and":
            self.advance()
            operands.append(self.not_expr())
        return operands[0] if len(operands) == 1 else And(tuple(operands))

    def not_expr(self) -> Node:
        if self.current.kind == "not":
            self.advance()
            return Not(self.not_expr())
        return self.comparison()

    def comparison(self) -> Node:
        start = self.current
        node = self.atom()
        if self.current.kind != "op":
            return node
        op = self.advance().text
        if not isinstance(node, Ident):
            raise ConditionSyntaxError("only an identifier can be compared with a number", self.expr, start.pos)
        if self.current.kind != "number":
            raise self.fail(f"expected a number after {op!r}")
        return Compare(node, op, float(self.advance().text))

    def atom(self) -> Node:
        token = self.current
        if token.kind == "ident":
            self.advance()
            return _check_identifier(token, self.expr)
        if token.text == "(":
            self.advance()
            node = self.or_expr()
            if self.current.text != ")":
                raise self.fail("expected ')'")
            self.advance()
            return node
        raise self.fail("expected an identifier, 'not' or '('")


@functools.lru_cache(maxsize=1024)
def parse(expr: str) -> Node:
    """Parse a condition; raises ConditionSyntaxError naming the position. Cached: the catalog reuses strings."""
    return _Parser(expr).parse()


def identifiers(expr: str) -> list[str]:
    """Every identifier a condition reads, in order of first appearance (for reports and cross-checks)."""
    names: list[str] = []

    def walk(node: Node) -> None:
        match node:
            case Ident(name) if name not in names:
                names.append(name)
            case Not(operand):
                walk(operand)
            case And(operands) | Or(operands):
                for operand in operands:
                    walk(operand)
            case Compare(ident, _, _):
                walk(ident)

    walk(parse(expr))
    return names


# --- PICS --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Pics:
    """The vendor's answers, as loaded from a TOML PICS file.

    ``answers`` merges ``[features]``, ``[questions]`` and ``[hardware]``: Part 5 ids are unique per role, and
    conditions do not say which table an id comes from.
    """

    role: Role
    answers: dict[str, Answer]
    profiles: frozenset[str]
    subtypes: frozenset[str]
    sha256: str
    source: str

    @classmethod
    def load(cls, path: str | Path) -> Pics:
        """Read a PICS file; the hash is over the exact bytes so reports can prove which PICS was used."""
        path = Path(path)
        return cls.from_bytes(path.read_bytes(), source=str(path))

    @classmethod
    def from_bytes(cls, data: bytes, source: str = "<bytes>") -> Pics:
        """Parse PICS TOML; every mistake is reported with the file name so the vendor can fix it."""
        try:
            document = tomllib.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
            raise PicsError(f"{source}: not valid TOML: {error}") from error
        unknown = set(document) - {"sut", "features", "questions", "hardware"}
        if unknown:
            raise PicsError(f"{source}: unknown table(s) {sorted(unknown)}; expected sut, features, questions, hardware")
        sut = document.get("sut", {})
        role = sut.get("role")
        if role not in ROLES:
            raise PicsError(f"{source}: [sut] role must be 'cs' or 'csms', got {role!r}")
        return cls(
            role=role,
            answers=_read_answers(document, source),
            profiles=_read_names(sut, "profiles", PROFILE_KEYS, source),
            subtypes=_read_names(sut, "product_subtypes", PRODUCT_SUBTYPES.keys(), source),
            sha256=hashlib.sha256(data).hexdigest(),
            source=source,
        )

    def lookup(self, name: str) -> Answer | None:
        """The answer for an identifier, or None when the PICS is silent about it."""
        namespace, _, key = name.partition(":")
        if namespace == "profile":
            return key in self.profiles
        if namespace == "subtype":
            return key in self.subtypes
        return self.answers.get(name)


def _read_answers(document: dict, source: str) -> dict[str, Answer]:
    """Merge the three answer tables, checking id shape, table placement and value types."""
    answers: dict[str, Answer] = {}
    for section in ("features", "questions", "hardware"):
        for name, value in document.get(section, {}).items():
            if not _PICS_ID.fullmatch(name):
                raise PicsError(f"{source}: [{section}] {name!r} is not a PICS id like C-30, AQ-2 or HFS-8")
            expected = _SECTION_OF_PREFIX.get(name.split("-")[0], "features")
            if expected != section:
                raise PicsError(f"{source}: {name} belongs in [{expected}], not [{section}]")
            numeric_ok = section == "hardware"
            if not isinstance(value, bool) and not (numeric_ok and isinstance(value, int | float)):
                kind = "true/false or a number" if numeric_ok else "true/false"
                raise PicsError(f"{source}: [{section}] {name} must be {kind}, got {value!r}")
            answers[name] = value
    return answers


def _read_names(sut: dict, key: str, known: Collection[str], source: str) -> frozenset[str]:
    """Read a list of profile / subtype keys from [sut], rejecting unknown names."""
    names = sut.get(key, [])
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise PicsError(f"{source}: [sut] {key} must be a list of strings")
    bad = sorted(set(names) - set(known))
    if bad:
        raise PicsError(f"{source}: [sut] {key} has unknown value(s) {bad}; known: {sorted(known)}")
    return frozenset(names)


# --- evaluation and explanation ----------------------------------------------------------------------

_COMPARE = {
    "<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b, "==": lambda a, b: a == b, "!=": lambda a, b: a != b,
}


def _truth(name: str, pics: Pics) -> bool:
    """A bare identifier is true when answered true (or a non-zero count); absent means false."""
    return bool(pics.lookup(name))


def _compare(node: Compare, pics: Pics) -> bool:
    """Numeric hardware answers (``HFS-8 > 1``); a missing answer makes the comparison false."""
    value = pics.lookup(node.ident.name)
    if value is None:
        return False
    if isinstance(value, bool):
        raise PicsError(f"{pics.source}: {node.ident.name} is a yes/no answer but the condition compares it "
                        f"with a number ({node.ident.name} {node.op} {node.value:g})")
    return _COMPARE[node.op](value, node.value)


def _eval(node: Node, pics: Pics) -> bool:
    match node:
        case Ident(name):
            return _truth(name, pics)
        case Not(operand):
            return not _eval(operand, pics)
        case And(operands):
            return all(_eval(operand, pics) for operand in operands)
        case Or(operands):
            return any(_eval(operand, pics) for operand in operands)
        case Compare():
            return _compare(node, pics)
    raise TypeError(f"not a condition node: {node!r}")


def evaluate(expr: str, pics: Pics) -> bool:
    """Whether a Part 5 condition holds for this PICS."""
    return _eval(parse(expr), pics)


def _describe(name: str, pics: Pics) -> str:
    value = pics.lookup(name)
    if value is None:
        return f"{name} is not in the PICS (taken as false)"
    if isinstance(value, bool):
        return f"{name} is {'true' if value else 'false'}"
    return f"{name} = {value:g}"


def _causes(node: Node, pics: Pics, outcome: bool) -> list[str]:
    """The leaf facts that make ``node`` evaluate to ``outcome`` (only the deciding operands of and/or)."""
    match node:
        case Ident(name):
            return [_describe(name, pics)]
        case Compare(ident, op, value):
            return [f"{_describe(ident.name, pics)}, so {ident.name} {op} {value:g} is {str(outcome).lower()}"]
        case Not(operand):
            return _causes(operand, pics, not outcome)
        case And(operands) | Or(operands):
            # The operands with the same outcome decide: all of them for and→true / or→false, the
            # false ones for and→false, the true ones for or→true.
            deciding = [operand for operand in operands if _eval(operand, pics) == outcome]
            return [cause for operand in deciding for cause in _causes(operand, pics, outcome)]
    raise TypeError(f"not a condition node: {node!r}")


def explain(expr: str, pics: Pics) -> str:
    """One sentence on why a condition holds or not, naming the ids that decided it (missing ones included)."""
    outcome = evaluate(expr, pics)
    causes = list(dict.fromkeys(_causes(parse(expr), pics, outcome)))
    verdict = "holds" if outcome else "does not hold"
    return f"condition `{expr}` {verdict}: {'; '.join(causes)}"
