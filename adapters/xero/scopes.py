"""The OAuth scopes each Accounting API call of arconnect needs, and what a refusal means.

Xero answers a token without the scope a call needs with ``401 {"Type":null,"Title":
"Unauthorized","Status":401,"Detail":"AuthorizationUnsuccessful",…}`` (quoted in
XeroAPI/xero-ruby-oauth2-app #82 and XeroAPI/Xero-NetStandard #298); an expired or revoked
token gets ``TokenExpired: …`` or ``AuthenticationUnsuccessful`` instead. Refreshing the token
cannot add a scope, so that 401 is reported at once, naming the scope and the fix.

Scopes (https://developer.xero.com/documentation/guides/oauth2/scopes/): a read-write scope
and its ``.read`` form; reads accept either, writes only the read-write one. The granular
``accounting.invoices`` / ``accounting.payments`` (required for apps created since 2 March
2026) split what the broad ``accounting.transactions`` of older apps covers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from arconnect.adapters.xero._common import API_PREFIX
from arconnect.errors import ScopeMissing

AUTHORIZATION_UNSUCCESSFUL = "AuthorizationUnsuccessful"

# The first path segment under /api.xro/2.0 (lower case) -> the scope families that allow it,
# the granular one first.
FAMILIES: dict[str, tuple[str, ...]] = {
    "contacts": ("accounting.contacts",),
    "contactgroups": ("accounting.contacts",),
    "invoices": ("accounting.invoices", "accounting.transactions"),
    "creditnotes": ("accounting.invoices", "accounting.transactions"),
    "payments": ("accounting.payments", "accounting.transactions"),
    "overpayments": ("accounting.payments", "accounting.transactions"),
    "prepayments": ("accounting.payments", "accounting.transactions"),
    "organisation": ("accounting.settings",),
    "currencies": ("accounting.settings",),
}


def endpoint_of(path: str) -> str:
    """``/api.xro/2.0/Contacts/…`` -> ``Contacts/…`` (how messages name a call)."""
    return path[len(API_PREFIX):].lstrip("/") if path.startswith(API_PREFIX) else path


def allowing(method: str, path: str) -> tuple[str, ...]:
    """The scopes any one of which allows ``method path``, most specific first (a read:
    the ``.read`` forms, then the read-write ones); empty for a path not listed here."""
    segment = endpoint_of(path).split("/", 1)[0].lower()
    families = FAMILIES.get(segment, ())
    if method.upper() in ("GET", "HEAD"):
        return tuple(f"{f}.read" for f in families) + families
    return families


def scope_refusal(
    tenant: str, configured: str, granted: Callable[[], str | None] | None = None,
) -> Callable[[str, str, Any], ScopeMissing | None]:
    """The ``explain_401`` of a Xero tenant's client (see :data:`arconnect.http.Explain401`).

    Args:
        tenant: the tenant's name, for messages.
        configured: the scopes arconnect asks for (``ARCONNECT_XERO_SCOPES``).
        granted: reads the scopes the stored grant holds (None when unknown).

    Returns:
        A function returning :class:`ScopeMissing` for Xero's ``AuthorizationUnsuccessful``
        401 and None for any other 401 (a stale token: refresh and retry).
    """
    asked = set(configured.split())

    def explain(method: str, path: str, response: Any) -> ScopeMissing | None:
        try:
            body = response.json()
        except ValueError:
            return None
        if not isinstance(body, dict) or body.get("Detail") != AUTHORIZATION_UNSUCCESSFUL:
            return None
        call = f"{method.upper()} {endpoint_of(path)}"
        wanted = allowing(method, path)
        held = set(((granted() if granted else None) or "").split())
        reconnect = "`arconnect tenants connect xero`"
        if not wanted:
            return ScopeMissing(
                f"tenant {tenant}: Xero refused {call} (HTTP 401 {AUTHORIZATION_UNSUCCESSFUL}): "
                f"the connection lacks a scope this call needs; reconnect with {reconnect}")
        if held & set(wanted):
            # The grant holds the scope: the user who connected the organisation lacks the
            # permission in it (Xero checks the user's role too).
            return ScopeMissing(
                f"tenant {tenant}: Xero refused {call} (HTTP 401 {AUTHORIZATION_UNSUCCESSFUL}) "
                f"although the connection holds scope {sorted(held & set(wanted))[0]}: the "
                "Xero user who connected it lacks that permission in the organisation; "
                f"reconnect with {reconnect} as a user who has it", wanted)
        pick = next((s for s in wanted if s in asked), None)
        if pick is not None:
            fix = (f"reconnect with {reconnect} to grant it (ARCONNECT_XERO_SCOPES asks for it; "
                   "this connection was made with fewer scopes)")
        else:
            pick = wanted[0]
            fix = f"add {pick} to ARCONNECT_XERO_SCOPES and reconnect with {reconnect}"
        others = [s for s in wanted if s != pick]
        alt = f" (or {' or '.join(others)})" if others else ""
        return ScopeMissing(
            f"tenant {tenant}: Xero refused {call}: the connection lacks scope {pick}{alt} — "
            f"{fix}", wanted)

    return explain
