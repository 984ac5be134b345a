"""The concurrency cap follows the platform: a limit the server states replaces the configured
one (up or down), a refusal for too many in flight lowers it by one, and a quiet minute raises
it back one step at a time."""

from __future__ import annotations

import threading
import time
from typing import Any

import requests
import responses

from arconnect.adapters.base import ErrorVerdict, RateInfo
from arconnect.clock import Clock
from arconnect.http import ApiClient
from arconnect.pacing import RAISE_AFTER, Limits, Pacer


def _peak(pacer: Pacer, threads: int) -> int:
    """The most calls inside the pacer at once, ``threads`` threads each making one call."""
    inside = peak = 0
    lock = threading.Lock()

    def work() -> None:
        nonlocal inside, peak
        with pacer.slot():
            with lock:
                inside += 1
                peak = max(peak, inside)
            time.sleep(0.03)
            with lock:
                inside -= 1

    pool = [threading.Thread(target=work) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return peak


def test_a_stated_limit_replaces_the_setting_up_and_down() -> None:
    pacer = Pacer("netsuite:1", Limits(per_minute=10_000, concurrency=2), clock=Clock(1.0))
    pacer.observe(RateInfo(concurrency=4))
    assert pacer.concurrency == 4
    assert _peak(pacer, 8) == 4
    pacer.observe(RateInfo(concurrency=1))
    assert _peak(pacer, 4) == 1


def test_a_refusal_lowers_the_cap_and_quiet_time_raises_it_back(vclock: Any) -> None:
    pacer = Pacer("netsuite:1", Limits(per_minute=10_000, concurrency=3), clock=vclock)
    with pacer.slot(), pacer.slot():  # two in flight when the server refuses
        pacer.observe(RateInfo(concurrency_exceeded=True))
    assert pacer.concurrency == 1
    pacer.observe(RateInfo(concurrency_exceeded=True))
    assert pacer.concurrency == 1  # never below one
    vclock.advance(RAISE_AFTER - 1)
    with pacer.slot():
        pass
    assert pacer.concurrency == 1
    vclock.advance(1)
    with pacer.slot():
        pass
    assert pacer.concurrency == 2
    vclock.advance(RAISE_AFTER)
    with pacer.slot():
        pass
    assert pacer.concurrency == 3
    vclock.advance(10 * RAISE_AFTER)
    with pacer.slot():
        pass
    assert pacer.concurrency == 3  # never above the stated ceiling


@responses.activate
def test_a_concurrency_429_lowers_the_cap_of_the_client(vclock: Any, tokens: Any) -> None:
    responses.add(responses.GET, "https://api.test/x", status=429, json={})
    responses.add(responses.GET, "https://api.test/x", status=200, json={"ok": True})
    pacer = Pacer("netsuite:1", Limits(per_minute=10_000, concurrency=4), clock=vclock)

    def verdict(response: requests.Response) -> ErrorVerdict | None:
        if response.status_code == 429:
            return ErrorVerdict("rate_limited", "CONCURRENCY_LIMIT_EXCEEDED", concurrency=True)
        return None

    client = ApiClient("https://api.test", token_provider=tokens, pacer=pacer, clock=vclock,
                       parse_error=verdict)
    assert client.request("GET", "/x").json() == {"ok": True}
    assert pacer.concurrency == 1
    client.observe(RateInfo(concurrency=6))
    assert pacer.concurrency == 6


@responses.activate
def test_other_429s_leave_the_cap_alone(vclock: Any, tokens: Any) -> None:
    responses.add(responses.GET, "https://api.test/x", status=429, json={})
    responses.add(responses.GET, "https://api.test/x", status=200, json={})
    pacer = Pacer("xero:1", Limits(per_minute=10_000, concurrency=4), clock=vclock)
    client = ApiClient("https://api.test", token_provider=tokens, pacer=pacer, clock=vclock)
    client.request("GET", "/x")
    assert pacer.concurrency == 4
