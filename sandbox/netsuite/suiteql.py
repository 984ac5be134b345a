"""SuiteQL as the NetSuite sandbox answers ``POST /services/rest/query/v1/suiteql``.

https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_157909186990.html
(Executing SuiteQL Queries Through REST Web Services): the statement is the body's ``q``;
``limit`` and ``offset`` page the result (Collection Paging,
https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_156414087576.html:
at most 1000 results a page and 100,000 results a query without SuiteAnalytics Connect).

SuiteQL itself is SQL-92 with Oracle functions; this module accepts only the statements the
NetSuite adapter sends, nothing more, so a statement the adapter should not send fails here as
loudly as it would fail a real account:

    SELECT <col> [, <col>]* FROM <table> [WHERE <cond> [AND <cond>]*]
        ORDER BY <name> [ASC|DESC] [, <name> [ASC|DESC]]*
    <col>     := <column> [AS <alias>] | TO_CHAR(<column>, '<fmt>') AS <alias>
    <cond>    := <column> <op> <literal> | <column> IN (<literal> [, <literal>]*)
    <op>      := = | <> | != | > | >= | < | <=
    <literal> := integer | decimal | 'string' | TO_TIMESTAMP('<text>', '<fmt>')
                 | TO_DATE('<text>', '<fmt>')
    <fmt>     := 'YYYY-MM-DD' | 'YYYY-MM-DD HH24:MI:SS'

No ``OR``, joins, expressions, other functions or ``SELECT *``. Keywords and identifiers are
case-insensitive; item keys are lower-case (the alias, else the column name). Every value is
rendered as a JSON string (``"107"``, ``"1250.00"``, ``"T"``); datetimes are stored in UTC and
rendered, and ``TO_TIMESTAMP`` literals read, in the account's time zone.

:func:`parse` owns the grammar; :func:`execute` owns names, comparison, order, paging and
rendering. Neither knows HTTP: the route turns :class:`SuiteQLError` into NetSuite's error body.
"""

from __future__ import annotations

import math
import operator
import re
import threading
import weakref
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, tzinfo
from decimal import Decimal
from functools import lru_cache
from typing import Any, Protocol
from zoneinfo import ZoneInfo

MAX_LIMIT = 1000  # Collection Paging: at most 1000 results a page

# NetSuite's wording for a statement it cannot run, as users report it from the REST query
# service (o:errorDetails[0].detail, o:errorCode INVALID_PARAMETER); the tail names the fault.
SEARCH_ERROR = ("Invalid search query. Detailed unprocessed description follows. "
                "Search error occurred: {}")

DATE_FORMAT = "YYYY-MM-DD"
DATETIME_FORMAT = "YYYY-MM-DD HH24:MI:SS"
_STRPTIME = {DATE_FORMAT: "%Y-%m-%d", DATETIME_FORMAT: "%Y-%m-%d %H:%M:%S"}

_TOKEN = re.compile(r"""\s*(?:
      (?P<str>'(?:[^']|'')*')
    | (?P<num>-?\d+(?:\.\d+)?)
    | (?P<op><>|!=|>=|<=|=|<|>)
    | (?P<punct>[(),*.])
    | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
    )""", re.VERBOSE)
# words that end a name or start a clause: never a column, table or alias
_RESERVED = frozenset({
    "select", "from", "where", "and", "or", "not", "order", "by", "asc", "desc", "as", "in",
    "join", "inner", "left", "right", "outer", "full", "cross", "on", "union", "group",
    "having", "is", "null", "like", "between", "distinct", "exists", "case", "fetch",
    "limit", "offset"})
_JOIN_WORDS = frozenset({"join", "inner", "left", "right", "outer", "full", "cross", "on"})
_OPS = ("=", "<>", ">", ">=", "<", "<=")


class SuiteQLError(Exception):
    """A statement NetSuite would refuse: ``detail`` is the text of o:errorDetails[0].detail,
    ``code`` the o:errorCode (INVALID_PARAMETER)."""

    def __init__(self, detail: str, code: str = "INVALID_PARAMETER") -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code


def _search_error(what: str) -> SuiteQLError:
    return SuiteQLError(SEARCH_ERROR.format(what))


# ---- the parsed statement -------------------------------------------------------------------
@dataclass(frozen=True)
class TimeLiteral:
    """``TO_TIMESTAMP(…)`` / ``TO_DATE(…)``: a wall-clock time, read in the account's time zone
    when compared (``TO_DATE('2026-01-05', 'YYYY-MM-DD')`` is that day's midnight)."""

    function: str  # "to_timestamp" | "to_date"
    local: datetime  # naive


Literal = int | Decimal | str | TimeLiteral


@dataclass(frozen=True)
class Column:
    """One selected column: ``name`` (lower-case), its ``alias``, the ``TO_CHAR`` format."""

    name: str
    alias: str | None = None
    fmt: str | None = None

    @property
    def key(self) -> str:
        """The item key the column is rendered under."""
        return self.alias or self.name


@dataclass(frozen=True)
class Condition:
    """``column op literal`` (``op``: = <> > >= < <=; ``!=`` reads as ``<>``) or
    ``column IN (literals)`` (``op`` ``in``)."""

    column: str
    op: str
    values: tuple[Literal, ...]


@dataclass(frozen=True)
class OrderKey:
    """One ``ORDER BY`` key: a column or a selected column's alias."""

    name: str
    descending: bool = False


@dataclass(frozen=True)
class Query:
    """A statement :func:`parse` accepted; names lower-case, nothing checked against tables."""

    table: str
    columns: tuple[Column, ...]
    conditions: tuple[Condition, ...]
    order: tuple[OrderKey, ...]


# ---- parsing --------------------------------------------------------------------------------
def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos, end = 0, len(text.rstrip())
    while pos < end:
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            at = pos + len(text[pos:]) - len(text[pos:].lstrip())
            raise _search_error(f"Unexpected character '{text[at]}' at position {at + 1}.")
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind)))
        pos = match.end()
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.toks = _tokens(text)
        self.i = 0

    def peek(self, ahead: int = 0) -> tuple[str, str]:
        at = self.i + ahead
        return self.toks[at] if at < len(self.toks) else ("eof", "")

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        self.i += 1
        return tok

    def at_word(self, word: str) -> bool:
        kind, value = self.peek()
        return kind == "word" and value.lower() == word

    def keyword(self, word: str) -> None:
        if not self.at_word(word):
            raise _search_error(f"{word.upper()} expected, found {_shown(self.peek())}.")
        self.i += 1

    def punct(self, mark: str) -> None:
        if self.peek() != ("punct", mark):
            raise _search_error(f"'{mark}' expected, found {_shown(self.peek())}.")
        self.i += 1

    def name(self, what: str) -> str:
        kind, value = self.peek()
        if kind != "word" or value.lower() in _RESERVED:
            raise _search_error(f"{what} expected, found {_shown(self.peek())}.")
        self.i += 1
        if self.peek() == ("punct", ".") and self.peek(1)[0] == "word":
            raise _search_error(f"Qualified names are not supported ('{value}."
                                f"{self.peek(1)[1]}'): name the columns of the one table.")
        if self.peek() == ("punct", "(") and what != "Alias":
            raise _search_error(f"Function '{value.upper()}' is not supported here.")
        return value.lower()

    def string(self) -> str:
        kind, value = self.take()
        if kind != "str":
            raise _search_error(f"A quoted string expected, found {_shown((kind, value))}.")
        return value[1:-1].replace("''", "'")

    def fmt(self) -> str:
        at = self.peek()
        text = self.string()
        if text.upper() not in _STRPTIME:
            raise _search_error(f"Format {_shown(at)} is not supported: use '{DATE_FORMAT}' "
                                f"or '{DATETIME_FORMAT}'.")
        return text.upper()

    # SELECT <col> [, <col>]* FROM <table> [WHERE …] ORDER BY …
    def statement(self) -> Query:
        self.keyword("select")
        if self.peek() == ("punct", "*"):
            raise _search_error("SELECT * is not supported: name the columns to select.")
        columns = [self.column()]
        while self.peek() == ("punct", ","):
            self.take()
            columns.append(self.column())
        self.keyword("from")
        table = self.name("Table name")
        if self.peek() == ("punct", ",") or (
                self.peek()[0] == "word" and self.peek()[1].lower() in _JOIN_WORDS):
            raise _search_error("Joins are not supported: query one table.")
        if self.peek()[0] == "word" and self.peek()[1].lower() not in _RESERVED:
            raise _search_error(f"Table aliases are not supported ({_shown(self.peek())}).")
        conditions: list[Condition] = []
        if self.at_word("where"):
            self.take()
            conditions.append(self.condition())
            while self.at_word("and"):
                self.take()
                conditions.append(self.condition())
            if self.at_word("or"):
                raise _search_error("OR is not supported: join conditions with AND, or use "
                                    "IN (...).")
        if not self.at_word("order"):
            raise _search_error(f"ORDER BY expected, found {_shown(self.peek())}: paged "
                                "results need an explicit order.")
        self.take()
        self.keyword("by")
        order = [self.order_key()]
        while self.peek() == ("punct", ","):
            self.take()
            order.append(self.order_key())
        if self.peek()[0] != "eof":
            raise _search_error(f"Unexpected {_shown(self.peek())} after ORDER BY.")
        return Query(table=table, columns=tuple(columns), conditions=tuple(conditions),
                     order=tuple(order))

    def column(self) -> Column:
        kind, value = self.peek()
        if kind == "word" and value.lower() == "to_char" and self.peek(1) == ("punct", "("):
            self.i += 2
            name = self.name("Column name")
            self.punct(",")
            fmt = self.fmt()
            self.punct(")")
            if not self.at_word("as"):
                raise _search_error("TO_CHAR(...) needs an alias: TO_CHAR(column, 'format') "
                                    "AS name.")
            self.take()
            return Column(name, self.name("Alias"), fmt)
        if kind == "word" and self.peek(1) == ("punct", "(") and value.lower() not in _RESERVED:
            raise _search_error(f"Function '{value.upper()}' is not supported: select columns "
                                "or TO_CHAR(column, 'format') AS alias.")
        name = self.name("Column name")
        if self.peek()[0] in ("op", "num", "str"):
            raise _search_error(f"Expressions are not supported in the select list "
                                f"({_shown(self.peek())} after '{name}').")
        if self.at_word("as"):
            self.take()
            return Column(name, self.name("Alias"))
        return Column(name)

    def condition(self) -> Condition:
        if self.peek() == ("punct", "("):
            raise _search_error("Parentheses are not supported in WHERE: conditions are "
                                "joined with AND.")
        column = self.name("Column name")
        kind, value = self.take()
        if kind == "op":
            op = "<>" if value == "!=" else value
            return Condition(column, op, (self.literal(),))
        if kind == "word" and value.lower() == "in":
            self.punct("(")
            values = [self.literal()]
            while self.peek() == ("punct", ","):
                self.take()
                values.append(self.literal())
            self.punct(")")
            return Condition(column, "in", tuple(values))
        if kind == "word" and value.lower() in ("like", "is", "not", "between"):
            raise _search_error(f"Operator '{value.upper()}' is not supported: use = <> != > "
                                ">= < <= or IN (...).")
        raise _search_error(f"An operator expected after '{column}', found "
                            f"{_shown((kind, value))}.")

    def literal(self) -> Literal:
        kind, value = self.peek()
        if kind == "str":
            return self.string()
        if kind == "num":
            self.take()
            return Decimal(value) if "." in value else int(value)
        low = value.lower()
        if kind == "word" and low in ("to_timestamp", "to_date") and self.peek(1) == (
                "punct", "("):
            self.i += 2
            at = self.peek()
            text = self.string()
            self.punct(",")
            fmt = self.fmt()
            self.punct(")")
            try:
                local = datetime.strptime(text, _STRPTIME[fmt])
            except ValueError:
                raise _search_error(f"{value.upper()}: {_shown(at)} does not match the "
                                    f"format '{fmt}'.") from None
            return TimeLiteral(low, local)
        if kind == "word" and self.peek(1) == ("punct", "("):
            raise _search_error(f"Function '{value.upper()}' is not supported: literals are "
                                "numbers, 'strings', TO_TIMESTAMP(...) and TO_DATE(...).")
        if kind == "word":
            raise _search_error(f"A literal expected, found {_shown((kind, value))}: compare "
                                "a column with a value, not with another column.")
        raise _search_error(f"A literal expected, found {_shown((kind, value))}.")

    def order_key(self) -> OrderKey:
        name = self.name("Column name")
        if self.at_word("desc"):
            self.take()
            return OrderKey(name, True)
        if self.at_word("asc"):
            self.take()
        return OrderKey(name)


def _shown(tok: tuple[str, str]) -> str:
    kind, value = tok
    if kind == "eof":
        return "end of statement"
    return value if kind == "str" else f"'{value}'"


def parse(statement: str) -> Query:
    """The statement as a :class:`Query` (identical statements parse once: a bounded cache).

    Raises:
        SuiteQLError: anything outside the grammar (the module docstring), INVALID_PARAMETER.
    """
    return _parse(statement)


@lru_cache(maxsize=512)
def _parse(statement: str) -> Query:
    if not statement or not statement.strip():
        raise _search_error("The query is empty.")
    return _Parser(statement).statement()


# ---- execution ------------------------------------------------------------------------------
class Source(Protocol):
    """One table as the executor reads it.

    A source may also offer, and the executor then uses:

    - ``version`` (an int changed by every change to its rows, in-place ones included): the
      executor keeps, per statement less its lower bound on the first ``ORDER BY`` column,
      the matching rows in order, and answers each keyset page (``id > N ORDER BY id``,
      ``nextdoc >= X ORDER BY nextdoc, previousdoc``) and its ``totalResults`` by bisecting
      them, until the version moves;
    - ``rows_by(column, values)``: the rows whose integer ``column`` equals one of
      ``values``, in ``rows()`` order, or None when it cannot say (then it scans), for
      ``column IN (…)``.
    """

    @property
    def columns(self) -> frozenset[str]:
        """Lower-case column names."""
        ...

    def rows(self, after_id: int | None = None) -> Iterable[Mapping[str, Any]]:
        """Rows in ascending ``id`` order (tables without an id column: any stable order),
        starting after ``after_id`` when given (the executor passes the bound of an
        ``id > N`` / ``id >= N`` condition so a keyset page does not scan the whole table).
        Values are Python: int, Decimal, str, bool, datetime.date, datetime.datetime (aware
        UTC), None."""
        ...


@dataclass
class Result:
    """One page: ``items`` as the response carries them, ``total`` (totalResults) the full
    count of matching rows, ``has_more`` whether rows follow this page."""

    items: list[dict[str, Any]]  # {"links": [], <alias or column>: <string> | None, ...}
    total: int
    has_more: bool


Row = Mapping[str, Any]
Predicate = Callable[[Row], bool]


def execute(query: Query, tables: Mapping[str, Source], *, tz: ZoneInfo, limit: int,
            offset: int, row_cap: int, omit_null: bool = True) -> Result:
    """Run ``query`` against ``tables`` (lower-case names) and return one page.

    ``tz`` is the account's time zone (rendering datetimes, reading ``TO_TIMESTAMP`` and
    ``TO_DATE``); ``row_cap`` the rows a query may reach (100,000 without SuiteAnalytics
    Connect); ``omit_null`` leaves a null column out of its item instead of rendering null.
    Never changes a table.

    Raises:
        SuiteQLError: a limit or offset out of range, an unknown table or column.
    """
    if not 1 <= limit <= MAX_LIMIT:
        # wording assumed: NetSuite refuses the parameter with INVALID_PARAMETER
        raise SuiteQLError(f"Invalid 'limit' query parameter value: {limit}. The value must "
                           f"be between 1 and {MAX_LIMIT}.")
    if offset < 0:
        raise SuiteQLError(f"Invalid 'offset' query parameter value: {offset}. The value must "
                           "be 0 or greater.")
    if offset >= row_cap:
        # assumed: the answer past the last reachable row (Collection Paging caps a query at
        # 100,000 results; the wording is not published)
        raise SuiteQLError(f"The result set is limited to {row_cap} rows (offset {offset} "
                           "requested). Use a narrower query, for example a keyset condition "
                           "such as id > N ORDER BY id.")
    source = tables.get(query.table)
    if source is None:
        raise _search_error(f"Record '{query.table}' was not found.")
    known = source.columns
    aliases = {c.alias: c.name for c in query.columns if c.alias is not None}

    def check(name: str) -> None:
        if name not in known:
            raise _search_error(f"Field '{name}' for record '{query.table}' was not found.")

    for col in query.columns:
        check(col.name)
    for cond in query.conditions:
        check(cond.column)
    order = []
    for key in query.order:
        name = key.name if key.name in known else aliases.get(key.name, key.name)
        check(name)
        order.append((name, key.descending))

    stop = min(offset + limit, row_cap)
    render = _Renderer(query.columns, tz, omit_null)
    version = getattr(source, "version", None)
    plan = _range_plan(query.conditions, order) if isinstance(version, int) else None
    if plan is not None and isinstance(version, int):
        window = _ranged(source, version, plan, order, tz, ordered="id" in known)
        if window is not None:
            rows_in, total = window
            items = [render(row) for row in rows_in(offset, stop)]
            return Result(items=items, total=total, has_more=offset + len(items) < total)

    after_id, conditions = None, list(query.conditions)
    if "id" in known:
        after_id, conditions = _id_bound(query.conditions)
    match = _conjunction([_predicate(c, tz) for c in conditions])
    rows = iter(_candidates(source, conditions) if after_id is None else
                source.rows(after_id))
    if order and order[0] == ("id", False) and "id" in known:
        # the rows arrive in id order: keep the page's rows, count the rest without rendering
        page, total = _first(rows, match, stop)
    else:
        matched = [row for row in rows if match(row)]
        _sort(matched, order)
        page, total = matched[:stop], len(matched)
    items = [render(row) for row in page[offset:]]
    return Result(items=items, total=total, has_more=offset + len(items) < total)


def _candidates(source: Source, conditions: list[Condition]) -> Iterable[Row]:
    """The rows that may match, in ``rows()`` order: those an index finds for an ``IN`` on an
    indexed column, else every row. Every condition is still tested on each."""
    rows_by = getattr(source, "rows_by", None)
    if rows_by is not None:
        for cond in conditions:
            keys = _index_keys(cond) if cond.op == "in" else None
            if keys is not None:
                found: list[Row] | None = rows_by(cond.column, keys)
                if found is not None:
                    return found
    return source.rows()


def _index_keys(cond: Condition) -> list[int | Decimal] | None:
    """The numbers an integer column equals when ``cond`` (an IN) holds: number literals and
    strings that read as numbers (``'107'``); None when a literal is a time."""
    keys: list[int | Decimal] = []
    for value in cond.values:
        if isinstance(value, TimeLiteral):
            return None
        number = _number(value) if isinstance(value, str) else value
        if number is not None:
            keys.append(number)
    return keys


# ---- sorted results per statement, while the table stays the same -------------------------
@dataclass(frozen=True)
class _Plan:
    """A statement answered from its ordered matches: ``bound`` the lower bound on the first
    order column (None: every match), ``key`` what the matches depend on."""

    bound: Condition | None
    low: int | Decimal | None
    rest: tuple[Condition, ...]


@dataclass
class _Ordered:
    version: int
    rows: list[Row]
    keys: list[Any] | None  # the first order column per row while numeric; None: not all are
    valued: int  # rows before the first null of the first order column


_CACHE_PER_SOURCE = 6
_cache: weakref.WeakKeyDictionary[Any, OrderedDict[Hashable, _Ordered]] = (
    weakref.WeakKeyDictionary())
_cache_lock = threading.Lock()


def _range_plan(conditions: tuple[Condition, ...], order: list[tuple[str, bool]]
                ) -> _Plan | None:
    """How to answer from ordered matches, or None: ascending first key, no ``IN`` (one-off
    lists of ids are not worth keeping), at most one numeric lower bound on that key."""
    if not order or order[0][1] or any(c.op == "in" for c in conditions):
        return None
    first = order[0][0]
    bounds = [c for c in conditions if c.column == first and c.op in (">", ">=")]
    if len(bounds) > 1:
        return None
    if not bounds:
        return _Plan(None, None, conditions)
    bound = bounds[0]
    value = bound.values[0]
    low = _number(value) if isinstance(value, str) else value
    if not isinstance(low, int | Decimal):
        return None
    return _Plan(bound, low, tuple(c for c in conditions if c is not bound))


def _ranged(source: Source, version: int, plan: _Plan, order: list[tuple[str, bool]],
            tz: ZoneInfo, ordered: bool
            ) -> tuple[Callable[[int, int], list[Row]], int] | None:
    """The rows after the plan's bound (a function of the page's start and stop) and how many
    there are, from the ordered matches of the statement less its bound; None when the
    bound cannot be bisected (a non-numeric value in the first order column)."""
    key: Hashable = (plan.rest, tuple(order), str(tz))
    with _cache_lock:
        per_source = _cache.get(source)
        if per_source is None:
            per_source = _cache[source] = OrderedDict()
        entry = per_source.get(key)
        if entry is not None and entry.version != version:
            per_source.clear()  # every entry is from an older version
            entry = None
        if entry is not None:
            per_source.move_to_end(key)
    if entry is None:
        entry = _order_matches(source, version, plan.rest, order, tz, ordered)
        with _cache_lock:
            per_source[key] = entry
            while len(per_source) > _CACHE_PER_SOURCE:
                per_source.popitem(last=False)
    rows, start, end = entry.rows, 0, len(entry.rows)
    if plan.bound is not None:
        if entry.keys is None:
            return None
        find = bisect_right if plan.bound.op == ">" else bisect_left
        start, end = find(entry.keys, plan.low), entry.valued  # a null never passes a bound

    def rows_in(begin: int, stop: int) -> list[Row]:
        return rows[start + begin:min(start + stop, end)]
    return rows_in, max(end - start, 0)


def _order_matches(source: Source, version: int, conditions: tuple[Condition, ...],
                   order: list[tuple[str, bool]], tz: ZoneInfo, ordered: bool) -> _Ordered:
    """Every row matching ``conditions``, in ``order``; ``ordered``: the source gives rows in
    ascending unique ``id``, so an order led by ``id`` needs no sort."""
    match = _conjunction([_predicate(c, tz) for c in conditions])
    matched = [row for row in source.rows() if match(row)]
    if not (ordered and order[0][0] == "id"):
        _sort(matched, order)
    first = order[0][0]
    keys: list[Any] = []
    valued = len(matched)
    for at, row in enumerate(matched):
        value = row.get(first)
        kind = value.__class__
        if kind is int or kind is Decimal:
            keys.append(value)
        elif value is None:
            valued = at  # nulls sort last
            break
        else:
            return _Ordered(version, matched, None, valued)
    return _Ordered(version, matched, keys, valued)


def _first(rows: Iterator[Row], match: Predicate, stop: int) -> tuple[list[Row], int]:
    """The first ``stop`` matching rows and how many match in all."""
    page: list[Row] = []
    if stop > 0:
        for row in rows:
            if match(row):
                page.append(row)
                if len(page) == stop:
                    break
    return page, len(page) + sum(map(match, rows))  # no item built for the rest


def _id_bound(conditions: Iterable[Condition]) -> tuple[int | None, list[Condition]]:
    """The ``after_id`` the lower bounds on ``id`` allow (the highest), and the conditions
    still to test per row: a whole-number bound needs no test once ``rows`` starts after it."""
    best: int | None = None
    covered: Condition | None = None
    for cond in conditions:
        if cond.column != "id" or cond.op not in (">", ">="):
            continue
        value = cond.values[0]
        number = _number(value) if isinstance(value, str) else value  # id > '4711' too
        if not isinstance(number, int | Decimal):
            continue
        bound = math.floor(number) if cond.op == ">" else math.ceil(number) - 1
        if best is None or bound > best:
            best, covered = bound, (cond if number == int(number) else None)
    return best, [c for c in conditions if c is not covered]


def _conjunction(tests: list[Predicate]) -> Predicate:
    if not tests:
        return lambda row: True
    if len(tests) == 1:
        return tests[0]
    first, rest = tests[0], _conjunction(tests[1:])
    return lambda row: first(row) and rest(row)


# ---- comparison -----------------------------------------------------------------------------
def _number(text: str) -> int | Decimal | None:
    text = text.strip()
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    if re.fullmatch(r"-?\d+\.\d*|-?\.\d+", text):
        return Decimal(text)
    return None


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq, "<>": operator.ne, ">": operator.gt, ">=": operator.ge,
    "<": operator.lt, "<=": operator.le}


def _pair(value: Any, literal: Any, tz: tzinfo) -> tuple[Any, Any] | None:
    """``value`` (a stored value, not None) and ``literal`` in one comparable type, or None
    when they do not compare (no match, as a failed implicit conversion matches nothing)."""
    if isinstance(literal, TimeLiteral):
        if isinstance(value, datetime):
            stored = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
            return stored, literal.local.replace(tzinfo=tz)
        if isinstance(value, date):  # a date is its midnight, compared as wall-clock time
            return datetime.combine(value, time()), literal.local
        return None
    if isinstance(value, bool):  # checkboxes compare with 'T' / 'F'
        return (("T" if value else "F"), literal) if isinstance(literal, str) else None
    if isinstance(value, int | Decimal):
        number = _number(literal) if isinstance(literal, str) else literal
        return None if number is None else (value, number)
    if isinstance(value, str):
        if isinstance(literal, str):
            return value, literal
        number = _number(value)  # ids and other numbers stored as digits
        return None if number is None else (number, literal)
    return None


def _member(cond: Condition, tz: tzinfo) -> Predicate:
    """``column IN (…)``: what ``=`` with each literal answers, by set lookups (the adapter
    asks for up to 1000 ids at a time)."""
    column = cond.column
    tests = [_predicate(Condition(column, "=", (v,)), tz) for v in cond.values]
    if any(isinstance(v, TimeLiteral) for v in cond.values):
        return lambda row: any(test(row) for test in tests)
    texts = frozenset(v for v in cond.values if isinstance(v, str))
    numbers = frozenset(v for v in cond.values if isinstance(v, int | Decimal))
    # a stored number also equals a literal string of digits ('107'); a stored string only
    # equals a string exactly, or a number literal when it reads as that number
    parsed = [_number(v) for v in texts]
    as_numbers = numbers | frozenset(n for n in parsed if n is not None)

    def member(row: Row) -> bool:
        value: Any = row.get(column)
        kind = value.__class__
        if kind is int or kind is Decimal:
            return value in as_numbers
        if kind is str:
            if value in texts:
                return True
            number = _number(value) if numbers else None
            return number is not None and number in numbers
        if value is None:
            return False
        return any(test(row) for test in tests)  # checkboxes, dates: the general comparison
    return member


def _predicate(cond: Condition, tz: tzinfo) -> Predicate:
    column = cond.column
    if cond.op == "in":
        return _member(cond, tz)
    literal = cond.values[0]
    compare = _COMPARE[cond.op]
    if isinstance(literal, TimeLiteral):
        instant = literal.local.replace(tzinfo=tz).astimezone(UTC)

        def timed(row: Row) -> bool:
            value = row.get(column)
            if value.__class__ is datetime and value.tzinfo is not None:
                return compare(value, instant)  # the hot path: a stored UTC instant
            if value is None:
                return False
            pair = _pair(value, literal, tz)
            return pair is not None and compare(*pair)
        return timed
    if isinstance(literal, str) and cond.op == "=":
        def equal(row: Row) -> bool:
            value = row.get(column)
            if value.__class__ is str:
                return literal == value  # the hot path: type = 'CustInvc'
            if value is None:
                return False
            pair = _pair(value, literal, tz)
            return pair is not None and pair[0] == pair[1]
        return equal
    if isinstance(literal, int | Decimal):
        def numeric(row: Row) -> bool:
            value = row.get(column)
            if value.__class__ is int or value.__class__ is Decimal:
                return compare(value, literal)  # the hot path: id > 4711
            if value is None:
                return False
            pair = _pair(value, literal, tz)
            return pair is not None and compare(*pair)
        return numeric

    def general(row: Row) -> bool:
        value = row.get(column)
        if value is None:
            return False  # NULL matches nothing, <> included
        pair = _pair(value, literal, tz)
        return pair is not None and compare(*pair)
    return general


# ---- order ----------------------------------------------------------------------------------
def _sort_value(value: Any) -> tuple[int, Any]:
    if isinstance(value, bool):
        return 4, value
    if isinstance(value, int | Decimal):
        return 0, value
    if isinstance(value, str):
        number = _number(value)
        return (0, number) if number is not None else (1, value)
    if isinstance(value, datetime):
        return 3, value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return 2, value
    return 5, str(value)


def _sort(rows: list[Row], order: list[tuple[str, bool]]) -> None:
    """Sort in place by each key (the last first, stable), NULLs last in either direction
    (assumed: Oracle puts them first under DESC unless told NULLS LAST)."""
    for name, descending in reversed(order):
        present = [row for row in rows if row.get(name) is not None]
        absent = [row for row in rows if row.get(name) is None]
        present.sort(key=lambda row: _sort_value(row[name]), reverse=descending)
        rows[:] = present + absent


# ---- rendering ------------------------------------------------------------------------------
class _Renderer:
    """A row as an item: every value a string, under the column's key."""

    def __init__(self, columns: tuple[Column, ...], tz: tzinfo, omit_null: bool) -> None:
        self.columns = [(c.name, c.key, c.fmt) for c in columns]
        self.tz = tz
        self.omit_null = omit_null

    def __call__(self, row: Row) -> dict[str, Any]:
        item: dict[str, Any] = {"links": []}
        for name, key, fmt in self.columns:
            value = row.get(name)
            kind = value.__class__
            if kind is str:
                item[key] = value  # the common cases first: a page renders 1000 rows
            elif kind is int:
                item[key] = str(value)
            elif value is None:
                if not self.omit_null:
                    item[key] = None
            else:
                item[key] = render(value, self.tz, fmt)
        return item


def render(value: Any, tz: tzinfo, fmt: str | None = None) -> str:
    """One stored value as SuiteQL's REST answer writes it.

    Integers ``"107"``; decimals as stored, never with an exponent (``"1250.00"``); booleans
    ``"T"``/``"F"``; dates ``M/D/YYYY`` (NetSuite's default date format) and datetimes in
    ``tz`` as ``M/D/YYYY h:mm am`` (assumed) unless selected through ``TO_CHAR`` with ``fmt``.
    """
    if isinstance(value, bool):
        return "T" if value else "F"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        stored = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        local = stored.astimezone(tz)
        if fmt == DATETIME_FORMAT:
            return (f"{local.year:04d}-{local.month:02d}-{local.day:02d} "
                    f"{local.hour:02d}:{local.minute:02d}:{local.second:02d}")
        if fmt == DATE_FORMAT:
            return f"{local.year:04d}-{local.month:02d}-{local.day:02d}"
        hour = local.hour % 12 or 12
        half = "am" if local.hour < 12 else "pm"
        return f"{local.month}/{local.day}/{local.year} {hour}:{local.minute:02d} {half}"
    if isinstance(value, date):
        if fmt is not None:
            day = f"{value.year:04d}-{value.month:02d}-{value.day:02d}"
            return day + " 00:00:00" if fmt == DATETIME_FORMAT else day
        return f"{value.month}/{value.day}/{value.year}"
    return str(value)
