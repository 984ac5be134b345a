"""Time as the engine sees it: real by default, scalable for the sandbox and the tests.

Pacing and retry waits read :func:`get_clock`. With ``ARCONNECT_TIME_SCALE=60`` one real second
counts as a minute, so the Xero sandbox (running with the same scale) and the client's pacer agree
on when a rate-limit window has passed, and a test or benchmark of "60 calls a minute" runs in
seconds instead of minutes.
"""

from __future__ import annotations

import threading
import time


class Clock:
    """A monotonic clock whose seconds may be scaled.

    Args:
        scale: how many clock seconds pass per real second (1.0 = real time).
    """

    def __init__(self, scale: float = 1.0) -> None:
        if scale <= 0:
            raise ValueError("time scale must be positive")
        self.scale = scale
        self._origin = time.monotonic()
        self._offset = 0.0

    def monotonic(self) -> float:
        """Clock seconds since an arbitrary origin."""
        return (time.monotonic() - self._origin) * self.scale + self._offset

    def advance(self, seconds: float) -> None:
        """Jump ``seconds`` ahead (tests: let a day pass without waiting for it)."""
        self._offset += seconds

    def sleep(self, seconds: float) -> None:
        """Sleep ``seconds`` of clock time (``seconds / scale`` real seconds)."""
        if seconds > 0:
            time.sleep(seconds / self.scale)


_clock: Clock | None = None
_lock = threading.Lock()


def get_clock() -> Clock:
    """The process-wide clock, scaled by ``ARCONNECT_TIME_SCALE`` (read once)."""
    global _clock
    with _lock:
        if _clock is None:
            from arconnect.settings import get_settings

            _clock = Clock(get_settings().time_scale)
        return _clock


def set_clock(clock: Clock | None) -> None:
    """Replace the process-wide clock (tests, benchmarks); None re-reads the settings."""
    global _clock
    with _lock:
        _clock = clock
