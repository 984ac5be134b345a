"""Write-back: plan, approve, apply, audit, drift, rollback and clean-up — the public names.

The work is split by concern; this module re-exports what the CLI, the services, the demo and
the benchmarks call:

* :mod:`~arconnect.writeback.planner` — what to write, per customer and slot, by slot kind
  (membership, reference, scalar), with drift;
* :mod:`~arconnect.writeback.plans` — plan storage, approval, supersede, and
  :func:`plan_or_resume`, the one plan-or-reuse sequence;
* :mod:`~arconnect.writeback.executor` — apply: the writer's calls within the day's budget,
  idempotency keys, audit rows and states in one transaction per call;
* :mod:`~arconnect.writeback.drift` — adopt or overwrite a value changed by hand;
* :mod:`~arconnect.writeback.rollback` — rollback of a run, remove-all;
* :mod:`~arconnect.writeback.audit` — the audit trail.

The platform's :class:`arconnect.adapters.base.Writer` (from the platform registry) owns the
wire format; nothing in this package names a platform.
"""

from __future__ import annotations

from arconnect.adapters.base import ErpState
from arconnect.writeback.audit import audit_rows
from arconnect.writeback.drift import adopt_drift, overwrite_drift
from arconnect.writeback.executor import LOCAL_ACTIONS, apply_plan, calls_today, min_write_calls
from arconnect.writeback.model import ApplyResult, Context, Drift, Plan
from arconnect.writeback.planner import build_plan, read_erp
from arconnect.writeback.plans import (
    PlanChoice,
    approve_plan,
    load_plan,
    pending_plan,
    plan_or_resume,
    plans,
    ready_plan,
    same_plan,
    save_plan,
    supersede_ready,
)
from arconnect.writeback.rollback import has_written, plan_remove_all, plan_rollback

__all__ = [
    "LOCAL_ACTIONS", "ApplyResult", "Context", "Drift", "ErpState", "Plan", "PlanChoice",
    "adopt_drift", "apply_plan", "approve_plan", "audit_rows", "build_plan", "calls_today",
    "has_written", "load_plan", "min_write_calls", "overwrite_drift", "pending_plan",
    "plan_or_resume", "plan_remove_all", "plan_rollback", "plans", "read_erp", "ready_plan",
    "same_plan", "save_plan", "supersede_ready",
]
