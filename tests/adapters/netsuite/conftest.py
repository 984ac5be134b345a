"""A small model of NetSuite's SuiteQL endpoint for the adapter's unit tests.

It reads the statements the adapter sends (the WHERE conditions it uses: ``col > n``, ``col =
'x'``, ``col >= TO_TIMESTAMP('…')``, ``col IN (…)``), answers rows as NetSuite does (values as
text, null columns left out, ``hasMore``) and records every call. Timestamps are kept as the
account renders them (``lastmodified``/``deleted``, local time).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
import responses

BASE = "https://1234567-sb1.suitetalk.api.netsuite.com"
SUITEQL_URL = BASE + "/services/rest/query/v1/suiteql"
GOVERNANCE_URL = BASE + "/services/rest/system/v1/governanceLimits"

_FROM = re.compile(r"\bFROM\s+(\w+)", re.I)
_WHERE = re.compile(r"\bWHERE\s+(.*?)\s+ORDER BY\s+(.*)$", re.I | re.S)
_COND = re.compile(
    r"^(\w+)\s*(>=|>|=|IN)\s*(TO_TIMESTAMP\('([^']*)',\s*'[^']*'\)|'((?:[^']|'')*)'|\(([^)]*)\)"
    r"|(\d+(?:\.\d+)?))$", re.I)
_ALIAS = {"lastmodifieddate": "lastmodified", "deleteddate": "deleted"}


@dataclass
class Call:
    statement: str
    table: str
    limit: int
    offset: int
    conditions: list[str]


@dataclass
class FakeNetSuite:
    """Tables of rows (dicts of text), the calls made, and refusals to serve."""

    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    refuse: dict[str, tuple[int, str]] = field(default_factory=dict)  # table -> (status, detail)
    date: str | None = None  # the Date header of SuiteQL replies (the server's clock)
    governance: tuple[int, Any] = (200, {"accountConcurrencyLimit": 15,
                                         "integrationConcurrencyLimit": None,
                                         "unallocatedConcurrencyLimit": 15,
                                         "limitType": "accountLimit"})

    def suiteql_calls(self, table: str | None = None) -> list[Call]:
        return [c for c in self.calls if table is None or c.table == table]

    def _match(self, row: Mapping[str, Any], cond: str) -> bool:
        found = _COND.match(cond.strip())
        assert found, f"condition the model does not read: {cond!r}"
        column, op, _, stamp, text, inlist, number = found.groups()
        value = row.get(_ALIAS.get(column, column))
        if op.upper() == "IN":
            wanted = [v.strip().strip("'") for v in inlist.split(",")]
            return str(value) in wanted
        if stamp is not None:
            return value is not None and str(value) >= stamp
        if text is not None:
            return str(value) == text.replace("''", "'") if op == "=" else False
        if value is None or value == "":
            return False
        try:
            left, right = float(value), float(number)
        except ValueError:
            return True  # a malformed value: served, for the adapter to refuse
        return left > right if op == ">" else left >= right if op == ">=" else left == right

    def answer(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        query = dict(re.findall(r"(\w+)=(\d+)", (request.url or "").split("?", 1)[1]))
        limit, offset = int(query.get("limit", 1000)), int(query.get("offset", 0))
        assert request.headers.get("Prefer") == "transient"
        statement = json.loads(request.body or b"{}")["q"]
        table = _FROM.search(statement).group(1)  # type: ignore[union-attr]
        where = _WHERE.search(statement)
        conditions = [c for c in re.split(r"\s+AND\s+", where.group(1), flags=re.I)] if where \
            else []
        self.calls.append(Call(statement, table, limit, offset, conditions))
        if table in self.refuse:
            status, detail = self.refuse[table]
            return status, {}, json.dumps({
                "type": "https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html#sec10.4.1",
                "title": "Bad Request", "status": status,
                "o:errorDetails": [{"detail": detail, "o:errorCode": "INVALID_PARAMETER"}]})
        rows = [r for r in self.tables.get(table, []) if all(self._match(r, c)
                                                             for c in conditions)]
        order = statement.rsplit("ORDER BY", 1)[1].split(",")
        keys = [_ALIAS.get(k.split()[0], k.split()[0]) for k in order]
        rows.sort(key=lambda r: tuple((0, int(r[k]), "") if str(r.get(k, "")).isdigit() else
                                      (1, 0, str(r.get(k, ""))) for k in keys))
        page = rows[offset:offset + limit]
        items = [{"links": [], **{k: v for k, v in r.items() if v is not None}} for r in page]
        body = {"links": [], "count": len(items), "hasMore": offset + len(items) < len(rows),
                "items": items, "offset": offset, "totalResults": len(rows)}
        return 200, {"Date": self.date} if self.date else {}, json.dumps(body)

    def governance_answer(self, request: requests.PreparedRequest
                          ) -> tuple[int, dict[str, str], str]:
        status, body = self.governance
        return status, {}, json.dumps(body)


class Client:
    """The engine's HTTP client as an adapter sees it: paths under the account's base."""

    def __init__(self, base: str = BASE) -> None:
        self.base = base
        self.observed: list[Any] = []

    def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                headers: Mapping[str, str] | None = None, json: Any = None
                ) -> requests.Response:
        return requests.request(method, self.base + path, params=params, headers=headers,
                                json=json, timeout=5)

    def observe(self, info: Any) -> None:
        self.observed.append(info)


@pytest.fixture
def ns() -> Iterator[FakeNetSuite]:
    fake = FakeNetSuite()
    fake.tables["currency"] = [
        {"id": "1", "symbol": "USD", "isbasecurrency": "T"},
        {"id": "2", "symbol": "EUR", "isbasecurrency": "F"},
        {"id": "3", "symbol": "GBP", "isbasecurrency": "F"}]
    fake.tables["subsidiary"] = [
        {"id": "1", "name": "Acme Holdings Inc.", "currency": "1", "parent": None},
        {"id": "2", "name": "Acme UK Ltd", "currency": "3", "parent": "1"}]
    fake.tables["term"] = [{"id": "2", "name": "Net 30", "daysuntilnetdue": "30"}]
    fake.tables["customercategory"] = [{"id": "3", "name": "Retail", "isinactive": "F"}]
    fake.tables["customrecord_3805_dunning_procedure"] = [
        {"id": "6", "name": "Standard", "custrecord_3805_default_dunning_manager": "9"}]
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_callback(responses.POST, SUITEQL_URL, callback=fake.answer)
        mock.add_callback(responses.GET, GOVERNANCE_URL, callback=fake.governance_answer)
        yield fake


@pytest.fixture
def client() -> Client:
    return Client()
