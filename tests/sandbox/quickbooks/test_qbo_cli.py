"""``arconnect sandbox serve quickbooks``: prints what a client needs and serves until
Ctrl-C."""

from __future__ import annotations

import requests
from typer.testing import CliRunner

from arconnect.sandbox.cli import app, company_specs
from tests.sandbox.helpers import served


def test_company_presets() -> None:
    specs = company_specs(4, customers=10, invoices=100, payments=None)
    assert [s.home_currency for s in specs] == ["USD", "GBP", "AUD", "USD"]
    assert specs[0].name == "Sandbox Company US 1" and specs[3].name == "Sandbox Company US 2"
    assert specs[0].payments == 80 and specs[0].offset == "-08:00"


def test_help_lists_the_options() -> None:
    result = CliRunner().invoke(app, ["serve", "quickbooks", "--help"])
    assert result.exit_code == 0
    for option in ("--port", "--host", "--allow-remote", "--seed", "--customers",
                   "--invoices", "--payments", "--companies", "--relaxed", "--time-scale",
                   "--consent", "--production-keys", "--redirect-uri", "--client-id",
                   "--client-secret"):
        assert option in result.output, option


def test_remote_host_refused() -> None:
    result = CliRunner().invoke(app, ["serve", "quickbooks", "--host", "0.0.0.0"])
    assert result.exit_code == 2


def test_serve_until_interrupted() -> None:
    with served("quickbooks", "--port", "0", "--customers", "10", "--invoices", "60",
                "--client-id", "qbo-cli", "--client-secret", "qbo-cli-secret") as (url, text):
        assert f"ARCONNECT_QBO_API_URL={url}" in text
        assert "qbo-cli" in text and "qbo-cli-secret" in text
        state = requests.get(f"{url}/_sandbox/state", timeout=5).json()
        assert state["companies"][0]["realm_id"] in text
