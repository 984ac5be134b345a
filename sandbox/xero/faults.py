"""Fault injection: 5xx bursts, 429 storms, slow responses, forced token expiry, malformed
bodies.

Each fault is armed for the next ``n`` matching requests. By default a fault matches the
Accounting API (``/api.xro/2.0/…``); ``path_contains`` narrows it to paths containing a
substring, and may point it at other paths (``/connect/token``, ``/connections``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

MALFORMED_KINDS = ("json", "missing_id", "unknown_status")


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
            return path.lower().startswith("/api.xro/")
        return self.path_contains.lower() in path.lower()


class Faults:
    """The fault knobs (``sb.faults``).

    Args:
        expire_tokens_hook: what :meth:`expire_tokens` calls (the identity server's).
    """

    def __init__(self, expire_tokens_hook: Callable[[], None],
                 storm_hook: Callable[[str, int], None] | None = None) -> None:
        self._expire = expire_tokens_hook
        self._storm = storm_hook
        self._armed: list[Fault] = []
        self._lock = threading.Lock()

    def burst_5xx(self, n: int, status: int = 503, path_contains: str | None = None) -> None:
        """The next ``n`` matching requests fail with ``status`` (500–599)."""
        if not 500 <= status <= 599:
            raise ValueError("a 5xx status is expected")
        self._arm(Fault("5xx", n, path_contains, status=status))

    def slow(self, seconds: float, n: int = 1, path_contains: str | None = None) -> None:
        """The next ``n`` matching requests wait ``seconds`` real seconds before answering."""
        self._arm(Fault("slow", n, path_contains, seconds=seconds))

    def expire_tokens(self) -> None:
        """Every access token issued so far is expired from now on (401 TokenExpired)."""
        self._expire()

    def rate_limit_storm(self, tenant_id: str, windows: int = 3) -> None:
        """For the next ``windows`` minute windows, the tenant's minute budget is spent by
        someone else the moment the window opens: every call answers 429 ``minute`` with
        ``Retry-After`` until the storm passes (strict limits only)."""
        if self._storm is None:
            raise ValueError("this sandbox has no rate limiter to storm")
        self._storm(tenant_id, windows)

    def malformed(self, n: int, kind: str = "json", path_contains: str | None = None) -> None:
        """The next ``n`` matching successful responses are corrupted: ``json`` (truncated
        body), ``missing_id`` (the first record loses its id), ``unknown_status`` (the first
        record's status becomes ``MYSTERY``)."""
        if kind not in MALFORMED_KINDS:
            raise ValueError(f"kind must be one of {MALFORMED_KINDS}")
        self._arm(Fault("malformed", n, path_contains, malformed=kind))

    def clear(self) -> None:
        """Disarm everything."""
        with self._lock:
            self._armed.clear()

    def pending(self) -> list[dict[str, object]]:
        """What is still armed (for ``GET /_sandbox/state``)."""
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
