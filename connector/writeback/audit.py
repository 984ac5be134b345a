"""The audit trail: one ``writeback_log`` row per operation, with before, after, reason, plan,
approver, time and the ERP's answer; and the reader behind ``arconnect audit``."""

from __future__ import annotations

import getpass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select

from arconnect.store.models import Tenant
from arconnect.writeback.model import LOG, C, Context, Drift, Plan, now

__all__ = ["audit_local", "audit_rows", "op_row"]


def op_row(ctx: Context, plan: Plan, i: int, ok: bool, at: datetime, call_id: str | None,
           response: dict[str, Any]) -> dict[str, Any]:
    """The audit row of operation ``i`` of ``plan`` (``response``: how the ERP answered)."""
    op = plan.ops[i]
    return dict(
        tenant_id=ctx.tenant.id, plan_id=plan.id, customer_external_id=op["customer"],
        operation=op["action"], target=op["after"] if op["slot"] == "object" else op["slot"],
        before={"value": op["before"]}, after={"value": op["after"]}, reason=op["reason"],
        approved_by=plan.approved_by, status="ok" if ok else "error",
        response={"op": i, **response}, created_at=at, call_id=call_id)


def audit_local(ctx: Context, drift: Drift, operation: str) -> None:
    """Audit a decision about drift taken here (no call to the ERP)."""
    with ctx.db.begin() as conn:
        conn.execute(LOG.insert().values(
            tenant_id=ctx.tenant.id, customer_external_id=drift.customer, operation=operation,
            target=drift.slot, before={"value": drift.written}, after={"value": drift.now},
            reason=f"{operation.split('.')[1]} by {getpass.getuser()}",
            approved_by=getpass.getuser(), status="ok", response=None, created_at=now()))


def audit_rows(db: Engine, tenant: Tenant, *, plan_id: str | None = None,
               customer: str | None = None, since: datetime | None = None,
               limit: int = 200) -> list[dict[str, Any]]:
    """The audit trail, newest first: one row per operation with before, after, reason, plan,
    approver, time and the ERP's answer (and the customer's name, ``customer_name``).
    ``customer`` is the customer's ERP id or its name."""
    query = select(LOG, C.c.name.label("customer_name")).select_from(LOG.outerjoin(
        C, (C.c.tenant_id == LOG.c.tenant_id)
        & (C.c.external_id == LOG.c.customer_external_id))).where(
        LOG.c.tenant_id == tenant.id)
    if plan_id:
        query = query.where(LOG.c.plan_id == plan_id)
    if customer:
        query = query.where((LOG.c.customer_external_id == customer) | (C.c.name == customer))
    if since:
        query = query.where(LOG.c.created_at >= since)
    with db.connect() as conn:
        rows = conn.execute(query.order_by(LOG.c.id.desc()).limit(limit)).mappings().all()
    return [dict(r) for r in rows]
