"""QuickBooks' fault knobs: the shared ones (:mod:`arconnect.sandbox.common.faults`) on the
Accounting API (``/v3/company/…``), forced 429s and revoked consents.

``path_contains`` narrows a fault to paths containing a substring (``/query``, ``/cdc``) or
points it elsewhere (``/oauth2/v1/tokens/bearer``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from arconnect.sandbox.common.faults import Fault, Faults

__all__ = ["MALFORMED_KINDS", "Fault", "QboFaults"]

MALFORMED_KINDS = ("json", "missing_id")


class QboFaults(Faults):
    """The fault knobs (``sb.faults``). ``malformed`` kinds: ``json`` (a truncated body) or
    ``missing_id`` (the first record of a query loses its ``Id``).

    Args:
        expire_hook: what :meth:`expire_tokens` calls.
        revoke_hook: what :meth:`revoke_grant` calls (a realm id or None for all).
    """

    def __init__(self, expire_hook: Callable[[], None],
                 revoke_hook: Callable[[str | None], int]) -> None:
        super().__init__("/v3/company/", MALFORMED_KINDS, expire_hook)
        self._revoke = revoke_hook

    def knobs(self) -> dict[str, Callable[..., Any]]:
        """The shared knobs and ``throttle``."""
        return {**super().knobs(), "throttle": self.throttle}

    def throttle(self, n: int, path_contains: str | None = None) -> None:
        """The next ``n`` matching API requests answer 429 ThrottleExceeded (no Retry-After)."""
        self.arm(Fault("429", n, path_contains))

    def revoke_grant(self, realm_id: str | None = None) -> int:
        """The user disconnects the app from ``realm_id`` (default: every company): bearers
        answer 401 and refreshes ``invalid_grant``. Returns the consents revoked."""
        return self._revoke(realm_id)
