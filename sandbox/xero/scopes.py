"""Which OAuth scopes let a token call each Accounting API endpoint the sandbox serves.

Xero checks the scopes of the access token on every call and answers a token that lacks them
``401 {"Type":null,"Title":"Unauthorized","Status":401,"Detail":"AuthorizationUnsuccessful",
"Instance":"…","Extensions":{}}`` — the body quoted in XeroAPI/xero-ruby-oauth2-app #82 (a
Finance call without the ``finance`` scopes) and XeroAPI/Xero-NetStandard #298 (Assets without
``assets``); Xero-NetStandard #178 is the same answer for ``GET /Accounts`` without
``accounting.settings``.

Scopes (https://developer.xero.com/documentation/guides/oauth2/scopes/): each has a
read-write form and a ``.read`` form; a read call accepts either, a write call only the
read-write one. Apps created since 2 March 2026 get granular scopes — ``accounting.invoices``
(invoices, credit notes, …), ``accounting.payments`` (payments, overpayments, prepayments,
batch payments), ``accounting.contacts`` (contacts, contact groups), ``accounting.settings``
(organisation, currencies, accounts, …); older apps still hold the broad
``accounting.transactions``, which covers what ``accounting.invoices`` and
``accounting.payments`` cover. A History call needs the scope of the record it belongs to.
"""

from __future__ import annotations

# The first path segment under /api.xro/2.0 (lower case) -> the scope families allowing it.
# Kept apart from the connector's own table (adapters/xero/scopes.py) on purpose: the sandbox
# checks the connector, so it must not take Xero's rules from the code under test.
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
READ_METHODS = frozenset({"GET", "HEAD"})


def allowing(method: str, path: str) -> tuple[str, ...] | None:
    """The scopes any one of which allows ``method path`` (an ``/api.xro/2.0/…`` path), most
    specific first; None for a path the scopes do not govern here (it answers 404 anyway)."""
    parts = [p for p in path.split("/") if p][2:]  # drop "api.xro", "2.0"
    families = FAMILIES.get(parts[0].lower()) if parts else None
    if families is None:
        return None
    if method.upper() in READ_METHODS:
        return tuple(f"{f}.read" for f in families) + families
    return families


def missing(granted: str, method: str, path: str) -> tuple[str, ...]:
    """Empty when the space-separated ``granted`` scopes allow the call, else the scopes that
    would (any one of them)."""
    wanted = allowing(method, path)
    if wanted is None or set(granted.split()) & set(wanted):
        return ()
    return wanted
