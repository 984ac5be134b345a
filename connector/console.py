"""Rich rendering shared by the CLI commands: progress bars and summary tables."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich import box
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from arconnect.adapters.base import Page
from arconnect.segmenter.service import SegmentRun
from arconnect.sync import Progress as SyncProgress
from arconnect.sync import SyncResult

console = Console()
err_console = Console(stderr=True)


class RichSyncProgress(SyncProgress):
    """Shows one bar per tenant and entity; totals come from the first page's item count."""

    def __init__(self, progress: Progress) -> None:
        self.bars = progress
        self._tasks: dict[tuple[str, str], TaskID] = {}

    @classmethod
    def create(cls, console_: Console | None = None) -> Progress:
        return Progress(
            TextColumn("[bold]{task.description:<34}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[pages]} pages"),
            TimeElapsedColumn(),
            console=console_ or console,
            transient=False,
        )

    def entity_started(self, tenant: str, entity: str) -> None:
        self._tasks[(tenant, entity)] = self.bars.add_task(
            f"{tenant[:20]} · {entity}", total=None, pages=0
        )

    def page_done(self, tenant: str, entity: str, page: Page, stored: int) -> None:
        task = self._tasks[(tenant, entity)]
        fields = self.bars.tasks[task].fields
        total = page.item_count if page.item_count is not None else None
        self.bars.update(task, advance=stored, pages=fields.get("pages", 0) + 1)
        if total is not None and self.bars.tasks[task].total is None:
            self.bars.update(task, total=max(total, stored))

    def entity_done(self, tenant: str, entity: str, records: int) -> None:
        task = self._tasks[(tenant, entity)]
        done = self.bars.tasks[task].completed
        self.bars.update(task, total=done, completed=done)


STATUS_STYLE = {
    "ok": "green",
    "rate_limited_daily": "yellow",
    "reconnect_required": "red",
    "failed": "red",
    "busy": "yellow",
}


# Every credit a customer can hold: the sync table's "credits" column.
CREDIT_ENTITIES = ("credit_notes", "overpayments", "prepayments")


def sync_table(
    results: Sequence[SyncResult], title: str = "Sync", labels: Sequence[str] | None = None
) -> Table:
    """One row per tenant sync: records read per entity, API calls, 429s, time, status.

    Args:
        results: the syncs to show.
        title: the table's title.
        labels: the first column per row (default: the tenant's name).
    """
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False,
                  collapse_padding=True)
    table.add_column("sync" if labels else "tenant", no_wrap=True)
    for col in ("contacts", "invoices", "credits", "payments", "calls", "429s", "secs"):
        table.add_column(col, justify="right", no_wrap=True)
    table.add_column("status", no_wrap=True)
    for i, r in enumerate(results):
        style = STATUS_STYLE.get(r.status, "white")
        table.add_row(
            labels[i] if labels else r.tenant_name,
            f"{r.records.get('contacts', 0):,}",
            f"{r.records.get('invoices', 0):,}",
            f"{sum(r.records.get(k, 0) for k in CREDIT_ENTITIES):,}",
            f"{r.records.get('payments', 0):,}",
            f"{r.api_calls:,}",
            f"{r.http_429s:,}",
            f"{r.seconds:.1f}",
            f"[{style}]{r.status}[/]",
        )
    return table


def segment_tables(run: SegmentRun, show: int = 15) -> list[Table]:
    """A segment run as tables: customers that changed (up to ``show``) and a per-segment
    summary with open and overdue balance and total credit limit."""
    currency = run.tenant.base_currency or ""
    tables = []
    changed = [r for r in run.results if r.changed]
    if show and changed:
        t = Table(title=f"{run.tenant.name}: {len(changed):,} of {len(run.results):,} customers "
                  f"changed ({run.rules_name}, as of {run.run_date})", title_justify="left",
                  box=box.SIMPLE_HEAD)
        for col in ("customer", "from", "to", "limit", "why"):
            t.add_column(col, overflow="fold")
        biggest = sorted(changed, key=lambda r: -(r.metrics.get("open_balance") or 0))
        for r in biggest[:show]:
            a = r.assignment
            t.add_row(r.name or r.customer_id, r.previous_segment or "—", a.segment,
                      f"{a.credit_limit:,.0f}" if a.credit_limit is not None else "—",
                      a.reasons[1] if len(a.reasons) > 1 else (a.reasons or [""])[0])
        tables.append(t)
    s = Table(title=f"{run.tenant.name}: segments ({run.seconds:.1f} s)", title_justify="left",
              box=box.SIMPLE_HEAD)
    for col in ("segment", "customers", f"open {currency}", f"overdue {currency}",
                f"credit limits {currency}"):
        s.add_column(col, justify="left" if col == "segment" else "right")
    for name, v in run.by_segment().items():
        s.add_row(name, f"{v['customers']:,}", f"{v['open']:,.2f}", f"{v['overdue']:,.2f}",
                  f"{v['limit']:,.0f}")
    tables.append(s)
    return tables


def progress_bar(label: str) -> Progress:
    """A plain progress bar (write-back calls and the like)."""
    # At Xero's 60 calls a minute a large write-back takes a while: show what is left.
    return Progress(TextColumn(f"[bold]{label:<12}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
                    console=err_console, transient=True)


def show_value(value: object, none: str = "—") -> str:
    """A write-back value in words: terms as ``net N``, group lists joined, nothing as ``none``."""
    if isinstance(value, dict) and "Day" in value:
        return f"net {value['Day']}"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or none
    return none if value is None else str(value)


_ACTIONS = {"group.set": "group", "group.create": "create group", "group.delete": "delete group",
            "terms.set": "terms", "terms.release": "terms (release)", "note.add": "limit note"}


def writeback_tables(plan: Any, show: int = 25) -> list[Table]:
    """A write-back plan: its operations (customer, from ─▶ to, reason), a summary and the
    drift it leaves alone."""
    title = (f"{plan.tenant.name}: write-back plan {plan.id} ({plan.kind}, {plan.status}"
             + (f", needs approval: {plan.approval_reason}" if plan.needs_approval
                and not plan.approved_by else "") + ")")
    ops = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
    for col in ("customer", "what", "from", "", "to", "reason"):
        ops.add_column(col, overflow="fold")
    for op in plan.ops[:show]:
        ops.add_row(op["name"] or op["customer"] or "", _ACTIONS.get(op["action"], op["action"]),
                    show_value(op["before"]), "─▶", show_value(op["after"]), op["reason"])
    if len(plan.ops) > show:
        ops.caption = f"{len(plan.ops) - show:,} more operations (--show N)"
    summary = Table(title="summary", title_justify="left", box=box.SIMPLE_HEAD)
    summary.add_column("operation")
    summary.add_column("count", justify="right")
    counts: dict[str, int] = {}
    for op in plan.ops:
        key = _ACTIONS.get(op["action"], op["action"])
        counts[key] = counts.get(key, 0) + 1
    for key, n in counts.items():
        summary.add_row(key, f"{n:,}")
    moves: dict[tuple[str, str], int] = {}
    for op in plan.ops:
        if op["action"] == "group.set":
            pair = (show_value(op["before"]), show_value(op["after"]))
            moves[pair] = moves.get(pair, 0) + 1
    for (a, b), n in sorted(moves.items(), key=lambda kv: -kv[1])[:10]:
        summary.add_row(f"  {a} ─▶ {b}", f"{n:,}")
    tables = [ops, summary] if show else [summary]
    if plan.drift:
        drift = Table(title=f"drift left alone ({len(plan.drift)}; see `arconnect drift`)",
                      title_justify="left", box=box.SIMPLE_HEAD)
        for col in ("customer", "slot", "we wrote", "ERP has now"):
            drift.add_column(col)
        for d in plan.drift[:show or 10]:
            drift.add_row(d.name or d.customer, d.slot, show_value(d.written), show_value(d.now))
        tables.append(drift)
    return tables
