"""Honest previews of rules: ``arconnect rules diff`` and ``arconnect segment --dry-run``.

A preview compares what a rule set decides now with what the store holds (the results of the
last segment run), customer by customer, and says for each one that does not move *why*: the
rules alone would move it, but ``hysteresis.min_days_in_segment`` holds it (it entered its
segment too recently), a dimension's ``margin`` holds it (it kept a tag within the margin), or a
manual lock does. The reason comes from :func:`arconnect.segmenter.rules.assign` itself
(``Assignment.held_by``), never re-derived here. With ``hysteresis=False`` the preview shows
where the rules alone would put every customer (locks still hold): the steady state the
hysteresis is slowing down.

The header names both rule sets: the one the stored results came from (recorded with each
assignment, ``segment_assignment.rules`` and ``rules_digest``) and the one being previewed.
Nothing is written.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Engine, select

from arconnect.segmenter.rules import Assignment, Lock, Rules, assign
from arconnect.segmenter.service import SegmentRun, segment_tenant
from arconnect.store.models import SegmentAssignment, Tenant

__all__ = ["STATUSES", "PreviewRow", "RulesPreview", "preview_rules", "preview_run"]

_ASSIGNMENTS = SegmentAssignment.__table__  # type: ignore[attr-defined]

# Each customer of a preview is in exactly one of these, in this order of display.
STATUSES = {
    "moving": "would move now",
    "held_min_days": "held by min_days_in_segment",
    "held_margin": "held by a margin",
    "locked": "held by a manual lock",
    "staying": "staying",
}
_HELD = {"min_days": "held_min_days", "margin": "held_margin", "lock": "locked"}


@dataclass(frozen=True)
class PreviewRow:
    """One customer in a preview.

    Attributes:
        stored: the segment the store holds (``None``: never segmented).
        segment: where the previewed rules put the customer now.
        status: a key of :data:`STATUSES`.
        rules_say: for a held customer, where the rules alone would put it.
        reason: for a held customer, the rule that holds it, in words.
    """

    customer_id: str
    name: str | None
    stored: str | None
    segment: str
    status: str
    rules_say: str | None = None
    reason: str | None = None


@dataclass
class RulesPreview:
    """A rule set against the stored results of one tenant (see the module's docstring)."""

    tenant: Tenant
    run_date: date
    rules: Rules
    hysteresis: bool
    # (rules, digest) of the stored results -> customers: normally one entry; ``(None, None)``
    # for results stored before the rules were recorded.
    stored_rules: dict[tuple[str | None, str | None], int] = field(default_factory=dict)
    rows: list[PreviewRow] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for r in self.rows if r.status == status)

    def counts(self) -> dict[str, int]:
        return {status: self.count(status) for status in STATUSES}

    def moves(self) -> dict[tuple[str | None, str], int]:
        """``{(stored segment, segment now): customers}`` for every customer."""
        return dict(Counter((r.stored, r.segment) for r in self.rows))

    def held(self) -> list[PreviewRow]:
        return [r for r in self.rows if r.status in ("held_min_days", "held_margin", "locked")]

    def stored_label(self) -> str:
        """The rules the stored results came from, in words."""
        if not self.stored_rules:
            return "nothing stored yet"
        parts = []
        for (ref, digest), n in sorted(self.stored_rules.items(), key=lambda kv: -kv[1]):
            what = (f"{ref} (sha256 {digest[:12]})" if ref and digest else
                    "rules not recorded (segmented before arconnect stored them)")
            parts.append(what if len(self.stored_rules) == 1 else f"{what}: {n:,} customers")
        return "; ".join(parts)

    def same_rules(self) -> bool:
        """The previewed rules are, byte for byte, those of every stored result."""
        return set(self.stored_rules) == {(self.rules.ref or self.rules.source,
                                           self.rules.digest)}


def _status(a: Assignment, stored: str | None) -> str:
    if a.segment != stored:
        return "moving"
    return _HELD.get(a.held_by or "", "staying")


def preview_run(db: Engine, run: SegmentRun, rules: Rules, *,
                hysteresis: bool = True) -> RulesPreview:
    """The preview of a dry run of ``rules`` (:func:`segment_tenant` with ``dry_run=True``)
    against the tenant's stored results; ``hysteresis=False`` re-evaluates each customer with
    the margins and the minimum days ignored."""
    tenant = run.tenant
    assert tenant.id is not None
    a = _ASSIGNMENTS.c
    with db.connect() as conn:
        stored = {row.customer_external_id: row for row in conn.execute(
            select(a.customer_external_id, a.segment, a.locked, a.locked_until, a.rules,
                   a.rules_digest).where(a.tenant_id == tenant.id))}
    preview = RulesPreview(tenant, run.run_date, rules, hysteresis, dict(Counter(
        (row.rules, row.rules_digest) for row in stored.values())))
    for r in run.results:
        assignment = r.assignment
        row: Any = stored.get(r.customer_id)
        if not hysteresis:
            lock = Lock(row.segment, row.locked_until) if row is not None and row.locked else None
            assignment = assign(rules, r.metrics, None, lock, run.run_date, hysteresis=False)
        segment_before = row.segment if row is not None else None
        status = _status(assignment, segment_before)
        held = status not in ("moving", "staying")
        preview.rows.append(PreviewRow(
            r.customer_id, r.name, segment_before, assignment.segment, status,
            assignment.rules_say if held else None, assignment.held_reason if held else None))
    return preview


def preview_rules(db: Engine, tenant: Tenant, rules: Rules, *, hysteresis: bool = True,
                  **run: Any) -> tuple[RulesPreview, SegmentRun]:
    """``rules`` against ``tenant``'s stored results (nothing is written); ``run`` is passed to
    :func:`segment_tenant` (e.g. ``run_date``)."""
    dry = segment_tenant(db, tenant, rules=rules, dry_run=True, **run)
    return preview_run(db, dry, rules, hysteresis=hysteresis), dry
