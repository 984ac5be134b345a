"""What every emulator's configuration shares: the seed, the clock's start, the limits switch,
the registered app and its consent page, and how big a synthetic company is."""

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


@dataclass
class EmulatorConfig:
    """What shapes any sandbox run; each platform's config adds its own and its defaults.

    Attributes:
        seed: makes the generated companies (and ids) reproducible.
        start: the sandbox instant when the clock starts (aware; default now).
        strict_limits: answer 429 over the platform's limits (False: count only).
        auto_approve: skip the consent page (redirect with a code at once).
        client_id: the one registered app's client id.
        client_secret: its secret.
        refresh_grace_seconds: how long a used or superseded refresh token still works.
    """

    seed: int = 7
    start: datetime | None = None
    strict_limits: bool = True
    auto_approve: bool = True
    client_id: str = "arconnect-demo"
    client_secret: str = "demo-secret"
    refresh_grace_seconds: int = 1800

    def start_at(self) -> datetime:
        """The configured start, or now (UTC, whole seconds)."""
        return start_instant(self.start)
