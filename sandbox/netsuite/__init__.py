"""A faithful local emulator of NetSuite's REST web services (SuiteQL, records, governance
limits), OAuth 2.0 and token-based authentication.

>>> from arconnect.sandbox.netsuite import NsSandbox, NsConfig, AccountSpec
>>> sb = NsSandbox(NsConfig(seed=7, accounts=[AccountSpec(customers=20, invoices=200)]))
>>> sb.start()  # doctest: +SKIP

See ``sandbox/README.md`` for the behaviours emulated and where each comes from.
"""

from __future__ import annotations

from arconnect.sandbox.netsuite.config import AccountSpec, NsConfig
from arconnect.sandbox.netsuite.model import Account
from arconnect.sandbox.netsuite.mutate import Mutator
from arconnect.sandbox.netsuite.server import NsSandbox

__all__ = ["Account", "AccountSpec", "Mutator", "NsConfig", "NsSandbox"]
