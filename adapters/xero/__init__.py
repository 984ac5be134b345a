"""Xero: the Accounting API adapter (read side)."""

from __future__ import annotations

from arconnect.adapters.xero.adapter import XeroAdapter

__all__ = ["XeroAdapter"]
