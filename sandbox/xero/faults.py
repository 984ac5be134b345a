"""Xero's fault knobs: the shared ones (:mod:`arconnect.sandbox.common.faults`) on the
Accounting API (``/api.xro/2.0/…``), a ``MYSTERY`` status among the malformed bodies, and 429
storms.

``path_contains`` may point a fault at other paths (``/connect/token``, ``/connections``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from arconnect.sandbox.common.faults import Fault, Faults

__all__ = ["MALFORMED_KINDS", "Fault", "XeroFaults"]

MALFORMED_KINDS = ("json", "missing_id", "unknown_status")


class XeroFaults(Faults):
    """The fault knobs (``sb.faults``). ``malformed`` kinds: ``json`` (truncated body),
    ``missing_id`` (the first record loses its id), ``unknown_status`` (the first record's
    status becomes ``MYSTERY``).

    Args:
        expire_tokens_hook: what :meth:`expire_tokens` calls (the identity server's).
        storm_hook: what :meth:`rate_limit_storm` calls (the rate limiter's).
    """

    def __init__(self, expire_tokens_hook: Callable[[], None],
                 storm_hook: Callable[[str, int], None] | None = None) -> None:
        super().__init__("/api.xro/", MALFORMED_KINDS, expire_tokens_hook)
        self._storm = storm_hook

    def knobs(self) -> dict[str, Callable[..., Any]]:
        """The shared knobs and ``rate_limit_storm``."""
        return {**super().knobs(), "rate_limit_storm": self.rate_limit_storm}

    def rate_limit_storm(self, tenant_id: str, windows: int = 3) -> None:
        """For the next ``windows`` minute windows, the tenant's minute budget is spent by
        someone else the moment the window opens: every call answers 429 ``minute`` with
        ``Retry-After`` until the storm passes (strict limits only)."""
        if self._storm is None:
            raise ValueError("this sandbox has no rate limiter to storm")
        self._storm(tenant_id, windows)
