"""What every platform's OAuth client shares: the token set and its expiry, and the clock.

A platform's client (``adapters/<platform>/oauth.py``) implements
:class:`arconnect.adapters.base.OAuthClient` over authlib; the token manager and the service
functions store what it returns.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from arconnect.adapters.base import ConsentRequest, TokenSet

__all__ = ["AuthRequest", "Now", "TokenSet", "normalize_token", "safe_error", "utcnow"]

AuthRequest = ConsentRequest
Now = Callable[[], datetime]


def utcnow() -> datetime:
    """The current time, aware UTC (the default ``now`` everywhere in auth)."""
    return datetime.now(UTC)


def normalize_token(token: dict[str, Any], now: Now = utcnow) -> TokenSet:
    """A copy of a token response with an absolute ``expires_at`` (aware UTC datetime).

    ``expires_in`` (seconds) wins; a numeric ``expires_at`` (epoch seconds, as authlib adds) is
    converted; no expiry at all leaves ``expires_at`` None.
    """
    out = dict(token)
    expires_in = out.get("expires_in")
    expires_at = out.get("expires_at")
    if expires_in is not None:
        out["expires_at"] = now() + timedelta(seconds=float(expires_in))
    elif isinstance(expires_at, int | float):
        out["expires_at"] = datetime.fromtimestamp(expires_at, UTC)
    elif not isinstance(expires_at, datetime):
        out["expires_at"] = None
    return out


def safe_error(error: str) -> str:
    """An OAuth error code fit for a message (codes are short ASCII words; cut anything else)."""
    return "".join(ch for ch in error if ch.isalnum() or ch in "_-.")[:64] or "oauth_error"
