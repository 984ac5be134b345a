"""The HTTP side every emulator shares: one port served from a background thread, the
loopback and ``Host`` rules, injected 5xx and slow answers, the token endpoint's answer, and
the ``/_sandbox/`` control API's plumbing.

Standard library only (``ThreadingHTTPServer``, HTTP/1.1 keep-alive). A platform's sandbox
subclasses :class:`Emulator`: it names itself in the class attributes, builds ``clock``,
``faults`` and ``stats``, and implements :meth:`Emulator.route`,
:meth:`Emulator.json_response` and :meth:`Emulator.state`; :meth:`Emulator.controls` takes
its own control endpoints.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Protocol, Self
from urllib.parse import parse_qsl, urlsplit

from arconnect.sandbox.common.clock import SandboxClock
from arconnect.sandbox.common.faults import Faults
from arconnect.sandbox.common.http import Request, Response, text
from arconnect.sandbox.common.loopback import (
    LOOPBACK_NAMES,
    RemoteRefused,
    host_names,
    host_of,
    is_loopback,
)
from arconnect.sandbox.common.oauth import OAuthError

Control = Callable[[dict[str, Any]], Response]


class Counters(Protocol):
    """The request statistics a sandbox keeps (``GET /_sandbox/stats``)."""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready counters."""
        ...

    def reset(self) -> None:
        """Zero every counter."""
        ...


class Emulator:
    """An emulator's HTTP lifecycle and control plumbing (subclass it; see the module).

    Attributes:
        clock: the sandbox clock (the ``Date`` header reads it).
        faults: fault-injection knobs.
        stats: request statistics.
    """

    thread_name: ClassVar[str] = "sandbox"
    server_version: ClassVar[str] = "Sandbox/1.0"
    trace_header: ClassVar[str] = "X-Request-Id"  # a fresh UUID on every response

    clock: SandboxClock
    faults: Faults
    stats: Counters

    def __init__(self) -> None:
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._allowed_hosts: frozenset[str] = LOOPBACK_NAMES

    # ---- what a platform implements --------------------------------------------------------
    def route(self, req: Request) -> Response:
        """Answer a request outside ``/_sandbox/`` whose ``Host`` passed the check."""
        raise NotImplementedError

    def json_response(self, status: int, payload: Any, headers: dict[str, str] | None = None
             ) -> Response:
        """``payload`` as the platform renders JSON."""
        raise NotImplementedError

    def state(self) -> dict[str, Any]:
        """A JSON-ready snapshot (``GET /_sandbox/state``)."""
        raise NotImplementedError

    def crash(self, err: Exception) -> Response:
        """The 500 answering a sandbox bug (so a client never hangs on one)."""
        return text(500, f"sandbox error: {err!r}")

    def started(self) -> None:
        """Called once the port serves (a platform may start background work)."""

    # ---- lifecycle -------------------------------------------------------------------------
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
            RuntimeError: already running.
        """
        if self._server is not None:
            raise RuntimeError("the sandbox is already running")
        if not allow_remote and not is_loopback(host):
            raise RemoteRefused(
                f"refusing to serve on {host!r}: the sandbox's control API is unauthenticated "
                "(it shows the client secret and mints tokens); use 127.0.0.1, or pass "
                "--allow-remote (allow_remote=True) to expose it on purpose")
        self._allowed_hosts = host_names(host, allow_remote, allowed_hosts)
        server = _Server((host, port), _Handler)
        server.sandbox = self
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name=self.thread_name,
                                        kwargs={"poll_interval": 0.1}, daemon=True)
        self._thread.start()
        self.started()
        return self.url

    @property
    def serving(self) -> bool:
        """Whether the port is open."""
        return self._server is not None

    @property
    def url(self) -> str:
        """``http://host:port``, every base URL of the platform at once.

        Raises:
            RuntimeError: not running.
        """
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

    def __enter__(self) -> Self:
        if self._server is None:
            self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    # ---- request handling (called by the handler threads) ----------------------------------
    def handle(self, req: Request) -> Response:
        """Answer one HTTP request."""
        host = req.headers.get("Host")
        if host is None or host_of(host) not in self._allowed_hosts:
            # DNS-rebinding protection: a page on another site whose name now resolves to this
            # address sends its own name in Host. 421 Misdirected Request (RFC 9110 §15.5.20).
            return text(421, (
                f"Host {host!r} is not a name this sandbox answers to "
                f"({', '.join(sorted(self._allowed_hosts))}); connect through one of those, or "
                "start it with --allowed-host NAME\n"))
        if req.path.lower().startswith("/_sandbox/"):
            return self._control(req)
        return self.route(req)

    def injected(self, path: str) -> Response | None:
        """Apply the armed faults every call meets first: a ``slow`` one waits here, a ``5xx``
        one is the answer (None: answer normally)."""
        slow = self.faults.take("slow", path)
        if slow is not None:
            time.sleep(slow.seconds)
        burst = self.faults.take("5xx", path)
        if burst is not None:
            return text(burst.status, "Service Unavailable")
        return None

    def oauth_answer(self, issue: Callable[[], dict[str, Any]],
                     headers: dict[str, str] | None = None) -> Response:
        """A token endpoint's answer: what ``issue`` returns, or the :class:`OAuthError` it
        raises as RFC 6749 §5.2's error body, with ``headers`` either way."""
        try:
            tokens = issue()
        except OAuthError as err:
            return self.json_response(err.status, err.body(), headers)
        return self.json_response(200, tokens, headers)

    # ---- control API -----------------------------------------------------------------------
    def controls(self) -> dict[tuple[str, str], Control]:
        """The control endpoints by (method, last path segment); each takes the JSON body.
        A platform adds its own (``grants``, ``mutate``, ``revoke``) to these."""
        return {
            ("GET", "state"): lambda _: self.json_response(200, self.state()),
            ("POST", "clock"): lambda body: self.json_response(200, {"now": self.clock.advance(
                float(body.get("advance", 0))).isoformat()}),
            ("POST", "faults"): self._arm_fault,
            ("GET", "stats"): lambda _: self.json_response(200, self.stats.as_dict()),
            ("POST", "reset"): self._reset_stats,
        }

    def _control(self, req: Request) -> Response:
        name = req.path.lower().rstrip("/").split("/")[-1]
        if req.method not in ("GET", "HEAD"):
            # A browser page on any site may POST text/plain or a form here without a CORS
            # preflight; a JSON content type cannot be sent cross-site without one.
            media = (req.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            if media != "application/json":
                return self.json_response(415, {
                    "error": f"{req.method} {req.path} needs Content-Type: application/json "
                             f"(got {media or 'none'!r})"})
        try:
            body = json.loads(req.body or b"{}")
        except ValueError:
            return self.json_response(400, {"error": "invalid JSON"})
        control = self.controls().get((req.method, name))
        if control is None:
            return self.json_response(
                404, {"error": f"no control endpoint {req.method} {req.path}"})
        try:
            return control(body)
        except (KeyError, ValueError, TypeError) as err:
            return self.json_response(400, {"error": str(err)})

    def _arm_fault(self, body: dict[str, Any]) -> Response:
        kind = body.pop("fault", None)
        knobs = self.faults.knobs()
        if kind not in knobs:
            *others, last = knobs
            return self.json_response(
                400, {"error": f"fault must be {', '.join(others)} or {last}"})
        knobs[kind](**body)
        return self.json_response(200, {"armed": self.faults.pending()})

    def _reset_stats(self, _: dict[str, Any]) -> Response:
        self.stats.reset()
        return self.json_response(200, {"reset": True})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
    sandbox: Emulator


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Server
    sys_version = ""

    def version_string(self) -> str:
        """The ``Server`` header: the sandbox's name."""
        return f"{self.server.sandbox.server_version} {self.sys_version}"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Quiet: the sandbox serves benchmarks at thousands of requests a second."""

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The ``Date`` header from the sandbox clock, the clock record timestamps come from,
        as at the platforms (RFC 9110 §6.6.1: the origin server's clock). Clients compare the
        two: the Xero adapter tells edits made since a pass began by it."""
        if timestamp is None:
            return formatdate(self.server.sandbox.clock.now().timestamp(), usegmt=True)
        return super().date_time_string(timestamp)

    def _dispatch(self) -> None:
        sandbox = self.server.sandbox
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        query = {k.lower(): v for k, v in parse_qsl(split.query, keep_blank_values=True)}
        # the Message keeps header look-ups case-insensitive, as HTTP wants
        req = Request(self.command, split.path, query, self.headers, body)  # type: ignore[arg-type]
        try:
            resp = sandbox.handle(req)
        except Exception as err:  # a sandbox bug must not hang the client: answer 500
            resp = sandbox.crash(err)
        self.send_response(resp.status)
        if resp.status != 204:
            self.send_header("Content-Type", resp.content_type)
            self.send_header("Content-Length", str(len(resp.body)))
        self.send_header(sandbox.trace_header, str(uuid.uuid4()))
        for name, value in resp.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if resp.body and resp.status != 204 and self.command != "HEAD":
            self.wfile.write(resp.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _dispatch
