"""NetSuite REST paths and SuiteQL helpers shared by the NetSuite adapter and writer.

Every read goes through SuiteQL (``POST /services/rest/query/v1/suiteql?limit=N&offset=M``, body
``{"q": "SELECT …"}``, header ``Prefer: transient``; "SuiteQL",
https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_156257770590.html, and
its paging,
https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_156414087576.html). A reply
holds at most 1,000 rows; values are JSON strings (numbers and ids too), booleans ``"T"``/``"F"``,
and a column whose value is null is left out of the row.

Statements are built from integers and quoted literals only (:func:`ids_in`, :func:`sql_string`):
SuiteQL has no bind parameters over REST.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from arconnect.adapters.base import HttpClient
from arconnect.errors import ConfigError, UpstreamError

# -- paths under the account's REST host (https://<account>.suitetalk.api.netsuite.com) ---------

REST = "/services/rest"
# https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_156257770590.html
SUITEQL = REST + "/query/v1/suiteql"
# https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_1545142173.html
RECORD = REST + "/record/v1"
# https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/article_0625010817.html
GOVERNANCE = REST + "/system/v1/governanceLimits"
# https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_158081952044.html
TOKEN = REST + "/auth/oauth2/v1/token"
# https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_161071224088.html
REVOKE = REST + "/auth/oauth2/v1/revoke"
# Under the account's UI host (https://<account>.app.netsuite.com):
# https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_158081944642.html
AUTHORIZE = "/app/login/oauth2/authorize.nl"

# Rows per SuiteQL reply: NetSuite's maximum (the `limit` query parameter, 1..1000).
MAX_LIMIT = 1000
# Ids per `IN (...)` list: one page's worth.
IDS_PER_QUERY = 1000

# Offset-paged reads stop (or restart from a bound) well before the row cap on offsets
# (100,000 rows of one query without SuiteAnalytics Connect,
# https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_156414087576.html).
OFFSET_RESTART = 50_000

# The account's lists the reader and the writer both read whole.
TERMS_QUERY = "SELECT id, name, daysuntilnetdue FROM term ORDER BY id"
CATEGORIES_QUERY = "SELECT id, name, isinactive FROM customercategory ORDER BY id"
PROCEDURE_TABLE = "customrecord_3805_dunning_procedure"  # the Dunning Letters SuiteApp's
PROCEDURE_MANAGER = "custrecord_3805_default_dunning_manager"
PROCEDURES_QUERY = f"SELECT id, name, {PROCEDURE_MANAGER} FROM {PROCEDURE_TABLE} ORDER BY id"

TIMESTAMP_FORMAT = "YYYY-MM-DD HH24:MI:SS"
DATE_FORMAT = "YYYY-MM-DD"

_TABLE = re.compile(r"\bFROM\s+([A-Za-z_][A-Za-z0-9_]*)", re.IGNORECASE)


def table_of(statement: str) -> str:
    """The table a statement reads (``customer``), or ``?`` when none shows."""
    found = _TABLE.search(statement)
    return found.group(1) if found else "?"


def error_text(body: Any) -> str:
    """One line from a NetSuite REST error body: each ``o:errorDetails[].detail`` with its
    ``o:errorCode`` (``Invalid login attempt. (INVALID_LOGIN)``), joined by ``; ``; the
    ``title`` when there are no details; "" for a body of another shape.

    The shape: ``{"type", "title", "status", "o:errorDetails": [{"detail", "o:errorCode",
    "o:errorPath"?}]}`` (https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_156570709583.html).
    """
    if body.__class__ is not dict:
        return ""
    parts: list[str] = []
    details = body.get("o:errorDetails")
    for item in details if isinstance(details, list) else ():
        if item.__class__ is not dict:
            continue
        detail = str(item.get("detail") or "").strip()
        code = str(item.get("o:errorCode") or "").strip()
        path = str(item.get("o:errorPath") or "").strip()
        text = detail or code
        if code and detail:
            text += f" ({code})"
        if path:
            text += f" at {path}"
        if text:
            parts.append(text)
    if not parts:
        title = body.get("title")
        return str(title).strip()[:300] if isinstance(title, str) else ""
    return "; ".join(parts)[:500]


def error_codes(body: Any) -> list[str]:
    """The ``o:errorCode`` values of a NetSuite error body ([] for another shape)."""
    if body.__class__ is not dict or not isinstance(body.get("o:errorDetails"), list):
        return []
    return [str(d.get("o:errorCode")) for d in body["o:errorDetails"]
            if d.__class__ is dict and d.get("o:errorCode")]


def ids_in(ids: Sequence[str | int]) -> str:
    """An ``IN`` list of integer ids: ``(12, 13, 20)``.

    Raises:
        ValueError: an id is not a whole number (NetSuite internal ids always are), or the list
            is empty (``IN ()`` is no statement).
    """
    if not ids:
        raise ValueError("no ids for an IN list")
    out: list[str] = []
    for value in ids:
        text = str(value).strip()
        if isinstance(value, bool) or not text.isascii() or not text.isdigit():
            raise ValueError(f"not a NetSuite internal id: {str(value)[:40]!r}")
        out.append(str(int(text)))
    return "(" + ", ".join(out) + ")"


def sql_string(text: str) -> str:
    """A SuiteQL string literal: single quotes, a quote inside doubled (``'O''Brien'``)."""
    return "'" + text.replace("'", "''") + "'"


def timestamp_literal(local: str) -> str:
    """``TO_TIMESTAMP('2026-11-30 09:00:00', 'YYYY-MM-DD HH24:MI:SS')`` for an account-local
    timestamp as SuiteQL renders it.

    Raises:
        ValueError: ``local`` is not ``YYYY-MM-DD HH:MM:SS``.
    """
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", local):
        raise ValueError(f"not a full timestamp: {local[:40]!r}")
    return f"TO_TIMESTAMP({sql_string(local)}, {sql_string(TIMESTAMP_FORMAT)})"


def suiteql(client: HttpClient, statement: str, *, limit: int = MAX_LIMIT,
            offset: int = 0) -> dict[str, Any]:
    """Run one SuiteQL statement and return the parsed reply (``items``, ``hasMore``,
    ``count``, ``offset``, ``totalResults``).

    Raises:
        ConfigError: 401/403 — the role may not run the query (a permission is missing).
        UpstreamError: any other non-2xx answer (``status`` set), or a reply that is not a JSON
            object; the message names the table and NetSuite's own words.
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"SuiteQL limit {limit} is outside 1..{MAX_LIMIT}")
    resp = client.request("POST", SUITEQL, params={"limit": limit, "offset": offset},
                          headers={"Prefer": "transient"}, json={"q": statement})
    table = table_of(statement)
    try:
        body = resp.json()
        valid = True
    except ValueError:
        body, valid = None, False
    if resp.status_code >= 300:
        said = error_text(body) or f"HTTP {resp.status_code}"
        message = f"NetSuite SuiteQL on {table}: {said}"
        if resp.status_code in (401, 403):
            raise ConfigError(message + " — check the role's permissions (REST Web Services, "
                              "SuiteAnalytics Workbook, and View on this record)")
        raise UpstreamError(message, status=resp.status_code)
    if body.__class__ is not dict:
        what = "not a JSON object" if valid else "invalid JSON"
        raise UpstreamError(f"NetSuite SuiteQL on {table}: the reply (HTTP {resp.status_code}) "
                            f"is {what}", status=resp.status_code)
    items = body.get("items")
    if not isinstance(items, list):
        body["items"] = []
    # When NetSuite answered (its clock, RFC 9110 §6.6.1): a pass knows from it which changes
    # could have been made while it read.
    body[SERVED_AT] = resp.headers.get("Date") if resp.headers is not None else None
    return dict(body)


SERVED_AT = "$served_at"
"""The key of a SuiteQL reply that holds its ``Date`` header (added by :func:`suiteql`)."""


def served_at(reply: dict[str, Any]) -> datetime | None:
    """When the server answered ``reply`` (aware UTC), from its ``Date`` header; None when it
    sent none or an unreadable one."""
    text = reply.get(SERVED_AT)
    if not isinstance(text, str):
        return None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)


def suiteql_all(client: HttpClient, statement: str) -> list[dict[str, Any]]:
    """Every row of a small list (terms, categories, procedures...), offset-paged (a page of
    1,000 rows a call, at least one call); it stops at :data:`OFFSET_RESTART` rows.

    Raises:
        ConfigError, UpstreamError: as :func:`suiteql`.
    """
    rows: list[dict[str, Any]] = []
    offset = 0
    while True:
        reply = suiteql(client, statement, limit=MAX_LIMIT, offset=offset)
        page = items_of(reply)
        rows.extend(page)
        if not (reply.get("hasMore") and page) or offset + len(page) >= OFFSET_RESTART:
            return rows
        offset += len(page)


def items_of(reply: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows of a SuiteQL reply, without NetSuite's per-row ``links``."""
    rows: list[dict[str, Any]] = []
    for item in reply.get("items") or ():
        if item.__class__ is dict:
            row = dict(item)
            row.pop("links", None)
            rows.append(row)
    return rows
