"""The NetSuite platform object: the port's members, error verdicts, discovery, the signer
it hands the engine, and the grant expiry warning."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
import responses

from arconnect.adapters.base import ErrorVerdict, Platform, TenantInfo
from arconnect.adapters.netsuite import credentials
from arconnect.adapters.netsuite.platform import NetSuitePlatform
from arconnect.adapters.netsuite.settings import NsSettings
from arconnect.errors import NotFoundError
from arconnect.platforms import get_platform

ACCOUNT = "1234567_SB1"
REST = "https://1234567-sb1.suitetalk.api.netsuite.com"
SETTINGS = NsSettings()
PLATFORM = NetSuitePlatform()


def _response(status: int, body: Any = None, *, url: str = REST + "/services/rest/query/v1/"
              "suiteql", authorization: str = "Bearer at") -> requests.Response:
    resp = requests.Response()
    resp.status_code = status
    resp._content = json.dumps(body).encode() if body is not None else b""
    resp.url = url
    resp.request = requests.Request("POST", url, headers={"Authorization": authorization}
                                    ).prepare()
    return resp


def _error(status: int, code: str, detail: str) -> dict[str, Any]:
    return {"type": "https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html", "title": "x",
            "status": status, "o:errorDetails": [{"detail": detail, "o:errorCode": code}]}


def test_registered_and_complete() -> None:
    port = get_platform("netsuite")
    assert isinstance(port, NetSuitePlatform)
    members = [n for n in dir(Platform) if not n.startswith("_")] + list(
        Platform.__annotations__)
    assert [m for m in members if not hasattr(port, m)] == []
    assert (port.name, port.label, port.tenant_word, port.tenant_id_option,
            port.callback_params, port.idle_expiry_days, port.per_tenant_disconnect,
            port.env_prefix) == ("netsuite", "NetSuite", "account", "account", ("company",),
                                 None, False, "ARCONNECT_NETSUITE")
    assert port.base_url(SETTINGS, TenantInfo(ACCOUNT)) == REST
    assert port.limits(NsSettings(concurrency=3)).concurrency == 3
    assert port.verify_webhook(SETTINGS, b"{}", {}) is False
    assert port.transforms() == {}


@pytest.mark.parametrize(("status", "body", "kw", "verdict"), [
    (401, _error(401, "INVALID_LOGIN", "Invalid login attempt."), {}, "refresh"),
    (401, _error(401, "INVALID_LOGIN", "Invalid login attempt."),
     {"authorization": 'OAuth realm="1234567_SB1", oauth_token="t"'}, "refresh"),
    (429, _error(429, "CONCURRENCY_LIMIT_EXCEEDED", "Concurrent request limit exceeded."), {},
     "rate_limited"),
    (503, None, {}, "retry"),
    (403, _error(403, "INSUFFICIENT_PERMISSION", "Permission denied."), {}, "config"),
    (400, _error(400, "INVALID_PARAMETER", "Invalid search query."), {}, "data"),
    (404, _error(404, "NONEXISTENT_ID", "Record not found."), {}, "data"),
    (403, _error(403, "INSUFFICIENT_PERMISSION", "no"),
     {"url": REST + "/services/rest/system/v1/governanceLimits"}, "return"),
])
def test_parse_error(status: int, body: Any, kw: dict[str, str], verdict: str) -> None:
    found = PLATFORM.parse_error(_response(status, body, **kw))
    assert isinstance(found, ErrorVerdict) and found.action == verdict
    if status == 429:
        assert found.concurrency is True
        assert "Concurrent request limit exceeded. (CONCURRENCY_LIMIT_EXCEEDED)" in str(
            found.message)
    assert PLATFORM.parse_error(_response(204)) is None


def test_error_message() -> None:
    body = {"o:errorDetails": [{"detail": "Error while accessing resource: bad", "o:errorCode":
                                "INVALID_CONTENT", "o:errorPath": "item.items[0].item"}]}
    assert PLATFORM.error_message(_response(400, body)) == (
        "Error while accessing resource: bad (INVALID_CONTENT) at item.items[0].item")
    assert PLATFORM.error_message(_response(502, None)) == ""


@responses.activate
def test_discover_names_the_account_by_its_root_subsidiary() -> None:
    responses.post(REST + "/services/rest/query/v1/suiteql", json={"items": [
        {"links": [], "id": "1", "name": "Acme Holdings Inc.", "currency": "1"},
        {"links": [], "id": "2", "name": "Acme UK", "currency": "2", "parent": "1"}],
        "hasMore": False})
    oauth = PLATFORM.oauth(SETTINGS, "cid", "cs", tenant=ACCOUNT)
    secret = credentials.encode("code", ACCOUNT, refresh_token="r")
    found = PLATFORM.discover(oauth, {"access_token": "at", "refresh_token": secret},
                              {"company": ACCOUNT})
    assert [(d.external_id, d.name) for d in found] == [(ACCOUNT, "Acme Holdings Inc.")]
    assert responses.calls[0].request.headers["Authorization"] == "Bearer at"
    with pytest.raises(NotFoundError, match="7654321"):
        PLATFORM.discover(oauth, {"access_token": "at", "refresh_token": secret},
                          {"company": "7654321"})


@responses.activate
def test_discover_without_oneworld_and_with_tba() -> None:
    responses.post(REST + "/services/rest/query/v1/suiteql", status=400, json=_error(
        400, "INVALID_PARAMETER", "Record 'subsidiary' was not found."))
    secret = credentials.encode("tba", ACCOUNT, token_id="t", token_secret="ts",
                                consumer_key="ck", consumer_secret="cs")
    oauth = PLATFORM.oauth(SETTINGS, "ck", "cs")
    token = oauth.refresh(secret)
    [found] = PLATFORM.discover(oauth, token, {})
    assert (found.external_id, found.name) == (ACCOUNT, f"NetSuite account {ACCOUNT}")
    assert responses.calls[0].request.headers["Authorization"].startswith(
        'OAuth realm="1234567_SB1"')


def test_headless_grant_uses_the_configured_algorithm() -> None:
    with pytest.raises(Exception, match="RS256"):
        PLATFORM.headless_grant(NsSettings(jwt_algorithm="RS256"), {
            "account": ACCOUNT, "client_id": "c", "certificate_id": "k", "private_key": "x"})
