"""``arconnect sandbox serve quickbooks``: prints what a client needs and serves until
Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import requests
from typer.testing import CliRunner

from arconnect.sandbox.cli import app, company_specs


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
    proc = subprocess.Popen(
        [sys.executable, "-u", "-m", "arconnect.sandbox.cli", "serve", "quickbooks", "--port",
         "0", "--customers", "10", "--invoices", "60", "--client-id", "qbo-cli",
         "--client-secret", "qbo-cli-secret"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert proc.stdout is not None
        lines = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if "control API" in line:
                break
        text = "".join(lines)
        url = lines[0].split()[-1]
        assert url.startswith("http://127.0.0.1:")
        assert f"ARCONNECT_QBO_API_URL={url}" in text
        assert "qbo-cli" in text and "qbo-cli-secret" in text
        state = requests.get(f"{url}/_sandbox/state", timeout=5).json()
        assert state["companies"][0]["realm_id"] in text
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
