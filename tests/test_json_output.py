"""``--format json``: one JSON document on stdout and nothing else, for scripts."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from arconnect.services import writeback_context
from tests.clitools import HOSTILE_CUSTOMERS, HOSTILE_TENANT, arconnect, hostile_org


def _document(*args: str, code: int = 0) -> Any:
    run = arconnect(*args, "--format", "json", code=code)
    return json.loads(run.stdout)  # the whole of stdout is one document


def _take_out_of_its_group(env: Any, name: str) -> None:
    """Someone removes the customer called ``name`` from its group by hand in Xero."""
    ctx = writeback_context(env.db, env.tenant)
    cid = next(k for k, c in env.org.contacts.items() if c["Name"] == name)
    for gid in ctx.writer.read_groups(ctx.client).values():
        members = {str(m).lower() for m in ctx.writer.read_members(ctx.client, gid)}
        if str(cid).lower() in members:
            resp = ctx.client.request("DELETE", ctx.writer.full_path(
                f"ContactGroups/{gid}/Contacts/{cid}"))
            assert resp.status_code < 300


def test_json_documents(monkeypatch: pytest.MonkeyPatch, sqlite_url: str) -> None:
    with hostile_org(monkeypatch, sqlite_url) as env:
        tenant = str(env.tenant.id)
        arconnect("sync")

        (listed,) = _document("tenants", "list")
        assert listed["name"] == HOSTILE_TENANT  # data exactly as the ERP holds it
        assert {"id", "platform", "name", "external_id", "base_currency", "status",
                "status_detail", "last_sync_at", "writeback_plan"} <= listed.keys()
        assert listed["status"] == "active" and listed["writeback_plan"] is None

        (segmented,) = _document("segment")
        assert {"tenant", "rules", "run_date", "dry_run", "currency", "customers", "changed",
                "segments", "changes"} <= segmented.keys()
        assert segmented["tenant"]["id"] == env.tenant.id
        assert segmented["changed"] == len(segmented["changes"]) == segmented["customers"]
        assert sum(s["customers"] for s in segmented["segments"]) == segmented["customers"]
        assert set(HOSTILE_CUSTOMERS) <= {c["name"] for c in segmented["changes"]}
        change = segmented["changes"][0]
        assert {"customer_id", "name", "from", "to", "credit_limit", "reasons"} <= change.keys()
        assert change["from"] is None and isinstance(change["reasons"], list)
        assert isinstance(segmented["segments"][0]["open"], float)  # amounts are numbers
        # every KPI per segment and of the whole ledger
        assert {"overdue_share", "dso", "cei", "avg_days_late", "late_share", "credit_limits",
                "opening_receivables", "sales", "aging"} <= segmented["segments"][0].keys()
        assert segmented["ledger"]["customers"] == segmented["customers"]
        assert segmented["kpi_period"]["days"] == 90

        (diffed,) = _document("rules", "diff", "upflow")
        assert diffed["new_rules"] == "upflow" and diffed["customers"] == 10
        assert sum(m["customers"] for m in diffed["moves"]) == 10
        assert diffed["moving"] == sum(m["customers"] for m in diffed["moves"]
                                       if m["from"] != m["to"])

        preview = arconnect("writeback", tenant, "--dry-run")
        plan_id = re.search(r"--plan (wb-[\w-]+)", " ".join(preview.stdout.split()))[1]  # type: ignore[index]
        (listed,) = _document("tenants", "list")
        assert listed["writeback_plan"] == {"id": plan_id, "status": "ready",
                                            "needs_approval": True}
        arconnect("writeback", tenant, "--apply", "--plan", plan_id)
        _take_out_of_its_group(env, HOSTILE_CUSTOMERS[2])

        drift = _document("drift", tenant)
        (found,) = drift["drift"]
        assert found["name"] == HOSTILE_CUSTOMERS[2] and found["slot"].startswith("group")
        assert {"customer_id", "we_wrote", "erp_has_now", "segments_want", "locked"} <= (
            found.keys())
        assert drift["adopted"] == drift["overwritten"] == []
        adopted = _document("drift", tenant, "--adopt", found["customer_id"])
        assert [a["customer_id"] for a in adopted["adopted"]] == [found["customer_id"]]


@pytest.mark.parametrize("command", [("tenants", "list"), ("segment",), ("rules", "diff",
                                     "upflow"), ("drift", "1"), ("run",)])
def test_an_unknown_format_is_a_user_error_before_anything_runs(
        command: tuple[str, ...], tmp_path: Path) -> None:
    run = arconnect(*command, "--format", "yaml", code=2)
    assert str(run.result.exception) == "--format 'yaml': use table or json. Nothing was done"
    assert not list(tmp_path.glob("*.db"))  # not even the store was opened


def test_run_json_is_the_only_thing_on_stdout(monkeypatch: pytest.MonkeyPatch,
                                              sqlite_url: str) -> None:
    with hostile_org(monkeypatch, sqlite_url) as env:
        # the first plan moves every customer: it waits for an approval (exit code 3)
        (ran,) = _document("run", code=3)
        assert ran["tenant"]["name"] == HOSTILE_TENANT and ran["ok"] is True
        assert ran["sync"]["status"] == "ok" and ran["sync"]["records"]["invoices"] == 80
        assert ran["customers"] == ran["changed"] == 10
        assert ran["writeback"] == "plan ready" and ran["plan_id"].startswith("wb-")
        assert ran["approval_reason"] and ran["errors"] == []
        (again,) = _document("run", "--no-writeback")
        assert again["writeback"] == "off" and again["changed"] == 0
        assert again["sync"]["api_calls"] >= 1 and env.tenant.id == again["tenant"]["id"]
