"""``arconnect sandbox serve netsuite``: explains itself, prints what a client needs and serves
until Ctrl-C."""

from __future__ import annotations

import requests
from typer.testing import CliRunner

from arconnect.sandbox.cli import account_specs, app
from tests.sandbox.helpers import served


def test_account_presets() -> None:
    specs = account_specs(4, customers=10, invoices=100, payments=None, concurrency=5)
    assert [s.account_id for s in specs] == ["1234567_SB1", "7654321", "2345678_SB2",
                                             "1234567_SB12"]
    assert [s.base_currency for s in specs] == ["USD", "GBP", "AUD", "USD"]
    assert specs[0].payments == 80 and specs[0].concurrency_limit == 5
    assert specs[1].timezone == "Europe/London"


def test_help_explains_the_urls_and_lists_the_options() -> None:
    result = CliRunner().invoke(app, ["serve", "netsuite", "--help"], terminal_width=100)
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    for phrase in ("path form", "host form", "1234567_SB1 -> 1234567-sb1", "Host header",
                   "ARCONNECT_NETSUITE_REST_URL", "TBA consumer pair"):
        assert phrase in text, phrase
    for option in ("--port", "--host", "--allow-remote", "--seed", "--customers",
                   "--invoices", "--payments", "--accounts", "--concurrency", "--row-cap",
                   "--relaxed", "--time-scale", "--consent", "--client-id", "--client-secret",
                   "--consumer-key", "--consumer-secret"):
        assert option in result.output, option


def test_remote_host_refused() -> None:
    result = CliRunner().invoke(app, ["serve", "netsuite", "--host", "0.0.0.0"])
    assert result.exit_code == 2


def test_serve_until_interrupted() -> None:
    with served("netsuite", "--port", "0", "--customers", "10", "--invoices", "60",
                "--accounts", "2", "--client-id", "ns-cli", "--consumer-key", "ns-ck"
                ) as (url, text):
        assert f"ARCONNECT_NETSUITE_REST_URL={url}/{{account}}" in text
        assert f"ARCONNECT_NETSUITE_APP_URL={url}/{{account}}" in text
        assert "ns-cli" in text and "netsuite-demo-secret" in text and "ns-ck" in text
        assert "account 1234567_SB1 (1234567-sb1)" in text and "account 7654321" in text
        state = requests.get(f"{url}/_sandbox/state", timeout=5).json()
        first = state["accounts"][0]
        assert f"{first['counts']['customer']} customers" in text
        assert requests.get(f"{url}/1234567-sb1/services/rest/system/v1/governanceLimits",
                            timeout=5).status_code == 401
