"""A faithful local emulator of the Xero Accounting, Identity and login APIs.

>>> from arconnect.sandbox.xero import XeroSandbox, SandboxConfig, OrgSpec
>>> sb = XeroSandbox(SandboxConfig(seed=7, orgs=[OrgSpec(customers=20, invoices=200)]))
>>> sb.start(port=0)  # doctest: +SKIP

See ``sandbox/README.md`` for the behaviours emulated and where each comes from.
"""

from __future__ import annotations

from arconnect.sandbox.common.clock import SandboxClock
from arconnect.sandbox.xero.model import Org, OrgSpec, SandboxConfig
from arconnect.sandbox.xero.mutate import MutationSummary
from arconnect.sandbox.xero.server import XeroSandbox

__all__ = ["MutationSummary", "Org", "OrgSpec", "SandboxClock", "SandboxConfig", "XeroSandbox"]
