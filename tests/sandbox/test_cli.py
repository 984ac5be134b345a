"""``arconnect sandbox serve xero``: prints what a client needs and serves until Ctrl-C."""

from __future__ import annotations

import requests
from typer.testing import CliRunner

from arconnect.sandbox.cli import app, org_specs
from tests.sandbox.helpers import served


def test_org_presets() -> None:
    specs = org_specs(5, customers=10, invoices=100, payments=None)
    assert [s.base_currency for s in specs] == ["NZD", "AUD", "USD", "GBP", "NZD"]
    assert specs[0].name == "Demo Company (NZ)" and specs[4].name == "Demo Company (NZ 2)"
    assert specs[0].payments == 80 and specs[0].suppliers == 5


def test_help_lists_the_options() -> None:
    result = CliRunner().invoke(app, ["serve", "xero", "--help"])
    assert result.exit_code == 0
    for option in ("--port", "--host", "--allow-remote", "--allowed-host", "--seed",
                   "--customers", "--invoices", "--payments", "--orgs", "--relaxed",
                   "--starter", "--time-scale", "--auto-approve", "--consent", "--client-id",
                   "--client-secret"):
        assert option in result.output, option


def test_serve_until_interrupted() -> None:
    with served("xero", "--port", "0", "--customers", "10", "--invoices", "60", "--orgs", "2",
                "--starter", "--client-id", "cli-app", "--client-secret", "cli-secret"
                ) as (url, text):
        assert "cli-app" in text and "cli-secret" in text and "1000/day" in text
        assert text.count("tenant ") == 2
        state = requests.get(f"{url}/_sandbox/state", timeout=5).json()
        assert state["client_id"] == "cli-app" and len(state["orgs"]) == 2
        assert all(org["tenant_id"] in text for org in state["orgs"])
