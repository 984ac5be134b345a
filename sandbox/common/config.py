"""What every emulator's configuration shares: how big a synthetic company is, and when its
clock starts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass
class CompanySize:
    """How big one synthetic company is (targets: each generator says how it meets them). The
    QuickBooks generator starts from the Xero one's history, so equal sizes and seeds give the
    same customers, invoices and payments on both.

    Attributes:
        customers: customers generated.
        invoices: sales invoices, every status.
        payments: the most payments the history may hold.
    """

    customers: int = 200
    invoices: int = 4000
    payments: int = 3000


def start_instant(start: datetime | None) -> datetime:
    """``start``, or now (UTC, whole seconds): when a sandbox's clock starts."""
    return (start or datetime.now(UTC).replace(microsecond=0)).astimezone(UTC)
