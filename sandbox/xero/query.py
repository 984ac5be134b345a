"""The read side of Xero's query language: ``where``, ``order`` and ``If-Modified-Since``.

``where`` supports what connectors send: ``Field==value`` / ``!=`` / ``<`` / ``<=`` / ``>`` /
``>=`` on dotted paths (``Contact.ContactID``), values ``"text"``, ``true``/``false``, numbers,
``Guid("…")`` and ``DateTime(y, m, d)``, joined by ``AND``/``&&`` and ``OR``/``||`` (AND binds
tighter; no parentheses). Anything else is a 400, as Xero refuses filters it cannot parse.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any

from arconnect.sandbox.xero.wire import EPOCH, ms_of

Predicate = Callable[[dict[str, Any]], bool]
_DATE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")


class QueryError(ValueError):
    """A ``where``/``order``/header value the sandbox (and Xero) cannot parse."""


_TOKEN = re.compile(
    r"""\s*(?:
        (?P<op>==|!=|>=|<=|>|<)
      | (?P<conj>&&|\|\||\bAND\b|\bOR\b)
      | (?P<str>"(?:[^"\\]|\\.)*")
      | (?P<guid>Guid\(\s*"(?P<g>[0-9a-fA-F-]{36})"\s*\))
      | (?P<dt>DateTime\(\s*(?P<y>\d{4})\s*,\s*(?P<m>\d{1,2})\s*,\s*(?P<d>\d{1,2})\s*\))
      | (?P<bool>\btrue\b|\bfalse\b)
      | (?P<num>-?\d+(?:\.\d+)?)
      | (?P<field>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
    )""",
    re.VERBOSE | re.IGNORECASE,
)


def _tokens(text: str) -> list[tuple[str, Any]]:
    pos, out = 0, []
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise QueryError(f"cannot parse where clause near {text[pos:pos + 20]!r}")
        pos = m.end()
        if m.group("op"):
            out.append(("op", m.group("op")))
        elif m.group("conj"):
            out.append(("conj", "and" if m.group("conj").upper() in ("&&", "AND") else "or"))
        elif m.group("str") is not None:
            out.append(("val", m.group("str")[1:-1].replace('\\"', '"')))
        elif m.group("guid"):
            out.append(("val", m.group("g").lower()))
        elif m.group("dt"):
            when = datetime(int(m.group("y")), int(m.group("m")), int(m.group("d")), tzinfo=UTC)
            out.append(("val", ("date", ms_of(when))))
        elif m.group("bool"):
            out.append(("val", m.group("bool").lower() == "true"))
        elif m.group("num"):
            out.append(("val", float(m.group("num"))))
        else:
            out.append(("field", m.group("field")))
    return out


def _get(record: dict[str, Any], path: list[str]) -> Any:
    value: Any = record
    for part in path:
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _compare(left: Any, op: str, right: Any) -> bool:
    if isinstance(right, tuple):  # DateTime(...) against a /Date(ms)/ field
        m = _DATE.match(left) if isinstance(left, str) else None
        if not m:
            return False
        left, right = int(m.group(1)), right[1]
    elif isinstance(right, str) and isinstance(left, str) and len(right) == 36:
        left = left.lower()  # GUIDs compare case-insensitively
    elif isinstance(right, float):
        try:
            left = float(left)
        except (TypeError, ValueError):
            return False
    if op == "==":
        return bool(left == right)
    if op == "!=":
        return bool(left != right)
    if left is None:
        return False
    try:
        return bool({">": left > right, "<": left < right, ">=": left >= right,
                     "<=": left <= right}[op])
    except TypeError:
        return False


def parse_where(text: str) -> Predicate:
    """Compile a ``where`` clause into a predicate over Xero-shaped records."""
    toks = _tokens(text)
    clauses: list[list[tuple[list[str], str, Any]]] = [[]]
    i = 0
    while i < len(toks):
        if len(toks) - i < 3:
            raise QueryError("incomplete where clause")
        (k1, field), (k2, op), (k3, value) = toks[i], toks[i + 1], toks[i + 2]
        if k1 != "field" or k2 != "op" or k3 != "val":
            raise QueryError("expected Field op value in where clause")
        clauses[-1].append((field.split("."), op, value))
        i += 3
        if i < len(toks):
            kind, conj = toks[i]
            if kind != "conj" or i + 1 == len(toks):
                raise QueryError("expected AND/OR between conditions")
            if conj == "or":
                clauses.append([])
            i += 1

    def predicate(record: dict[str, Any]) -> bool:
        return any(all(_compare(_get(record, p), op, v) for p, op, v in clause)
                   for clause in clauses)

    return predicate


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
