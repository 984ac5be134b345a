"""QuickBooks Online: the Accounting API v3 adapter, its OAuth client and its platform object."""

from __future__ import annotations

from arconnect.adapters.quickbooks.adapter import QuickBooksAdapter
from arconnect.adapters.quickbooks.platform import QuickBooksPlatform

__all__ = ["QuickBooksAdapter", "QuickBooksPlatform"]
