"""Throttles (429 ThrottleExceeded without Retry-After, on the scaled clock), fault knobs and
request counters."""

from __future__ import annotations

import threading
from collections.abc import Callable

import requests

from arconnect.sandbox.quickbooks import QboSandbox

from .conftest import Api


def _is_throttle(resp: requests.Response) -> bool:
    if resp.status_code != 429 or "Retry-After" in resp.headers:
        return False
    error = resp.json()["Fault"]["Error"][0]
    return error["code"] == "3001" and "ThrottleExceeded" in error["Message"]


def test_minute_limit_then_window_reopens(make_qbo: Callable[..., QboSandbox]) -> None:
    sb = make_qbo(strict_limits=True, minute_limit=20, clock_scale=60.0)
    api = Api(sb)
    answers = [api.get("companyinfo/" + api.realm) for _ in range(20)]
    assert all(r.status_code == 200 for r in answers)
    over = api.get("preferences")
    assert _is_throttle(over)
    assert sb.stats.throttled["minute"] == 1
    sb.clock.advance(60)
    assert api.get("preferences").status_code == 200


def test_default_limit_is_500_a_minute(make_qbo: Callable[..., QboSandbox]) -> None:
    sb = make_qbo(strict_limits=True)
    assert sb.throttle.minute == 500 and sb.throttle.concurrent == 10
    assert sb.throttle.batch_minute == 40


def test_batch_limit(make_qbo: Callable[..., QboSandbox]) -> None:
    sb = make_qbo(strict_limits=True, batch_minute_limit=2)
    api = Api(sb)
    body = {"BatchItemRequest": [{"bId": "1", "Query": "SELECT * FROM Term"}]}
    assert [api.post("batch", body).status_code for _ in range(2)] == [200, 200]
    assert _is_throttle(api.post("batch", body))
    assert api.query("SELECT * FROM Term").status_code == 200  # other calls still pass


def test_concurrency_limit(make_qbo: Callable[..., QboSandbox]) -> None:
    sb = make_qbo(strict_limits=True, concurrent_limit=1)
    api = Api(sb)
    sb.faults.slow(0.4, n=1, path_contains="/preferences")
    slow = threading.Thread(target=Api(sb, api.tokens).get, args=("preferences",))
    slow.start()
    try:
        deadline = 50
        while sb.stats["read"] < 1 and deadline:
            threading.Event().wait(0.01)
            deadline -= 1
        assert _is_throttle(api.get("companyinfo/" + api.realm))
    finally:
        slow.join()


def test_relaxed_limits_count_but_never_refuse(make_qbo: Callable[..., QboSandbox]) -> None:
    sb = make_qbo(minute_limit=3)
    api = Api(sb)
    assert all(api.get("preferences").status_code == 200 for _ in range(5))
    assert sb.stats["read"] == 5 and not sb.stats.throttled


def test_fault_knobs(make_qbo: Callable[..., QboSandbox]) -> None:
    sb = make_qbo()
    api = Api(sb)
    sb.faults.throttle(2)
    assert _is_throttle(api.get("preferences")) and _is_throttle(api.get("preferences"))
    sb.faults.burst_5xx(1, status=502)
    assert api.get("preferences").status_code == 502
    sb.faults.malformed(1, kind="missing_id", path_contains="/query")
    rows = api.query("SELECT * FROM Term").json()["QueryResponse"]["Term"]
    assert "Id" not in rows[0] and "Id" in rows[1]
    sb.faults.malformed(1)
    broken = api.get("preferences")
    assert broken.status_code == 200
    try:
        broken.json()
        raise AssertionError("the body should not parse")
    except ValueError:
        pass
    sb.faults.expire_tokens()
    assert api.get("preferences").status_code == 401
    fresh = Api(sb)
    assert fresh.get("preferences").status_code == 200
    assert sb.faults.revoke_grant(fresh.realm) >= 1
    assert fresh.get("preferences").status_code == 401


def test_stats_by_kind(make_qbo: Callable[..., QboSandbox]) -> None:
    sb = make_qbo()
    api = Api(sb)
    api.query("SELECT * FROM Term")
    api.get("cdc", entities="Invoice", changedSince="2026-11-20T00:00:00-08:00")
    api.post("batch", {"BatchItemRequest": [{"bId": "1", "Query": "SELECT * FROM Term"}]})
    api.get("invoice/1")
    requests.post(f"{sb.url}/oauth2/v1/tokens/bearer", auth=(sb.client_id, sb.client_secret),
                  data={"grant_type": "refresh_token",
                        "refresh_token": api.tokens["refresh_token"]}, timeout=5)
    counts = sb.stats.as_dict()["kinds"]
    assert counts == {"query": 1, "cdc": 1, "batch": 1, "read": 1, "token": 1}
    assert sb.stats.by_realm[api.realm]["query"] == 1
    sb.stats.reset()
    assert sb.stats["query"] == 0


def test_control_api(make_qbo: Callable[..., QboSandbox]) -> None:
    sb = make_qbo()
    state = requests.get(f"{sb.url}/_sandbox/state", timeout=5).json()
    assert state["client_id"] == sb.client_id and state["companies"][0]["realm_id"]
    grant = requests.post(f"{sb.url}/_sandbox/grants", json={}, timeout=5).json()
    assert grant["realmId"] == sb.companies[0].realm_id
    refused = requests.post(f"{sb.url}/_sandbox/clock", data="advance=60", timeout=5)
    assert refused.status_code == 415
    moved = requests.post(f"{sb.url}/_sandbox/clock", json={"advance": 60}, timeout=5)
    assert moved.status_code == 200
    made = requests.post(f"{sb.url}/_sandbox/mutate", json={"n": 12}, timeout=5).json()
    assert sum(made["counts"].values()) >= 8
    rebound = requests.get(f"{sb.url}/_sandbox/state", headers={"Host": "evil.example"},
                           timeout=5)
    assert rebound.status_code == 421
