"""QBO's throttles per realm on the sandbox clock, and request counters for benchmarks.

https://developer.intuit.com/app/developer/qbo/docs/learn/rest-api-features#limits-and-throttles
: 500 requests per minute per realm, 10 concurrent requests per realm and app, 40 batch
requests per minute per realm (120 announced for 2025: ``batch_minute_limit``). Over a limit:
429 with the ThrottleExceeded Fault and no ``Retry-After`` header. Windows here are fixed and
open with the first call after the previous one closed (assumed).
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field

from arconnect.sandbox.common.clock import SandboxClock

MINUTE = 60.0


@dataclass
class _Window:
    limit: int
    opened: float = -1.0
    used: int = 0

    def roll(self, now: float) -> None:
        if self.opened < 0 or now >= self.opened + MINUTE:
            self.opened = now
            self.used = 0


@dataclass
class _Realm:
    minute: _Window
    batch: _Window
    in_flight: int = 0


class Throttle:
    """Admits or refuses API calls per realm.

    Args:
        clock: the sandbox clock.
        strict: refuse over-limit calls (False: count only).
        minute / concurrent / batch_minute: the limits.
    """

    def __init__(self, clock: SandboxClock, strict: bool = True, minute: int = 500,
                 concurrent: int = 10, batch_minute: int = 40) -> None:
        self.clock = clock
        self.strict = strict
        self.minute = minute
        self.concurrent = concurrent
        self.batch_minute = batch_minute
        self._realms: dict[str, _Realm] = {}
        self._lock = threading.Lock()

    def admit(self, realm_id: str, batch: bool = False) -> str | None:
        """Admit one call (then :meth:`release` it); the limit it broke, or None."""
        now = self.clock.elapsed()
        with self._lock:
            r = self._realms.get(realm_id)
            if r is None:
                r = _Realm(_Window(self.minute), _Window(self.batch_minute))
                self._realms[realm_id] = r
            r.minute.roll(now)
            r.batch.roll(now)
            if self.strict:
                if r.in_flight >= self.concurrent:
                    return "concurrent"
                if r.minute.used >= r.minute.limit:
                    return "minute"
                if batch and r.batch.used >= r.batch.limit:
                    return "batch"
            r.in_flight += 1
            r.minute.used += 1
            if batch:
                r.batch.used += 1
            return None

    def release(self, realm_id: str) -> None:
        """An admitted call finished."""
        with self._lock:
            r = self._realms.get(realm_id)
            if r is not None:
                r.in_flight = max(r.in_flight - 1, 0)


@dataclass
class Stats:
    """Request counters (``sb.stats``): ``sb.stats["query"]`` counts every query call; kinds
    are ``query``, ``cdc``, ``batch``, ``read``, ``write``, ``token``, ``revoke``,
    ``authorize``; ``.throttled`` counts 429s by limit; ``.by_realm[realm]`` splits API kinds
    per company."""

    kinds: Counter[str] = field(default_factory=Counter)
    throttled: Counter[str] = field(default_factory=Counter)
    by_realm: dict[str, Counter[str]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, kind: str, realm_id: str | None = None,
               throttled: str | None = None) -> None:
        """Count one request of ``kind`` (and its 429, if any)."""
        with self._lock:
            self.kinds[kind] += 1
            if realm_id is not None:
                self.by_realm.setdefault(realm_id, Counter())[kind] += 1
            if throttled:
                self.throttled[throttled] += 1

    def __getitem__(self, kind: str) -> int:
        with self._lock:
            return self.kinds[kind]

    def as_dict(self) -> dict[str, object]:
        """JSON-ready view."""
        with self._lock:
            return {"kinds": dict(self.kinds), "throttled": dict(self.throttled),
                    "by_realm": {k: dict(v) for k, v in self.by_realm.items()}}

    def reset(self) -> None:
        """Forget everything counted."""
        with self._lock:
            self.kinds.clear()
            self.throttled.clear()
            self.by_realm.clear()
