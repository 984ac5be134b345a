"""Fixtures for the HTTP client and pacing tests: virtual and recording clocks, a fake token
manager, and the real Redis server (skipped outside CI when it is absent, failed in CI)."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from arconnect import pacing
from arconnect.clock import Clock

# the same server as tests/conftest.py probes
REDIS_URL = os.environ.get("ARCONNECT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


class VirtualClock(Clock):
    """A clock that never sleeps: ``sleep`` advances time and records the request."""

    def __init__(self) -> None:
        super().__init__(1.0)
        self.now = 1000.0
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def monotonic(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += max(seconds, 0.0)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


class RecordingClock(Clock):
    """A real scaled clock that remembers, per thread, the last time it read: right after a
    pacer admits a call, that is the stamp the pacer gave it."""

    def __init__(self, scale: float) -> None:
        super().__init__(scale)
        self._last = threading.local()

    def monotonic(self) -> float:
        value = super().monotonic()
        self._last.value = value
        return value

    def last(self) -> float:
        return float(self._last.value)


class FakeTokens:
    """A token manager: ``tok-N`` tokens; ``refresh`` records the stale token it was given."""

    def __init__(self) -> None:
        self.version = 1
        self.refreshed_with: list[str | None] = []

    def access_token(self) -> str:
        return f"tok-{self.version}"

    def refresh(self, stale_access_token: str | None) -> str:
        self.refreshed_with.append(stale_access_token)
        self.version += 1
        return f"tok-{self.version}"


@pytest.fixture(autouse=True)
def _fresh_pacers() -> Iterator[None]:
    pacing.reset_pacers()
    yield
    pacing.reset_pacers()


@pytest.fixture
def vclock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def tokens() -> FakeTokens:
    return FakeTokens()


@pytest.fixture
def redis_client(redis_problem: str | None,
                 require_service: Callable[[str | None, str], None]) -> Iterator[Any]:
    """A connection to the test Redis; the test's keys live under ``redis_client.prefix``
    and are deleted afterwards."""
    require_service(redis_problem, "the Redis pacing tests")
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    prefix = f"arconnect-test:{uuid.uuid4().hex[:12]}"
    client.prefix = prefix  # type: ignore[attr-defined]
    try:
        yield client
    finally:
        keys = list(client.scan_iter(match=f"{prefix}:*"))
        if keys:
            client.delete(*keys)
        client.close()


@pytest.fixture
def recording_clock() -> type[RecordingClock]:
    """The RecordingClock class (build one with the scale a test needs)."""
    return RecordingClock
