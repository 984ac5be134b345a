"""What every emulator shares: the clock, the request and response values, the HTTP server's
lifecycle with its loopback and ``Host`` safety, the ``/_sandbox/`` control plumbing, the
fault-injection counters and the OAuth endpoints' common steps.

A platform package (``arconnect.sandbox.xero``, ``arconnect.sandbox.quickbooks``) keeps what is
its own: paths, envelopes, errors and data.
"""

from __future__ import annotations
