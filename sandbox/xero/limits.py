"""Xero's API rate limits, per organisation and per app, on the sandbox clock.

Xero's limits (https://developer.xero.com/documentation/guides/oauth2/limits/#api-rate-limits):
per tenant 5 concurrent calls, 60 per minute and 5,000 per day (1,000 on the Starter tier);
10,000 per minute across the app. Windows are fixed (not rolling) and each tenant's resets at
its own time: here a window opens with the first call after the previous one closed. Over a
limit: 429, ``X-Rate-Limit-Problem`` names it and, for minute and day limits, ``Retry-After``
says when the window reopens. Every API response carries the remaining counts.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field

from arconnect.sandbox.common.clock import SandboxClock

MINUTE = 60.0
DAY = 86400.0


@dataclass
class _Window:
    length: float
    limit: int
    opened: float = -1.0
    used: int = 0
    spent_elsewhere: int = 0  # windows still to be spent by "another client" as they open

    def roll(self, now: float) -> None:
        if self.opened < 0 or now >= self.opened + self.length:
            self.opened = now
            self.used = 0
            if self.spent_elsewhere > 0:
                self.spent_elsewhere -= 1
                self.used = self.limit

    def remaining(self) -> int:
        return max(self.limit - self.used, 0)

    def wait(self, now: float) -> float:
        return max(self.opened + self.length - now, 0.0)


@dataclass
class _TenantLimits:
    minute: _Window
    day: _Window
    in_flight: int = 0


@dataclass
class Verdict:
    """The outcome of one admission: ``problem`` is None when the call may proceed."""

    problem: str | None
    retry_after: float | None
    headers: dict[str, str] = field(default_factory=dict)


class RateLimiter:
    """Counts calls and decides 429s.

    Args:
        clock: the sandbox clock.
        strict: refuse over-limit calls (False: count, never refuse, send no limit headers).
        minute / day / concurrent / app_minute: the limits.
    """

    def __init__(self, clock: SandboxClock, strict: bool = True, minute: int = 60,
                 day: int = 5000, concurrent: int = 5, app_minute: int = 10000) -> None:
        self.clock = clock
        self.strict = strict
        self.minute = minute
        self.day = day
        self.concurrent = concurrent
        self.app = _Window(MINUTE, app_minute)
        self._tenants: dict[str, _TenantLimits] = {}
        self._lock = threading.Lock()

    def _tenant(self, tenant_id: str) -> _TenantLimits:
        limits = self._tenants.get(tenant_id)
        if limits is None:
            limits = _TenantLimits(_Window(MINUTE, self.minute), _Window(DAY, self.day))
            self._tenants[tenant_id] = limits
        return limits

    def admit(self, tenant_id: str) -> Verdict:
        """Admit one call for ``tenant_id`` (call :meth:`release` when it finishes)."""
        now = self.clock.elapsed()
        with self._lock:
            t = self._tenant(tenant_id)
            for window in (t.minute, t.day, self.app):
                window.roll(now)
            problem: str | None = None
            wait: float | None = None
            if self.strict:
                if t.in_flight >= self.concurrent:
                    problem = "concurrent"
                elif self.app.used >= self.app.limit:
                    problem, wait = "appminute", self.app.wait(now)
                elif t.day.used >= t.day.limit:
                    problem, wait = "day", t.day.wait(now)
                elif t.minute.used >= t.minute.limit:
                    problem, wait = "minute", t.minute.wait(now)
            if problem is None:
                t.in_flight += 1
                t.minute.used += 1
                t.day.used += 1
                self.app.used += 1
            if self.strict:
                headers = {
                    "X-DayLimit-Remaining": str(t.day.remaining()),
                    "X-MinLimit-Remaining": str(t.minute.remaining()),
                    "X-AppMinLimit-Remaining": str(self.app.remaining()),
                }
            else:  # limits are off, so there is no budget to report (and none to trust)
                headers = {}
            return Verdict(problem, wait, headers)

    def spend_elsewhere(self, tenant_id: str, windows: int = 1) -> None:
        """Another client of the same app (one without shared pacing) uses up this tenant's
        minute budget as soon as each of the next ``windows`` minute windows opens: a 429
        storm the client can only ride out with ``Retry-After``. Strict mode only."""
        with self._lock:
            window = self._tenant(tenant_id).minute
            window.spent_elsewhere += windows
            window.opened = -1.0  # the current window closes now; the next one is spent

    def release(self, tenant_id: str) -> None:
        """The admitted call finished."""
        with self._lock:
            t = self._tenant(tenant_id)
            t.in_flight = max(t.in_flight - 1, 0)


class TenantStats:
    """Calls seen for one tenant."""

    def __init__(self) -> None:
        self.calls = 0
        self.rate_limited: Counter[str] = Counter()
        self.paths: Counter[str] = Counter()

    def as_dict(self) -> dict[str, object]:
        """JSON-ready view."""
        return {"calls": self.calls, "rate_limited": dict(self.rate_limited),
                "paths": dict(self.paths)}


class Stats:
    """Per-tenant call statistics (``sb.stats``): ``sb.stats[tenant_id].calls``,
    ``.rate_limited["minute"]``, ``.paths["GET /api.xro/2.0/Invoices"]``; :meth:`reset`."""

    def __init__(self) -> None:
        self._tenants: dict[str, TenantStats] = {}
        self._lock = threading.Lock()

    def record(self, tenant_id: str, key: str, problem: str | None) -> None:
        """Count one call (``key`` = method and path) and its 429, if any."""
        with self._lock:
            t = self._tenants.setdefault(tenant_id, TenantStats())
            t.calls += 1
            t.paths[key] += 1
            if problem:
                t.rate_limited[problem] += 1

    def __getitem__(self, tenant_id: str) -> TenantStats:
        with self._lock:
            return self._tenants.setdefault(tenant_id, TenantStats())

    def tenants(self) -> list[str]:
        """Tenants seen so far."""
        with self._lock:
            return list(self._tenants)

    def as_dict(self) -> dict[str, dict[str, object]]:
        """Every tenant's statistics, JSON-ready."""
        with self._lock:
            return {k: v.as_dict() for k, v in self._tenants.items()}

    def reset(self) -> None:
        """Forget everything counted."""
        with self._lock:
            self._tenants.clear()
