"""Xero on the platform port: its error reading, rate headers and webhook signature."""

from __future__ import annotations

import base64
import hashlib
import hmac

import requests

from arconnect.adapters.base import ErrorVerdict, RateInfo
from arconnect.adapters.xero.platform import XeroPlatform
from arconnect.adapters.xero.settings import load_xero_settings

XERO = XeroPlatform()


def _response(status: int, headers: dict[str, str]) -> requests.Response:
    resp = requests.Response()
    resp.status_code = status
    resp.headers.update(headers)
    return resp


def test_a_429_for_the_day_is_a_spent_quota_and_the_others_wait() -> None:
    day = XERO.parse_error(_response(429, {"X-Rate-Limit-Problem": "day"}))
    assert day == ErrorVerdict("quota", "the daily API limit is spent")
    minute = XERO.parse_error(_response(429, {"X-Rate-Limit-Problem": "minute"}))
    assert minute is not None and minute.action == "rate_limited"
    assert XERO.parse_error(_response(500, {})) is None  # the engine's default: back off


def test_rate_headers_say_what_is_left() -> None:
    info = XERO.rate_info({"X-MinLimit-Remaining": "7", "X-DayLimit-Remaining": "4000",
                           "X-AppMinLimit-Remaining": "9000"})
    assert info == RateInfo(minute=7, day=4000, app_minute=9000)
    spent = XERO.rate_info({"X-Rate-Limit-Problem": "day", "Retry-After": "120"})
    assert spent == RateInfo(day_spent=True, retry_after=120.0)
    assert XERO.rate_info({"Content-Type": "application/json"}) is None


def test_a_webhook_is_verified_with_the_apps_key() -> None:
    settings = load_xero_settings(webhook_key="webhook-key-from-xero")
    body = b'{"events":[],"firstEventSequence":0,"lastEventSequence":0,"entropy":"S0"}'
    signature = base64.b64encode(hmac.new(b"webhook-key-from-xero", body,
                                          hashlib.sha256).digest()).decode()
    assert XERO.verify_webhook(settings, body, {"x-xero-signature": signature})
    assert not XERO.verify_webhook(settings, body + b" ", {"x-xero-signature": signature})
    assert not XERO.verify_webhook(settings, body, {})
    assert not XERO.verify_webhook(load_xero_settings(), body, {"x-xero-signature": signature})
