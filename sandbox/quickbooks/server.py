"""The QuickBooks emulator's routes: one loopback port serving Intuit's OAuth paths and the
Accounting API.

Real Intuit spreads these paths over several hosts (``appcenter.intuit.com``,
``oauth.platform.intuit.com``, ``developer.api.intuit.com``, ``quickbooks.api.intuit.com``);
here every base URL is the same ``http://127.0.0.1:PORT``. Routes:

- ``GET|POST /connect/oauth2`` — consent page (or an immediate redirect with ``code``,
  ``state`` and ``realmId``)
- ``POST /oauth2/v1/tokens/bearer`` — tokens; ``POST /v2/oauth2/tokens/revoke`` — revocation
- ``GET /.well-known/openid_configuration`` — the discovery document, pointing here
- ``/v3/company/{realmId}/…`` — the Accounting API (:mod:`arconnect.sandbox.quickbooks.api`)
- ``/_sandbox/…`` — the control API (state, clock, faults, grants, mutate, stats, revoke)

The HTTP lifecycle, the loopback and ``Host`` safety rules and the control plumbing are every
emulator's (:mod:`arconnect.sandbox.common.server`).
"""

from __future__ import annotations

import gc
import html
import json
import threading
from datetime import datetime
from typing import Any

from arconnect.sandbox.common.clock import SandboxClock
from arconnect.sandbox.common.http import Request, Response, text
from arconnect.sandbox.common.loopback import RemoteRefused, is_loopback
from arconnect.sandbox.common.oauth import (
    Authorize,
    OAuthError,
    client_credentials,
    error_page,
    form_of,
)
from arconnect.sandbox.common.server import Control, Emulator
from arconnect.sandbox.quickbooks.api import ApiFault, QboApi
from arconnect.sandbox.quickbooks.faults import QboFaults
from arconnect.sandbox.quickbooks.generator import generate_company
from arconnect.sandbox.quickbooks.identity import ACCOUNTING_SCOPE, Identity
from arconnect.sandbox.quickbooks.limits import Stats, Throttle
from arconnect.sandbox.quickbooks.model import Company, QboConfig
from arconnect.sandbox.quickbooks.mutate import Mutator
from arconnect.sandbox.quickbooks.wire import JSON, fault, render

__all__ = ["QboSandbox", "RemoteRefused", "is_loopback"]

ERROR_HEADING = "Something went wrong"
CONSENT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Connect to QuickBooks</title></head>
<body><h1>Connect your QuickBooks company</h1>
<p>The app <b>{client}</b> wants access to: <code>{scope}</code>.</p>
<form method="post" action="/connect/oauth2">{hidden}
<fieldset><legend>Company</legend>{companies}</fieldset>
<button name="decision" value="allow">Connect</button>
<button name="decision" value="deny">Cancel</button></form></body></html>
"""


def _json(status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(status, render(payload).encode(), dict(headers or {}), JSON)


class QboSandbox(Emulator):
    """The QuickBooks Online emulator: companies, OAuth, throttles, faults, the HTTP server.

    Args:
        config: what to generate and how strictly to behave.

    Attributes:
        config: the configuration.
        clock: the sandbox clock (``clock_scale`` sandbox seconds per real second).
        companies: the companies (ground truth), each with ``realm_id``.
        identity: the OAuth state.
        faults: fault-injection knobs.
        stats: request counters per kind.
    """

    thread_name = "qbo-sandbox"
    server_version = "QboSandbox/1.0"
    trace_header = "intuit_tid"  # every QBO response carries it, the id to quote to support

    faults: QboFaults
    stats: Stats

    def __init__(self, config: QboConfig | None = None) -> None:
        super().__init__()
        self.config = config or QboConfig()
        cfg = self.config
        self.clock = SandboxClock(cfg.start_at(), cfg.clock_scale)
        self.companies: list[Company] = [generate_company(spec, i, cfg.seed, self.clock.start)
                                         for i, spec in enumerate(cfg.companies)]
        self._by_realm = {c.realm_id: c for c in self.companies}
        gc.freeze()  # long-lived records: out of the cyclic collector's way (as the Xero one)
        self.identity = Identity(self.clock, cfg.client_id, cfg.client_secret,
                                 list(cfg.redirect_uris), cfg.production_keys,
                                 cfg.refresh_grace_seconds)
        self.throttle = Throttle(self.clock, cfg.strict_limits, cfg.minute_limit,
                                 cfg.concurrent_limit, cfg.batch_minute_limit)
        self.stats = Stats()
        self.faults = QboFaults(self.identity.expire_access_tokens, self.identity.revoke_realm)
        self.api = QboApi(self.clock)
        self._replays: dict[tuple[str, str], Response] = {}
        self._replay_lock = threading.Lock()

    # ---- the Python control surface ----------------------------------------------------------
    @property
    def client_id(self) -> str:
        """The registered app's client id."""
        return self.config.client_id

    @property
    def client_secret(self) -> str:
        """The registered app's client secret."""
        return self.config.client_secret

    def company(self, realm_id: str | None = None) -> Company:
        """The company with ``realm_id`` (default: the first).

        Raises:
            KeyError: no such realm.
        """
        if realm_id is None:
            return self.companies[0]
        try:
            return self._by_realm[realm_id]
        except KeyError:
            raise KeyError(f"no company with realmId {realm_id}") from None

    def create_grant(self, realm_id: str | None = None, hard_expiry: bool = False
                     ) -> dict[str, Any]:
        """A token set for a new consent to ``realm_id`` (default: the first company),
        without the browser flow; ``realmId`` is added to it for convenience."""
        company = self.company(realm_id)
        tokens = self.identity.create_grant(company.realm_id, hard_expiry=hard_expiry)
        return {**tokens, "realmId": company.realm_id}

    def mutate(self, realm_id: str | None = None, seed: int = 1) -> Mutator:
        """The change primitives for one company (default: the first)."""
        return Mutator(self.company(realm_id), self.clock, seed)

    def state(self) -> dict[str, Any]:
        """A JSON-ready snapshot (``GET /_sandbox/state``)."""
        return {
            "url": self.url if self.serving else None, "now": self.clock.now().isoformat(),
            "clock_scale": self.clock.scale, "strict_limits": self.config.strict_limits,
            "client_id": self.client_id, "client_secret": self.client_secret,
            "redirect_uris": self.config.redirect_uris,
            "companies": [{"realm_id": c.realm_id, "name": c.name,
                           "home_currency": c.home_currency, "offset": c.spec.offset,
                           "counts": {e: len(t) for e, t in c.tables.items()}}
                          for c in self.companies],
            "faults": self.faults.pending(),
        }

    # ---- request handling --------------------------------------------------------------------
    def route(self, req: Request) -> Response:
        """Answer a request outside the control API."""
        path = req.path
        if path.startswith("/v3/company/"):
            return self._accounting(req)
        failed = self.injected(path)
        if failed is not None:
            return failed
        if path == "/connect/oauth2":
            self.stats.record("authorize")
            return self._authorize(req)
        if path == "/oauth2/v1/tokens/bearer" and req.method == "POST":
            self.stats.record("token")
            return self._token(req)
        if path == "/v2/oauth2/tokens/revoke" and req.method == "POST":
            self.stats.record("revoke")
            return self._revoke(req)
        if path in ("/.well-known/openid_configuration",
                    "/.well-known/openid_sandbox_configuration"):
            return _json(200, self._discovery())
        return text(404, "Not Found")

    def _discovery(self) -> dict[str, Any]:
        base = self.url if self.serving else ""
        return {"issuer": "https://oauth.platform.intuit.com/op/v1",
                "authorization_endpoint": f"{base}/connect/oauth2",
                "token_endpoint": f"{base}/oauth2/v1/tokens/bearer",
                "revocation_endpoint": f"{base}/v2/oauth2/tokens/revoke",
                "response_types_supported": ["code"],
                "token_endpoint_auth_methods_supported": ["client_secret_post",
                                                          "client_secret_basic"]}

    def _auth_fault(self, detail: str, company: Company | None) -> Response:
        # QBO's 401 as integrators quote it (routablehq/python-quickbooks #250): lower-case
        # "fault"/"error" keys, type AUTHENTICATION, code 3200, epoch-millisecond "time"
        body: dict[str, Any] = {"warnings": None, "intuitObject": None,
                "fault": {"error": [{"message": "message=AuthenticationFailed; "
                                                "errorCode=003200; statusCode=401",
                                     "detail": detail, "code": "3200", "element": None}],
                          "type": "AUTHENTICATION"},
                "report": None, "queryResponse": None, "batchItemResponse": [],
                "attachableResponse": [], "syncErrorResponse": None, "requestId": None,
                "time": int(self.clock.now().timestamp() * 1000), "status": None,
                "cdcresponse": []}
        return Response(401, render(body).encode(),
                        {"WWW-Authenticate": 'Bearer realm="Intuit", error="invalid_token"'},
                        JSON)

    def _accounting(self, req: Request) -> Response:
        parts = [p for p in req.path.split("/") if p]  # v3 company {realm} …
        realm = parts[2] if len(parts) > 2 else ""
        company = self._by_realm.get(realm)
        auth = req.headers.get("Authorization") or ""
        if not auth.lower().startswith("bearer "):
            return self._auth_fault("Authorization header missing or not Bearer", company)
        grant, detail = self.identity.check_access(auth[7:].strip())
        if grant is None:
            return self._auth_fault(detail, company)
        if company is None or grant.realm_id != realm:
            # a token for another company: QBO answers 403 ApplicationAuthorizationFailed
            # (code 3100, as quoted in frappe/erpnext #29161)
            return self._forbidden(company)
        rest = parts[3:]
        kind = self.api.kind(req, rest)
        forced = self.faults.take("429", req.path)
        limit = "forced" if forced is not None else self.throttle.admit(
            realm, batch=kind == "batch")
        self.stats.record(kind, realm, limit)
        if limit is not None:
            return self._throttled(company)
        replay_key = None
        if req.method == "POST" and req.query.get("requestid"):
            # a write retried with the same requestid gets the first answer again, not a
            # second write ("It is very important to use a requestId", Intuit's blog post of
            # 2016-08-08 on concurrent API use; replay semantics assumed)
            replay_key = (realm, req.query["requestid"])
            with self._replay_lock:
                seen = self._replays.get(replay_key)
            if seen is not None:
                self.throttle.release(realm)
                return seen
        try:
            failed = self.injected(req.path)  # a slow call holds its concurrency slot
            if failed is not None:
                return failed
            resp = self.api.handle(company, req, rest)
        finally:
            if forced is None:
                self.throttle.release(realm)
        if replay_key is not None and resp.status < 500:
            with self._replay_lock:
                self._replays[replay_key] = resp
        if resp.status == 200 and req.method == "GET":
            bad = self.faults.take("malformed", req.path)
            if bad is not None:
                resp = _corrupt(resp, bad.malformed)
        return resp

    def _forbidden(self, company: Company | None) -> Response:
        err = ApiFault("message=ApplicationAuthorizationFailed; errorCode=003100; "
                       "statusCode=403", "", "3100", 403, "SERVICE")
        return self.api.fault_response(company, err)

    def _throttled(self, company: Company) -> Response:
        # QBO's 429 (ruckus/quickbooks-ruby PR #348, intuit/QuickBooks-V3-PHP-SDK #54): Fault
        # type SERVICE, code 3001, no Retry-After header
        err = ApiFault("message=ThrottleExceeded; errorCode=003001; statusCode=429",
                       "The request limit was reached.  Try again later", "3001", 429,
                       "SERVICE")
        return self.api.fault_response(company, err)

    # ---- OAuth -------------------------------------------------------------------------------
    def _authorize(self, req: Request) -> Response:
        auth = Authorize.of(req)
        if auth.client_id != self.client_id:
            return error_page(ERROR_HEADING, "invalid_client: unknown client_id")
        problem = self.identity.redirect_problem(auth.redirect_uri)
        if problem is not None:
            return error_page(ERROR_HEADING, f"invalid redirect_uri: {problem}")
        refused = auth.refusal()
        if refused is not None:
            return refused
        if ACCOUNTING_SCOPE not in auth.scope.split():
            return auth.back({"error": "invalid_scope"})
        if req.method == "GET" and not self.config.auto_approve:
            companies = "".join(
                f'<label><input type="radio" name="realmId" value="{c.realm_id}"'
                f'{" checked" if i == 0 else ""}> {html.escape(c.name)}</label><br>'
                for i, c in enumerate(self.companies))
            page = CONSENT.format(client=html.escape(auth.client_id),
                                  scope=html.escape(auth.scope),
                                  hidden=auth.hidden_fields("realmid"), companies=companies)
            return Response(200, page.encode(), content_type="text/html; charset=utf-8")
        if auth.denied:
            return auth.back({"error": "access_denied"})
        realm = auth.params.get("realmid") or self.companies[0].realm_id
        if realm not in self._by_realm:
            return error_page(ERROR_HEADING, f"unknown company {realm}")
        code = self.identity.issue_code(auth.redirect_uri, realm, auth.scope)
        return auth.back({"code": code, "realmId": realm})

    def _token(self, req: Request) -> Response:
        form = form_of(req)
        return self.oauth_answer(lambda: self._tokens(req, form),
                                 {"Cache-Control": "no-cache, no-store", "Pragma": "no-cache"})

    def _tokens(self, req: Request, form: dict[str, str]) -> dict[str, Any]:
        hard = (form.get("include_hard_expiry", "").lower() == "true")
        self.identity.authenticate(*client_credentials(req, form))
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            return self.identity.exchange_code(form.get("code", ""), form.get("redirect_uri"),
                                               hard)
        if grant_type == "refresh_token":
            return self.identity.refresh(form.get("refresh_token", ""), hard)
        raise OAuthError("unsupported_grant_type")

    def _revoke(self, req: Request) -> Response:
        try:
            self.identity.authenticate(*client_credentials(req, {}))
        except OAuthError as err:
            return _json(err.status, err.body())
        try:
            token = str(json.loads(req.body or b"{}").get("token", ""))
        except (ValueError, AttributeError):
            return _json(400, {"error": "invalid_request"})
        if not self.identity.revoke(token):
            return _json(400, {"error": "invalid_token"})  # assumed for an unknown token
        return Response(200, b"", content_type="text/plain")

    # ---- control API -------------------------------------------------------------------------
    def json_response(self, status: int, payload: Any, headers: dict[str, str] | None = None
             ) -> Response:
        """``payload`` rendered as QBO renders JSON."""
        return _json(status, payload, headers)

    def crash(self, err: Exception) -> Response:
        """A sandbox bug answers as QBO's SystemFault."""
        return Response(500, render({"Fault": fault(
            "An application error has occurred while processing your request",
            f"System Failure Error: sandbox error {err!r}", "10000", "SystemFault"),
            "time": datetime.now().astimezone().isoformat()}).encode(), {}, JSON)

    def controls(self) -> dict[tuple[str, str], Control]:
        """The shared control endpoints, ``grants``, ``mutate`` and ``revoke``."""
        return {**super().controls(),
                ("POST", "grants"): lambda body: _json(200, self.create_grant(
                    body.get("realm_id"))),
                ("POST", "mutate"): self._control_mutate,
                ("POST", "revoke"): lambda body: _json(200, {
                    "revoked": self.faults.revoke_grant(body.get("realm_id"))})}

    def _control_mutate(self, body: dict[str, Any]) -> Response:
        done = self.mutate(body.get("realm_id"), int(body.get("seed", 1))).random(
            int(body.get("n", 50)))
        return _json(200, {"counts": dict(done)})


def _corrupt(resp: Response, kind: str) -> Response:
    """A successful body spoiled: truncated JSON, or the first listed record without ``Id``."""
    if kind == "json":
        return Response(resp.status, resp.body[: max(len(resp.body) // 2, 1)], resp.headers,
                        resp.content_type)
    doc = json.loads(resp.body)
    for value in (doc.get("QueryResponse") or {}).values():
        if isinstance(value, list) and value:
            value[0].pop("Id", None)
            break
    return Response(resp.status, json.dumps(doc).encode(), resp.headers, resp.content_type)
