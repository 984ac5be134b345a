"""QuickBooks Online on the platform port: error reading (QBO's Faults), webhook signatures,
the port's names."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pytest
import requests

from arconnect.adapters.quickbooks.platform import QuickBooksPlatform
from arconnect.adapters.quickbooks.settings import QboSettings

FIXTURES = Path(__file__).parent.parent / "fixtures" / "qbo_recorded"
PLATFORM = QuickBooksPlatform()


def _fault(code: str, message: str = "m", detail: str = "d") -> dict[str, Any]:
    return {"Fault": {"Error": [{"Message": message, "Detail": detail, "code": code,
                                 "element": ""}], "type": "ValidationFault"},
            "time": "2026-11-23T01:00:00-08:00"}


def _response(status: int, body: Any, headers: dict[str, str] | None = None
              ) -> requests.Response:
    resp = requests.Response()
    resp.status_code = status
    resp._content = body if isinstance(body, bytes) else json.dumps(body).encode()
    resp.headers.update(headers or {})
    return resp


def _batch_faults() -> dict[str, dict[str, Any]]:
    """The Faults of Intuit's batch sample, by code (6240, 610, 5010)."""
    body = json.loads((FIXTURES / "intuit_docs_batch_sample_batch_request_sample_response.json")
                      .read_text())
    out = {}
    for item in body["BatchItemResponse"]:
        if "Fault" in item:
            out[item["Fault"]["Error"][0]["code"]] = {"Fault": item["Fault"]}
    return out


@pytest.mark.parametrize("status,body,action", [
    (401, _fault("3200", "message=AuthenticationFailed; errorCode=003200; statusCode=401"),
     "refresh"),
    (401, b"", "refresh"),
    (429, _fault("003001", "message=ThrottleExceeded; errorCode=003001; statusCode=429"),
     "rate_limited"),
    (500, _fault("10000", "An application error has occurred"), "retry"),
    (503, b"<html>Service Unavailable</html>", "retry"),
    (403, _fault("3100", "message=ApplicationAuthorizationFailed"), "config"),
    (400, _fault("2030", "Invalid ID", "Id not valid"), "data"),
    (400, _fault("4000", "Error parsing query"), "data"),
    (404, b"not found", "data"),
])
def test_parse_error_table(status: int, body: Any, action: str) -> None:
    verdict = PLATFORM.parse_error(_response(status, body))
    assert verdict is not None and verdict.action == action
    assert verdict.retry_after is None  # QBO sends no Retry-After


@pytest.mark.parametrize("code,words", [("5010", "Stale Object Error"),
                                        ("6240", "Duplicate Name Exists Error"),
                                        ("610", "Object Not Found")])
def test_recorded_faults_are_data_with_intuit_message(code: str, words: str) -> None:
    body = _batch_faults()[code]
    verdict = PLATFORM.parse_error(_response(400, body))
    assert verdict is not None and verdict.action == "data"
    assert verdict.message is not None and words in verdict.message
    assert f"(code {code})" in verdict.message
    assert words in PLATFORM.error_message(_response(400, body))


def test_python_quickbooks_fault_shape_reads() -> None:
    fault = json.loads((FIXTURES / "python-quickbooks_test_fault_ValidationFault_2030.json")
                       .read_text())
    message = PLATFORM.error_message(_response(400, {"Fault": fault}))
    assert message == "message: detail (code 2030)"


def test_error_message_without_a_fault_quotes_intuit_tid() -> None:
    resp = _response(400, b"Bad request", {"intuit_tid": "1-abc"})
    assert PLATFORM.error_message(resp) == "Bad request (intuit_tid 1-abc)"


def test_webhook_signature() -> None:
    settings = QboSettings(_env_file=None, webhook_verifier="verifier-token")  # type: ignore[call-arg]
    body = (Path(__file__).parent.parent / "fixtures" / "qbo_recorded"
            / "python-quickbooks_test_cdc_response.json").read_bytes()[:200]
    signature = base64.b64encode(
        hmac.new(b"verifier-token", body, hashlib.sha256).digest()).decode()
    assert PLATFORM.verify_webhook(settings, body, {"intuit-signature": signature})
    assert PLATFORM.verify_webhook(settings, body, {"Intuit-Signature": signature})
    assert not PLATFORM.verify_webhook(settings, body + b" ", {"intuit-signature": signature})
    assert not PLATFORM.verify_webhook(settings, body, {})
    unset = QboSettings(_env_file=None)  # type: ignore[call-arg]
    assert not PLATFORM.verify_webhook(unset, body, {"intuit-signature": signature})


def test_webhook_tenants_in_both_payload_formats() -> None:
    legacy = (FIXTURES / "webhook_legacy_sample_intuit_docs.json").read_bytes()
    assert PLATFORM.webhook_tenants(legacy) == ["1185883450"]
    cloud = (FIXTURES / "webhook_cloudevents_intuit_blog.json").read_bytes()
    assert PLATFORM.webhook_tenants(cloud) == ["310687"]
    twice = json.dumps([{"intuitaccountid": "7"}, {"intuitaccountid": "7"},
                        {"intuitaccountid": "../x"}]).encode()
    assert PLATFORM.webhook_tenants(twice) == ["7"]
    assert PLATFORM.webhook_tenants(b"not json") == []


def test_port_names() -> None:
    assert (PLATFORM.name, PLATFORM.label, PLATFORM.tenant_word) == (
        "quickbooks", "QuickBooks Online", "company")
    assert PLATFORM.customer_entity == "customers" and PLATFORM.idle_expiry_days == 100
    assert PLATFORM.callback_params == ("realmId",) and not PLATFORM.per_tenant_disconnect
    assert PLATFORM.headers(None) == {"Accept": "application/json"}  # type: ignore[arg-type]
    assert PLATFORM.rate_info({}) is None and dict(PLATFORM.transforms()) == {}


def test_a_realm_the_grant_does_not_reach_is_named_with_where_to_find_the_right_one() -> None:
    import pytest as _pytest

    from arconnect.adapters.quickbooks.platform import QuickBooksPlatform
    from arconnect.errors import AuthError, NotFoundError

    class Refusing:  # Intuit answers 403 to a token of another company
        def company_info(self, access_token: str, realm: str) -> dict[str, str]:
            raise AuthError("QuickBooks CompanyInfo: the new access token was refused (HTTP 403)")

    with _pytest.raises(NotFoundError, match=r"does not reach QuickBooks company 123 .*realmId"):
        QuickBooksPlatform().discover(Refusing(), {"access_token": "at"}, {"realmId": "123"})
