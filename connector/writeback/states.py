"""What arconnect last wrote, per customer and slot (``writeback_state``): the planner's
"last written", against which drift is told apart from our own writes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select

from arconnect.store.upsert import upsert
from arconnect.writeback.model import RELEASES, STATE, VALUE_SETS, Context, now

__all__ = ["put_state", "record_states", "state_of", "write_state"]


def record_states(conn: Any, ctx: Context, ops: list[dict[str, Any]], at: datetime) -> None:
    """What we wrote for each op's customer and slot (value slots keep the customer's own value
    as ``original``, worked out when the plan was made); a value put back, or released, is no
    longer ours."""
    rows = []
    for op in ops:
        if op["action"] in RELEASES or (op["action"] in VALUE_SETS and op.get("restore")):
            conn.execute(delete(STATE).where(
                STATE.c.tenant_id == ctx.tenant.id,
                STATE.c.customer_external_id == op["customer"],
                STATE.c.target == op["slot"]))
            continue
        value: dict[str, Any] = {"value": op["after"]}
        if op["action"] in VALUE_SETS:
            value["original"] = op.get("original")
        rows.append({"tenant_id": ctx.tenant.id, "customer_external_id": op["customer"],
                     "target": op["slot"], "value": value, "written_at": at})
    if rows:
        upsert(conn, STATE, rows, ("tenant_id", "customer_external_id", "target"))


def write_state(conn: Any, ctx: Context, customer: str, slot: str, value: dict[str, Any],
                at: datetime) -> None:
    upsert(conn, STATE, [{"tenant_id": ctx.tenant.id, "customer_external_id": customer,
                          "target": slot, "value": value, "written_at": at}],
           ("tenant_id", "customer_external_id", "target"))


def state_of(ctx: Context, customer: str, slot: str) -> dict[str, Any]:
    """What is recorded for one customer's slot (the customer's own value among it)."""
    with ctx.db.connect() as conn:
        old = conn.execute(select(STATE.c.value).where(
            STATE.c.tenant_id == ctx.tenant.id,
            STATE.c.customer_external_id == customer,
            STATE.c.target == slot)).scalar_one_or_none()
    return dict(old or {})


def put_state(ctx: Context, customer: str, slot: str, value: dict[str, Any]) -> None:
    with ctx.db.begin() as conn:
        write_state(conn, ctx, customer, slot, value, now())
