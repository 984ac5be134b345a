"""The sandbox's own clock: a start instant, a speed and manual jumps.

Every time-dependent rule of an emulator (token lifetimes, rate-limit windows, code expiry,
``UpdatedDateUTC`` stamps of mutations) reads this clock, never the wall clock, so a test can
jump a minute ahead with :meth:`SandboxClock.advance` instead of sleeping, and a benchmark can
run Xero's "60 calls a minute" at ``scale=60`` (a sandbox minute per real second).
"""

from __future__ import annotations

import math
import threading
import time
from datetime import UTC, datetime, timedelta


class SandboxClock:
    """``now() = start + scale * (real seconds since start()) + advanced seconds``.

    Args:
        start: the sandbox instant at creation (aware; converted to UTC).
        scale: sandbox seconds per real second (1.0 = real time).
    """

    def __init__(self, start: datetime | None = None, scale: float = 1.0) -> None:
        if scale <= 0:
            raise ValueError("time scale must be positive")
        start = start or datetime.now(UTC)
        if start.tzinfo is None:
            raise ValueError("the sandbox start must be timezone-aware")
        self.start = start.astimezone(UTC)
        self.scale = float(scale)
        self._origin = time.monotonic()
        self._offset = 0.0
        self._lock = threading.Lock()

    def elapsed(self) -> float:
        """Sandbox seconds since :attr:`start` (scaled real time plus manual advances)."""
        with self._lock:
            return (time.monotonic() - self._origin) * self.scale + self._offset

    def now(self) -> datetime:
        """The current sandbox instant, aware UTC."""
        return self.start + timedelta(seconds=self.elapsed())

    def now_ms(self) -> int:
        """The current sandbox instant as Unix milliseconds."""
        return int(self.start.timestamp() * 1000) + int(self.elapsed() * 1000)

    def advance(self, seconds: float) -> datetime:
        """Jump ``seconds`` of sandbox time ahead (never back); returns the new now."""
        if seconds < 0:
            raise ValueError("the sandbox clock only moves forward")
        with self._lock:
            self._offset += seconds
        return self.now()

    def to_real(self, sandbox_seconds: float) -> float:
        """Real seconds that ``sandbox_seconds`` of sandbox time take at this scale."""
        return sandbox_seconds / self.scale

    def retry_after(self, sandbox_seconds: float) -> int:
        """An HTTP ``Retry-After`` value for a sandbox wait: whole SANDBOX seconds, at least 1.

        The header says what Xero would say; a client on the same time scale
        (``ARCONNECT_TIME_SCALE``) waits it on its scaled clock, so both agree on when the
        window reopens. HTTP only allows whole seconds, so waits are rounded up.
        """
        return max(1, math.ceil(sandbox_seconds - 1e-9))
