"""The in-process pacer: sliding minute window, concurrency cap, day budget, app-wide window,
and the server's headers lowering the budget."""

from __future__ import annotations

import math
import threading
import time
from typing import Any

import pytest

from arconnect import pacing
from arconnect.adapters.xero.platform import XeroPlatform
from arconnect.clock import Clock, set_clock
from arconnect.errors import ConfigError, RateLimitedDaily
from arconnect.pacing import MINUTE, MINUTE_SPAN, Limits, Pacer, RedisPacer, get_pacer
from arconnect.settings import get_settings

BIG = Limits(per_minute=10_000, concurrency=50, per_day=100_000, app_per_minute=100_000)




def _xero(headers: dict[str, str]) -> Any:
    """What Xero's rate-limit headers say is left (the platform reads them)."""
    return XeroPlatform().rate_info(headers)

def _run_threads(pacer: Pacer, clock: Any, threads: int, calls: int) -> list[float]:
    """``calls`` calls spread over ``threads`` threads; returns the admitted stamps, sorted."""
    stamps: list[float] = []
    lock = threading.Lock()
    left = iter(range(calls))

    def work() -> None:
        while True:
            with lock:
                if next(left, None) is None:
                    return
            with pacer.slot():
                stamp = clock.last()
                with lock:
                    stamps.append(stamp)

    pool = [threading.Thread(target=work) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return sorted(stamps)


def test_sliding_window_never_exceeds_the_limit_under_threads(recording_clock: Any) -> None:
    clock = recording_clock(600.0)  # a minute passes in 0.1 real seconds
    limits = Limits(per_minute=60, concurrency=5)
    pacer = Pacer("xero:org-1", limits, clock=clock)
    calls = 150
    started = clock.monotonic()
    stamps = _run_threads(pacer, clock, threads=4, calls=calls)
    elapsed = clock.monotonic() - started
    assert len(stamps) == calls
    # No 60 clock-second interval holds more than per_minute calls (so no fixed window does).
    for i in range(calls - limits.per_minute):
        assert stamps[i + limits.per_minute] - stamps[i] >= MINUTE
    # Wall time: the fixed-window floor plus the 1% margin plus scheduling overhead.
    floor = (math.ceil(calls / limits.per_minute) - 1) * MINUTE
    assert elapsed >= floor
    assert elapsed <= floor * 1.01 + 0.06 * clock.scale  # overhead: 60 real milliseconds


def test_concurrency_cap() -> None:
    pacer = Pacer("xero:org-1", Limits(per_minute=1000, concurrency=2), clock=Clock(1.0))
    inside = 0
    peak = 0
    lock = threading.Lock()

    def work() -> None:
        nonlocal inside, peak
        with pacer.slot():
            with lock:
                inside += 1
                peak = max(peak, inside)
            time.sleep(0.02)
            with lock:
                inside -= 1

    pool = [threading.Thread(target=work) for _ in range(6)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert peak == 2


def test_slot_released_when_the_call_raises(vclock: Any) -> None:
    pacer = Pacer("xero:org-1", Limits(concurrency=1), clock=vclock)
    with pytest.raises(RuntimeError), pacer.slot():
        raise RuntimeError("boom")
    with pacer.slot():  # would block forever if the slot leaked
        pass


def test_waits_for_the_oldest_call_to_leave_the_window(vclock: Any) -> None:
    pacer = Pacer("xero:org-1", Limits(per_minute=3), clock=vclock)
    for _ in range(3):
        with pacer.slot():
            vclock.advance(10)
    with pacer.slot():
        pass
    # First call at 1000; the window frees at 1000 + 60.6 (we were at 1030).
    assert vclock.sleeps == [pytest.approx(MINUTE_SPAN - 30)]


def test_server_headers_lower_the_budget(vclock: Any) -> None:
    pacer = Pacer("xero:org-1", Limits(per_minute=60), clock=vclock)
    with pacer.slot():
        pass
    pacer.observe(_xero({"X-MinLimit-Remaining": "2"}))  # someone else spent 57 of this minute
    for _ in range(2):
        with pacer.slot():
            pass
    assert vclock.sleeps == []
    with pacer.slot():
        pass
    assert vclock.sleeps and vclock.sleeps[0] == pytest.approx(MINUTE_SPAN)


def test_server_headers_never_raise_the_budget(vclock: Any) -> None:
    pacer = Pacer("xero:org-1", Limits(per_minute=2), clock=vclock)
    for _ in range(2):
        with pacer.slot():
            pass
    pacer.observe(_xero({"x-minlimit-remaining": "59", "X-DayLimit-Remaining": "4999",
                   "X-AppMinLimit-Remaining": "junk"}))
    with pacer.slot():
        pass
    assert vclock.sleeps == [pytest.approx(MINUTE_SPAN)]


def test_day_budget_exhausted_raises(vclock: Any) -> None:
    pacer = Pacer("xero:org-9", Limits(per_day=3), clock=vclock)
    for _ in range(3):
        with pacer.slot():
            vclock.advance(100)
    with pytest.raises(RateLimitedDaily) as info, pacer.slot():
        pass
    assert "xero:org-9" in str(info.value) and "3 calls" in str(info.value)
    assert info.value.retry_after == pytest.approx(86_400 - 300)
    vclock.advance(86_400)
    with pacer.slot():  # a day later the budget is back
        pass


def test_server_day_remaining_zero_stops_the_next_slot(vclock: Any) -> None:
    pacer = Pacer("xero:org-1", Limits(), clock=vclock)
    with pacer.slot():
        pass
    pacer.observe(_xero({"X-DayLimit-Remaining": "0"}))
    with pytest.raises(RateLimitedDaily), pacer.slot():
        pass


def test_daily_429_headers_block_until_retry_after(vclock: Any) -> None:
    pacer = Pacer("xero:org-1", Limits(), clock=vclock)
    pacer.observe(_xero({"X-Rate-Limit-Problem": "day", "Retry-After": "600"}))
    with pytest.raises(RateLimitedDaily) as info, pacer.slot():
        pass
    assert info.value.retry_after == pytest.approx(600)
    vclock.advance(601)
    with pacer.slot():
        pass


def test_app_window_is_shared_by_the_tenants_of_one_app(vclock: Any) -> None:
    limits = Limits(per_minute=60, app_per_minute=3)
    a, b = Pacer("xero:a", limits, clock=vclock), Pacer("xero:b", limits, clock=vclock)
    other = Pacer("qbo:c", limits, clock=vclock)
    for pacer in (a, b, a):
        with pacer.slot():
            pass
    with other.slot():  # another app: its own window
        pass
    assert vclock.sleeps == []
    with b.slot():
        pass
    assert vclock.sleeps == [pytest.approx(MINUTE_SPAN)]


def test_app_headers_lower_the_app_budget(vclock: Any) -> None:
    limits = Limits(per_minute=60, app_per_minute=100)
    a, b = Pacer("xero:a", limits, clock=vclock), Pacer("xero:b", limits, clock=vclock)
    with a.slot():
        pass
    a.observe(_xero({"X-AppMinLimit-Remaining": "0"}))
    with b.slot():
        pass
    assert vclock.sleeps and vclock.sleeps[0] > 0


def test_limits_must_be_positive() -> None:
    with pytest.raises(ConfigError, match="per_minute"):
        Limits(per_minute=0)


def test_registry_gives_one_pacer_per_key(monkeypatch: pytest.MonkeyPatch) -> None:
    first = get_pacer("xero:org-1", Limits())
    assert get_pacer("xero:org-1", Limits()) is first
    assert get_pacer("xero:org-2", Limits()) is not first
    assert isinstance(first, Pacer)
    set_clock(Clock(60.0))  # a new process clock: stamps of the old one no longer compare
    assert get_pacer("xero:org-1", Limits()) is not first
    pacing.reset_pacers()
    monkeypatch.setenv("ARCONNECT_REDIS_URL", "redis://127.0.0.1:6379/0")
    get_settings.cache_clear()
    assert isinstance(get_pacer("xero:org-1", Limits()), RedisPacer)  # no connection needed yet
