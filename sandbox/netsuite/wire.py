"""NetSuite's REST wire format: JSON bodies and the error shape every REST error takes.

REST errors (https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_156570709583.html,
"Error Handling in REST Web Services") are
``{"type": <RFC 2616 section URL>, "title", "status", "o:errorDetails": [{"detail",
"o:errorCode"[, "o:errorPath"]}]}`` with ``Content-Type: application/vnd.oracle.resource+json;
type=error``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson

from arconnect.sandbox.common.http import Response

JSON = "application/json; charset=UTF-8"
RESOURCE_JSON = "application/vnd.oracle.resource+json; type=singular"
COLLECTION_JSON = "application/vnd.oracle.resource+json; type=collection"
ERROR_JSON = "application/vnd.oracle.resource+json; type=error"

RFC2616 = "https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html"
# status -> (section of RFC 2616 chapter 10, reason phrase)
SECTIONS = {400: ("10.4.1", "Bad Request"), 401: ("10.4.2", "Unauthorized"),
            403: ("10.4.4", "Forbidden"), 404: ("10.4.5", "Not Found"),
            405: ("10.4.6", "Method Not Allowed"), 415: ("10.4.16", "Unsupported Media Type"),
            429: ("10.4", "Too Many Requests"), 500: ("10.5.1", "Internal Server Error")}

INVALID_LOGIN = ("Invalid login attempt. For more details, see the Login Audit Trail in the "
                 "NetSuite UI at Setup > Users/Roles > User Management > View Login Audit "
                 "Trail.")


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"cannot render {type(value).__name__} as JSON")


def render(payload: Any) -> bytes:
    """``payload`` as JSON bytes (Decimal as a JSON number)."""
    return orjson.dumps(payload, default=_default)


def json_response(status: int, payload: Any, headers: dict[str, str] | None = None,
                  content_type: str = JSON) -> Response:
    """A JSON response."""
    return Response(status, render(payload), dict(headers or {}), content_type)


def error_body(status: int, code: str, detail: str, path: str | None = None
               ) -> dict[str, Any]:
    """NetSuite's error document."""
    section, title = SECTIONS.get(status, ("10.4.1", "Bad Request"))
    item: dict[str, Any] = {"detail": detail, "o:errorCode": code}
    if path is not None:
        item["o:errorPath"] = path
    return {"type": f"{RFC2616}#sec{section}", "title": title, "status": status,
            "o:errorDetails": [item]}


def error(status: int, code: str, detail: str, path: str | None = None,
          headers: dict[str, str] | None = None) -> Response:
    """A REST error response in NetSuite's shape."""
    return json_response(status, error_body(status, code, detail, path), headers, ERROR_JSON)


def invalid_login() -> Response:
    """The 401 every failed authentication gets."""
    return error(401, "INVALID_LOGIN", INVALID_LOGIN)
