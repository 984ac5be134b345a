"""NetSuite's concurrency governance per account, and request counters for benchmarks.

NetSuite limits the requests an account has in flight at once, shared by every integration
(https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/article_0625010817.html,
"Concurrency Governance"); a request over the limit is refused with 429 at once, without a
``Retry-After`` header. There is no per-minute window.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field

KINDS = ("suiteql", "record_get", "record_patch", "record_post", "token", "governance",
         "http_429", "rows_returned")


class Concurrency:
    """Requests in flight per account.

    Args:
        strict: refuse over the limit (False: count only).
    """

    def __init__(self, strict: bool = True) -> None:
        self.strict = strict
        self._in_flight: Counter[str] = Counter()
        self.peak: Counter[str] = Counter()
        self._lock = threading.Lock()

    def admit(self, account_id: str, limit: int) -> bool:
        """Admit one request (then :meth:`release` it); False when over ``limit``."""
        with self._lock:
            if self.strict and self._in_flight[account_id] >= limit:
                return False
            self._in_flight[account_id] += 1
            self.peak[account_id] = max(self.peak[account_id], self._in_flight[account_id])
            return True

    def release(self, account_id: str) -> None:
        """An admitted request finished."""
        with self._lock:
            self._in_flight[account_id] = max(self._in_flight[account_id] - 1, 0)

    def in_flight(self, account_id: str) -> int:
        """Requests of ``account_id`` being answered now."""
        with self._lock:
            return self._in_flight[account_id]


@dataclass
class Stats:
    """Request counters (``sb.stats``) per account and kind: ``sb.stats.get(account_id,
    "suiteql")``; kinds are :data:`KINDS` (``rows_returned`` adds the SuiteQL items
    served)."""

    by_account: dict[str, Counter[str]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, account_id: str, kind: str, n: int = 1) -> None:
        """Count ``n`` of ``kind`` for ``account_id``."""
        with self._lock:
            self.by_account.setdefault(account_id, Counter())[kind] += n

    def get(self, account_id: str, kind: str) -> int:
        """What was counted of ``kind`` for ``account_id``."""
        with self._lock:
            return self.by_account.get(account_id, Counter())[kind]

    def __getitem__(self, kind: str) -> int:
        """``kind`` over every account."""
        with self._lock:
            return sum(c[kind] for c in self.by_account.values())

    def as_dict(self) -> dict[str, object]:
        """JSON-ready view."""
        with self._lock:
            return {"by_account": {k: dict(v) for k, v in self.by_account.items()}}

    def reset(self) -> None:
        """Forget everything counted."""
        with self._lock:
            self.by_account.clear()
