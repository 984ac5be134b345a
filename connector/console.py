"""Rich rendering shared by the CLI commands: progress bars and summary tables.

Names and every other value that comes from an ERP, a CSV file or the store are data, never
markup: they reach the terminal through :func:`plain`, :func:`safe` or a :class:`DataTable`,
which show ``[bold]`` as typed and drop control characters (an escape sequence in a contact's
name must not clear or restyle the admin's terminal).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich import box
from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderableType
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Column, Table
from rich.text import Text

from arconnect.adapters.base import Page
from arconnect.clock import Clock, get_clock
from arconnect.segmenter.service import SegmentRun

if TYPE_CHECKING:
    from arconnect.segmenter.kpis import KpiReport
    from arconnect.segmenter.preview import RulesPreview
    from arconnect.segmenter.worklist import Worklist, WorklistRow
from arconnect.sync import Progress as SyncProgress
from arconnect.sync import SyncResult

# No ``:emoji:`` codes: a customer called ":fire: Sales" keeps its colons.
console = Console(emoji=False)
err_console = Console(stderr=True, emoji=False)

# Line breaks and tabs in a value: shown as one space.
_BREAKS = re.compile("[\t\n\r\v\f]+")
# Other C0 controls (ESC starts terminal escape sequences, BEL rings), DEL, the C1 controls
# (0x9b is a one-byte CSI to some terminals) and the Unicode bidirectional overrides and
# isolates, which make a terminal show text in another order than it is stored
# (CVE-2021-42574, https://trojansource.codes).
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def clean(value: object) -> str:
    """A data value as one line of text a terminal shows as is: line breaks and tabs become a
    space, other control characters are removed; ``None`` is empty. Markup is left in (see
    :func:`plain` and :func:`safe`)."""
    if value is None:
        return ""
    return _CONTROLS.sub("", _BREAKS.sub(" ", str(value)))


def plain(value: object, style: str = "") -> Text:
    """A data value as rich ``Text``: control characters removed, ``[...]`` shown as typed."""
    return Text(clean(value), style=style)


def safe(value: object) -> str:
    """A data value to put inside a markup string (``f"[green]connected[/] {safe(name)}"``):
    control characters removed and markup escaped."""
    return escape(clean(value))


# In a log line line breaks and tabs stay (a traceback is several lines); the rest goes.
_LOG_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


class DropControls(logging.Filter):
    """A log filter that removes control characters from every record's message: a Xero error
    text or a name quoted in a log line is data, and an escape sequence in it must not reach
    the terminal. Line breaks and tabs stay; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's message without its control characters."""
        message = record.getMessage()
        shown = _LOG_CONTROLS.sub("", message)
        if shown != message:
            record.msg, record.args = shown, None
        return True


def _annotation(text: str | Text | None, style: str) -> str | Text | None:
    return plain(text, style) if isinstance(text, str) else text


class DataTable(Table):
    """A table of data values.

    Its title, caption, headers and ``str`` cells are plain text (:func:`plain`): markup in a
    customer's or a tenant's name is shown as typed, control characters never reach the
    terminal. Pass a ``Text`` to style a cell. No column is squeezed below its header's longest
    word, so at 80 columns a header folds between words instead of being cut mid-word, and a
    value too long for its column folds onto the next line rather than being cut short.
    """

    def __init__(self, *headers: Column | str, title: str | Text | None = None,
                 caption: str | Text | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("title_justify", "left")
        super().__init__(*headers, title=_annotation(title, "table.title"),
                         caption=_annotation(caption, "table.caption"), **kwargs)

    def add_column(self, header: RenderableType = "", footer: RenderableType = "", *,
                   min_width: int | None = None, overflow: Any = "fold",
                   **kwargs: Any) -> None:
        """A column; a ``str`` header is plain text and sets the column's minimum width. A
        value too long for its column folds onto the next line (an id is never cut short)."""
        if isinstance(header, str):
            longest = max((cell_len(word) for word in clean(header).split()), default=0)
            min_width = max(min_width or 0, longest) or None
            header = plain(header)
        super().add_column(header, footer, min_width=min_width, overflow=overflow, **kwargs)

    def add_row(self, *renderables: RenderableType | None, style: Any = None,
                end_section: bool = False) -> None:
        """A row; ``str`` cells are plain text (:func:`plain`)."""
        super().add_row(*(plain(c) if isinstance(c, str) else c for c in renderables),
                        style=style, end_section=end_section)

    def _calculate_column_widths(self, console: Console, options: ConsoleOptions) -> list[int]:
        # When even the columns' minimums do not fit, rich's last resort narrows every column
        # by the same amount, headers included, and the minimum widths set above then push the
        # table past the terminal's edge. Take the excess from the columns with the most room
        # above their minimum instead: their values fold onto more lines.
        widths = list(super()._calculate_column_widths(console, options))
        floors = [(column.min_width or 0) + self._get_padding_width(i)
                  for i, column in enumerate(self.columns)]
        for _ in range(sum(widths) - options.max_width):
            room, i = max((width - floor, i)
                          for i, (width, floor) in enumerate(zip(widths, floors, strict=True)))
            if room <= 0:
                break
            widths[i] -= 1
        return widths


class RichSyncProgress(SyncProgress):
    """Shows one bar per tenant and entity; totals come from the first page's item count."""

    def __init__(self, progress: Progress) -> None:
        self.bars = progress
        self._tasks: dict[tuple[str, str], TaskID] = {}

    @classmethod
    def create(cls, console_: Console | None = None) -> Progress:
        return Progress(
            # the description holds a tenant's name: plain text, not markup
            TextColumn("{task.description:<34}", style="bold", markup=False),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[unit]}"),
            TimeElapsedColumn(),
            console=console_ or console,
            transient=False,
        )

    def entity_started(self, tenant: str, entity: str) -> None:
        self._tasks[(tenant, entity)] = self.bars.add_task(
            f"{clean(tenant)[:20]} · {entity}", total=None, pages=0, unit="0 pages"
        )

    def page_done(self, tenant: str, entity: str, page: Page, stored: int) -> None:
        task = self._tasks[(tenant, entity)]
        pages = self.bars.tasks[task].fields.get("pages", 0) + 1
        total = page.item_count if page.item_count is not None else None
        self.bars.update(task, advance=stored, pages=pages, unit=f"{pages} pages")
        if total is not None and self.bars.tasks[task].total is None:
            self.bars.update(task, total=max(total, stored))

    def entity_done(self, tenant: str, entity: str, records: int) -> None:
        task = self._tasks[(tenant, entity)]
        done = self.bars.tasks[task].completed
        self.bars.update(task, total=done, completed=done)

    @contextmanager
    def writes(self, label: str) -> Iterator[Callable[[int, int], None]]:
        """A write-back's progress as one more bar among the sync's (``arconnect run``: one
        live display at a time); yields the ``(calls made, calls planned)`` callback."""
        task = self.bars.add_task(f"{clean(label)[:20]} · write-back", total=None, pages=0,
                                  unit="calls")
        yield lambda n, total: self.bars.update(task, completed=n, total=total)


@dataclass
class _Every:
    """When a plain progress line is due: ``steps`` more steps or ``seconds`` more clock
    seconds since the last line, whichever comes first."""

    steps: int
    seconds: float
    clock: Clock
    _step: int = 0
    _at: float | None = None

    def due(self, step: int) -> bool:
        now = self.clock.monotonic()
        if self._at is None:
            self._at = now
        if step - self._step >= self.steps or now - self._at >= self.seconds:
            self._step, self._at = step, now
            return True
        return False


@dataclass
class _EntityLines:
    every: _Every
    pages: int = 0
    records: int = 0
    total: int | None = None


class PlainSyncProgress(SyncProgress):
    """Sync progress as plain lines, for output nobody watches live (cron, CI, container logs),
    where bars would show nothing until the very end.

    Per tenant and entity: ``Demo Company (NZ) · invoices: page 12, 11,000 of 100,000 records``
    every ``pages`` pages or ``seconds`` clock seconds (whichever comes first), and one line
    when the entity is done. Safe to call from the threads that sync tenants in parallel.

    Args:
        out: where the lines go.
        pages: a line at least every this many pages.
        seconds: ... or after this many clock seconds (:mod:`arconnect.clock`).
        clock: the clock (default: the process-wide one).
    """

    def __init__(self, out: Console, *, pages: int = 10, seconds: float = 10.0,
                 clock: Clock | None = None) -> None:
        self.out = out
        self.pages = pages
        self.seconds = seconds
        self.clock = clock or get_clock()
        self._lock = threading.Lock()
        self._entities: dict[tuple[str, str], _EntityLines] = {}

    def entity_started(self, tenant: str, entity: str) -> None:
        with self._lock:
            self._entities[(tenant, entity)] = _EntityLines(
                _Every(self.pages, self.seconds, self.clock))

    def page_done(self, tenant: str, entity: str, page: Page, stored: int) -> None:
        with self._lock:
            state = self._entities[(tenant, entity)]
            state.pages += 1
            state.records += stored
            if state.total is None and page.item_count is not None:
                state.total = max(page.item_count, stored)
            if state.every.due(state.pages):
                of = f" of {state.total:,}" if state.total is not None else ""
                _line(self.out, f"{clean(tenant)} · {entity}: page {state.pages:,}, "
                                f"{state.records:,}{of} records")

    def entity_done(self, tenant: str, entity: str, records: int) -> None:
        with self._lock:
            state = self._entities.pop((tenant, entity), None)
            pages = state.pages if state else 0
            _line(self.out, f"{clean(tenant)} · {entity}: done, {_count(records, 'record')} "
                            f"in {_count(pages, 'page')}")

    @contextmanager
    def writes(self, label: str) -> Iterator[Callable[[int, int], None]]:
        """A write-back's progress as plain lines (see :func:`write_progress`)."""
        yield _write_lines(self.out, f"{label} · write-back", clock=self.clock)


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _line(out: Console, text: str) -> None:
    """One plain progress line: no markup, no highlighting, never wrapped (a log line)."""
    out.print(text, markup=False, highlight=False, soft_wrap=True)


def _write_lines(out: Console, label: str, *, calls: int = 50, seconds: float = 10.0,
                 clock: Clock | None = None) -> Callable[[int, int], None]:
    """A ``(calls made, calls planned)`` callback printing ``write-back: 150/1,227 calls, 12%``
    every ``calls`` calls or ``seconds`` clock seconds, and when the last call is made."""
    every = _Every(calls, seconds, clock or get_clock())

    def report(done: int, total: int) -> None:
        if done >= total or every.due(done):
            share = f", {done / total:.0%}" if total else ""
            _line(out, f"{clean(label)}: {done:,}/{total:,} calls{share}")

    return report


@contextmanager
def sync_progress(out: Console | None = None) -> Iterator[RichSyncProgress | PlainSyncProgress]:
    """The progress of syncs on ``out`` (default: stderr, so that stdout holds only the
    command's result): live bars on a terminal, plain lines otherwise (see
    :class:`PlainSyncProgress`)."""
    out = out or err_console
    if out.is_terminal:
        with RichSyncProgress.create(out) as bars:
            yield RichSyncProgress(bars)
    else:
        yield PlainSyncProgress(out)


@contextmanager
def write_progress(label: str = "write-back", out: Console | None = None
                   ) -> Iterator[Callable[[int, int], None]]:
    """The progress of a write-back on ``out`` (default: stderr): a bar with the time left on a
    terminal, otherwise a plain line (``write-back: 150/1,227 calls, 12%``) every 50 calls or
    10 s and one when the last call is made. Yields the ``(calls made, calls planned)``
    callback :func:`arconnect.writeback.service.apply_plan` takes."""
    out = out or err_console
    if not out.is_terminal:
        yield _write_lines(out, label)
        return
    with progress_bar(out) as bar:
        task = bar.add_task(clean(label), total=None)
        yield lambda n, total: bar.update(task, completed=n, total=total)


STATUS_STYLE = {
    "ok": "green",
    "rate_limited_daily": "yellow",
    "reconnect_required": "red",
    "failed": "red",
    "busy": "yellow",
}


# Every credit a customer can hold: the sync table's "credits" column.


def sync_table(
    results: Sequence[SyncResult], title: str = "Sync", labels: Sequence[str] | None = None
) -> Table:
    """One row per tenant sync: records read per entity, API calls, 429s, time, status.

    Args:
        results: the syncs to show.
        title: the table's title.
        labels: the first column per row (default: the tenant's name).
    """
    table = DataTable(title=title, box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    table.add_column("sync" if labels else "tenant", overflow="fold")
    kinds = ("customers", "invoices", "credits", "payments")
    for col in (*kinds, "calls", "429s", "secs"):
        table.add_column(col, justify="right", no_wrap=True)
    table.add_column("status", no_wrap=True)
    for i, r in enumerate(results):
        style = STATUS_STYLE.get(r.status, "white")
        read = {kind: sum(n for entity, n in r.records.items()
                          if r.categories.get(entity) == kind) for kind in kinds}
        table.add_row(
            labels[i] if labels else r.tenant_name,
            *(f"{read[kind]:,}" for kind in kinds),
            f"{r.api_calls:,}",
            f"{r.http_429s:,}",
            f"{r.seconds:.1f}",
            plain(r.status, style),
        )
    return table


def segment_tables(run: SegmentRun, show: int = 15, kpis: KpiReport | None = None
                   ) -> list[Table]:
    """A segment run as tables: customers that changed (up to ``show``) and a per-segment
    summary: with ``kpis`` (:func:`arconnect.segmenter.kpis.segment_kpis` of the run) the
    KPIs and a whole-ledger row, else open and overdue balance and total credit limit."""
    currency = run.tenant.base_currency or ""
    tables: list[Table] = []
    changed = [r for r in run.results if r.changed]
    if show and changed:
        t = DataTable(title=f"{run.tenant.name}: {len(changed):,} of {len(run.results):,} "
                      f"customers changed ({run.rules_name}, as of {run.run_date})",
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
    if kpis is not None:
        tables.append(kpi_table(kpis, f"{run.tenant.name}: segments ({run.seconds:.1f} s)",
                                currency))
        return tables
    s = DataTable(title=f"{run.tenant.name}: segments ({run.seconds:.1f} s)",
                  box=box.SIMPLE_HEAD)
    for col in ("segment", "customers", f"open {currency}", f"overdue {currency}",
                f"credit limits {currency}"):
        s.add_column(col, justify="left" if col == "segment" else "right")
    for name, v in run.by_segment().items():
        s.add_row(name, f"{v['customers']:,}", f"{v['open']:,.2f}", f"{v['overdue']:,.2f}",
                  f"{v['limit']:,.0f}")
    tables.append(s)
    return tables


def _share(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def _days(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


def kpi_table(kpis: KpiReport, title: str, currency: str = "") -> Table:
    """The KPIs per segment and of the whole ledger, in the columns that fit 100 columns
    (``--format json`` has every figure): customers, open, overdue share, DSO, CEI, late
    share, average days late, credit limits. Figures never fold (a segment's name does)."""
    t = DataTable(title=title, box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True,
                  caption=f"DSO, CEI: the {kpis.period_days} days to {kpis.run_date}; "
                          "late: over paid invoices")
    rows = [*kpis.segments, kpis.ledger]
    cells = [[f"{k.customers:,}", f"{k.open:,.0f}", _share(k.overdue_share), _days(k.dso),
              "—" if k.cei is None else f"{k.cei:.0f}", _share(k.late_share),
              _days(k.avg_days_late), f"{k.credit_limits:,.0f}"] for k in rows]
    t.add_column("segment")
    for i, col in enumerate(("customers", f"open {currency}".strip(), "overdue %", "DSO days",
                             "CEI %", "late %", "days late",
                             f"credit limits {currency}".strip())):
        t.add_column(col, justify="right", min_width=max(cell_len(r[i]) for r in cells))
    for i, (k, figures) in enumerate(zip(rows, cells, strict=True)):
        t.add_row(plain(k.segment, "bold" if k is kpis.ledger else ""), *figures,
                  end_section=i == len(rows) - 2)
    return t


def progress_bar(out: Console | None = None) -> Progress:
    """A progress bar with the time left (write-back calls and the like) on ``out`` (default:
    stderr); each task's description is its label, shown as plain text."""
    # At Xero's 60 calls a minute a large write-back takes a while: show what is left.
    return Progress(TextColumn("{task.description:<12}", style="bold", markup=False),
                    BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("eta"),
                    TimeRemainingColumn(), console=out or err_console, transient=True)


def show_value(value: object, none: str = "—") -> str:
    """A write-back value in words: terms as ``net N``, group lists joined, nothing as ``none``."""
    if isinstance(value, dict) and "Day" in value:
        return f"net {value['Day']}"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or none
    return none if value is None else str(value)


_ACTIONS = {"group.set": "group", "group.create": "create group", "group.delete": "delete group",
            "terms.set": "terms", "terms.release": "terms (release)", "note.add": "limit note",
            "field.set": "field", "field.release": "field (release)",
            "object.create": "create"}


def writeback_tables(plan: Any, show: int = 25) -> list[Table]:
    """A write-back plan: its operations (customer, from ─▶ to, reason), a summary and the
    drift it leaves alone."""
    title = (f"{plan.tenant.name}: write-back plan {plan.id} ({plan.kind}, {plan.status}"
             + (f", needs approval: {plan.approval_reason}" if plan.needs_approval
                and not plan.approved_by else "") + ")")
    ops = DataTable(title=title, box=box.SIMPLE_HEAD)
    for col in ("customer", "what", "from", "", "to", "reason"):
        ops.add_column(col, overflow="fold")
    for op in plan.ops[:show]:
        ops.add_row(op["name"] or op["customer"] or "", _ACTIONS.get(op["action"], op["action"]),
                    show_value(op["before"]), "─▶", show_value(op["after"]), op["reason"])
    if len(plan.ops) > show:
        ops.caption = f"{len(plan.ops) - show:,} more operations (--show N)"
    summary = DataTable(title="summary", box=box.SIMPLE_HEAD)
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
    for slot, why in (plan.summary.get("not_written") or {}).items():
        summary.add_row(f"not written: {slot}: {why}", "")
    tables: list[Table] = [ops, summary] if show else [summary]
    if plan.drift:
        drift = DataTable(title=f"drift left alone ({len(plan.drift)}; see `arconnect drift`)",
                          box=box.SIMPLE_HEAD)
        for col in ("customer", "slot", "we wrote", "ERP has now"):
            drift.add_column(col)
        for d in plan.drift[:show or 10]:
            drift.add_row(d.name or d.customer, d.slot, show_value(d.written), show_value(d.now))
        tables.append(drift)
    return tables


_HELD_BY = {"held_min_days": "min days in segment", "held_margin": "margin",
            "locked": "lock"}


def preview_tables(preview: RulesPreview, show: int = 15) -> list[Table]:
    """A preview of rules against the stored results (``rules diff``, ``segment --dry-run``):
    which rules the stored results came from and which are previewed, the count of each status,
    the moves, and the customers held (by min_days_in_segment, a margin or a lock) with the
    reason — up to ``show`` of them."""
    from arconnect.segmenter.preview import STATUSES

    counts = preview.counts()
    mode = "" if preview.hysteresis else " (hysteresis ignored: where the rules alone put them)"
    head = DataTable(title=f"{preview.tenant.name}: {counts['moving']:,} of "
                           f"{len(preview.rows):,} customers would move{mode}",
                     box=box.SIMPLE_HEAD)
    head.add_column("")
    head.add_column("", overflow="fold")
    head.add_row("stored results", preview.stored_label())
    head.add_row("rules previewed", preview.rules.label + (" (the same rules)"
                                                           if preview.same_rules() else ""))
    for status, words in STATUSES.items():
        if counts[status] or status in ("moving", "staying"):
            head.add_row(words, f"{counts[status]:,}")
    moves = DataTable(box=box.SIMPLE_HEAD)
    for col in ("from", "to", "customers"):
        moves.add_column(col, justify="right" if col == "customers" else "left")
    for (before, after), n in sorted(preview.moves().items(), key=lambda kv: -kv[1]):
        style = "" if before == after else "bold"
        moves.add_row(before or "(none stored)", after if before != after else "(stays)",
                      plain(f"{n:,}", style))
    tables: list[Table] = [head, moves]
    held = preview.held()
    if held and show:
        t = DataTable(title=f"{preview.tenant.name}: {len(held):,} customers held where they are "
                            "(the rules alone would move them)", box=box.SIMPLE_HEAD)
        for col in ("customer", "stays", "rules say", "held by", "why"):
            t.add_column(col, overflow="fold")
        for r in held[:show]:
            t.add_row(r.name or r.customer_id, r.segment, r.rules_say or "",
                      _HELD_BY[r.status], r.reason or "")
        tables.append(t)
    return tables


def _step_brief(row: WorklistRow) -> str:
    """The dunning step in a few words for a table cell (the full words are in JSON and CSV):
    the action reached, and when the next one is due."""
    s = row.dunning
    if s is None:
        return "— (no dunning policy)"
    if s.step is None:
        assert s.next is not None
        return f"from day {s.next.after_days}: {s.next.action} ({s.next.channel})"
    then = f"; next in {s.days_to_next} d" if s.days_to_next is not None else "; last step"
    return f"{s.step.action} ({s.step.channel}){then}"


def worklist_tables(worklist: Worklist, *, items: bool = True) -> list[Table]:
    """A worklist: the customers in order of priority (rank, customer, segment, overdue,
    oldest, likelihood of paying late, priority, next step) and, with ``items``, their open
    overdue invoices in a second table, customer by customer."""
    currency = worklist.tenant.base_currency or ""
    source = ("the last segment run" if worklist.stored
              else f"computed, {worklist.window_days}-day window")
    rules = f", rules {worklist.rules_name}" if worklist.rules_name else ""
    t = DataTable(title=f"{worklist.tenant.name}: worklist as of {worklist.run_date} ({source}"
                        f"{rules}): {worklist.customers:,} customer"
                        f"{'s' if worklist.customers != 1 else ''} overdue, "
                        f"{worklist.total_overdue:,.2f} {currency}".rstrip(),
                  box=box.SIMPLE_HEAD, pad_edge=False)
    cells = [(str(r.rank), r.name or r.customer_id, r.segment, f"{r.overdue_balance:,.2f}",
              f"{r.oldest_overdue_days:,}", f"{r.late_probability:.0%}", f"{r.priority:,.0f}",
              _step_brief(r)) for r in worklist.rows]

    def widest(column: int) -> int:  # a number never folds
        return max((len(row[column]) for row in cells), default=1)

    t.add_column("#", justify="right", min_width=widest(0))
    t.add_column("customer")
    t.add_column("segment")
    t.add_column(f"overdue {currency}".rstrip(), justify="right", min_width=widest(3))
    t.add_column("days", justify="right", min_width=widest(4))
    t.add_column("late", justify="right", min_width=widest(5))
    t.add_column("priority", justify="right", min_width=widest(6))
    t.add_column("next step", min_width=10)
    for row in cells:
        t.add_row(*row)
    shown = (f"the first {len(worklist.rows):,} of {worklist.customers:,} (--limit N). "
             if len(worklist.rows) < worklist.customers else "")
    t.caption = (f"{shown}days: past due, the oldest item; late: how likely the customer pays "
                 "late; priority = late × overdue × (1 + days / 30)")
    tables: list[Table] = [t]
    if items and worklist.rows:
        i = DataTable(title="open overdue items", box=box.SIMPLE_HEAD)
        i.add_column("#", justify="right", no_wrap=True)
        i.add_column("customer")
        i.add_column("document")
        i.add_column("issued", no_wrap=True)
        i.add_column("due", no_wrap=True)
        i.add_column("days", justify="right")
        i.add_column(f"amount due {currency}".rstrip(), justify="right")
        for r in worklist.rows:
            for n, item in enumerate(r.items):
                i.add_row(str(r.rank) if n == 0 else "", (r.name or r.customer_id) if n == 0
                          else "", item.number or item.document_id,
                          item.issue_date.isoformat() if item.issue_date else "",
                          item.due_date.isoformat(), f"{item.days_overdue:,}",
                          f"{item.amount_due:,.2f}", end_section=n == len(r.items) - 1)
        tables.append(i)
    return tables
