"""Drift: a value someone changed by hand in the ERP since arconnect wrote it. The planner
reports it (:attr:`arconnect.writeback.model.Plan.drift`); ``arconnect drift`` keeps the ERP's
value (adopt) or marks the slot for overwriting by the next plan."""

from __future__ import annotations

from typing import Any

from arconnect.adapters.base import SlotKind
from arconnect.writeback.audit import audit_local
from arconnect.writeback.model import Context, Drift
from arconnect.writeback.states import put_state, state_of

__all__ = ["adopt_drift", "overwrite_drift"]


def adopt_drift(ctx: Context, drift: Drift) -> None:
    """Keep the ERP's value: lock the customer (to the segment whose group or type it holds,
    for a segment slot) and remember the value as ours, so no plan overwrites it."""
    from arconnect.segmenter.service import lock_customer

    segment = None
    now_value: Any = drift.now
    slot = next((s for s in ctx.outbound.named_slots() if s.key == drift.slot), None)
    if slot is not None and slot.kind is SlotKind.MEMBERSHIP:
        now_value = drift.now[0] if len(drift.now) == 1 else None
    if slot is not None and slot.source == "segment" and now_value is not None:
        segment = slot.value_of(now_value)
    # Held while locked: to the ERP's segment for the segment slot, else where it is now.
    lock_customer(ctx.db, ctx.tenant, drift.customer, segment=segment, rules=ctx.rules)
    put_state(ctx, drift.customer, drift.slot,
              {**state_of(ctx, drift.customer, drift.slot), "value": now_value, "held": True})
    audit_local(ctx, drift, "drift.adopt")


def overwrite_drift(ctx: Context, drift: Drift) -> None:
    """Mark the slot so the next plan writes the segments' value over the ERP's."""
    put_state(ctx, drift.customer, drift.slot,
              {**state_of(ctx, drift.customer, drift.slot), "force": True})
    audit_local(ctx, drift, "drift.overwrite")
