"""``--format json``: what the CLI's tables hold, as one JSON document for scripts.

A command given ``--format json`` writes exactly one JSON document to stdout and nothing else
(progress and messages go to stderr), so ``arconnect segment --format json | jq`` works.
Values are the data as stored — names exactly as the ERP holds them (control characters
escaped as ``\u001b``), amounts as numbers, times in ISO 8601.
"""

from __future__ import annotations

import sys
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from arconnect.errors import ArconnectError
from arconnect.segmenter.service import SegmentRun, json_text
from arconnect.store.models import Tenant
from arconnect.sync import SyncResult

if TYPE_CHECKING:
    from arconnect.segmenter.kpis import KpiReport
    from arconnect.segmenter.preview import RulesPreview
    from arconnect.segmenter.worklist import Worklist, WorklistRow

FORMATS = ("table", "json")
FORMAT_HELP = "table, or json: one JSON document on stdout, messages on stderr."


def check_format(value: str) -> bool:
    """True for ``json``, False for ``table``; anything else is a user error (checked before
    a command does anything)."""
    if value not in FORMATS:
        raise ArconnectError(f"--format {value!r}: use table or json. Nothing was done")
    return value == "json"


def _default(value: object) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, set | tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(doc: object) -> str:
    """``doc`` as indented JSON (Decimal as a number, dates and times as ISO text; control
    characters escaped, see :func:`arconnect.segmenter.service.json_text`)."""
    return json_text(doc, default=_default, indent=2)


def print_json(doc: object) -> None:
    """Write ``doc`` to stdout as the command's one JSON document."""
    sys.stdout.write(dumps(doc) + "\n")
    sys.stdout.flush()


def tenant_ref(tenant: Tenant) -> dict[str, Any]:
    """A tenant as JSON documents name it."""
    return {"id": tenant.id, "name": tenant.name, "platform": tenant.platform,
            "external_id": tenant.external_id}


def sync_doc(result: SyncResult) -> dict[str, Any]:
    """One tenant's sync: status, records read per entity, API calls, 429s, seconds, error."""
    return {"status": result.status, "records": dict(result.records), "pages": result.pages,
            "api_calls": result.api_calls, "http_429s": result.http_429s,
            "seconds": round(result.seconds, 3), "error": result.error}


def segment_doc(run: SegmentRun, *, dry_run: bool, kpis: KpiReport | None = None
                ) -> dict[str, Any]:
    """A segment run: the per-segment summary and every customer whose segment changed; with
    ``kpis`` every KPI per segment (:meth:`arconnect.segmenter.kpis.Kpis.as_dict`), the whole
    ledger's (``ledger``) and the KPI period (``kpi_period``)."""
    doc: dict[str, Any] = {
        "tenant": tenant_ref(run.tenant), "rules": run.rules_name, "run_date": run.run_date,
        "window_days": run.window_days, "notes": list(run.notes), "dry_run": dry_run,
        "seconds": round(run.seconds, 3), "currency": run.tenant.base_currency,
        "customers": len(run.results), "changed": run.changes,
        "segments": [{"segment": name, "customers": v["customers"], "open": v["open"],
                      "overdue": v["overdue"], "credit_limits": v["limit"]}
                     for name, v in run.by_segment().items()],
        "changes": [{"customer_id": r.customer_id, "name": r.name,
                     "from": r.previous_segment, "to": r.assignment.segment,
                     "credit_limit": r.assignment.credit_limit,
                     "terms_days": r.assignment.terms_days,
                     "credit_hold": r.assignment.credit_hold,
                     "reasons": list(r.assignment.reasons)}
                    for r in run.results if r.changed],
    }
    if kpis is not None:
        doc["segments"] = [k.as_dict() for k in kpis.segments]
        doc["ledger"] = kpis.ledger.as_dict()
        doc["kpi_period"] = {"days": kpis.period_days, "after": kpis.period_start,
                             "through": kpis.run_date}
    return doc


def preview_doc(preview: RulesPreview) -> dict[str, Any]:
    """A preview of rules against the stored results: both rule sets, the count of each status,
    the moves and every customer held (by min_days_in_segment, a margin or a lock) with the
    reason (``rules diff``; ``segment --dry-run`` under ``preview``)."""
    return {
        "stored_rules": [{"rules": ref, "digest": digest, "customers": n}
                         for (ref, digest), n in preview.stored_rules.items()],
        "rules": {"rules": preview.rules.ref or preview.rules.source,
                  "digest": preview.rules.digest, "name": preview.rules.name},
        "same_rules": preview.same_rules(), "ignore_hysteresis": not preview.hysteresis,
        "run_date": preview.run_date, **preview.counts(),
        "held": [{"customer_id": r.customer_id, "name": r.name, "segment": r.segment,
                  "rules_say": r.rules_say, "held_by": r.status, "reason": r.reason}
                 for r in preview.held()],
    }


def worklist_doc(worklist: Worklist, *, items: bool = True) -> dict[str, Any]:
    """A worklist (``arconnect worklist``): its date and source, the overdue total and count,
    each segment's pooled late share, and the customers in order of priority with the reason,
    the dunning step (``dunning``: the step reached and the next, ``null`` without a policy)
    and, with ``items``, their open overdue invoices."""
    def status(row: WorklistRow) -> dict[str, Any] | None:
        s = row.dunning
        if s is None:
            return None
        return {"days_overdue": s.days_overdue, "number": s.number,
                "step": vars(s.step) if s.step is not None else None,
                "next": vars(s.next) if s.next is not None else None,
                "days_to_next": s.days_to_next}

    return {
        "tenant": tenant_ref(worklist.tenant), "run_date": worklist.run_date,
        "source": "stored" if worklist.stored else "computed", "rules": worklist.rules_name,
        "window_days": worklist.window_days, "currency": worklist.tenant.base_currency,
        "customers": worklist.customers, "listed": len(worklist.rows),
        "total_overdue": worklist.total_overdue,
        "segment_late_share": worklist.segment_late_share,
        "rows": [{
            "rank": r.rank, "customer_id": r.customer_id, "name": r.name, "segment": r.segment,
            "priority": r.priority, "late_probability": r.late_probability,
            "overdue_balance": r.overdue_balance, "oldest_overdue_days": r.oldest_overdue_days,
            "open_balance": r.open_balance, "paid_invoices": r.paid_invoices,
            "late_invoices": r.late_invoices, "reason": r.reason, "next_step": r.next_step,
            "dunning": status(r),
            **({"items": [vars(i) for i in r.items]} if items else {}),
        } for r in worklist.rows],
    }
