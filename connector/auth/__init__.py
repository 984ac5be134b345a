"""Authorisation: the token vault, the platforms' OAuth flows and single-flight token refresh.

- :mod:`arconnect.auth.vault` — ``TokenVault``: tokens and client secrets encrypted at rest.
- :mod:`arconnect.auth.oauth` — the token set every platform's OAuth client returns (the
  clients themselves live in the platform packages, found through :mod:`arconnect.platforms`).
- :mod:`arconnect.auth.tokens` — ``TokenManager``: one per grant; valid access tokens, refresh
  single-flight across threads and processes, rotated tokens persisted before use.
- :mod:`arconnect.auth.service` — what the CLI, the demo and the web app call: add, connect,
  list, revoke, rotate secrets.
"""

from __future__ import annotations
