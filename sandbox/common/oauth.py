"""The OAuth 2.0 steps both emulators' authorization servers take alike: the error body, the
client's credentials, the authorize request and its redirect back, and the issued bearer
tokens.

The rules that differ (redirect URI policy, scopes, token sets, lifetimes) stay in each
platform's ``identity`` module and ``server``.
"""

from __future__ import annotations

import base64
import html
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Generic, TypeVar
from urllib.parse import parse_qsl, urlencode

from arconnect.sandbox.common.http import Request, Response, text

G = TypeVar("G")


class OAuthError(Exception):
    """A token-endpoint failure: ``{"error": code}`` with an HTTP status."""

    def __init__(self, error: str, status: int = 400, description: str | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.status = status
        self.description = description

    def body(self) -> dict[str, str]:
        """The JSON error body (RFC 6749 §5.2: ``{"error":"invalid_grant"}``)."""
        out = {"error": self.error}
        if self.description:
            out["error_description"] = self.description
        return out


def form_of(req: Request) -> dict[str, str]:
    """A form-encoded body's fields (a token or revocation request)."""
    return dict(parse_qsl(req.body.decode()))


def client_credentials(req: Request, form: dict[str, str]) -> tuple[str | None, str | None]:
    """The client id and secret from HTTP Basic authentication, else from the form fields
    (RFC 6749 §2.3.1); (None, None) for an undecodable Basic header."""
    auth = req.headers.get("Authorization") or ""
    if auth.lower().startswith("basic "):
        try:
            user, _, secret = base64.b64decode(auth[6:].strip()).decode().partition(":")
        except ValueError:
            return None, None
        return user, secret
    return form.get("client_id"), form.get("client_secret")


def error_page(heading: str, message: str) -> Response:
    """The 400 page an authorize request gets when it cannot be redirected back."""
    body = f"<!doctype html><title>Error</title><h1>{heading}</h1><p>{html.escape(message)}</p>"
    return Response(400, body.encode(), content_type="text/html; charset=utf-8")


@dataclass
class Authorize:
    """An authorize request (RFC 6749 §4.1.1): the query, and on ``POST`` (the consent form)
    the form fields too, names lower-cased.

    Attributes:
        method: ``GET`` (show the consent page) or ``POST`` (the user's decision).
        params: every parameter.
    """

    method: str
    params: dict[str, str]

    @classmethod
    def of(cls, req: Request) -> Authorize:
        """The authorize request ``req`` carries."""
        params = dict(req.query)
        if req.method == "POST":
            params.update({k.lower(): v for k, v in form_of(req).items()})
        return cls(req.method, params)

    @property
    def client_id(self) -> str:
        """``client_id`` ("" when missing)."""
        return self.params.get("client_id", "")

    @property
    def redirect_uri(self) -> str:
        """``redirect_uri`` ("" when missing)."""
        return self.params.get("redirect_uri", "")

    @property
    def scope(self) -> str:
        """``scope`` ("" when missing)."""
        return self.params.get("scope", "")

    @property
    def denied(self) -> bool:
        """The user pressed the consent form's deny button."""
        return self.method == "POST" and self.params.get("decision") == "deny"

    def refusal(self) -> Response | None:
        """The redirect answering an unsupported ``response_type`` (only ``code`` is)."""
        if self.params.get("response_type") != "code":
            return self.back({"error": "unsupported_response_type"})
        return None

    def back(self, extra: dict[str, str]) -> Response:
        """The 302 to ``redirect_uri`` with ``extra`` and the request's ``state``."""
        state = self.params.get("state")
        if state is not None:
            extra["state"] = state
        redirect = self.redirect_uri
        sep = "&" if "?" in redirect else "?"
        resp = text(302)
        resp.headers["Location"] = redirect + sep + urlencode(extra)
        return resp

    def hidden_fields(self, *skip: str) -> str:
        """The parameters as the consent form's hidden inputs (but ``decision`` and ``skip``)."""
        return "\n".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
            for k, v in self.params.items() if k != "decision" and k not in skip)


class AccessTokens(Generic[G]):
    """Bearer tokens issued, each with its grant and expiry instant (thread-safe)."""

    def __init__(self) -> None:
        self._tokens: dict[str, tuple[G, datetime]] = {}
        self._lock = threading.Lock()

    def add(self, token: str, grant: G, expires: datetime) -> None:
        """Record a newly issued token."""
        with self._lock:
            self._tokens[token] = (grant, expires)

    def get(self, token: str) -> tuple[G, datetime] | None:
        """The grant and expiry of ``token`` (None: never issued)."""
        with self._lock:
            return self._tokens.get(token)

    def expire_all(self, now: datetime) -> None:
        """Every token issued so far is expired from ``now`` on (fault injection)."""
        past = now - timedelta(seconds=1)
        with self._lock:
            self._tokens = {t: (g, past) for t, (g, _) in self._tokens.items()}
