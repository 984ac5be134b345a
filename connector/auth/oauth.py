"""What every platform's OAuth client shares: the token set and its expiry, and the clock.

A platform's client (``adapters/<platform>/oauth.py``) implements
:class:`arconnect.adapters.base.OAuthClient` over authlib; the token manager and the service
functions store what it returns.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from authlib.integrations.base_client.errors import OAuthError

from arconnect.adapters.base import ConsentRequest, TokenSet
from arconnect.errors import AuthError, ReconnectRequired, UpstreamError

__all__ = ["AuthRequest", "Now", "TokenSet", "error_of", "normalize_token", "safe_error",
           "token_call", "utcnow"]

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


def describe(description: Any) -> str:
    """An OAuth ``error_description`` fit for a message: cut short, and only when it is plain
    words (a token is one long unbroken string: never echoed); "" otherwise."""
    if not isinstance(description, str) or not description.strip():
        return ""
    text = description.strip()[:120]
    if any(len(word) > 40 for word in text.split()):
        return ""
    return ": " + "".join(ch for ch in text if ch.isprintable())


def token_call(label: str, vendor: str, what: str, url: str, call: Callable[[], Any], *,
               dead_hint: str = "", with_description: bool = False) -> dict[str, Any]:
    """Run one token-endpoint call (code exchange, refresh), turning failures into arconnect
    errors that name the platform (``label``), who refused (``vendor``) and the call.

    Raises:
        ReconnectRequired: ``invalid_grant`` (``dead_hint`` says what to do).
        AuthError: any other OAuth refusal, or a 4xx.
        UpstreamError: a 5xx, no answer, or an answer without an access token.
    """
    try:
        token = call()
    except OAuthError as err:
        error = str(err.error or "oauth_error")
        said = describe(err.description) if with_description else ""
        if error == "invalid_grant":
            raise ReconnectRequired(
                f"{label} {what}: {vendor} refused the grant (invalid_grant{said}){dead_hint}"
            ) from None
        raise AuthError(f"{label} {what}: {vendor} refused it ({safe_error(error)}{said})"
                        ) from None
    except requests.HTTPError as err:
        status = err.response.status_code if err.response is not None else None
        if status is not None and status < 500:
            raise AuthError(f"{label} {what}: HTTP {status} from {url}") from None
        raise UpstreamError(f"{label} {what}: HTTP {status} from {url}", status=status) from None
    except requests.RequestException as err:
        raise UpstreamError(f"{label} {what}: {url} unreachable ({type(err).__name__})") from None
    except ValueError:
        raise UpstreamError(f"{label} {what}: the answer is not a JSON object") from None
    if not isinstance(token, dict) or not token.get("access_token"):
        raise UpstreamError(f"{label} {what}: the answer carries no access_token")
    return dict(token)


def revocation_call(vendor: str, url: str, send: Callable[[], requests.Response]) -> None:
    """Send one revocation request (RFC 7009) and read its answer.

    Args:
        vendor: the platform, as messages name it.
        url: the revocation endpoint (for messages).
        send: sends the request.

    Raises:
        AuthError: the platform refused the request (4xx).
        UpstreamError: it failed (5xx) or could not be reached.
    """
    try:
        resp = send()
    except requests.RequestException as err:
        raise UpstreamError(f"{vendor} revocation: {url} unreachable "
                            f"({type(err).__name__})") from None
    if resp.status_code >= 500:
        raise UpstreamError(f"{vendor} revocation: HTTP {resp.status_code}",
                            status=resp.status_code)
    if resp.status_code >= 400:
        raise AuthError(f"{vendor} revocation refused: HTTP {resp.status_code}"
                        f"{error_of(resp)}")


def error_of(resp: requests.Response) -> str:
    """`` (error_code)`` from an OAuth error body, or ""."""
    try:
        body = resp.json()
    except ValueError:
        return ""
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return f" ({safe_error(body['error'])})"
    return ""
