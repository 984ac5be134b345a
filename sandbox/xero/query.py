"""The read side of Xero's query language: ``where``, ``order`` and ``If-Modified-Since``.

``where`` is parsed as Xero does, as a Dynamic LINQ expression typed against Xero's model
(:mod:`arconnect.sandbox.xero.fields`): comparisons ``== = != <> < <= > >=``, ``&&``/``AND``,
``||``/``OR``, ``!``/``NOT``, parentheses, dotted paths (``Contact.ContactID``), string methods
``Contains``/``StartsWith``/``EndsWith``/``ToLower``/``ToUpper``/``Trim``, ``ToString()``, and
literals ``"text"``, numbers, ``true``/``false``, ``null``, ``Guid("…")``, ``DateTime(y, m, d)``
and ``DateTime(y, m, d, h, mi, s)``. Anything else — a syntax error, a property the model does
not have, operands of incompatible types — is a 400, as Xero refuses what it cannot parse.
"""

from __future__ import annotations

import operator
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any

from arconnect.sandbox.xero.fields import FIELDS
from arconnect.sandbox.xero.wire import EPOCH, ms_of

Predicate = Callable[[dict[str, Any]], bool]
_DATE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")


class QueryError(ValueError):
    """A ``where``/``order``/header value the sandbox (and Xero) cannot parse."""


# ---- where ----------------------------------------------------------------------------------
# Xero parses ``where`` as a .NET Dynamic LINQ expression over its model: property and method
# names and the keywords and/or/not/null/true/false are case-insensitive, strings are
# "double-quoted" ("" inside one is a quote), 'x' is a one-character literal, and a mistake is
# refused whole with Dynamic LINQ's message (400 QueryParseException, ErrorNumber 16), e.g.
# "No property or field 'Foo' exists in type 'Contact'" (XeroAPI/XeroAPI.Net #21), "Operator
# '>' incompatible with operand types 'DateTime?' and 'String'" (XeroAPI/Xero-NetStandard
# #597), "Character literal must contain exactly one character" (waynerobinson/xeroizer #454).
# Documented forms: https://developer.xero.com/documentation/api/accounting/requests-and-responses
# (Retrieving a filtered set: Name.Contains("Peter"), Name.StartsWith("P"), EndsWith,
# EmailAddress!=null&&…, Date >= DateTime(2015, 01, 01) && Date < DateTime(2015, 12, 31)).

_LEX = re.compile(r"""\s*(?:
      (?P<num>\d+(?:\.\d+)?)
    | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<str>"(?:[^"]|"")*")
    | (?P<chr>'(?:[^']|'')*')
    | (?P<op>==|!=|<>|>=|<=|&&|\|\||[=<>!().,-])
    )""", re.VERBOSE)

# .NET names of the types, as Dynamic LINQ words its messages.
_NET = {"string": "String", "guid": "Guid", "date": "DateTime?", "number": "Decimal",
        "bool": "Boolean", "null": "Object", "list": "List"}
_EQUALITY = ("==", "!=")
_RELATIONAL_TYPES = ("string", "date", "number")  # Dynamic LINQ orders these; Guid, bool not
_STRING_TESTS: dict[str, Callable[[str, str], bool]] = {
    "contains": str.__contains__, "startswith": str.startswith, "endswith": str.endswith}
_STRING_MAPS: dict[str, Callable[[str], str]] = {
    "tolower": str.lower, "toupper": str.upper, "trim": str.strip, "tostring": str}

_Value = Callable[[dict[str, Any]], Any]


@dataclass(frozen=True)
class _Tok:
    kind: str  # num, ident, str, chr, op, end
    text: str


@dataclass(frozen=True)
class _Expr:
    type: str  # string, guid, date, number, bool, null, list, or a model name (FIELDS key)
    value: _Value
    const: bool = False


def _lex(text: str) -> list[_Tok]:
    out, pos = [], 0
    while pos < len(text):
        if not text[pos:].strip():
            break
        m = _LEX.match(text, pos)
        if not m:
            rest = text[pos:].lstrip()
            if rest[0] in "\"'":
                raise QueryError("Unterminated string literal")
            raise QueryError(f"Syntax error '{rest[0]}'")
        kind = m.lastgroup or "op"
        out.append(_Tok(kind, m.group(kind)))
        pos = m.end()
    out.append(_Tok("end", ""))
    return out


def _const(type_: str, value: Any) -> _Expr:
    return _Expr(type_, lambda _r: value, const=True)


def _ms(value: Any) -> int | None:
    """A record's ``/Date(ms+0000)/`` (or a ``DateTime(…)`` literal's ms) as Unix ms."""
    if isinstance(value, int):
        return value
    m = _DATE.match(value) if isinstance(value, str) else None
    return int(m.group(1)) if m else None


def _guid(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _number(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except ArithmeticError:
        return None


class _Parser:
    """Recursive descent over Dynamic LINQ's grammar, as far as Xero's clients use it:

    ``or := and (("||"|"or") and)*``, ``and := not (("&&"|"and") not)*``,
    ``not := ("!"|"not") not | compare``, ``compare := unary (op unary)?``,
    ``unary := "-" number | primary``, ``primary := literal | "(" or ")" | member``,
    ``member := name ("." name ("(" args ")")?)*``; literals: strings, numbers, true, false,
    null, ``Guid("…")``, ``DateTime(y, m, d[, h, mi, s])``.
    """

    def __init__(self, text: str, model: str) -> None:
        self.toks = _lex(text)
        self.i = 0
        self.model = model

    def peek(self) -> _Tok:
        return self.toks[self.i]

    def take(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def word(self, *words: str) -> bool:
        tok = self.peek()
        return tok.kind == "ident" and tok.text.lower() in words

    def expect(self, text: str, message: str) -> None:
        if self.peek().text != text or self.peek().kind not in ("op",):
            raise QueryError(message)
        self.take()

    def parse(self) -> _Expr:
        expr = self.or_()
        if self.peek().kind != "end":
            raise QueryError("Syntax error")
        if expr.type != "bool":
            raise QueryError("Expression of type 'Boolean' expected")
        return expr

    def or_(self) -> _Expr:
        left = self.and_()
        while self.peek().text == "||" or self.word("or"):
            self.take()
            left = self._logic(left, self.and_(), "||")
        return left

    def and_(self) -> _Expr:
        left = self.not_()
        while self.peek().text == "&&" or self.word("and"):
            self.take()
            left = self._logic(left, self.not_(), "&&")
        return left

    def not_(self) -> _Expr:
        if (self.peek().kind == "op" and self.peek().text == "!") or self.word("not"):
            self.take()
            inner = self.not_()
            if inner.type != "bool":
                raise QueryError(f"Operator '!' incompatible with operand type "
                                 f"'{_NET.get(inner.type, inner.type)}'")
            return _Expr("bool", lambda r: not inner.value(r))
        return self.compare()

    def _logic(self, a: _Expr, b: _Expr, op: str) -> _Expr:
        if a.type != "bool" or b.type != "bool":
            raise _incompatible(op, a, b)
        if op == "&&":
            return _Expr("bool", lambda r: bool(a.value(r)) and bool(b.value(r)))
        return _Expr("bool", lambda r: bool(a.value(r)) or bool(b.value(r)))

    def compare(self) -> _Expr:
        left = self.unary()
        tok = self.peek()
        if tok.kind == "op" and tok.text in ("==", "=", "!=", "<>", "<", "<=", ">", ">="):
            self.take()
            op = {"=": "==", "<>": "!="}.get(tok.text, tok.text)
            return _comparison(op, left, self.unary())
        return left

    def unary(self) -> _Expr:
        if self.peek().kind == "op" and self.peek().text == "-":
            self.take()
            tok = self.take()
            if tok.kind != "num":
                raise QueryError("Expression expected")
            return _const("number", -Decimal(tok.text))
        return self.primary()

    def primary(self) -> _Expr:
        tok = self.take()
        if tok.kind == "op" and tok.text == "(":
            inner = self.or_()
            self.expect(")", "')' or operator expected")
            return self.postfix(inner)
        if tok.kind == "str":
            return self.postfix(_const("string", tok.text[1:-1].replace('""', '"')))
        if tok.kind == "chr":
            text = tok.text[1:-1].replace("''", "'")
            if len(text) != 1:
                raise QueryError("Character literal must contain exactly one character")
            return _const("string", text)
        if tok.kind == "num":
            return _const("number", Decimal(tok.text))
        if tok.kind != "ident":
            raise QueryError("Expression expected")
        word = tok.text.lower()
        if word in ("true", "false"):
            return _const("bool", word == "true")
        if word == "null":
            return _const("null", None)
        if word in ("guid", "datetime") and self.peek().text == "(":
            return self.constructor(word)
        return self.postfix(self.member(_Expr(self.model, lambda r: r), tok.text))

    def constructor(self, word: str) -> _Expr:
        self.take()  # "("
        args: list[_Tok] = []
        while True:
            negative = self.peek().text == "-"
            if negative:
                self.take()
            arg = self.take()
            if arg.kind not in ("num", "str") or (negative and arg.kind != "num"):
                raise QueryError("Expression expected")
            args.append(_Tok(arg.kind, ("-" if negative else "") + arg.text))
            if self.peek().text == ",":
                self.take()
                continue
            self.expect(")", "')' or ',' expected")
            break
        if word == "guid":
            if len(args) != 1 or args[0].kind != "str":
                raise QueryError("No applicable constructor exists in type 'Guid'")
            try:
                return _const("guid", str(uuid.UUID(args[0].text[1:-1])))
            except ValueError as err:
                raise QueryError("Guid should contain 32 digits with 4 dashes "
                                 "(xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx).") from err
        if len(args) not in (3, 6, 7) or any(a.kind != "num" or "." in a.text for a in args):
            raise QueryError("No applicable constructor exists in type 'DateTime'")
        parts = [int(a.text) for a in args]
        try:
            y, mo, d, h, mi, sec, ms = (parts + [0, 0, 0, 0])[:7]
            moment = datetime(y, mo, d, h, mi, sec, tzinfo=UTC) + timedelta(milliseconds=ms)
        except (ValueError, OverflowError) as err:
            raise QueryError("Year, Month, and Day parameters describe an un-representable "
                             "DateTime.") from err
        return _const("date", ms_of(moment))

    def postfix(self, expr: _Expr) -> _Expr:
        while self.peek().kind == "op" and self.peek().text == ".":
            self.take()
            name = self.take()
            if name.kind != "ident":
                raise QueryError("Identifier expected")
            if self.peek().kind == "op" and self.peek().text == "(":
                expr = self.method(expr, name.text)
            else:
                expr = self.member(expr, name.text)
        return expr

    def member(self, owner: _Expr, name: str) -> _Expr:
        fields = FIELDS.get(owner.type)
        lowered = {k.lower(): k for k in fields or ()}
        if fields is None or name.lower() not in lowered:
            raise QueryError(f"No property or field '{name}' exists in type "
                             f"'{_NET.get(owner.type, owner.type)}'")
        key = lowered[name.lower()]
        parent = owner.value

        def get(record: dict[str, Any]) -> Any:
            value = parent(record)
            return value.get(key) if isinstance(value, dict) else None

        return self.postfix(_Expr(fields[key], get))

    def method(self, target: _Expr, name: str) -> _Expr:
        self.take()  # "("
        args: list[_Expr] = []
        if not (self.peek().kind == "op" and self.peek().text == ")"):
            while True:
                args.append(self.or_())
                if self.peek().text != ",":
                    break
                self.take()
        self.expect(")", "')' or ',' expected")
        lowered = name.lower()
        source = target.value
        # Calling a method on a missing optional value throws in Xero ("add a not null at
        # the start of the query", Xero's filter notes); here it just does not match.
        if target.type == "string" and lowered in _STRING_TESTS and len(args) == 1 \
                and args[0].type == "string":
            test, arg = _STRING_TESTS[lowered], args[0].value
            return _Expr("bool", lambda r: _apply_test(test, source(r), arg(r)))
        if target.type == "string" and lowered in _STRING_MAPS and not args:
            fn = _STRING_MAPS[lowered]
            return _Expr("string", lambda r: None if source(r) is None else fn(source(r)))
        if target.type in ("guid", "number", "bool") and lowered == "tostring" and not args:
            return _Expr("string", lambda r: _text(source(r)))
        raise QueryError(f"No applicable method '{name}' exists in type "
                         f"'{_NET.get(target.type, target.type)}'")


def _apply_test(test: Callable[[str, str], bool], value: Any, arg: Any) -> bool:
    return isinstance(value, str) and isinstance(arg, str) and test(value, arg)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "True" if value else "False"
    return str(value).lower() if isinstance(value, str) else str(value)


def _incompatible(op: str, a: _Expr, b: _Expr) -> QueryError:
    return QueryError(f"Operator '{op}' incompatible with operand types "
                      f"'{_NET.get(a.type, a.type)}' and '{_NET.get(b.type, b.type)}'")


def _comparison(op: str, left: _Expr, right: _Expr) -> _Expr:
    """``left op right``, type-checked as Dynamic LINQ does, evaluated per record."""
    if "null" in (left.type, right.type):
        if op not in _EQUALITY:  # Xero's model values are nullable: == / != null only
            raise _incompatible(op, left, right)
    elif left.type != right.type or left.type not in _RELATIONAL_TYPES + ("guid", "bool") \
            or (op not in _EQUALITY and left.type not in _RELATIONAL_TYPES):
        raise _incompatible(op, left, right)
    kind = right.type if left.type == "null" else left.type
    convert: Callable[[Any], Any] = {"date": _ms, "number": _number, "guid": _guid}.get(
        kind, lambda v: v)
    a, b = left.value, right.value
    if op == "==":
        return _Expr("bool", lambda r: convert(a(r)) == convert(b(r)))
    if op == "!=":
        return _Expr("bool", lambda r: convert(a(r)) != convert(b(r)))
    compare: Callable[[Any, Any], Any] = {
        "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}[op]

    def ordered(record: dict[str, Any]) -> bool:
        x, y = convert(a(record)), convert(b(record))
        # a comparison with a missing value is false (a lifted .NET comparison)
        return x is not None and y is not None and bool(compare(x, y))

    return _Expr("bool", ordered)


def parse_where(text: str, model: str) -> Predicate:
    """Compile a ``where`` clause over records of Xero model ``model`` (``Contact``,
    ``Invoice``, … as in :data:`~arconnect.sandbox.xero.fields.FIELDS`) into a predicate.

    Raises:
        QueryError: the clause does not parse, names a property the model lacks, or compares
            values of incompatible types (Xero answers 400 QueryParseException).
    """
    expr = _Parser(text, model).parse()
    value = expr.value
    return lambda record: value(record) is True


def parse_order(text: str) -> tuple[str, bool]:
    """``order=Field [ASC|DESC]`` → (field path, descending). One field only."""
    parts = text.strip().split()
    if not parts or len(parts) > 2 or "," in text:
        raise QueryError(f"unsupported order {text!r}")
    if len(parts) == 2 and parts[1].upper() not in ("ASC", "DESC"):
        raise QueryError(f"unsupported order direction {parts[1]!r}")
    return parts[0], len(parts) == 2 and parts[1].upper() == "DESC"


def parse_since(value: str) -> int:
    """``If-Modified-Since`` → the first millisecond of that UTC second.

    Accepts ISO 8601 (``2026-01-01T00:00:00``, optional fraction, ``Z`` or offset; no zone means
    UTC, as Xero documents) and the HTTP-date form (``Mon, 23 Nov 2026 09:00:00 GMT``).
    """
    value = value.strip()
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError) as err:
            raise QueryError(f"bad If-Modified-Since {value!r}") from err
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC).replace(microsecond=0)
    return (moment - EPOCH).days * 86_400_000 + (moment - EPOCH).seconds * 1000


def sort_value(value: Any) -> Any:
    """A sortable key for a record field (dates by their milliseconds)."""
    if isinstance(value, str):
        m = _DATE.match(value)
        if m:
            return (0, int(m.group(1)), "")
        return (1, 0, value.lower())
    if isinstance(value, bool | int | float | Decimal):
        return (0, float(value), "")
    if value is None:
        return (-1, 0, "")
    return (2, 0, str(value))
