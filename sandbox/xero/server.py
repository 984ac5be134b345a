"""The Xero emulator's routes: one loopback port serving Xero's login, identity and API paths.

The HTTP lifecycle, the loopback and ``Host`` safety rules and the control plumbing are every
emulator's (:mod:`arconnect.sandbox.common.server`). Real Xero spreads these paths over three
hosts (``login.xero.com``, ``identity.xero.com``, ``api.xero.com``); here the three base URLs
are the same ``http://127.0.0.1:PORT``. Routes:

- ``GET|POST /identity/connect/authorize`` — consent page (or an immediate redirect)
- ``POST /connect/token``, ``POST /connect/revocation`` — tokens
- ``GET /connections``, ``DELETE /connections/{id}`` — the grant's organisations
- ``/api.xro/2.0/…`` — the Accounting API (:mod:`arconnect.sandbox.xero.api`)
- ``/_sandbox/…`` — the control API (state, clock, faults, mutate, grants, stats, revoke)
"""

from __future__ import annotations

import gc
import html
import threading
import uuid
from datetime import datetime
from importlib import resources
from string import Template
from typing import Any
from urllib.parse import urlsplit

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
from arconnect.sandbox.xero import scopes
from arconnect.sandbox.xero.api import AccountingApi
from arconnect.sandbox.xero.faults import XeroFaults
from arconnect.sandbox.xero.generator import generate_org
from arconnect.sandbox.xero.identity import Grant, Identity
from arconnect.sandbox.xero.limits import RateLimiter, Stats
from arconnect.sandbox.xero.model import Org, SandboxConfig
from arconnect.sandbox.xero.mutate import MutationSummary, mutate
from arconnect.sandbox.xero.wire import render, xml_of

__all__ = ["RemoteRefused", "XeroSandbox", "is_loopback"]

XML = "text/xml; charset=utf-8"
ERROR_HEADING = "Sorry, something went wrong"


def _json(status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(status, render(payload).encode(), dict(headers or {}))


def _problem(status: int, title: str, detail: str) -> Response:
    # The identity layer's problem-details body, as real Xero answers quote it:
    # 401 ``{"Type":null,"Title":"Unauthorized","Status":401,"Detail":"TokenExpired: token
    # expired at 04/09/2023 05:16:59","Instance":"…","Extensions":{}}`` (freakboy3742/pyxero
    # PR #337, waynerobinson/xeroizer PR #509); 403 ``"Title":"Forbidden"`` with
    # ``"Detail":"AuthenticationUnsuccessful"`` when the tenant header is missing or not
    # connected (XeroAPI/xero-node #432, NangoHQ/nango #203). Not in the spec.
    return _json(status, {"Type": None, "Title": title, "Status": status, "Detail": detail,
                          "Instance": str(uuid.uuid4()), "Extensions": {}})


def _as_xml(resp: Response) -> Response:
    """``resp`` with its JSON body rendered as Xero's XML (a new object: idempotent replays
    keep the JSON one); bodies that are not JSON objects (none, text, a corrupted-body fault)
    are left as they are."""
    if not resp.body or not resp.content_type.startswith("application/json"):
        return resp
    try:
        body = xml_of(resp.body)
    except ValueError:
        return resp
    return Response(resp.status, body, dict(resp.headers), content_type=XML)


def _utc_text(moment: datetime) -> str:
    """``/connections`` timestamps: ``2026-04-20T11:47:10.3365440`` (7 digits, no zone)."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond:06d}0"


class XeroSandbox(Emulator):
    """The Xero emulator: data, identity, limits, faults and the HTTP server.

    Args:
        config: what to generate and how strictly to behave.

    Attributes:
        config: the configuration.
        clock: the sandbox clock.
        orgs: the organisations (ground truth).
        identity: the OAuth state.
        faults: fault-injection knobs.
        stats: per-tenant call statistics.
    """

    thread_name = "xero-sandbox"
    server_version = "XeroSandbox/1.0"
    trace_header = "Xero-Correlation-Id"

    faults: XeroFaults
    stats: Stats

    def __init__(self, config: SandboxConfig | None = None) -> None:
        super().__init__()
        self.config = config or SandboxConfig()
        cfg = self.config
        self.clock = SandboxClock(cfg.start_at(), cfg.time_scale)
        self.orgs: list[Org] = [generate_org(spec, i, cfg.seed, self.clock.start)
                                for i, spec in enumerate(cfg.orgs)]
        self._by_id = {o.tenant_id: o for o in self.orgs}
        # The generated records are long-lived: move them out of the cyclic collector's
        # reach, or every full collection in this process (the client's included, when a test
        # or benchmark runs in-process) walks millions of objects.
        gc.freeze()
        self.identity = Identity(self.clock, cfg.client_id, cfg.client_secret,
                                 [o.tenant_id for o in self.orgs], cfg.refresh_grace_seconds,
                                 cfg.redirect_uris)
        self.limits = RateLimiter(self.clock, cfg.strict_limits, cfg.minute_limit,
                                  cfg.day_limit, cfg.concurrent_limit, cfg.app_minute_limit)
        self.stats = Stats()
        self.faults = XeroFaults(self.identity.expire_access_tokens,
                                 self.limits.spend_elsewhere)
        self.rendered = threading.Event()
        self.api = AccountingApi(cfg, self.clock)
        self._consent = Template(
            resources.files("arconnect.sandbox.xero").joinpath("consent.html").read_text())

    # ---- lifecycle --------------------------------------------------------------------------
    def started(self) -> None:
        """Pre-render every record's JSON in the background when the config asks for it."""
        if self.config.prerender:
            threading.Thread(target=self._prerender, name="xero-sandbox-render",
                             daemon=True).start()

    def _prerender(self) -> None:
        """Render every record's JSON once, in the order an incremental pull asks for them,
        a thousand at a time so requests interleave (they would render lazily otherwise)."""
        for org in self.orgs:
            for table in (org.invoices, org.contacts, org.payments, org.credit_notes,
                          org.overpayments, org.prepayments):
                with org.lock:
                    keys = list(table.by_updated())
                for i in range(0, len(keys), 1000):
                    if not self.serving:
                        return
                    with org.lock:
                        for key in keys[i:i + 1000]:
                            if key in table:
                                table.json(key)
        self.rendered.set()

    def wait_rendered(self, timeout: float | None = None) -> bool:
        """Block until every record's JSON is pre-rendered (benchmarks measure the client,
        not the sandbox's first renders); True when done."""
        if not self.config.prerender:
            return True
        return self.rendered.wait(timeout)

    # ---- the Python control surface --------------------------------------------------------
    def org(self, tenant_id: str) -> Org:
        """The organisation with ``tenant_id`` (KeyError if unknown)."""
        return self._by_id[tenant_id]

    def create_grant(self, tenant_ids: list[str] | None = None,
                     scope: str | None = None) -> dict[str, Any]:
        """A token set for a new grant reaching ``tenant_ids`` (default: every org), without
        the browser flow. ``scope`` (space-separated) defaults to ``offline_access
        accounting.contacts accounting.transactions accounting.settings``, which allows every
        call the sandbox serves."""
        for t in tenant_ids or []:
            self.org(t)
        if scope is None:
            return self.identity.create_grant(tenant_ids)
        return self.identity.create_grant(tenant_ids, scope=scope)

    def mutate(self, tenant_id: str | None = None, n: int = 50, seed: int = 1,
               same_second: bool = False) -> MutationSummary:
        """Make ``n`` changes in one organisation (default: the first); see
        :func:`arconnect.sandbox.xero.mutate.mutate`."""
        org = self.org(tenant_id) if tenant_id else self.orgs[0]
        return mutate(org, self.clock, n=n, seed=seed, same_second=same_second)

    def revoke_all(self) -> None:
        """Revoke every grant: refreshes answer ``invalid_grant``, bearers 401."""
        self.identity.revoke_all()

    def state(self) -> dict[str, Any]:
        """A JSON-ready snapshot (``GET /_sandbox/state``)."""
        return {
            "url": self.url if self.serving else None,
            "now": self.clock.now().isoformat(), "time_scale": self.clock.scale,
            "strict_limits": self.config.strict_limits, "client_id": self.config.client_id,
            "client_secret": self.config.client_secret,
            "orgs": [{"tenant_id": o.tenant_id, "name": o.name,
                      "base_currency": o.base_currency, "timezone": o.timezone,
                      "counts": {"contacts": len(o.contacts), "invoices": len(o.invoices),
                                 "credit_notes": len(o.credit_notes),
                                 "payments": len(o.payments),
                                 "overpayments": len(o.overpayments),
                                 "prepayments": len(o.prepayments),
                                 "contact_groups": len(o.contact_groups)}}
                     for o in self.orgs],
            "faults": self.faults.pending(),
        }

    # ---- request handling (called by the handler threads) ----------------------------------
    def route(self, req: Request) -> Response:
        """Answer a request outside the control API."""
        path = req.path.lower()
        if path.startswith("/api.xro/"):
            return self._accounting(req)
        failed = self.injected(req.path)
        if failed is not None:
            return failed
        if path == "/identity/connect/authorize":
            return self._authorize(req)
        if path == "/connect/token" and req.method == "POST":
            return self._token(req)
        if path == "/connect/revocation" and req.method == "POST":
            return self._revocation(req)
        if path == "/connections" or path.startswith("/connections/"):
            return self._connections(req)
        return text(404, "Not Found")

    def _bearer(self, req: Request) -> tuple[Grant | None, Response | None]:
        auth = req.headers.get("Authorization") or ""
        if not auth.lower().startswith("bearer "):
            return None, _problem(401, "Unauthorized", "AuthenticationUnsuccessful")
        grant, detail = self.identity.check_access(auth[7:].strip())
        if grant is None:
            resp = _problem(401, "Unauthorized", detail)
            resp.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
            return None, resp
        return grant, None

    def _accounting(self, req: Request) -> Response:
        grant, denied = self._bearer(req)
        if denied is not None:
            return denied
        assert grant is not None
        tenant = (req.headers.get("xero-tenant-id") or "").strip().lower()
        if not tenant or tenant not in self._by_id or tenant not in {
                c.tenant_id for c in grant.connections}:
            # Missing or unconnected tenant: 403 AuthenticationUnsuccessful (see _problem)
            return _problem(403, "Forbidden", "AuthenticationUnsuccessful")
        if scopes.missing(grant.scope, req.method, req.path):
            # The token lacks every scope that allows this call (sandbox/xero/scopes.py).
            # Refused before the limits, like the other authorisation failures (assumed).
            return _problem(401, "Unauthorized", "AuthorizationUnsuccessful")
        verdict = self.limits.admit(tenant)
        key = f"{req.method} {urlsplit(req.path).path}"
        self.stats.record(tenant, key, verdict.problem)
        if verdict.problem is not None:
            headers = dict(verdict.headers)
            headers["X-Rate-Limit-Problem"] = verdict.problem
            if verdict.retry_after is not None:
                headers["Retry-After"] = str(self.clock.retry_after(verdict.retry_after))
            return Response(429, b"", headers, content_type="text/plain")
        try:
            failed = self.injected(req.path)  # slow calls hold their concurrency slot, as in Xero
            if failed is not None:
                resp = failed
            else:
                bad = self.faults.take("malformed", req.path) if req.method == "GET" else None
                resp = self.api.handle(self.org(tenant), req, bad.malformed if bad else None)
                if "application/json" not in (req.headers.get("Accept") or "").lower():
                    resp = _as_xml(resp)  # Xero's default (wire.xml_of); a 204 stays empty
        finally:
            self.limits.release(tenant)
        resp.headers.update(verdict.headers)
        return resp

    # ---- identity ---------------------------------------------------------------------------
    def _authorize(self, req: Request) -> Response:
        auth = Authorize.of(req)
        if auth.client_id != self.config.client_id:
            return error_page(ERROR_HEADING, "unauthorized_client: unknown client_id")
        if not auth.redirect_uri or not self.identity.redirect_allowed(auth.redirect_uri):
            return error_page(ERROR_HEADING, "invalid redirect_uri")
        refused = auth.refusal()
        if refused is not None:
            return refused
        challenge = auth.params.get("code_challenge")
        method = auth.params.get("code_challenge_method") if challenge else None
        if challenge and method not in (None, "S256", "plain"):
            return auth.back({"error": "invalid_request"})
        if req.method == "GET" and not self.config.auto_approve:
            orgs = "".join(f"<li>{html.escape(o.name)}</li>" for o in self.orgs)
            page = self._consent.substitute(client_id=html.escape(auth.client_id), orgs=orgs,
                                            scope=html.escape(auth.scope),
                                            hidden=auth.hidden_fields())
            return Response(200, page.encode(), content_type="text/html; charset=utf-8")
        if auth.denied:
            return auth.back({"error": "access_denied"})
        code = self.identity.issue_code(auth.client_id, auth.redirect_uri, auth.scope,
                                        challenge, method)
        return auth.back({"code": code, "scope": auth.scope})

    def _token(self, req: Request) -> Response:
        form = form_of(req)
        return self.oauth_answer(lambda: self._tokens(req, form),
                                 {"Cache-Control": "no-store", "Pragma": "no-cache"})

    def _tokens(self, req: Request, form: dict[str, str]) -> dict[str, Any]:
        client_id, secret = client_credentials(req, form)
        public = secret is None and client_id == self.config.client_id
        if not public:
            self.identity.authenticate(client_id, secret)
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            return self.identity.exchange_code(form.get("code", ""), form.get("redirect_uri"),
                                               form.get("code_verifier"), public)
        if grant_type == "refresh_token":
            return self.identity.refresh(form.get("refresh_token", ""), public)
        raise OAuthError("unsupported_grant_type")

    def _revocation(self, req: Request) -> Response:
        form = form_of(req)
        client_id, secret = client_credentials(req, form)
        try:
            if not (secret is None and client_id == self.config.client_id):
                self.identity.authenticate(client_id, secret)
        except OAuthError as err:
            return _json(err.status, err.body())
        self.identity.revoke(form.get("token", ""))
        return Response(200, b"")

    def _connections(self, req: Request) -> Response:
        grant, denied = self._bearer(req)
        if denied is not None:
            return denied
        assert grant is not None
        parts = [p for p in req.path.split("/") if p]
        self.stats.record("identity", f"{req.method} /connections", None)
        if req.method == "GET" and len(parts) == 1:
            event = req.query.get("autheventid")
            rows = [{"id": c.id, "authEventId": c.auth_event_id, "tenantId": c.tenant_id,
                     "tenantType": "ORGANISATION", "tenantName": self.org(c.tenant_id).name,
                     "createdDateUtc": _utc_text(c.created),
                     "updatedDateUtc": _utc_text(c.updated)}
                    for c in grant.connections if not event or c.auth_event_id == event]
            return _json(200, rows)
        if req.method == "DELETE" and len(parts) == 2:
            if self.identity.remove_connection(grant, parts[1].lower()):
                return Response(204)
            return Response(404, b"", content_type="text/plain")
        return Response(405, b"", content_type="text/plain")

    # ---- control API ------------------------------------------------------------------------
    def json_response(self, status: int, payload: Any, headers: dict[str, str] | None = None
             ) -> Response:
        """``payload`` rendered as the sandbox's JSON."""
        return _json(status, payload, headers)

    def controls(self) -> dict[tuple[str, str], Control]:
        """The shared control endpoints, ``mutate``, ``grants`` and ``revoke``."""
        return {**super().controls(), ("POST", "mutate"): self._control_mutate,
                ("POST", "grants"): lambda body: _json(200, self.create_grant(
                    body.get("tenant_ids"), body.get("scope"))),
                ("POST", "revoke"): self._control_revoke}

    def _control_mutate(self, body: dict[str, Any]) -> Response:
        summary = self.mutate(body.get("tenant_id"), int(body.get("n", 50)),
                              int(body.get("seed", 1)), bool(body.get("same_second")))
        return _json(200, summary.as_dict())

    def _control_revoke(self, _: dict[str, Any]) -> Response:
        self.revoke_all()
        return _json(200, {"revoked": True})
