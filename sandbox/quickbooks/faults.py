"""Fault injection: 5xx bursts, forced 429s, slow and malformed responses, expired tokens and
revoked consents.

Each fault is armed for the next ``n`` matching requests; by default a fault matches the
Accounting API (``/v3/company/…``); ``path_contains`` narrows it to paths containing a
substring (``/query``, ``/cdc``) or points it elsewhere (``/oauth2/v1/tokens/bearer``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

MALFORMED_KINDS = ("json", "missing_id")


@dataclass
class Fault:
    """One armed fault."""

    kind: str
    remaining: int
    path_contains: str | None = None
    status: int = 503
    seconds: float = 0.0
    malformed: str = "json"

    def matches(self, path: str) -> bool:
        """Does this fault apply to ``path``?"""
        if self.path_contains is None:
            return path.lower().startswith("/v3/company/")
        return self.path_contains.lower() in path.lower()


class Faults:
    """The fault knobs (``sb.faults``).

    Args:
        expire_hook: what :meth:`expire_tokens` calls.
        revoke_hook: what :meth:`revoke_grant` calls (a realm id or None for all).
    """

    def __init__(self, expire_hook: Callable[[], None],
                 revoke_hook: Callable[[str | None], int]) -> None:
        self._expire = expire_hook
        self._revoke = revoke_hook
        self._armed: list[Fault] = []
        self._lock = threading.Lock()

    def burst_5xx(self, n: int, status: int = 503, path_contains: str | None = None) -> None:
        """The next ``n`` matching requests fail with ``status`` (500–599)."""
        if not 500 <= status <= 599:
            raise ValueError("a 5xx status is expected")
        self._arm(Fault("5xx", n, path_contains, status=status))

    def throttle(self, n: int, path_contains: str | None = None) -> None:
        """The next ``n`` matching API requests answer 429 ThrottleExceeded (no Retry-After)."""
        self._arm(Fault("429", n, path_contains))

    def slow(self, seconds: float, n: int = 1, path_contains: str | None = None) -> None:
        """The next ``n`` matching requests wait ``seconds`` real seconds first."""
        self._arm(Fault("slow", n, path_contains, seconds=seconds))

    def malformed(self, n: int, kind: str = "json", path_contains: str | None = None) -> None:
        """The next ``n`` matching successful API responses are corrupted: ``json`` (a
        truncated body) or ``missing_id`` (the first record of a query loses its ``Id``)."""
        if kind not in MALFORMED_KINDS:
            raise ValueError(f"kind must be one of {MALFORMED_KINDS}")
        self._arm(Fault("malformed", n, path_contains, malformed=kind))

    def expire_tokens(self) -> None:
        """Every access token issued so far is expired from now on (401 on next use)."""
        self._expire()

    def revoke_grant(self, realm_id: str | None = None) -> int:
        """The user disconnects the app from ``realm_id`` (default: every company): bearers
        answer 401 and refreshes ``invalid_grant``. Returns the consents revoked."""
        return self._revoke(realm_id)

    def clear(self) -> None:
        """Disarm everything."""
        with self._lock:
            self._armed.clear()

    def pending(self) -> list[dict[str, object]]:
        """What is still armed."""
        with self._lock:
            return [dict(vars(f)) for f in self._armed]

    def take(self, kind: str, path: str) -> Fault | None:
        """Consume one use of the first armed ``kind`` fault matching ``path``."""
        with self._lock:
            for fault in self._armed:
                if fault.kind == kind and fault.remaining > 0 and fault.matches(path):
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._armed.remove(fault)
                    return fault
        return None

    def _arm(self, fault: Fault) -> None:
        if fault.remaining < 1:
            raise ValueError("n must be at least 1")
        with self._lock:
            self._armed.append(fault)
