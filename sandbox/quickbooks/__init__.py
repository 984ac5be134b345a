"""A faithful local emulator of the QuickBooks Online Accounting API v3 and Intuit OAuth 2.0.

>>> from arconnect.sandbox.quickbooks import QboSandbox, QboConfig, CompanySpec
>>> sb = QboSandbox(QboConfig(seed=7, companies=[CompanySpec(customers=20, invoices=200)]))
>>> sb.start()  # doctest: +SKIP

See ``sandbox/README.md`` for the behaviours emulated and where each comes from.
"""

from __future__ import annotations

from arconnect.sandbox.quickbooks.model import Company, CompanySpec, QboConfig
from arconnect.sandbox.quickbooks.mutate import Mutator
from arconnect.sandbox.quickbooks.server import QboSandbox

__all__ = ["Company", "CompanySpec", "Mutator", "QboConfig", "QboSandbox"]
