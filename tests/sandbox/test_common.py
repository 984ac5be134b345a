"""What both emulators share (``arconnect.sandbox.common``): the authorize redirect, the bearer
token store, the fault knobs each platform adds, and the same control and ``Host`` answers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
import requests

from arconnect.sandbox.common.http import Request
from arconnect.sandbox.common.oauth import AccessTokens, Authorize, OAuthError
from arconnect.sandbox.common.server import Emulator
from arconnect.sandbox.quickbooks import CompanySpec, QboConfig, QboSandbox
from tests.sandbox.helpers import sandbox_factory

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.fixture
def make_qbo() -> Iterator[Callable[..., QboSandbox]]:
    """A tiny QuickBooks sandbox (the QuickBooks tests' fixtures live in their folder)."""
    with sandbox_factory(lambda: QboSandbox(QboConfig(
            companies=[CompanySpec(customers=5, invoices=30, payments=20)], start=T0,
            strict_limits=False))) as make:
        yield make


def _authorize(method: str, query: dict[str, str], body: bytes = b"") -> Authorize:
    return Authorize.of(Request(method, "/authorize", query, {}, body))


def test_redirect_back_keeps_the_state_and_the_uri_query() -> None:
    auth = _authorize("GET", {"redirect_uri": "https://app.example/cb?x=1", "state": "s 1",
                              "response_type": "token"})
    refused = auth.refusal()
    assert refused is not None and refused.status == 302
    assert refused.headers["Location"] == ("https://app.example/cb?x=1"
                                           "&error=unsupported_response_type&state=s+1")


def test_the_consent_form_adds_its_fields_and_its_decision() -> None:
    auth = _authorize("POST", {"client_id": "app", "response_type": "code"},
                      b"Decision=deny&RealmId=42&scope=a+b")
    assert auth.denied and auth.scope == "a b" and auth.refusal() is None
    assert auth.params["realmid"] == "42"
    hidden = auth.hidden_fields("realmid")
    assert 'name="client_id" value="app"' in hidden
    assert "realmid" not in hidden and "decision" not in hidden


def test_expired_bearers_keep_their_grant() -> None:
    tokens: AccessTokens[str] = AccessTokens()
    tokens.add("t1", "grant-1", T0 + timedelta(hours=1))
    tokens.expire_all(T0)
    entry = tokens.get("t1")
    assert entry is not None and entry[0] == "grant-1" and entry[1] < T0
    assert tokens.get("unknown") is None


def test_oauth_error_body() -> None:
    assert OAuthError("invalid_grant").body() == {"error": "invalid_grant"}
    assert OAuthError("invalid_request", description="no code").body() == {
        "error": "invalid_request", "error_description": "no code"}


@pytest.mark.parametrize(("fixture", "own"), [("make_sb", "rate_limit_storm"),
                                              ("make_qbo", "throttle")])
def test_each_platform_adds_its_knobs_and_names_them_all(
        request: pytest.FixtureRequest, fixture: str, own: str) -> None:
    sb: Emulator = request.getfixturevalue(fixture)()
    knobs = sb.faults.knobs()
    assert {"burst_5xx", "slow", "malformed", "expire_tokens", "clear", own} <= set(knobs)
    wrong = requests.post(f"{sb.url}/_sandbox/faults", json={"fault": "flood"}, timeout=5)
    assert wrong.status_code == 400
    message = wrong.json()["error"]
    assert all(name in message for name in knobs), message


def test_quickbooks_misdirected_host_says_which_names_work(
        make_qbo: Callable[..., QboSandbox]) -> None:
    sb = make_qbo()
    rebound = requests.get(f"{sb.url}/_sandbox/state", headers={"Host": "evil.example"},
                           timeout=5)
    assert rebound.status_code == 421
    assert "127.0.0.1" in rebound.text and "--allowed-host" in rebound.text
