"""Faithful local emulators of the ERP APIs arconnect talks to (today: Xero and QuickBooks
Online).

They are real HTTP servers on loopback with the vendors' paths, envelopes, date formats, paging,
rate limits and OAuth, fed by deterministic synthetic companies. The demo and the tests use them;
production code never imports this package.
"""

from __future__ import annotations
