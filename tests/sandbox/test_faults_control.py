"""Fault injection and the HTTP control API (what a test in another process drives)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import requests

from .conftest import Client


def test_burst_5xx_then_recovery(make_sb: Any) -> None:
    sb = make_sb()
    c = Client(sb)
    sb.faults.burst_5xx(2, status=503)
    assert [c.get("Invoices", {"page": 1}).status_code for _ in range(3)] == [503, 503, 200]
    sb.faults.burst_5xx(1, status=500, path_contains="/connect/token")
    r = requests.post(f"{sb.url}/connect/token", data={"grant_type": "refresh_token"},
                      timeout=10)
    assert r.status_code == 500
    with pytest.raises(ValueError):
        sb.faults.burst_5xx(1, status=429)


@pytest.mark.parametrize("kind", ["json", "missing_id", "unknown_status"])
def test_malformed_bodies(make_sb: Any, kind: str) -> None:
    sb = make_sb()
    c = Client(sb)
    sb.faults.malformed(1, kind=kind, path_contains="Invoices")
    assert c.get("Contacts", {"page": 1}).status_code == 200  # not targeted
    r = c.get("Invoices", {"page": 1})
    assert r.status_code == 200
    if kind == "json":
        with pytest.raises(ValueError):
            json.loads(r.text)
    else:
        first = r.json()["Invoices"][0]
        if kind == "missing_id":
            assert "InvoiceID" not in first
        else:
            assert first["Status"] == "MYSTERY"
    clean = c.get("Invoices", {"page": 1}).json()["Invoices"][0]
    assert "InvoiceID" in clean and clean["Status"] != "MYSTERY"


def test_slow_and_expire_tokens(make_sb: Any) -> None:
    sb = make_sb()
    c = Client(sb)
    sb.faults.slow(0.2, n=1)
    t0 = time.monotonic()
    assert c.get("Organisation").status_code == 200
    assert time.monotonic() - t0 >= 0.2
    sb.faults.expire_tokens()
    r = c.get("Organisation")
    assert r.status_code == 401 and r.json()["Detail"].startswith("TokenExpired")
    fresh = requests.post(f"{sb.url}/connect/token", timeout=10, data={
        "grant_type": "refresh_token", "refresh_token": c.tokens["refresh_token"],
        "client_id": sb.config.client_id, "client_secret": sb.config.client_secret}).json()
    c.tokens = fresh
    assert c.get("Organisation").status_code == 200


def test_control_api_over_http(make_sb: Any) -> None:
    sb = make_sb(strict_limits=True)
    base = f"{sb.url}/_sandbox"
    state = requests.get(f"{base}/state", timeout=10).json()
    assert state["orgs"][0]["tenant_id"] == sb.orgs[0].tenant_id
    assert state["orgs"][0]["counts"]["invoices"] == len(sb.orgs[0].invoices)
    before = sb.clock.now()
    moved = requests.post(f"{base}/clock", json={"advance": 3600}, timeout=10).json()
    assert moved["now"] >= (before.replace(microsecond=0)).isoformat()
    assert (sb.clock.now() - before).total_seconds() >= 3600
    tokens = requests.post(f"{base}/grants", json={}, timeout=10).json()
    c = Client(sb, tokens=tokens)
    armed = requests.post(f"{base}/faults", json={"fault": "burst_5xx", "n": 1,
                                                  "status": 502}, timeout=10).json()
    assert armed["armed"][0]["status"] == 502
    assert c.get("Organisation").status_code == 502
    requests.post(f"{base}/faults", json={"fault": "malformed", "n": 1, "kind": "missing_id"},
                  timeout=10)
    assert "InvoiceID" not in c.get("Invoices", {"page": 1}).json()["Invoices"][0]
    bad = requests.post(f"{base}/faults", json={"fault": "nonsense"}, timeout=10)
    assert bad.status_code == 400
    summary = requests.post(f"{base}/mutate", json={"tenant_id": c.tenant_id, "n": 12,
                                                    "seed": 3}, timeout=10).json()
    assert summary["touched"] > 0 and summary["invoices"]
    stats = requests.get(f"{base}/stats", timeout=10).json()
    assert stats[c.tenant_id]["calls"] == 2
    assert stats[c.tenant_id]["paths"] == {"GET /api.xro/2.0/Organisation": 1,
                                           "GET /api.xro/2.0/Invoices": 1}
    assert requests.post(f"{base}/stats/reset", json={}, timeout=10).json() == {"reset": True}
    assert requests.get(f"{base}/stats", timeout=10).json() == {}
    narrow = requests.post(f"{base}/grants", json={"tenant_ids": [c.tenant_id]},
                           timeout=10).json()
    assert Client(sb, tokens=narrow).get("Organisation").status_code == 200
    unknown = requests.post(f"{base}/grants", json={"tenant_ids": ["nope"]}, timeout=10)
    assert unknown.status_code == 400
    requests.post(f"{base}/faults", json={"fault": "expire_tokens"}, timeout=10)
    assert c.get("Organisation").status_code == 401
    assert requests.post(f"{base}/revoke", json={}, timeout=10).json() == {"revoked": True}
    r = requests.post(f"{sb.url}/connect/token", timeout=10, data={
        "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"],
        "client_id": sb.config.client_id, "client_secret": sb.config.client_secret})
    assert r.json() == {"error": "invalid_grant"}
    assert requests.get(f"{base}/nothing", timeout=10).status_code == 404
