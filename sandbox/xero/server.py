"""The HTTP server: one loopback port serving Xero's login, identity and API paths.

Standard library only (``ThreadingHTTPServer``, HTTP/1.1 keep-alive). Real Xero spreads these
paths over three hosts (``login.xero.com``, ``identity.xero.com``, ``api.xero.com``); here the
three base URLs are the same ``http://127.0.0.1:PORT``. Routes:

- ``GET|POST /identity/connect/authorize`` — consent page (or an immediate redirect)
- ``POST /connect/token``, ``POST /connect/revocation`` — tokens
- ``GET /connections``, ``DELETE /connections/{id}`` — the grant's organisations
- ``/api.xro/2.0/…`` — the Accounting API (:mod:`arconnect.sandbox.xero.api`)
- ``/_sandbox/…`` — the control API (state, clock, faults, mutate, grants, stats, revoke)
"""

from __future__ import annotations

import base64
import gc
import html
import ipaddress
import json
import socket
import threading
import time
import uuid
from collections.abc import Sequence
from datetime import datetime
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from string import Template
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from arconnect.sandbox.xero import scopes
from arconnect.sandbox.xero.api import AccountingApi, Request, Response
from arconnect.sandbox.xero.clock import SandboxClock
from arconnect.sandbox.xero.faults import Faults
from arconnect.sandbox.xero.generator import generate_org
from arconnect.sandbox.xero.identity import Grant, Identity, OAuthError
from arconnect.sandbox.xero.limits import RateLimiter, Stats
from arconnect.sandbox.xero.model import Org, SandboxConfig
from arconnect.sandbox.xero.mutate import MutationSummary, mutate
from arconnect.sandbox.xero.wire import render, xml_of

JSON = "application/json; charset=utf-8"
XML = "text/xml; charset=utf-8"


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


LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


class RemoteRefused(ValueError):
    """The sandbox was asked to listen beyond loopback without ``allow_remote``."""


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback address literals (``127.0.0.0/8``, ``::1``)."""
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _host_names(host: str, allow_remote: bool, extra: Sequence[str]) -> frozenset[str]:
    """The names a request's ``Host`` header may carry for a server bound to ``host``."""
    names = set(LOOPBACK_NAMES) | {h.strip().strip("[]").lower() for h in extra if h.strip()}
    bound = host.strip().strip("[]").lower()
    if bound in ("", "0.0.0.0", "::"):
        if allow_remote:  # all interfaces: the machine's own names reach it too
            names.update({socket.gethostname().lower(), socket.getfqdn().lower()})
    else:
        names.add(bound)
    return frozenset(names)


def _host_of(header: str) -> str:
    """The name in a ``Host`` header, without the port (``[::1]:80`` -> ``::1``)."""
    value = header.strip().lower()
    if value.startswith("["):
        return value[1:].split("]", 1)[0]
    if value.count(":") == 1:
        return value.split(":", 1)[0]
    return value


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


class XeroSandbox:
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

    def __init__(self, config: SandboxConfig | None = None) -> None:
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
        self.faults = Faults(self.identity.expire_access_tokens, self.limits.spend_elsewhere)
        self.rendered = threading.Event()
        self.api = AccountingApi(cfg, self.clock)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._allowed_hosts: frozenset[str] = LOOPBACK_NAMES
        self._consent = Template(
            resources.files("arconnect.sandbox.xero").joinpath("consent.html").read_text())

    # ---- lifecycle --------------------------------------------------------------------------
    def start(self, host: str = "127.0.0.1", port: int = 0, *, allow_remote: bool = False,
              allowed_hosts: Sequence[str] = ()) -> str:
        """Serve on ``host:port`` (0 = a free port) in a background thread; returns the URL.

        The control API is unauthenticated (it shows the client secret and mints grants), so
        a ``host`` other than a loopback address is refused unless ``allow_remote``. Every
        request's ``Host`` header must name the loopback names, the bound address or one of
        ``allowed_hosts`` (with ``allow_remote`` on all interfaces, also this machine's name):
        a page on another site that rebinds its DNS name to this address is answered 421.

        Raises:
            RemoteRefused: ``host`` is not loopback and ``allow_remote`` is False.
        """
        if self._server is not None:
            raise RuntimeError("the sandbox is already running")
        if not allow_remote and not is_loopback(host):
            raise RemoteRefused(
                f"refusing to serve on {host!r}: the sandbox's control API is unauthenticated "
                "(it shows the client secret and mints tokens); use 127.0.0.1, or pass "
                "--allow-remote (allow_remote=True) to expose it on purpose")
        self._allowed_hosts = _host_names(host, allow_remote, allowed_hosts)
        server = _Server((host, port), _Handler)
        server.sandbox = self
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="xero-sandbox",
                                        kwargs={"poll_interval": 0.1}, daemon=True)
        self._thread.start()
        if self.config.prerender:
            threading.Thread(target=self._prerender, name="xero-sandbox-render",
                             daemon=True).start()
        return self.url

    def _prerender(self) -> None:
        """Render every record's JSON once, in the order an incremental pull asks for them,
        a thousand at a time so requests interleave (they would render lazily otherwise)."""
        for org in self.orgs:
            for table in (org.invoices, org.contacts, org.payments, org.credit_notes,
                          org.overpayments, org.prepayments):
                with org.lock:
                    keys = list(table.by_updated())
                for i in range(0, len(keys), 1000):
                    if self._server is None:
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

    @property
    def url(self) -> str:
        """``http://host:port`` — the login, identity and API base URL at once."""
        if self._server is None:
            raise RuntimeError("the sandbox is not running")
        host, port = self._server.server_address[:2]
        if isinstance(host, bytes):
            host = host.decode()
        return f"http://{host}:{port}"

    def stop(self) -> None:
        """Stop serving and close the port."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> XeroSandbox:
        if self._server is None:
            self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

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
            "url": self.url if self._server else None,
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
    def handle(self, req: Request) -> Response:
        """Answer one HTTP request."""
        host = req.headers.get("Host")
        if host is None or _host_of(host) not in self._allowed_hosts:
            # DNS-rebinding protection: a page on another site whose name now resolves to this
            # address sends its own name in Host. 421 Misdirected Request (RFC 9110 §15.5.20).
            return Response(421, (
                f"Host {host!r} is not a name this sandbox answers to "
                f"({', '.join(sorted(self._allowed_hosts))}); connect through one of those, or "
                "start it with --allowed-host NAME\n").encode(), content_type="text/plain")
        path = req.path.lower()
        if path.startswith("/_sandbox/"):
            return self._control(req)
        if path.startswith("/api.xro/"):
            return self._accounting(req)
        slow = self.faults.take("slow", req.path)
        if slow is not None:
            time.sleep(slow.seconds)
        burst = self.faults.take("5xx", req.path)
        if burst is not None:
            return Response(burst.status, b"Service Unavailable", content_type="text/plain")
        if path == "/identity/connect/authorize":
            return self._authorize(req)
        if path == "/connect/token" and req.method == "POST":
            return self._token(req)
        if path == "/connect/revocation" and req.method == "POST":
            return self._revocation(req)
        if path == "/connections" or path.startswith("/connections/"):
            return self._connections(req)
        return Response(404, b"Not Found", content_type="text/plain")

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
            slow = self.faults.take("slow", req.path)
            if slow is not None:  # slow calls hold their concurrency slot, as in Xero
                time.sleep(slow.seconds)
            burst = self.faults.take("5xx", req.path)
            if burst is not None:
                resp = Response(burst.status, b"Service Unavailable", content_type="text/plain")
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
    def _error_page(self, message: str) -> Response:
        body = (f"<!doctype html><title>Error</title><h1>Sorry, something went wrong</h1>"
                f"<p>{html.escape(message)}</p>").encode()
        return Response(400, body, content_type="text/html; charset=utf-8")

    def _authorize(self, req: Request) -> Response:
        params = dict(req.query)
        if req.method == "POST":
            params.update({k.lower(): v for k, v in parse_qsl(req.body.decode())})
        client_id = params.get("client_id", "")
        redirect = params.get("redirect_uri", "")
        if client_id != self.config.client_id:
            return self._error_page("unauthorized_client: unknown client_id")
        if not redirect or not self.identity.redirect_allowed(redirect):
            return self._error_page("invalid redirect_uri")
        state = params.get("state")

        def back(extra: dict[str, str]) -> Response:
            if state is not None:
                extra["state"] = state
            sep = "&" if "?" in redirect else "?"
            return Response(302, b"", {"Location": redirect + sep + urlencode(extra)},
                            content_type="text/plain")

        if params.get("response_type") != "code":
            return back({"error": "unsupported_response_type"})
        scope = params.get("scope", "")
        challenge = params.get("code_challenge")
        method = params.get("code_challenge_method") if challenge else None
        if challenge and method not in (None, "S256", "plain"):
            return back({"error": "invalid_request"})
        if req.method == "GET" and not self.config.auto_approve:
            hidden = "\n".join(
                f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
                for k, v in params.items() if k != "decision")
            orgs = "".join(f"<li>{html.escape(o.name)}</li>" for o in self.orgs)
            page = self._consent.substitute(client_id=html.escape(client_id), orgs=orgs,
                                            scope=html.escape(scope), hidden=hidden)
            return Response(200, page.encode(), content_type="text/html; charset=utf-8")
        if req.method == "POST" and params.get("decision") == "deny":
            return back({"error": "access_denied"})
        code = self.identity.issue_code(client_id, redirect, scope, challenge, method)
        return back({"code": code, "scope": scope})

    def _client(self, req: Request, form: dict[str, str]) -> tuple[str | None, str | None]:
        auth = req.headers.get("Authorization") or ""
        if auth.lower().startswith("basic "):
            try:
                user, _, secret = base64.b64decode(auth[6:].strip()).decode().partition(":")
            except ValueError:
                return None, None
            return user, secret
        return form.get("client_id"), form.get("client_secret")

    def _token(self, req: Request) -> Response:
        form = dict(parse_qsl(req.body.decode()))
        client_id, secret = self._client(req, form)
        headers = {"Cache-Control": "no-store", "Pragma": "no-cache"}
        try:
            public = secret is None and client_id == self.config.client_id
            if not public:
                self.identity.authenticate(client_id, secret)
            grant_type = form.get("grant_type")
            if grant_type == "authorization_code":
                tokens = self.identity.exchange_code(form.get("code", ""),
                                                     form.get("redirect_uri"),
                                                     form.get("code_verifier"), public)
            elif grant_type == "refresh_token":
                tokens = self.identity.refresh(form.get("refresh_token", ""), public)
            else:
                raise OAuthError("unsupported_grant_type")
        except OAuthError as err:
            return _json(err.status, err.body(), headers)
        return _json(200, tokens, headers)

    def _revocation(self, req: Request) -> Response:
        form = dict(parse_qsl(req.body.decode()))
        client_id, secret = self._client(req, form)
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
    def _control(self, req: Request) -> Response:
        name = req.path.lower().rstrip("/").split("/")[-1]
        if req.method not in ("GET", "HEAD"):
            # A browser page on any site may POST text/plain or a form here without a CORS
            # preflight; a JSON content type cannot be sent cross-site without one.
            media = (req.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            if media != "application/json":
                return _json(415, {"error": f"{req.method} {req.path} needs Content-Type: "
                                            f"application/json (got {media or 'none'!r})"})
        try:
            body = json.loads(req.body or b"{}")
        except ValueError:
            return _json(400, {"error": "invalid JSON"})
        try:
            if name == "state" and req.method == "GET":
                return _json(200, self.state())
            if name == "clock" and req.method == "POST":
                now = self.clock.advance(float(body.get("advance", 0)))
                return _json(200, {"now": now.isoformat()})
            if name == "faults" and req.method == "POST":
                return self._control_fault(body)
            if name == "mutate" and req.method == "POST":
                summary = self.mutate(body.get("tenant_id"), int(body.get("n", 50)),
                                      int(body.get("seed", 1)), bool(body.get("same_second")))
                return _json(200, summary.as_dict())
            if name == "grants" and req.method == "POST":
                return _json(200, self.create_grant(body.get("tenant_ids"),
                                                    body.get("scope")))
            if name == "stats" and req.method == "GET":
                return _json(200, self.stats.as_dict())
            if name == "reset" and req.method == "POST":
                self.stats.reset()
                return _json(200, {"reset": True})
            if name == "revoke" and req.method == "POST":
                self.revoke_all()
                return _json(200, {"revoked": True})
        except (KeyError, ValueError, TypeError) as err:
            return _json(400, {"error": str(err)})
        return _json(404, {"error": f"no control endpoint {req.method} {req.path}"})

    def _control_fault(self, body: dict[str, Any]) -> Response:
        kind = body.pop("fault", None)
        if kind == "burst_5xx":
            self.faults.burst_5xx(**body)
        elif kind == "slow":
            self.faults.slow(**body)
        elif kind == "expire_tokens":
            self.faults.expire_tokens()
        elif kind == "malformed":
            self.faults.malformed(**body)
        elif kind == "rate_limit_storm":
            self.faults.rate_limit_storm(**body)
        elif kind == "clear":
            self.faults.clear()
        else:
            return _json(400, {"error": "fault must be burst_5xx, slow, expire_tokens, "
                                        "malformed or clear"})
        return _json(200, {"armed": self.faults.pending()})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
    sandbox: XeroSandbox


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Server
    server_version = "XeroSandbox/1.0"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Quiet: the sandbox serves benchmarks at thousands of requests a second."""

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The ``Date`` header from the sandbox clock, the clock ``UpdatedDateUTC`` stamps
        come from, as at Xero (RFC 9110 §6.6.1: the origin server's clock). Clients compare the
        two: the Xero adapter tells edits made since a pass began by it."""
        if timestamp is None:
            return formatdate(self.server.sandbox.clock.now().timestamp(), usegmt=True)
        return super().date_time_string(timestamp)

    def _dispatch(self) -> None:
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        query = {k.lower(): v for k, v in parse_qsl(split.query, keep_blank_values=True)}
        # the Message keeps header look-ups case-insensitive, as HTTP wants
        req = Request(self.command, split.path, query, self.headers, body)  # type: ignore[arg-type]
        try:
            resp = self.server.sandbox.handle(req)
        except Exception as err:  # a sandbox bug must not hang the client: answer 500
            resp = Response(500, f"sandbox error: {err!r}".encode(), content_type="text/plain")
        self.send_response(resp.status)
        if resp.status != 204:
            self.send_header("Content-Type", resp.content_type)
            self.send_header("Content-Length", str(len(resp.body)))
        self.send_header("Xero-Correlation-Id", str(uuid.uuid4()))
        for name, value in resp.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if resp.body and resp.status != 204 and self.command != "HEAD":
            self.wfile.write(resp.body)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _dispatch
