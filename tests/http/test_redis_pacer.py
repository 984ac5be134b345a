"""The Redis pacer against the real Redis at 127.0.0.1:6379: one budget shared by pacer objects
in threads and in another process. Skipped when Redis is absent, failed when CI=true."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from typing import Any

import pytest

from arconnect.adapters.xero.platform import XeroPlatform
from arconnect.clock import Clock
from arconnect.errors import RateLimitedDaily
from arconnect.pacing import MINUTE, MINUTE_SPAN, Limits, RedisPacer

REDIS_URL = os.environ.get("ARCONNECT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")



class _Stop(Exception):
    pass


class ProbeClock(Clock):
    """A scaled clock whose first sleep records how long the pacer wanted to wait, then
    aborts the slot (the test only asks: would it wait, and how long)."""

    def __init__(self, scale: float) -> None:
        super().__init__(scale)
        self.asked: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.asked.append(seconds)
        raise _Stop



def _xero(headers: dict[str, str]) -> Any:
    """What Xero's rate-limit headers say is left (the platform reads them)."""
    return XeroPlatform().rate_info(headers)

def _pacer(redis_client: Any, limits: Limits, clock: Clock, **kwargs: Any) -> RedisPacer:
    return RedisPacer("xero:org-1", limits, redis_client, clock, prefix=redis_client.prefix,
                      **kwargs)


def test_two_pacers_share_one_minute_window(redis_client: Any) -> None:
    clock = Clock(600.0)  # a minute in 0.1 real seconds
    limits = Limits(per_minute=5, concurrency=5)
    pacers = [_pacer(redis_client, limits, clock) for _ in range(2)]
    started = time.monotonic()

    def work(pacer: RedisPacer) -> None:
        for _ in range(6):
            with pacer.slot():
                pass

    threads = [threading.Thread(target=work, args=(p,)) for p in pacers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = (time.monotonic() - started) * clock.scale
    # 12 calls at 5 a minute need two full windows; unshared, each pacer would need one.
    assert elapsed >= 2 * MINUTE
    raw = redis_client.zrange(f"{redis_client.prefix}:xero:org-1:day", 0, -1, withscores=True)
    stamps = sorted(score for _, score in raw)
    assert len(stamps) == 12
    for i in range(len(stamps) - 5):
        assert stamps[i + 5] - stamps[i] >= MINUTE


def test_another_process_spends_the_shared_budget(redis_client: Any) -> None:
    scale = 6.0  # a minute in 10 real seconds: the window cannot pass while Python starts
    script = textwrap.dedent(f"""
        import redis
        from arconnect.clock import Clock
        from arconnect.pacing import Limits, RedisPacer
        client = redis.Redis.from_url({REDIS_URL!r})
        pacer = RedisPacer("xero:org-1", Limits(per_minute=5), client, Clock({scale}),
                           prefix={redis_client.prefix!r})
        for _ in range(5):
            with pacer.slot():
                pass
        print("spent")
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=30)
    assert done.stdout.strip() == "spent", done.stderr
    clock = ProbeClock(scale)
    with pytest.raises(_Stop), _pacer(redis_client, Limits(per_minute=5), clock).slot():
        pass
    assert 30 < clock.asked[0] <= MINUTE_SPAN


def test_observed_headers_lower_the_shared_budget(redis_client: Any) -> None:
    limits = Limits(per_minute=60)
    first = _pacer(redis_client, limits, Clock(1.0))
    with first.slot():
        pass
    first.observe(_xero({"X-MinLimit-Remaining": "0"}))
    clock = ProbeClock(1.0)
    with pytest.raises(_Stop), _pacer(redis_client, limits, clock).slot():
        pass
    assert MINUTE_SPAN - 5 < clock.asked[0] <= MINUTE_SPAN


def test_shared_day_budget(redis_client: Any) -> None:
    limits = Limits(per_day=2)
    a, b = _pacer(redis_client, limits, Clock(1.0)), _pacer(redis_client, limits, Clock(1.0))
    for pacer in (a, b):
        with pacer.slot():
            pass
    with pytest.raises(RateLimitedDaily) as info, a.slot():
        pass
    assert "xero:org-1" in str(info.value)
    assert 86_000 < (info.value.retry_after or 0) <= 86_400


def test_daily_429_blocks_every_process(redis_client: Any) -> None:
    a, b = _pacer(redis_client, Limits(), Clock(1.0)), _pacer(redis_client, Limits(), Clock(1.0))
    a.observe(_xero({"X-Rate-Limit-Problem": "day", "Retry-After": "900"}))
    with pytest.raises(RateLimitedDaily) as info, b.slot():
        pass
    assert 890 < (info.value.retry_after or 0) <= 900


def test_concurrency_lease_is_shared(redis_client: Any) -> None:
    limits = Limits(concurrency=1)
    a, b = _pacer(redis_client, limits, Clock(1.0)), _pacer(redis_client, limits, Clock(1.0))
    events: list[str] = []
    holding = threading.Event()

    def hold() -> None:
        with a.slot():
            events.append("a in")
            holding.set()
            time.sleep(0.15)
            events.append("a out")

    t = threading.Thread(target=hold)
    t.start()
    holding.wait(5)
    with b.slot():
        events.append("b in")
    t.join()
    assert events == ["a in", "a out", "b in"]


def test_a_dead_holders_lease_lapses(redis_client: Any) -> None:
    limits = Limits(concurrency=1)
    dead = _pacer(redis_client, limits, Clock(1.0), lease_seconds=0.2)
    held = dead.slot()
    held.__enter__()  # never left: the holder "crashed" (kept referenced, so never closed)
    started = time.monotonic()
    with _pacer(redis_client, limits, Clock(1.0)).slot():
        pass
    assert 0.1 < time.monotonic() - started < 2.0
    del held
