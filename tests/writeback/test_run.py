"""`arconnect run`: sync ─▶ segment ─▶ write-back per tenant, as a scheduled job runs it."""

from __future__ import annotations

from typer.testing import CliRunner

from arconnect.cli import app, last_plan_text
from arconnect.segmenter.service import lock_customer
from arconnect.services import run_tenants
from arconnect.settings import Settings
from arconnect.store.models import Tenant
from arconnect.writeback import service as wb
from tests.writeback.helpers import XeroEnv, assert_segment_groups, largest_group, sandbox_groups


def test_a_large_first_plan_waits_for_its_approval_then_runs(wb_env: XeroEnv) -> None:
    (first,) = run_tenants(wb_env.db)
    assert first.sync is not None and first.sync.ok and first.customers > 0
    assert first.writeback == "plan ready" and first.plan_id and first.write_calls == 0
    assert "more than 20%" in (first.approval_reason or "")
    assert not [n for n in sandbox_groups(wb_env) if n.startswith("AR: ")]
    # the next scheduled run waits on the same plan: the id the approver has stays valid
    (again,) = run_tenants(wb_env.db)
    assert (again.writeback, again.plan_id) == ("plan ready", first.plan_id)
    wb.approve_plan(wb_env.db, wb_env.tenant, first.plan_id, "controller")
    (approved,) = run_tenants(wb_env.db)
    assert approved.writeback == "applied" and approved.plan_id == first.plan_id, approved.errors
    assert approved.write_calls > 0
    assert_segment_groups(wb_env)
    (quiet,) = run_tenants(wb_env.db)
    assert quiet.writeback == "nothing to write" and quiet.write_calls == 0 and quiet.ok


def settle_then_move_one(env: XeroEnv) -> tuple[str, dict[str, set[str]]]:
    """Approve and apply the first plan, then lock one customer into another segment; returns
    that customer and the groups before the move."""
    (first,) = run_tenants(env.db)
    wb.approve_plan(env.db, env.tenant, str(first.plan_id), "controller")
    assert run_tenants(env.db)[0].writeback == "applied"
    groups = sandbox_groups(env)
    source = largest_group(groups)
    target = next(n for n in ("AR: At risk", "AR: Reliable") if n != source)
    cid = sorted(groups[source])[0]
    lock_customer(env.db, env.tenant, cid, segment=target.removeprefix("AR: "))
    return cid, groups


def test_with_approval_on_every_plan_stops_at_plan_ready(wb_env: XeroEnv) -> None:
    _, groups = settle_then_move_one(wb_env)
    strict = Settings(writeback_approval=True)
    (small,) = run_tenants(wb_env.db, settings=strict)
    assert small.writeback == "plan ready" and small.changes == 1
    assert sandbox_groups(wb_env) == groups  # nothing written
    # without the setting the same small move goes straight through
    (through,) = run_tenants(wb_env.db)
    assert through.writeback == "applied" and through.write_calls > 0
    assert_segment_groups(wb_env)


def test_cli_run_exit_codes(wb_env: XeroEnv) -> None:
    runner = CliRunner()
    ready = runner.invoke(app, ["run"])
    assert ready.exit_code == 3, ready.output
    said = " ".join(ready.output.split())
    assert "waits for an approval" in said
    plan_id = said.split("--approve ")[-1].split("`")[0].strip()
    listed = runner.invoke(app, ["tenants", "list"])
    assert listed.exit_code == 0 and "Tenants" in listed.output
    assert last_plan_text(wb_env.db, wb_env.tenant) == f"{plan_id} ready (needs approval)"
    shown = runner.invoke(app, ["writeback", wb_env.tenant.name, "--plan", plan_id])
    assert shown.exit_code == 0 and plan_id in shown.output
    approve = runner.invoke(app, ["writeback", wb_env.tenant.name, "--approve", plan_id])
    assert approve.exit_code == 0, approve.output
    done = runner.invoke(app, ["run"])
    assert done.exit_code == 0, done.output
    assert "applied" in done.output and plan_id[:12] in done.output
    no_wb = runner.invoke(app, ["run", "--no-writeback"])
    assert no_wb.exit_code == 0 and "off" in no_wb.output


def test_one_tenants_failure_does_not_stop_the_others(two_orgs: tuple[XeroEnv, Tenant]) -> None:
    env, other = two_orgs
    env.sandbox.faults.malformed(1, path_contains="Invoices")  # the first tenant's next page
    results = {r.tenant.id: r for r in run_tenants(env.db)}
    failed, fine = results[env.tenant.id], results[other.id]
    assert failed.sync is not None and failed.sync.status == "failed"
    assert failed.writeback == "skipped" and not failed.ok
    assert any("sync failed" in e for e in failed.errors)
    assert fine.ok and fine.writeback == "plan ready" and fine.plan_id
    # the next run, the fault gone, catches the first tenant up
    again = {r.tenant.id: r for r in run_tenants(env.db)}
    assert again[env.tenant.id].ok and again[env.tenant.id].writeback == "plan ready"


def test_an_overlapping_run_skips_the_tenant_being_synced(wb_env: XeroEnv) -> None:
    from arconnect.store.locks import tenant_lock

    assert wb_env.tenant.id is not None
    with tenant_lock(wb_env.db, "sync", wb_env.tenant.id):  # an earlier run is still syncing
        (skipped,) = run_tenants(wb_env.db)
    assert skipped.ok and skipped.writeback == "skipped" and skipped.plan_id is None
    assert skipped.notes and "another sync" in skipped.notes[0]
    assert not [n for n in sandbox_groups(wb_env) if n.startswith("AR: ")]


def test_a_waiting_plan_that_became_moot_is_superseded(wb_env: XeroEnv) -> None:
    from arconnect.segmenter.service import unlock_customer

    cid, _ = settle_then_move_one(wb_env)
    strict = Settings(writeback_approval=True)
    (waiting,) = run_tenants(wb_env.db, settings=strict)
    assert waiting.writeback == "plan ready"
    unlock_customer(wb_env.db, wb_env.tenant, cid)  # the consultant changes their mind
    (quiet,) = run_tenants(wb_env.db, settings=strict)
    assert quiet.writeback == "nothing to write"
    assert last_plan_text(wb_env.db, wb_env.tenant) == f"{waiting.plan_id} superseded"
