"""The REST web services of one account: SuiteQL, customer and customer category records,
governance limits. Authentication, the concurrency limit and faults are the server's
(:mod:`arconnect.sandbox.netsuite.server`); this module answers an admitted request.

Paths (under the account's REST base, ``https://{account}.suitetalk.api.netsuite.com``):

- ``POST /services/rest/query/v1/suiteql?limit=N&offset=M`` with ``{"q": ...}`` and
  ``Prefer: transient`` (https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/
  section_157909186990.html, "Executing SuiteQL Queries Through REST Web Services")
- ``GET|PATCH /services/rest/record/v1/customer/{id}``,
  ``GET /services/rest/record/v1/customerCategory/{id}``,
  ``POST /services/rest/record/v1/customerCategory`` (section_1545141500.html "Getting a
  Record Instance", section_1545142173.html "Updating a Record Instance",
  section_1545141395.html "Creating a Record Instance")
- ``GET /services/rest/system/v1/governanceLimits`` (article_0625010817.html)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, cast

from arconnect.sandbox.common.clock import SandboxClock
from arconnect.sandbox.common.http import Request, Response
from arconnect.sandbox.netsuite import records as R
from arconnect.sandbox.netsuite.config import NsConfig
from arconnect.sandbox.netsuite.limits import Stats
from arconnect.sandbox.netsuite.model import Account
from arconnect.sandbox.netsuite.suiteql import Source, SuiteQLError, execute, parse
from arconnect.sandbox.netsuite.wire import (
    COLLECTION_JSON,
    RESOURCE_JSON,
    error,
    json_response,
)

SUITEQL_PATH = "/services/rest/query/v1/suiteql"
RECORD_PATH = R.RECORD_PATH
GOVERNANCE_PATH = "/services/rest/system/v1/governanceLimits"
DEFAULT_LIMIT = 1000
# assumed wording: NetSuite refuses a SuiteQL request without the header
NO_TRANSIENT = ("SuiteQL queries must be sent with the header 'Prefer: transient'; the "
                "request did not carry it.")
NONEXISTENT = "The record instance does not exist. Provide a valid record instance ID."


class NsApi:
    """Answers the REST requests of any account.

    Args:
        config: the sandbox settings (row cap and the switches).
        clock: the sandbox clock (``lastmodifieddate`` of a PATCH).
        stats: where the SuiteQL items served are counted (``rows_returned``).
    """

    def __init__(self, config: NsConfig, clock: SandboxClock, stats: Stats) -> None:
        self.config = config
        self.clock = clock
        self.stats = stats

    @staticmethod
    def kind(req: Request, path: str) -> str:
        """The stats kind of a request (``suiteql``, ``record_get``, ``record_patch``,
        ``record_post``, ``governance``; ``other`` for the rest)."""
        if path.rstrip("/") == SUITEQL_PATH:
            return "suiteql"
        if path.startswith(RECORD_PATH + "/"):
            return {"GET": "record_get", "PATCH": "record_patch",
                    "POST": "record_post"}.get(req.method, "other")
        if path.rstrip("/") == GOVERNANCE_PATH:
            return "governance"
        return "other"

    def handle(self, account: Account, req: Request, path: str, rest: str) -> Response:
        """Answer ``req`` for ``account``; ``path`` is the path under the REST base and
        ``rest`` the REST base URL as the client addressed it."""
        path = path.rstrip("/")
        if path == SUITEQL_PATH:
            if req.method != "POST":
                return _not_allowed(req)
            return self.suiteql(account, req, rest)
        if path == GOVERNANCE_PATH:
            if req.method != "GET":
                return _not_allowed(req)
            return self.governance(account)
        if path.startswith(RECORD_PATH + "/"):
            parts = path[len(RECORD_PATH) + 1:].split("/")
            try:
                return self.record(account, req, parts, rest)
            except R.RecordError as err:
                return error(err.status, err.code, err.detail, err.path)
        return error(404, "NONEXISTENT_ID", f"The requested resource {path} does not exist.")

    # ---- SuiteQL ------------------------------------------------------------------------------
    def suiteql(self, account: Account, req: Request, rest: str) -> Response:
        """``POST …/query/v1/suiteql``: one page of a SuiteQL query."""
        prefer = (req.headers.get("Prefer") or "").lower()
        if "transient" not in prefer:
            return error(400, "INVALID_HEADER", NO_TRANSIENT)
        try:
            body = json.loads(req.body or b"null")
        except ValueError:
            body = None
        statement = body.get("q") if isinstance(body, dict) else None
        if not isinstance(statement, str):
            return error(400, "INVALID_CONTENT", "Invalid content in the request body: a "
                         "JSON object with the query in 'q' is expected.")
        try:
            limit = int(req.query.get("limit", DEFAULT_LIMIT))
            offset = int(req.query.get("offset", 0))
        except ValueError:
            return error(400, "INVALID_PARAMETER", "Invalid value for the parameter limit or "
                         "offset: an integer is expected.")
        try:
            query = parse(statement)
            with account.lock:
                result = execute(query, cast(Mapping[str, Source], account.tables),
                                 tz=account.tz, limit=limit, offset=offset,
                                 row_cap=self.config.row_cap,
                                 omit_null=self.config.omit_null_columns)
        except SuiteQLError as err:
            return error(400, err.code, err.detail)
        self.stats.record(account.account_id, "rows_returned", len(result.items))
        url = f"{rest}{SUITEQL_PATH}"
        links = _paging_links(url, limit, offset, result.total, result.has_more,
                              self.config.row_cap)
        if "limit" not in req.query and "offset" not in req.query:
            links[-1] = {"rel": "self", "href": url}  # as called (NetSuite's sample)
        payload = {"links": links, "count": len(result.items), "hasMore": result.has_more,
                   "items": result.items, "offset": offset, "totalResults": result.total}
        return json_response(200, payload, content_type=COLLECTION_JSON)

    # ---- records ------------------------------------------------------------------------------
    def record(self, account: Account, req: Request, parts: list[str], rest: str) -> Response:
        """``/record/v1/{type}[/{id}]``."""
        record_type = parts[0].lower()
        row_id = parts[1] if len(parts) > 1 else None
        if len(parts) > 2 or record_type not in ("customer", "customercategory"):
            return error(404, "NONEXISTENT_ID", f"Record type '{parts[0]}' is not supported "
                         "by this sandbox (customer, customerCategory).")
        table = account.tables["customer" if record_type == "customer" else "customercategory"]
        if row_id is None:
            if record_type == "customercategory" and req.method == "POST":
                return self._create_category(account, req, rest)
            return _not_allowed(req)
        try:
            key = int(row_id)
        except ValueError:
            return error(404, "NONEXISTENT_ID", NONEXISTENT)
        with account.lock:
            row = table.get(key)
            if row is None:
                return error(404, "NONEXISTENT_ID", NONEXISTENT)
            if req.method == "GET":
                doc = (R.render_customer(account, row, rest) if record_type == "customer"
                       else R.render_category(row, rest))
                return json_response(200, doc, content_type=RESOURCE_JSON)
            if req.method == "PATCH" and record_type == "customer":
                return self._patch_customer(account, req, row, rest)
        return _not_allowed(req)

    def _patch_customer(self, account: Account, req: Request, row: dict[str, Any],
                        rest: str) -> Response:
        try:
            body = json.loads(req.body or b"null")
        except ValueError:
            raise R.RecordError(400, "INVALID_CONTENT", "Error while accessing a resource. "
                                "The request body is not valid JSON.") from None
        strict = (req.headers.get("X-NetSuite-PropertyNameValidation") or "").lower() == "error"
        changes = R.patch_changes(account, row, body, strict_names=strict,
                                  hold_values=tuple(self.config.credit_hold_values))
        row.update(changes)
        account.touch(row, self.clock.now())
        return Response(204, b"", {"Location": f"{rest}{RECORD_PATH}/customer/{row['id']}"})

    def _create_category(self, account: Account, req: Request, rest: str) -> Response:
        try:
            body = json.loads(req.body or b"null")
        except ValueError:
            body = None
        with account.lock:
            row = R.create_category(account, body)
        return Response(204, b"", {
            "Location": f"{rest}{RECORD_PATH}/customerCategory/{row['id']}"})

    # ---- governance ---------------------------------------------------------------------------
    def governance(self, account: Account) -> Response:
        """``GET …/system/v1/governanceLimits``: administrators only (others: 403, assumed)."""
        if not account.spec.role_is_admin:
            return error(403, "INSUFFICIENT_PERMISSION", "Permission Violation: you need an "
                         "administrator role to read the account's governance limits.")
        limit = account.spec.concurrency_limit
        return json_response(200, {"accountConcurrencyLimit": limit,
                                   "unallocatedConcurrencyLimit": limit,
                                   "integrationConcurrencyLimit": None,
                                   "limitType": "accountLimit"}, content_type=RESOURCE_JSON)


def _not_allowed(req: Request) -> Response:
    return error(405, "INVALID_REQUEST", f"The HTTP method {req.method} is not supported for "
                 "this resource.")


def _paging_links(url: str, limit: int, offset: int, total: int, has_more: bool,
                  row_cap: int) -> list[dict[str, str]]:
    """NetSuite's collection paging links: ``first``/``previous`` past the first page,
    ``next``/``last`` while more rows follow, ``self`` always (section_157909186990.html)."""

    def href(at: int) -> dict[str, str]:
        return {"href": f"{url}?limit={limit}&offset={at}"}

    links: list[dict[str, str]] = []
    if offset > 0:
        links.append({"rel": "first", **href(0)})
        links.append({"rel": "previous", **href(max(offset - limit, 0))})
    if has_more:
        last = max(min(total, row_cap) - 1, 0) // max(limit, 1) * limit
        links.append({"rel": "next", **href(offset + limit)})
        links.append({"rel": "last", **href(max(last, offset + limit))})
    links.append({"rel": "self", **href(offset)})
    return links
