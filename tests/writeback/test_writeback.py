"""Write-back against the Xero sandbox: sync ─▶ segment ─▶ plan ─▶ apply ─▶ the ERP's state."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, text

from arconnect.store.models import SegmentAssignment
from arconnect.writeback import service as wb
from tests.writeback.helpers import XeroEnv, context, sandbox_groups


def desired(env: XeroEnv) -> dict[str, str]:
    """ContactID -> the segment group it should be in."""
    t = SegmentAssignment.__table__  # type: ignore[attr-defined]
    with env.db.connect() as conn:
        rows = conn.execute(select(t.c.customer_external_id, t.c.segment).where(
            t.c.tenant_id == env.tenant.id)).all()
        archived = {r[0] for r in conn.execute(text(
            "SELECT external_id FROM customer WHERE is_archived"))}
    return {str(c).lower(): f"AR: {s}" for c, s in rows if c not in archived}


def apply_all(env: XeroEnv, **settings: Any) -> wb.ApplyResult:
    ctx = context(env, **settings)
    plan = wb.build_plan(ctx)
    wb.save_plan(env.db, plan)
    return wb.apply_plan(ctx, plan, approved_by="tester", fresh=True)


def test_write_back_reaches_the_desired_state_and_a_second_run_writes_nothing(
        wb_env: XeroEnv) -> None:
    own_groups = {n: m for n, m in sandbox_groups(wb_env).items() if not n.startswith("AR: ")}
    result = apply_all(wb_env)
    assert result.status == "applied", result.errors
    groups = sandbox_groups(wb_env)
    want = desired(wb_env)
    for cid, group in want.items():
        assert cid in groups[group], (cid, group)
        assert sum(cid in m for n, m in groups.items() if n.startswith("AR: ")) == 1
    # the organisation's own groups are untouched
    assert {n: m for n, m in groups.items() if not n.startswith("AR: ")} == own_groups
    again = apply_all(wb_env)
    assert again.write_calls == 0

