"""The NetSuite emulator: one loopback port serving every account's REST web services, OAuth
2.0 and token-based authentication.

Real NetSuite gives each account its own hosts (``{account}.suitetalk.api.netsuite.com``,
``{account}.app.netsuite.com``, the account id in host form: lower case, ``_`` as ``-``).
Here one port serves them all, and a request names its account either

- by the first path segment (path form): ``http://127.0.0.1:PORT/1234567-sb1/services/rest/…``,
  ``…/1234567-sb1/app/login/oauth2/authorize.nl``; or
- by the first label of the ``Host`` header: ``http://1234567-sb1.localhost:PORT/services/…``.

Routes under an account:

- ``GET|POST /app/login/oauth2/authorize.nl`` — consent (:mod:`~arconnect.sandbox.netsuite.
  identity`)
- ``POST /services/rest/auth/oauth2/v1/token`` and ``…/revoke`` — tokens
- ``/services/rest/query/v1/suiteql``, ``/services/rest/record/v1/…``,
  ``/services/rest/system/v1/governanceLimits`` — the REST web services
  (:mod:`~arconnect.sandbox.netsuite.api`), behind a bearer token or a TBA signature and the
  account's concurrency limit
- ``/_sandbox/…`` — the control API (state, clock, faults, grants, mutate, stats, revoke, tba,
  certificates)

The HTTP lifecycle, the loopback and ``Host`` safety rules and the control plumbing are every
emulator's (:mod:`arconnect.sandbox.common.server`).
"""

from __future__ import annotations

import gc
import json
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from arconnect.sandbox.common.clock import SandboxClock
from arconnect.sandbox.common.faults import Fault, Faults
from arconnect.sandbox.common.http import Request, Response
from arconnect.sandbox.common.loopback import host_of
from arconnect.sandbox.common.server import Control, Emulator
from arconnect.sandbox.netsuite.api import NsApi
from arconnect.sandbox.netsuite.config import NsConfig, host_form
from arconnect.sandbox.netsuite.generator import generate_account
from arconnect.sandbox.netsuite.identity import NsIdentity
from arconnect.sandbox.netsuite.limits import Concurrency, Stats
from arconnect.sandbox.netsuite.model import Account
from arconnect.sandbox.netsuite.mutate import Mutator
from arconnect.sandbox.netsuite.wire import error, invalid_login, json_response

__all__ = ["NsFaults", "NsSandbox"]

REST_PREFIX = "/services/rest/"
AUTH_PREFIX = "/services/rest/auth/oauth2/v1/"
AUTHORIZE_PATH = "/app/login/oauth2/authorize.nl"
MALFORMED_KINDS = ("json", "missing_id")
TOO_MANY = "Concurrent request limit exceeded. Request blocked."


class NsFaults(Faults):
    """The fault knobs (``sb.faults``): the shared ones on the REST web services
    (``/services/rest/…`` below the account, token endpoints excluded unless
    ``path_contains`` names them) and ``throttle`` (forced 429s). ``malformed`` kinds:
    ``json`` (a truncated body) or ``missing_id`` (a SuiteQL page's first item loses ``id``).
    """

    def __init__(self, expire_hook: Callable[[], None]) -> None:
        super().__init__(REST_PREFIX, MALFORMED_KINDS, expire_hook)

    def knobs(self) -> dict[str, Callable[..., Any]]:
        """The shared knobs and ``throttle``."""
        return {**super().knobs(), "throttle": self.throttle}

    def throttle(self, n: int, path_contains: str | None = None) -> None:
        """The next ``n`` matching REST requests answer 429 as over the concurrency limit."""
        self.arm(Fault("429", n, path_contains))


class NsSandbox(Emulator):
    """The NetSuite emulator: accounts, OAuth 2.0 and TBA, concurrency limits, faults.

    Args:
        config: what to generate and how strictly to behave.

    Attributes:
        config: the configuration.
        clock: the sandbox clock (``clock_scale`` sandbox seconds per real second).
        accounts: the accounts (ground truth).
        identity: the OAuth and TBA state.
        faults: fault-injection knobs.
        stats: request counters per account and kind.
        limits: requests in flight per account.
    """

    thread_name = "netsuite-sandbox"
    server_version = "NsSandbox/1.0"
    trace_header = "X-N-OperationId"  # NetSuite's per-request id header

    faults: NsFaults
    stats: Stats

    def __init__(self, config: NsConfig | None = None) -> None:
        super().__init__()
        self.config = config or NsConfig()
        cfg = self.config
        hosts = [host_form(spec.account_id) for spec in cfg.accounts]
        if len(set(hosts)) != len(hosts):
            raise ValueError(f"two accounts share a host form: {hosts}")
        self.clock = SandboxClock(cfg.start_at(), cfg.clock_scale)
        self.accounts: list[Account] = [generate_account(spec, i, cfg, self.clock.start)
                                        for i, spec in enumerate(cfg.accounts)]
        self._by_host = {a.host: a for a in self.accounts}
        gc.freeze()  # long-lived rows: out of the cyclic collector's way
        self.identity = NsIdentity(cfg, self.clock)
        self.limits = Concurrency(cfg.strict_limits)
        self.stats = Stats()
        self.faults = NsFaults(self.identity.expire_tokens)
        self.api = NsApi(cfg, self.clock, self.stats)

    # ---- the Python control surface ----------------------------------------------------------
    def account(self, account_id: str | None = None) -> Account:
        """The account ``account_id`` names, in either form (default: the first).

        Raises:
            KeyError: no such account.
        """
        if account_id is None:
            return self.accounts[0]
        try:
            return self._by_host[host_form(account_id)]
        except KeyError:
            raise KeyError(f"no account {account_id}") from None

    def rest_base(self, account_id: str | None = None) -> str:
        """The account's REST (and app) base in path form: ``{url}/{host form}``."""
        return f"{self.url}/{self.account(account_id).host}"

    def create_grant(self, account_id: str | None = None) -> dict[str, Any]:
        """An authorization-code grant without the browser flow: ``refresh_token``,
        ``access_token``, ``expires_in``."""
        return self.identity.create_grant(self.account(account_id).account_id)

    def register_certificate(self, account_id: str | None, certificate_id: str,
                             public_key_pem: str, *, expires: datetime | None = None) -> None:
        """Register a client-credentials certificate (its public key) for ``account_id``."""
        self.identity.register_certificate(self.account(account_id).account_id,
                                           certificate_id, public_key_pem, expires=expires)

    def create_tba_token(self, account_id: str | None = None) -> tuple[str, str]:
        """A TBA token for the integration's consumer: ``(token_id, token_secret)``."""
        return self.identity.create_tba_token(self.account(account_id).account_id)

    def mutate(self, account_id: str | None = None, seed: int = 1) -> Mutator:
        """The change primitives for one account (default: the first)."""
        return Mutator(self.account(account_id), self.clock, seed)

    def state(self) -> dict[str, Any]:
        """A JSON-ready snapshot (``GET /_sandbox/state``)."""
        cfg = self.config
        return {
            "url": self.url if self.serving else None, "now": self.clock.now().isoformat(),
            "clock_scale": self.clock.scale, "strict_limits": cfg.strict_limits,
            "client_id": cfg.client_id, "client_secret": cfg.client_secret,
            "tba_consumer_key": cfg.tba_consumer_key,
            "tba_consumer_secret": cfg.tba_consumer_secret,
            "redirect_uris": cfg.redirect_uris, "row_cap": cfg.row_cap,
            "accounts": [{"account_id": a.account_id, "host": a.host, "name": a.name,
                          "timezone": a.spec.timezone, "base_currency": a.base_currency,
                          "oneworld": a.spec.oneworld,
                          "concurrency_limit": a.spec.concurrency_limit,
                          "rest_base": f"{self.url}/{a.host}" if self.serving else None,
                          "counts": a.counts()} for a in self.accounts],
            "identity": self.identity.state(),
            "faults": self.faults.pending(),
        }

    # ---- request handling --------------------------------------------------------------------
    def handle(self, req: Request) -> Response:
        """Also answer ``Host: {account}.localhost``: an account's host under a name this
        sandbox answers to (the common rules take the rest)."""
        label, _, rest = host_of(req.headers.get("Host") or "").partition(".")
        if rest and rest in self._allowed_hosts and label not in self._allowed_hosts:
            if req.path.lower().startswith("/_sandbox/"):
                return error(404, "NONEXISTENT_ID", "The control API is served under the "
                             "sandbox's own host, not an account's.")
            account = self._by_host.get(label)
            if account is None:
                return self._unknown(label)
            return self._serve(account, req, req.path,
                               f"http://{req.headers.get('Host')}")
        return super().handle(req)

    def route(self, req: Request) -> Response:
        """Answer a request addressed in path form (``/{account}/…``)."""
        segments = req.path.split("/", 2)
        first = segments[1] if len(segments) > 1 else ""
        account = self._by_host.get(first.lower())
        if account is None:
            return self._unknown(first)
        sub = "/" + (segments[2] if len(segments) > 2 else "")
        return self._serve(account, req, sub, f"http://{req.headers.get('Host')}/{first}")

    def _unknown(self, name: str) -> Response:
        # wording assumed: NetSuite's hosts do not exist for an unknown account
        known = ", ".join(a.host for a in self.accounts)
        return error(404, "NONEXISTENT_ID", f"No NetSuite account is served under the host "
                     f"form '{name}' (this sandbox serves: {known}).")

    def _serve(self, account: Account, req: Request, sub: str, base: str) -> Response:
        account_id = account.account_id
        if sub.lower().startswith(AUTH_PREFIX) or sub == AUTHORIZE_PATH:
            # token endpoints: faults only when path_contains names them
            failed = self.injected("oauth:" + sub)
            if failed is not None:
                return failed
            if sub == AUTHORIZE_PATH:
                return self.identity.authorize(req, account_id)
            if req.method != "POST":
                return error(405, "INVALID_REQUEST", f"{req.method} is not supported here.")
            if sub.lower() == AUTH_PREFIX + "token":
                self.stats.record(account_id, "token")
                return self.identity.token(req, account_id, base + sub)
            if sub.lower() == AUTH_PREFIX + "revoke":
                return self.identity.revoke(req, account_id)
            return error(404, "NONEXISTENT_ID", f"The requested resource {sub} does not exist.")
        if not sub.startswith(REST_PREFIX):
            return error(404, "NONEXISTENT_ID", f"The requested resource {sub} does not exist.")
        if self.identity.authenticate(req, account_id, base + sub) is None:
            return invalid_login()
        forced = self.faults.take("429", sub)
        if forced is not None or not self.limits.admit(account_id,
                                                       account.spec.concurrency_limit):
            self.stats.record(account_id, "http_429")
            return self._too_many()
        try:
            failed = self.injected(sub)  # a slow call holds its concurrency slot
            if failed is not None:
                return failed
            self.stats.record(account_id, self.api.kind(req, sub))
            resp = self.api.handle(account, req, sub, base)
        finally:
            self.limits.release(account_id)
        if resp.status == 200:
            # a SuiteQL page is named by its table too ("…/suiteql FROM customer"), so a
            # fault can pick one entity's query among a run's
            bad = self.faults.take("malformed", sub + _from_table(req, sub))
            if bad is not None:
                resp = _corrupt(resp, bad.malformed)
        return resp

    def _too_many(self) -> Response:
        """429 over the concurrency limit; no ``Retry-After`` (body per ``rest_429_body``)."""
        if self.config.rest_429_body == "empty":
            return Response(429, b"", {}, "text/plain")
        return error(429, "CONCURRENCY_LIMIT_EXCEEDED", TOO_MANY)

    # ---- control API -------------------------------------------------------------------------
    def json_response(self, status: int, payload: Any, headers: dict[str, str] | None = None
                      ) -> Response:
        """``payload`` as JSON."""
        return json_response(status, payload, headers)

    def crash(self, err: Exception) -> Response:
        """A sandbox bug answers 500 in NetSuite's error shape."""
        return error(500, "UNEXPECTED_ERROR", f"An unexpected error occurred: sandbox error "
                     f"{err!r}")

    def controls(self) -> dict[tuple[str, str], Control]:
        """The shared control endpoints and ``grants``, ``mutate``, ``revoke``, ``tba``,
        ``certificates``."""
        return {**super().controls(),
                ("POST", "grants"): lambda body: json_response(200, {
                    **self.create_grant(body.get("account_id")),
                    "account_id": self.account(body.get("account_id")).account_id}),
                ("POST", "mutate"): self._control_mutate,
                ("POST", "revoke"): self._control_revoke,
                ("POST", "tba"): self._control_tba,
                ("POST", "certificates"): self._control_certificate}

    def _control_mutate(self, body: dict[str, Any]) -> Response:
        done = self.mutate(body.get("account_id"), int(body.get("seed", 1))).random(
            int(body.get("n", 50)))
        return json_response(200, {"counts": dict(done)})

    def _control_revoke(self, body: dict[str, Any]) -> Response:
        targets = ([self.account(body["account_id"])] if body.get("account_id")
                   else self.accounts)
        for account in targets:
            self.identity.revoke_account(account.account_id)
        return json_response(200, {"revoked": [a.account_id for a in targets]})

    def _control_tba(self, body: dict[str, Any]) -> Response:
        token_id, secret = self.create_tba_token(body.get("account_id"))
        return json_response(200, {"token_id": token_id, "token_secret": secret,
                                   "consumer_key": self.config.tba_consumer_key,
                                   "consumer_secret": self.config.tba_consumer_secret})

    def _control_certificate(self, body: dict[str, Any]) -> Response:
        expires = datetime.fromisoformat(body["expires"]) if body.get("expires") else None
        self.register_certificate(body.get("account_id"), str(body["certificate_id"]),
                                  str(body["public_key_pem"]), expires=expires)
        return json_response(200, {"registered": body["certificate_id"]})


_FROM = re.compile(r"\bfrom\s+([a-z0-9_]+)", re.IGNORECASE)


def _from_table(req: Request, sub: str) -> str:
    """`` FROM <table> `` of a SuiteQL request (the statement's first ``FROM``), else ""."""
    if not sub.lower().endswith("/suiteql"):
        return ""
    try:
        statement = json.loads(req.body or b"{}").get("q") or ""
    except (ValueError, AttributeError):
        return ""
    found = _FROM.search(str(statement))
    return f" FROM {found.group(1).lower()} " if found else ""


def _corrupt(resp: Response, kind: str) -> Response:
    """A successful body spoiled: truncated JSON, or the first item of a page without ``id``."""
    if kind == "json":
        return Response(resp.status, resp.body[: max(len(resp.body) // 2, 1)], resp.headers,
                        resp.content_type)
    doc = json.loads(resp.body)
    items = doc.get("items") if isinstance(doc, dict) else None
    if items:
        items[0].pop("id", None)
    else:
        doc.pop("id", None)
    return Response(resp.status, json.dumps(doc).encode(), resp.headers, resp.content_type)
