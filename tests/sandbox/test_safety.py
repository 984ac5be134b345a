"""The sandbox is safe to run on a developer's machine: loopback only unless asked, no
cross-site control calls, no DNS rebinding."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from typer.testing import CliRunner

from arconnect.sandbox import cli
from arconnect.sandbox.common.loopback import RemoteRefused, is_loopback
from arconnect.sandbox.xero import XeroSandbox

from .conftest import small_config


def test_loopback_names() -> None:
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "", "::", "192.168.1.5", "example.com"))


def test_cli_refuses_a_non_loopback_host_without_allow_remote() -> None:
    result = CliRunner().invoke(cli.app, ["serve", "xero", "--host", "0.0.0.0", "--port", "0"])
    assert result.exit_code == 2
    assert "0.0.0.0 is not a loopback address" in result.output
    assert "--allow-remote" in result.output
    assert "Traceback" not in result.output and "listening" not in result.output


def test_cli_allow_remote_warns_and_serves(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    def probe() -> None:  # instead of blocking until Ctrl-C: look at the running sandbox
        url = f"http://127.0.0.1:{seen['port']}"
        seen["state"] = requests.get(f"{url}/_sandbox/state", timeout=5).status_code
        seen["evil"] = requests.get(f"{url}/_sandbox/state", headers={"Host": "evil.example"},
                                    timeout=5).status_code
        seen["named"] = requests.get(f"{url}/_sandbox/state",
                                     headers={"Host": f"dev-box:{seen['port']}"},
                                     timeout=5).status_code

    real_start = XeroSandbox.start

    def start(self: XeroSandbox, *args: Any, **kwargs: Any) -> str:
        url = real_start(self, *args, **kwargs)
        seen["port"] = url.rsplit(":", 1)[1]
        return url

    monkeypatch.setattr(cli, "_wait_forever", probe)
    monkeypatch.setattr(XeroSandbox, "start", start)
    result = CliRunner().invoke(cli.app, [
        "serve", "xero", "--host", "0.0.0.0", "--port", "0", "--allow-remote",
        "--allowed-host", "dev-box", "--customers", "3", "--invoices", "10"])
    assert result.exit_code == 0, result.output
    assert "WARNING: serving on 0.0.0.0 with --allow-remote" in result.output
    assert seen == {"port": seen["port"], "state": 200, "evil": 421, "named": 200}


def test_library_refuses_a_non_loopback_host() -> None:
    sb = XeroSandbox(small_config())
    with pytest.raises(RemoteRefused, match="allow_remote"):
        sb.start(host="0.0.0.0")
    with pytest.raises(RuntimeError, match="not running"):
        _ = sb.url  # nothing was bound


def test_host_header_must_name_the_loopback_server(shared_sb: XeroSandbox) -> None:
    port = shared_sb.url.rsplit(":", 1)[1]
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", "localhost"):
        r = requests.get(f"{shared_sb.url}/_sandbox/state", headers={"Host": host}, timeout=5)
        assert r.status_code == 200, host
    # A page whose DNS name was rebound to 127.0.0.1 sends its own name: refused, on every
    # path, before anything is read or changed.
    grants = len(shared_sb.identity.grants)
    for method, path in (("GET", "/_sandbox/state"), ("POST", "/_sandbox/grants"),
                         ("GET", "/connections"), ("GET", "/api.xro/2.0/Organisation")):
        r = requests.request(method, f"{shared_sb.url}{path}", json={}, timeout=5,
                             headers={"Host": f"attacker.example:{port}"})
        assert r.status_code == 421, path
        assert "attacker.example" in r.text and shared_sb.config.client_secret not in r.text
    assert len(shared_sb.identity.grants) == grants


@pytest.mark.parametrize("kind", ["text/plain", "application/x-www-form-urlencoded",
                                  "multipart/form-data; boundary=x", None])
def test_control_writes_need_a_json_content_type(shared_sb: XeroSandbox,
                                                 kind: str | None) -> None:
    grants = len(shared_sb.identity.grants)
    headers = {"Content-Type": kind} if kind else {}
    r = requests.post(f"{shared_sb.url}/_sandbox/grants", data=b"{}", headers=headers,
                      timeout=5)
    assert r.status_code == 415
    assert "Content-Type: application/json" in r.json()["error"]
    assert "access_token" not in r.text and len(shared_sb.identity.grants) == grants


def test_control_writes_with_json_still_work(shared_sb: XeroSandbox) -> None:
    r = requests.post(f"{shared_sb.url}/_sandbox/grants", json={}, timeout=5)
    assert r.status_code == 200 and r.json()["access_token"]
    r = requests.post(f"{shared_sb.url}/_sandbox/clock", data=b'{"advance": 0}',
                      headers={"Content-Type": "application/json; charset=utf-8"}, timeout=5)
    assert r.status_code == 200
