"""A one-shot local HTTP listener for the OAuth redirect (``/callback/<platform>``).

Used by ``arconnect tenants connect`` and the demo: the browser (or the demo's HTTP client)
follows the platform's redirect here, and the listener hands over ``code`` and ``state``.
The web app replaces it in a server deployment.
"""

from __future__ import annotations

import hmac
import html
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from arconnect.errors import AuthError

_PAGE = (
    "<!doctype html><title>arconnect</title><body style='font-family:sans-serif'>"
    "<h2>{title}</h2><p>{text}</p></body>"
)

STATE_MISMATCH = (
    "the OAuth redirect's state does not match the consent request (a stale or forged "
    "redirect): nothing was connected; start the connection again"
)


def _page(title: str, text: str) -> bytes:
    """The page the browser shows; ``text`` may come from the query string, so it is escaped
    (an ``error=<script>`` parameter is shown, never run)."""
    return _PAGE.format(title=html.escape(title), text=html.escape(text)).encode()


class CallbackServer:
    """Listens on ``host:port`` for one OAuth redirect.

    The page the browser is shown says "Connected" only for a redirect that carries a code and
    the ``state`` of the consent request (:meth:`expect_state`); any other redirect is answered
    "Not connected" and makes :meth:`wait` raise.

    Args:
        host: interface to bind (loopback by default).
        port: port to bind (0 picks a free one).
        path: the redirect path.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, path: str = "/callback/xero"):
        self.path = path
        self._event = threading.Event()
        self._params: dict[str, str] = {}
        self._expected_state: str | None = None
        self._state_ok = False
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                parts = urlsplit(self.path)
                if parts.path != outer.path:
                    self.send_error(404)
                    return
                outer._params = params = {k: v[0] for k, v in parse_qs(parts.query).items()}
                outer._state_ok = outer._state_matches(params.get("state"))
                if "error" in params:
                    detail = params.get("error_description")
                    body = _page("Not connected", params["error"] + (f": {detail}" if detail
                                                                     else ""))
                elif "code" not in params:
                    body = _page("Not connected", "no authorization code received")
                elif outer._expected_state is None:  # nothing to check here: not ours to say
                    body = _page("Authorization received", "Return to arconnect, which "
                                                           "finishes the connection.")
                elif not outer._state_ok:
                    body = _page("Not connected", STATE_MISMATCH + " in arconnect.")
                else:
                    body = _page("Connected", "You can close this window and return to "
                                              "arconnect.")
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                # nothing on this page is meant to run or load anything
                self.send_header("Content-Security-Policy", "default-src 'none'")
                self.send_header("X-Content-Type-Options", "nosniff")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                outer._event.set()

            def log_message(self, *args: object) -> None:  # the query holds the code: quiet
                return

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        # a short poll: leaving the ``with`` block (shutdown) waits for at most one poll
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def port(self) -> int:
        """The port the listener is bound to (the one picked when asked for 0)."""
        return int(self._server.server_address[1])

    def expect_state(self, state: str) -> None:
        """The ``state`` of the consent request this listener waits for (set it before the
        browser is sent to the consent page)."""
        self._expected_state = state

    def _state_matches(self, state: str | None) -> bool:
        expected = self._expected_state
        return (state is not None and expected is not None
                and hmac.compare_digest(state.encode(), expected.encode()))

    @property
    def redirect_uri(self) -> str:
        host, port = self._server.server_address[:2]
        host = host.decode() if isinstance(host, bytes) else host
        return f"http://{host}:{port}{self.path}"

    def __enter__(self) -> CallbackServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def params(self) -> dict[str, str]:
        """The redirect's query parameters (``realmId`` ...), once it arrived."""
        return dict(self._params)

    def wait(self, timeout: float = 300) -> tuple[str, str]:
        """Block until the redirect arrives; returns (code, state) or raises AuthError (the
        platform refused, no code, or a ``state`` other than :meth:`expect_state`'s)."""
        if not self._event.wait(timeout):
            raise AuthError(f"no OAuth redirect reached {self.redirect_uri} within {timeout:.0f} s")
        if "error" in self._params:
            detail = self._params.get("error_description")
            raise AuthError(f"the platform refused the connection: {self._params['error']}"
                            + (f" ({detail})" if detail else ""))
        if "code" not in self._params:
            raise AuthError("the OAuth redirect carried no authorization code")
        if self._expected_state is not None and not self._state_ok:
            raise AuthError(STATE_MISMATCH)
        return self._params["code"], self._params.get("state", "")


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now (to suggest one; it may be taken by the time it is
    used)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])
