"""What every part of write-back shares: the context of one tenant's write-back, the plan and
its results, and the store tables they live in.

Nothing here talks to the ERP or decides anything; :mod:`~arconnect.writeback.planner` plans,
:mod:`~arconnect.writeback.plans` stores, :mod:`~arconnect.writeback.executor` applies.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from arconnect.adapters.base import ErpState, HttpClient, Writer
from arconnect.segmenter.rules import Rules
from arconnect.settings import Settings
from arconnect.store.models import (
    Customer,
    SegmentAssignment,
    Tenant,
    WritebackLog,
    WritebackObject,
    WritebackPlan,
    WritebackState,
)
from arconnect.writeback.outbound import Outbound, check_targets

__all__ = ["ApplyResult", "Context", "Drift", "ErpState", "Plan", "now"]

A = SegmentAssignment.__table__  # type: ignore[attr-defined]
C = Customer.__table__  # type: ignore[attr-defined]
STATE = WritebackState.__table__  # type: ignore[attr-defined]
LOG = WritebackLog.__table__  # type: ignore[attr-defined]
PLAN = WritebackPlan.__table__  # type: ignore[attr-defined]
OBJ = WritebackObject.__table__  # type: ignore[attr-defined]

# Operations that set a value slot (reference or scalar) and those that stop managing one
# without a call (the API cannot clear it).
VALUE_SETS = ("terms.set", "field.set")
RELEASES = ("terms.release", "field.release")
CREATES = ("group.create", "object.create")


def now() -> datetime:
    return datetime.now(UTC)


@dataclass
class StoredCustomer:
    """A customer as the store holds it, with its segment assignment (None: not segmented)."""

    id: str
    name: str | None
    archived: bool
    row: dict[str, Any]  # terms_days, terms_type, extra: what the writer reads values from
    assignment: dict[str, Any] | None
    priority: float


@dataclass
class Drift:
    """A value someone changed by hand in the ERP since arconnect wrote it."""

    customer: str
    name: str | None
    slot: str
    written: Any
    now: Any
    desired: Any
    locked: bool


@dataclass
class Plan:
    """A planned write-back (also what is stored in ``writeback_plan``)."""

    id: str
    tenant: Tenant
    kind: str
    ops: list[dict[str, Any]]
    drift: list[Drift] = field(default_factory=list)
    needs_approval: bool = False
    approval_reason: str | None = None
    status: str = "ready"
    summary: dict[str, Any] = field(default_factory=dict)
    approved_by: str | None = None
    rollback_of: str | None = None
    erp: ErpState | None = None  # what the plan was made against (not stored)


@dataclass
class ApplyResult:
    plan: Plan
    status: str  # applied | partial | failed
    write_calls: int = 0
    done: int = 0
    failed: int = 0
    remaining: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass
class Context:
    """Everything a write-back of one tenant needs: the store, the ERP client, the platform's
    writer, the outbound mapping (held to what the writer can write when the context is made:
    a :class:`~arconnect.errors.MappingError` with ``file:line`` otherwise) and the rules
    (tags -> dimensions).

    ``warnings`` holds what the mapping check found doubtful (a name longer than the platform's
    stated limit); ``refresh`` re-reads the customers into the store before each plan.
    """

    db: Engine
    tenant: Tenant
    client: HttpClient
    outbound: Outbound
    rules: Rules
    writer: Writer
    settings: Settings
    refresh: Callable[[], None] | None = None
    warnings: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.warnings = check_targets(self.outbound, self.writer.targets, self.writer.platform)

    @property
    def tag_dimension(self) -> dict[str, str]:
        return {t: d.name for d in self.rules.dimensions for t in d.tags}

    @property
    def limit_note(self) -> bool:
        """Whether a credit limit change is noted in the customer's history (the mapping's
        ``history_note``, by default when the platform can)."""
        if self.outbound.limit_note is None:
            return self.writer.targets.limit_note
        return self.outbound.limit_note


def tenant_id(ctx: Context) -> int:
    assert ctx.tenant.id is not None
    return ctx.tenant.id
