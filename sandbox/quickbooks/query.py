"""QBO's query language, as real clients use it, parsed and run against a company's tables.

https://developer.intuit.com/app/developer/qbo/docs/learn/explore-the-quickbooks-online-api/data-queries
: ``SELECT * | COUNT(*) FROM Entity [WHERE a op b AND …] [ORDERBY f [ASC|DESC]]
[STARTPOSITION n] [MAXRESULTS m]``; operators ``=``, ``<``, ``>``, ``<=``, ``>=``, ``IN (…)``,
``LIKE`` (``%`` wildcards only); no ``OR``, joins, projections or ``GROUP BY``; a backslash
escapes a quote. Keywords and property names are case-insensitive, entity names are not;
``MAXRESULTS`` defaults to 100 and tops out at 1,000; ``STARTPOSITION`` is 1-based.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from itertools import islice
from typing import Any

from arconnect.sandbox.quickbooks.model import ENTITIES, TRANSACTIONS, Company, Record, Table
from arconnect.sandbox.quickbooks.wire import fault, parse_time

DEFAULT_MAX = 100
MAX_RESULTS = 1000
NAME_LISTS = ("Customer", "CustomerType", "Term")  # inactive rows hidden unless asked for
_TOKEN = re.compile(r"\s*(?:(?P<str>'(?:[^'\\]|\\.|'')*')|(?P<op><=|>=|!=|<>|=|<|>)"
                    r"|(?P<punct>[(),*])|(?P<word>[A-Za-z_][A-Za-z0-9_.]*)"
                    r"|(?P<num>-?\d+(?:\.\d+)?))")
_KEYWORDS = {"select", "from", "where", "and", "or", "in", "like", "orderby", "asc", "desc",
             "startposition", "maxresults", "count"}


class QueryError(Exception):
    """A query QBO refuses: ``fault`` is the Fault object (400)."""

    def __init__(self, message: str, detail: str, code: str) -> None:
        super().__init__(detail)
        self.fault = fault(message, detail, code)


def _parse_error(detail: str) -> QueryError:
    # QBO's answer to a malformed query: "Error parsing query", code 4000, Detail
    # "QueryParserError: Encountered …" (wording of the Detail after the prefix: assumed)
    return QueryError("Error parsing query", f"QueryParserError: {detail}", "4000")


def _invalid(detail: str) -> QueryError:
    return QueryError("Invalid query", f"QueryValidationError: {detail}", "4001")


@dataclass
class Condition:
    """``path op value`` (``op``: = < > <= >= in like)."""

    path: str
    op: str
    values: list[Any]


@dataclass
class Query:
    """A parsed statement."""

    entity: str
    count: bool = False
    where: list[Condition] = field(default_factory=list)
    order: list[tuple[str, bool]] = field(default_factory=list)  # (path, descending)
    start: int = 1
    max_results: int = DEFAULT_MAX


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.strip().rstrip(";")
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            column = pos + 1
            raise _parse_error(f'Encountered " "{text[pos:pos + 1]}" at line 1, column '
                               f"{column}.")
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind)))
        pos = match.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.toks = _tokens(text)
        self.i = 0

    def peek(self) -> tuple[str, str]:
        return self.toks[self.i] if self.i < len(self.toks) else ("eof", "")

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        self.i += 1
        return tok

    def keyword(self, word: str, required: bool = True) -> bool:
        kind, value = self.peek()
        if kind == "word" and value.lower() == word:
            self.i += 1
            return True
        if required:
            raise _parse_error(f'Encountered "{value or "<EOF>"}" where {word.upper()} was '
                               "expected.")
        return False

    def expect(self, punct: str) -> None:
        kind, value = self.take()
        if value != punct:
            raise _parse_error(f'Encountered "{value or "<EOF>"}" where "{punct}" was expected.')

    def literal(self) -> Any:
        kind, value = self.take()
        if kind == "str":
            return value[1:-1].replace("\\'", "'").replace("''", "'")
        if kind == "num":
            return Decimal(value)
        if kind == "word" and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise _parse_error(f'Encountered "{value or "<EOF>"}" where a value was expected.')

    def integer(self) -> int:
        kind, value = self.take()
        if kind == "num" and value.lstrip("-").isdigit():
            return int(value)
        if kind == "str" and value[1:-1].isdigit():
            return int(value[1:-1])
        raise _parse_error(f'Encountered "{value or "<EOF>"}" where an integer was expected.')

    def path(self) -> str:
        kind, value = self.take()
        if kind != "word" or value.lower() in _KEYWORDS:
            raise _parse_error(f'Encountered "{value or "<EOF>"}" where a property was '
                               "expected.")
        return value

    def parse(self) -> Query:
        self.keyword("select")
        count = False
        if self.peek()[1] == "*":
            self.take()
        elif self.keyword("count", required=False):
            self.expect("(")
            self.expect("*")
            self.expect(")")
            count = True
        else:
            raise _parse_error(f'Encountered "{self.peek()[1]}": only SELECT * and '
                               "SELECT COUNT(*) are supported.")
        self.keyword("from")
        kind, name = self.take()
        if kind != "word":
            raise _parse_error(f'Encountered "{name or "<EOF>"}" where an entity was expected.')
        # entity names are case sensitive (Intuit's data-queries page: "Case sensitive")
        entity = name if name in ENTITIES else None
        if entity is None:
            raise _invalid(f"Entity '{name}' is not supported by this service.")
        query = Query(entity=entity, count=count)
        if self.keyword("where", required=False):
            query.where.append(self.condition())
            while True:
                if self.keyword("and", required=False):
                    query.where.append(self.condition())
                elif self.peek()[0] == "word" and self.peek()[1].lower() == "or":
                    raise _parse_error('Encountered " "OR" "OR "" at line 1: OR is not '
                                       "supported.")
                else:
                    break
        if self.keyword("orderby", required=False):
            # one sort property: the grammar Intuit documents (a second one, after a comma,
            # is refused here; assumed)
            path = self.path()
            desc = False
            if self.keyword("desc", required=False):
                desc = True
            else:
                self.keyword("asc", required=False)
            query.order.append((path, desc))
        if self.keyword("startposition", required=False):
            query.start = max(self.integer(), 1)
        if self.keyword("maxresults", required=False):
            query.max_results = self.integer()
        if self.peek()[0] != "eof":
            raise _parse_error(f'Encountered "{self.peek()[1]}" at the end of the query.')
        if query.max_results > MAX_RESULTS:
            raise _invalid(f"value {query.max_results} is too large. Max allowed value is: "
                           f"{MAX_RESULTS}")
        if query.max_results < 1:
            raise _invalid(f"value {query.max_results} is too small. Min allowed value is: 1")
        return query

    def condition(self) -> Condition:
        path = self.path()
        kind, op = self.take()
        if kind == "op":
            if op in ("!=", "<>"):
                raise _parse_error(f'Encountered "{op}": the operator is not supported.')
            return Condition(path, op, [self.literal()])
        if kind == "word" and op.lower() == "in":
            self.expect("(")
            values = [self.literal()]
            while self.peek()[1] == ",":
                self.take()
                values.append(self.literal())
            self.expect(")")
            return Condition(path, "in", values)
        if kind == "word" and op.lower() == "like":
            value = self.literal()
            if not isinstance(value, str):
                raise _parse_error("LIKE needs a quoted string.")
            return Condition(path, "like", [value])
        raise _parse_error(f'Encountered "{op or "<EOF>"}" where an operator was expected.')


def parse(text: str) -> Query:
    """Parse a statement.

    Raises:
        QueryError: the Fault QBO answers (4000 parse error, 4001 validation error).
    """
    if not text or not text.strip():
        raise _parse_error('Encountered "<EOF>" at line 1, column 1.')
    return _Parser(text).parse()


# ---- evaluation -----------------------------------------------------------------------------
_TIME_FIELDS = {"metadata.lastupdatedtime": "updated", "metadata.createtime": "created"}


def _lookup(record: Record, path: str) -> Any:
    value: Any = record
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        low = part.lower()
        value = next((v for k, v in value.items() if k.lower() == low), None)
    if isinstance(value, dict) and "value" in value:
        return value["value"]  # CustomerRef = '12' compares the reference's value
    return value


def _known(table: Table, path: str) -> bool:
    head = path.split(".")[0].lower()
    if head in ("metadata", "id"):
        return True
    optional = {"parentref", "customertyperef", "salestermref", "privatenote", "level",
                "exchangerate", "linkedtxn", "customfield", "docnumber", "txndate",
                "duedate", "balance", "totalamt", "active", "displayname", "name",
                "customerref", "fullyqualifiedname", "companyname", "job"}
    if head in optional:
        return True
    return any(head in (k.lower() for k in rec) for rec in islice(table.values(), 50))


def _coerce(actual: Any, literal: Any, path: str, tz: Any) -> tuple[Any, Any] | None:
    """Both sides in one comparable type, or None when they cannot compare."""
    if actual is None:
        return None
    if isinstance(actual, bool):
        if isinstance(literal, str):
            literal = literal.lower() == "true"
        return (actual, literal) if isinstance(literal, bool) else None
    if isinstance(actual, datetime):
        try:
            return actual, parse_time(str(literal), tz)
        except ValueError:
            return None
    if isinstance(actual, (Decimal, int, float)):
        try:
            return Decimal(str(actual)), Decimal(str(literal))
        except InvalidOperation:
            return None
    text, lit = str(actual), str(literal)
    low = path.lower()
    if (low == "id" or low.endswith("ref")) and text.isdigit() and lit.isdigit():
        return int(text), int(lit)
    return text.lower(), lit.lower()


def _like(pattern: str) -> re.Pattern[str]:
    return re.compile("^" + ".*".join(re.escape(p) for p in pattern.split("%")) + "$",
                      re.IGNORECASE | re.DOTALL)


def _matcher(cond: Condition, table: Table, tz: Any) -> Callable[[str, Record], bool]:
    path = cond.path
    times = _TIME_FIELDS.get(path.lower())

    def value(key: str, rec: Record) -> Any:
        if times is not None:
            return getattr(table, times).get(key)
        return _lookup(rec, path)

    if times is not None and cond.op != "like":
        # a time property: parse the literal(s) once, compare instants (the hot path of an
        # incremental read over a large company)
        stamps = getattr(table, times)
        try:
            instants = [parse_time(str(v), tz) for v in cond.values]
        except ValueError:
            raise _invalid(f"value {cond.values[0]!r} is not a date-time") from None
        if cond.op == "in":
            wanted = set(instants)
            return lambda key, rec: stamps.get(key) in wanted
        bound = instants[0]
        time_ops: dict[str, Callable[[datetime], bool]] = {
            "=": lambda t: t == bound, "<": lambda t: t < bound, ">": lambda t: t > bound,
            "<=": lambda t: t <= bound, ">=": lambda t: t >= bound}
        check = time_ops[cond.op]
        return lambda key, rec: (t := stamps.get(key)) is not None and check(t)
    if cond.op == "like":
        rx = _like(str(cond.values[0]))
        return lambda key, rec: isinstance(v := value(key, rec), str) and bool(rx.match(v))
    if cond.op == "in":
        def member(key: str, rec: Record) -> bool:
            actual = value(key, rec)
            for lit in cond.values:
                pair = _coerce(actual, lit, path, tz)
                if pair is not None and pair[0] == pair[1]:
                    return True
            return False
        return member
    ops: dict[str, Callable[[Any, Any], bool]] = {
        "=": lambda a, b: bool(a == b), "<": lambda a, b: bool(a < b),
        ">": lambda a, b: bool(a > b), "<=": lambda a, b: bool(a <= b),
        ">=": lambda a, b: bool(a >= b)}
    compare = ops[cond.op]

    def test(key: str, rec: Record) -> bool:
        pair = _coerce(value(key, rec), cond.values[0], path, tz)
        if pair is None:
            return False
        try:
            return compare(*pair)
        except TypeError:
            return False
    return test


def run(company: Company, query: Query) -> tuple[list[str], int]:
    """The Ids a query returns (this page) and how many match in total.

    Raises:
        QueryError: a property that is not queryable (4001).
    """
    table = company.tables[query.entity]
    for cond in query.where:
        if not _known(table, cond.path):
            raise _invalid(f"property '{cond.path.split('.')[0]}' is not queryable")
    for path, _ in query.order:
        if not _known(table, path):
            raise _invalid(f"property '{path.split('.')[0]}' is not queryable")
    bound = _key_bound(query)
    if bound is not None:
        return _run_from(company, table, query, bound)
    keys = _cached(company, table, query)
    if query.count:
        return [], len(keys)
    first = query.start - 1
    return keys[first:first + query.max_results], len(keys)


def _cached(company: Company, table: Table, query: Query) -> list[str]:
    """Every Id matching ``query``, in its order, cached per table version."""
    cache_key = (query.entity, repr(query.where), tuple(query.order), table.version)
    keys = company.query_cache.get(cache_key)
    if keys is None:
        keys = _select(company, table, query)
        if len(company.query_cache) > 32:
            company.query_cache.clear()
        company.query_cache[cache_key] = keys
    return keys


def _key_bound(query: Query) -> Condition | None:
    """The lower bound of a query that pages by key: the one ``>=`` or ``>`` condition on the
    time it orders by, ascending (``WHERE MetaData.LastUpdatedTime >= '…' ORDERBY
    MetaData.LastUpdatedTime``); None for any other query."""
    if len(query.order) != 1 or query.order[0][1]:
        return None
    path = query.order[0][0].lower()
    if path not in _TIME_FIELDS:
        return None
    bounds = [c for c in query.where if c.path.lower() == path and c.op in (">=", ">")]
    return bounds[0] if len(bounds) == 1 else None


def _run_from(company: Company, table: Table, query: Query,
              bound: Condition) -> tuple[list[str], int]:
    """A key-paging query answered from the cached result of its other conditions (the same
    on every page) by bisection on the ordering time, instead of filtering every record of
    the table on every page: what :func:`run` returns, in O(log n) a page."""
    try:
        at = parse_time(str(bound.values[0]), company.tz)
    except ValueError:
        raise _invalid(f"value {bound.values[0]!r} is not a date-time") from None
    rest = Query(query.entity, where=[c for c in query.where if c is not bound],
                 order=query.order)
    keys = _cached(company, table, rest)
    stamps = getattr(table, _TIME_FIELDS[query.order[0][0].lower()])
    cut = (bisect_left if bound.op == ">=" else bisect_right)(keys, at, key=stamps.__getitem__)
    total = len(keys) - cut
    if query.count:
        return [], total
    first = cut + query.start - 1
    return keys[first:first + query.max_results], total


def _select(company: Company, table: Table, query: Query) -> list[str]:
    """Every matching Id, in the query's order."""
    tests = [_matcher(c, table, company.tz) for c in query.where]
    if query.entity in NAME_LISTS and not any(
            c.path.lower() == "active" for c in query.where):
        # name lists hide inactive rows unless the query names Active (Intuit's Customer
        # reference: "Active: … If false, … hidden from most display purposes"; query them
        # with WHERE Active IN (true, false))
        tests.append(lambda key, rec: rec.get("Active") is True)
    if tests:
        keys = [k for k, rec in table.items() if all(t(k, rec) for t in tests)]
    else:
        keys = list(table)
    _sort(keys, table, query)
    return keys


def _sort(keys: list[str], table: Table, query: Query) -> None:
    """Default order as recorded: name lists by FullyQualifiedName/Name (case-insensitive),
    transactions newest change first (the recorded pages' order); an ORDERBY sorts by its
    property, ties by Id."""
    def num(k: str) -> int:
        return int(k) if k.isdigit() else 0

    if query.order:  # ties under an explicit ORDERBY fall in Id order (assumed)
        keys.sort(key=num)
    elif query.entity in TRANSACTIONS:
        keys.sort(key=lambda k: (table.updated[k], num(k)), reverse=True)
    elif query.entity == "Customer":
        keys.sort(key=lambda k: (str(table[k].get("FullyQualifiedName", "")).lower(), num(k)))
    else:
        keys.sort(key=lambda k: (str(table[k].get("Name", "")).lower(), num(k)))
    for path, desc in query.order:
        times = _TIME_FIELDS.get(path.lower())

        def sort_key(k: str, path: str = path, times: str | None = times) -> Any:
            if times is not None:
                return (0, getattr(table, times)[k])
            v = _lookup(table[k], path)
            if v is None:
                return (1, "")
            if isinstance(v, (Decimal, int, float)) and not isinstance(v, bool):
                return (0, Decimal(str(v)))
            if path.lower() == "id" and str(v).isdigit():
                return (0, int(v))
            return (0, str(v).lower())
        keys.sort(key=sort_key, reverse=desc)
