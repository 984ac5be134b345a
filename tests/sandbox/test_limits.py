"""Rate limits on the sandbox clock: minute, day, app-wide and concurrency 429s and headers."""

from __future__ import annotations

import threading
import time
from typing import Any

from .conftest import Client


def test_minute_limit_429_and_headers(make_sb: Any) -> None:
    sb = make_sb(strict_limits=True)
    c = Client(sb)
    first = c.get("Organisation")
    assert first.headers["X-MinLimit-Remaining"] == "59"
    assert first.headers["X-DayLimit-Remaining"] == "4999"
    assert first.headers["X-AppMinLimit-Remaining"] == "9999"
    for _ in range(59):
        assert c.get("Organisation").status_code == 200
    sb.clock.advance(20)
    r = c.get("Organisation")
    assert r.status_code == 429
    assert r.headers["X-Rate-Limit-Problem"] == "minute"
    assert 39 <= int(r.headers["Retry-After"]) <= 41
    assert r.headers["X-MinLimit-Remaining"] == "0"
    stats = sb.stats[c.tenant_id]
    assert stats.calls == 61 and stats.rate_limited["minute"] == 1
    assert stats.paths["GET /api.xro/2.0/Organisation"] == 61
    sb.clock.advance(41)  # the fixed window reopens
    ok = c.get("Organisation")
    assert ok.status_code == 200 and ok.headers["X-MinLimit-Remaining"] == "59"
    sb.stats.reset()
    assert sb.stats[c.tenant_id].calls == 0


def test_day_limit_starter(make_sb: Any) -> None:
    sb = make_sb(strict_limits=True, day_limit=70)
    c = Client(sb)
    for _ in range(60):
        assert c.get("Organisation").status_code == 200
    sb.clock.advance(60)
    for _ in range(10):
        assert c.get("Organisation").status_code == 200
    r = c.get("Organisation")
    assert r.status_code == 429 and r.headers["X-Rate-Limit-Problem"] == "day"
    assert r.headers["X-DayLimit-Remaining"] == "0"
    assert 86000 < int(r.headers["Retry-After"]) <= 86400
    sb.clock.advance(86400)
    c.tokens = sb.create_grant()  # a day later the access token has long expired
    assert c.get("Organisation").status_code == 200


def test_app_minute_limit_across_orgs(make_sb: Any) -> None:
    from arconnect.sandbox.xero import OrgSpec

    small = {"customers": 5, "invoices": 20, "payments": 10, "suppliers": 1, "bills": 2}
    sb = make_sb(strict_limits=True, app_minute_limit=8,
                 orgs=[OrgSpec(name="A", **small), OrgSpec(name="B", **small)])
    tokens = sb.create_grant()
    a, b = Client(sb, sb.orgs[0].tenant_id, tokens), Client(sb, sb.orgs[1].tenant_id, tokens)
    for _ in range(4):
        assert a.get("Organisation").status_code == 200
        assert b.get("Organisation").status_code == 200
    r = a.get("Organisation")
    assert r.status_code == 429 and r.headers["X-Rate-Limit-Problem"] == "appminute"
    assert "Retry-After" in r.headers


def test_concurrency_limit(make_sb: Any) -> None:
    sb = make_sb(strict_limits=True)
    c = Client(sb)
    sb.faults.slow(0.4, n=5)
    results: list[int] = []

    def call() -> None:
        results.append(Client(sb, tokens=c.tokens).get("Organisation").status_code)

    threads = [threading.Thread(target=call) for _ in range(5)]
    for t in threads:
        t.start()
    time.sleep(0.15)
    sixth = c.get("Organisation")
    for t in threads:
        t.join()
    assert results == [200] * 5
    assert sixth.status_code == 429
    assert sixth.headers["X-Rate-Limit-Problem"] == "concurrent"
    assert c.get("Organisation").status_code == 200


def test_retry_after_is_in_sandbox_seconds_on_a_scaled_clock(make_sb: Any) -> None:
    # 120x: a 60 s window lasts 0.5 real s, room for 61 calls on a busy machine (a 0.1 s
    # window at 600x could close twice in a row before the 61st call, so no 429 came)
    sb = make_sb(strict_limits=True, time_scale=120.0)
    c = Client(sb)
    for _ in range(60):
        c.get("Organisation")
    r = c.get("Organisation")
    if r.status_code == 200:  # a window may have rolled over meanwhile (120x speed)
        for _ in range(60):
            r = c.get("Organisation")
            if r.status_code == 429:
                break
    assert r.status_code == 429
    # what Xero would say (≤ 60 s to the window's end); at 120x that is ≤ 0.5 real s
    assert 1 <= int(r.headers["Retry-After"]) <= 60
    time.sleep(int(r.headers["Retry-After"]) / 120 + 0.02)
    assert c.get("Organisation").status_code == 200


def test_relaxed_never_429(shared_sb: Any) -> None:
    c = Client(shared_sb)
    codes = {c.get("Organisation").status_code for _ in range(70)}
    assert codes == {200}
    assert "X-MinLimit-Remaining" not in c.get("Organisation").headers  # no budget to report


def test_rate_limit_storm_spends_the_next_windows(make_sb: Any) -> None:
    sb = make_sb(strict_limits=True)
    c = Client(sb)
    sb.faults.rate_limit_storm(c.tenant_id, windows=2)
    for _ in range(2):  # each window is spent the moment it opens
        r = c.get("Organisation")
        assert r.status_code == 429
        assert r.headers["X-Rate-Limit-Problem"] == "minute"
        assert r.headers["X-MinLimit-Remaining"] == "0"
        sb.clock.advance(int(r.headers["Retry-After"]))
    assert c.get("Organisation").status_code == 200  # the storm has passed
    assert sb.stats[c.tenant_id].rate_limited["minute"] == 2
