"""Fixtures for the HTTP client and pacing tests: virtual and recording clocks, a fake token
manager, and the real Redis server (skipped outside CI when it is absent, failed in CI)."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from arconnect import pacing
from arconnect.clock import Clock

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


def _redis_problem() -> str | None:
    try:
        import redis

        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
        client.ping()
        client.close()
        return None
    except Exception as err:  # any failure to connect means "no server here"
        return f"Redis not reachable at {REDIS_URL}: {str(err).splitlines()[0]}"


@pytest.fixture(scope="session")
def redis_problem() -> str | None:
    return _redis_problem()


@pytest.fixture
def redis_client(redis_problem: str | None) -> Iterator[Any]:
    """A connection to the test Redis; the test's keys live under ``redis_client.prefix``
    and are deleted afterwards."""
    if redis_problem:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"{redis_problem} (CI must run the Redis pacing tests)")
        pytest.skip(redis_problem)
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
