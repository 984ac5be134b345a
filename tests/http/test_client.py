"""ApiClient: every action of the status table, against `responses` (no network, no real
sleeps beyond a few scaled milliseconds)."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import pytest
import requests
import responses

from arconnect import __version__
from arconnect.adapters.xero.platform import XeroPlatform
from arconnect.clock import Clock
from arconnect.errors import AuthError, ConfigError, RateLimitedDaily, UpstreamError
from arconnect.http import (
    BACKOFF_BASE,
    BACKOFF_CAP,
    MAX_RATE_LIMIT_WAITS,
    Action,
    ApiClient,
    backoff_seconds,
    classify,
    make_session,
    retry_after_seconds,
)
from arconnect.pacing import Limits, Pacer

BASE = "https://api.example.test"
PATH = "/api.xro/2.0/Invoices"
URL = BASE + PATH
KEY = "xero:org-1"
XERO = XeroPlatform()  # the platform whose error reading and rate headers these tests use


def _client(tokens: Any, clock: Clock, **kwargs: Any) -> ApiClient:
    limits = kwargs.pop("limits", Limits(per_minute=1000, app_per_minute=100000))
    return ApiClient(
        BASE,
        token_provider=tokens,
        default_headers={"xero-tenant-id": "org-1", "Accept": "application/json"},
        pacer=Pacer(KEY, limits, clock=clock),
        clock=clock,
        timeout=5.0,
        max_attempts=kwargs.pop("max_attempts", 4),
        parse_error=kwargs.pop("parse_error", XERO.parse_error),
        rate_info=kwargs.pop("rate_info", XERO.rate_info),
        **kwargs,
    )


def _response(status: int, headers: dict[str, str] | None = None) -> requests.Response:
    resp = requests.Response()
    resp.status_code = status
    resp.headers.update(headers or {})
    return resp


# -- the table -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "headers", "action"),
    [
        (200, {}, Action.RETURN),
        (204, {}, Action.RETURN),
        (304, {}, Action.RETURN),
        (400, {}, Action.RETURN),
        (403, {}, Action.RETURN),
        (404, {}, Action.RETURN),
        (401, {}, Action.REFRESH),
        (429, {}, Action.RATE_LIMITED),
        (429, {"X-Rate-Limit-Problem": "minute"}, Action.RATE_LIMITED),
        (429, {"X-Rate-Limit-Problem": "appminute"}, Action.RATE_LIMITED),
        (429, {"X-Rate-Limit-Problem": "concurrent"}, Action.RATE_LIMITED),
        (429, {"X-Rate-Limit-Problem": "day"}, Action.DAILY_LIMIT),
        (429, {"x-rate-limit-problem": "Day "}, Action.DAILY_LIMIT),
        (500, {}, Action.BACKOFF),
        (502, {}, Action.BACKOFF),
        (503, {}, Action.BACKOFF),
        (504, {}, Action.BACKOFF),
    ],
)
def test_status_table(status: int, headers: dict[str, str], action: Action) -> None:
    response = _response(status, headers)
    assert classify(response, XERO.parse_error(response)) is action


def test_retry_after_forms() -> None:
    assert retry_after_seconds(_response(429, {"Retry-After": "17"})) == 17.0
    assert retry_after_seconds(_response(429, {"Retry-After": "junk"})) is None
    assert retry_after_seconds(_response(429)) is None
    date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 120))
    assert 110 <= (retry_after_seconds(_response(429, {"Retry-After": date})) or 0) <= 121


def test_backoff_is_full_jitter_capped() -> None:
    for failures in range(1, 12):
        high = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (failures - 1))
        waits = [backoff_seconds(failures) for _ in range(50)]
        assert all(0 <= w <= high for w in waits)
    assert max(backoff_seconds(20) for _ in range(200)) > BACKOFF_CAP / 2


def test_session_has_no_urllib3_retries() -> None:
    session = make_session(7)
    adapter = session.get_adapter("https://api.xero.com")
    assert adapter.max_retries.total == 0  # type: ignore[attr-defined]
    assert adapter._pool_maxsize == 7  # type: ignore[attr-defined]
    assert session.headers["User-Agent"] == f"arconnect/{__version__}"


# -- RETURN ----------------------------------------------------------------------------------------


@responses.activate
def test_success_sends_auth_default_and_call_headers(tokens: Any, vclock: Any) -> None:
    responses.get(URL, json={"Invoices": []}, status=200)
    client = _client(tokens, vclock)
    resp = client.request("GET", PATH, params={"page": 1}, headers={"If-Modified-Since": "x"})
    assert resp.json() == {"Invoices": []}
    sent = responses.calls[0].request
    assert sent.headers["Authorization"] == "Bearer tok-1"
    assert sent.headers["xero-tenant-id"] == "org-1"
    assert sent.headers["If-Modified-Since"] == "x"
    assert sent.headers["User-Agent"] == f"arconnect/{__version__}"
    assert sent.url == URL + "?page=1"
    assert (client.calls, client.retries, client.http_429s, client.refreshes) == (1, 0, 0, 0)


@pytest.mark.parametrize("status", [304, 400, 403, 404, 422])
@responses.activate
def test_other_statuses_are_returned_without_retry(status: int, tokens: Any, vclock: Any) -> None:
    responses.post(URL, status=status, body="" if status == 304 else "{}")
    client = _client(tokens, vclock)
    assert client.request("POST", PATH, json={"a": 1}).status_code == status
    assert client.calls == 1 and client.retries == 0 and vclock.sleeps == []


@responses.activate
def test_a_spent_monthly_budget_stops_before_sending(tokens: Any, vclock: Any) -> None:
    responses.get(URL, json={}, status=200)
    client = _client(tokens, vclock, max_calls=2)
    client.request("GET", PATH)
    client.request("GET", PATH)
    with pytest.raises(RateLimitedDaily, match="monthly call budget is spent"):
        client.request("GET", PATH)
    assert len(responses.calls) == 2 and client.calls == 2


@responses.activate
def test_a_platforms_own_signature_replaces_the_bearer_header(tokens: Any, vclock: Any) -> None:
    responses.get(URL, json={}, status=200)

    def sign(method: str, url: str, params: Any, token: str) -> dict[str, str]:
        return {"Authorization": f'OAuth realm="1", sig="{method} {url} {token}"'}

    _client(tokens, vclock, sign=sign).request("GET", PATH)
    sent = responses.calls[0].request.headers["Authorization"]
    assert sent == f'OAuth realm="1", sig="GET {URL} tok-1"'


# -- REFRESH ---------------------------------------------------------------------------------------


@responses.activate
def test_401_refreshes_once_with_the_stale_token_then_retries(tokens: Any, vclock: Any) -> None:
    responses.get(URL, status=401)
    responses.get(URL, status=200, json={})
    client = _client(tokens, vclock)
    assert client.request("GET", PATH).status_code == 200
    assert tokens.refreshed_with == ["tok-1"]
    assert [c.request.headers["Authorization"] for c in responses.calls] == [
        "Bearer tok-1", "Bearer tok-2",
    ]
    assert (client.calls, client.refreshes, client.retries) == (2, 1, 1)


@responses.activate
def test_second_401_is_an_auth_error(tokens: Any, vclock: Any) -> None:
    responses.get(URL, status=401)
    responses.get(URL, status=401)
    responses.get(URL, status=200)
    client = _client(tokens, vclock)
    with pytest.raises(AuthError) as info:
        client.request("GET", PATH)
    assert KEY in str(info.value) and "401" in str(info.value)
    assert "tok-" not in str(info.value)
    assert tokens.refreshed_with == ["tok-1"]
    assert client.calls == 2


# -- DAILY_LIMIT -----------------------------------------------------------------------------------


@responses.activate
def test_daily_limit_raises_at_once(tokens: Any, vclock: Any) -> None:
    responses.get(
        URL, status=429,
        headers={"X-Rate-Limit-Problem": "DAY", "Retry-After": "12000",
                 "X-DayLimit-Remaining": "0"},
    )
    client = _client(tokens, vclock)
    with pytest.raises(RateLimitedDaily) as info:
        client.request("GET", PATH)
    err = info.value
    assert err.retry_after == 12000
    assert KEY in str(err) and "3 h 20 min" in str(err)
    assert client.calls == 1 and client.http_429s == 1 and vclock.sleeps == []
    # The pacer now knows: the next call does not reach the server.
    with pytest.raises(RateLimitedDaily):
        client.request("GET", PATH)
    assert len(responses.calls) == 1


# -- RATE_LIMITED ----------------------------------------------------------------------------------


@responses.activate
def test_429_waits_retry_after_clock_seconds(tokens: Any, vclock: Any) -> None:
    responses.get(URL, status=429, headers={"Retry-After": "7", "X-Rate-Limit-Problem": "minute"})
    responses.get(URL, status=200)
    client = _client(tokens, vclock)
    assert client.request("GET", PATH).status_code == 200
    assert vclock.sleeps == [7.0]
    assert (client.calls, client.http_429s, client.retries) == (2, 1, 1)


@responses.activate
def test_retry_after_on_a_scaled_clock_sleeps_scaled_real_time(tokens: Any) -> None:
    clock = Clock(scale=600.0)  # Retry-After: 30 clock seconds = 0.05 real seconds
    responses.get(URL, status=429, headers={"Retry-After": "30"})
    responses.get(URL, status=200)
    client = _client(tokens, clock)
    started = time.monotonic()
    assert client.request("GET", PATH).status_code == 200
    elapsed = time.monotonic() - started
    assert 0.045 <= elapsed < 0.2


@responses.activate
def test_429s_do_not_use_up_attempts_but_are_bounded(tokens: Any, vclock: Any) -> None:
    for _ in range(8):
        responses.get(URL, status=429, headers={"Retry-After": "1"})
    responses.get(URL, status=200)
    client = _client(tokens, vclock, max_attempts=2)
    assert client.request("GET", PATH).status_code == 200  # 8 waits > max_attempts

    responses.reset()
    responses.get(URL, status=429, headers={"Retry-After": "0"})
    with pytest.raises(UpstreamError) as info:
        client.request("GET", PATH)
    assert info.value.status == 429
    assert "GET" in str(info.value) and PATH in str(info.value)
    assert len(responses.calls) == MAX_RATE_LIMIT_WAITS + 1


@responses.activate
def test_429_without_retry_after_backs_off(tokens: Any, vclock: Any) -> None:
    responses.get(URL, status=429)
    responses.get(URL, status=200)
    client = _client(tokens, vclock)
    assert client.request("GET", PATH).status_code == 200
    assert len(vclock.sleeps) == 1 and 0 <= vclock.sleeps[0] <= BACKOFF_BASE


# -- BACKOFF ---------------------------------------------------------------------------------------


@responses.activate
def test_5xx_burst_recovers_with_growing_jittered_waits(tokens: Any, vclock: Any) -> None:
    for status in (503, 502, 500):
        responses.get(URL, status=status)
    responses.get(URL, status=200, json={"ok": True})
    client = _client(tokens, vclock, max_attempts=4)
    assert client.request("GET", PATH).json() == {"ok": True}
    assert len(vclock.sleeps) == 3
    for n, slept in enumerate(vclock.sleeps, start=1):
        assert 0 <= slept <= BACKOFF_BASE * 2 ** (n - 1)
    assert (client.calls, client.retries) == (4, 3)


@responses.activate
def test_persistent_5xx_is_an_upstream_error(tokens: Any, vclock: Any) -> None:
    responses.get(URL, status=500)
    responses.get(URL, status=503)
    client = _client(tokens, vclock, max_attempts=3)
    with pytest.raises(UpstreamError) as info:
        client.request("get", PATH)
    message = str(info.value)
    assert info.value.status == 503
    assert "GET" in message and PATH in message and "503" in message and KEY in message
    assert len(responses.calls) == 3 and client.retries == 2


@responses.activate
def test_connection_errors_and_timeouts_back_off(tokens: Any, vclock: Any) -> None:
    responses.get(URL, body=requests.ConnectionError("refused"))
    responses.get(URL, body=requests.ReadTimeout("slow"))
    responses.get(URL, status=200)
    client = _client(tokens, vclock)
    assert client.request("GET", PATH).status_code == 200
    assert len(vclock.sleeps) == 2 and client.calls == 3

    responses.reset()
    responses.get(URL, body=requests.ConnectTimeout("down"))
    with pytest.raises(UpstreamError) as info:
        client.request("GET", PATH)
    assert info.value.status is None and "ConnectTimeout" in str(info.value)


# -- pacing, stats, hooks, secrets -----------------------------------------------------------------


@responses.activate
def test_every_response_reaches_the_pacer_and_the_hook(tokens: Any, vclock: Any) -> None:
    responses.get(URL, status=500, headers={"X-MinLimit-Remaining": "1"})
    responses.get(URL, status=200, headers={"X-MinLimit-Remaining": "0"})
    responses.get(URL, status=200)
    seen: list[int] = []
    client = _client(tokens, vclock, limits=Limits(per_minute=60),
                     on_response=lambda r: seen.append(r.status_code))
    client.request("GET", PATH)
    assert seen == [500, 200]
    before = vclock.now
    client.request("GET", PATH)  # the server said 0 left: the pacer waits for the window
    assert vclock.now - before >= 60


@responses.activate
def test_stats_are_thread_safe(tokens: Any) -> None:
    responses.get(URL, status=200)
    client = _client(tokens, Clock(1.0), limits=Limits(per_minute=1000, concurrency=4))

    def work() -> None:
        for _ in range(25):
            client.request("GET", PATH)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert client.calls == 100


@responses.activate
def test_tokens_never_logged(tokens: Any, vclock: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    responses.get(URL, status=401)
    responses.get(URL, status=503)
    responses.get(URL, status=429, headers={"Retry-After": "1"})
    responses.get(URL, status=200)
    client = _client(tokens, vclock)
    client.request("GET", PATH)
    assert caplog.records, "the retries were logged"
    assert "tok-" not in caplog.text and "Bearer" not in caplog.text


def test_bad_base_url_is_a_config_error(tokens: Any, vclock: Any) -> None:
    client = ApiClient("api.example.test", token_provider=tokens,
                       pacer=Pacer(KEY, Limits(), clock=vclock), clock=vclock)
    with pytest.raises(ConfigError, match="bad API URL"):
        client.request("GET", PATH)
    assert vclock.sleeps == []


@responses.activate
def test_unretryable_send_failures_are_upstream_errors(tokens: Any, vclock: Any) -> None:
    responses.get(URL, body=requests.TooManyRedirects("loop"))
    client = _client(tokens, vclock)
    with pytest.raises(UpstreamError, match="TooManyRedirects"):
        client.request("GET", PATH)
    assert client.calls == 1 and vclock.sleeps == []
