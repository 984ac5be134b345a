"""A one-shot local HTTP listener for the OAuth redirect (``/callback/<platform>``).

Used by ``arconnect tenants connect`` and the demo: the browser (or the demo's HTTP client)
follows the platform's redirect here, and the listener hands over ``code`` and ``state``.
The web app replaces it in a server deployment.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from arconnect.errors import AuthError

_PAGE = (
    "<!doctype html><title>arconnect</title><body style='font-family:sans-serif'>"
    "<h2>{title}</h2><p>{text}</p></body>"
)


class CallbackServer:
    """Listens on ``host:port`` for one OAuth redirect.

    Args:
        host: interface to bind (loopback by default).
        port: port to bind (0 picks a free one).
        path: the redirect path.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, path: str = "/callback/xero"):
        self.path = path
        self._event = threading.Event()
        self._params: dict[str, str] = {}
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                parts = urlsplit(self.path)
                if parts.path != outer.path:
                    self.send_error(404)
                    return
                outer._params = {k: v[0] for k, v in parse_qs(parts.query).items()}
                ok = "code" in outer._params
                body = _PAGE.format(
                    title="Connected" if ok else "Not connected",
                    text="You can close this window and return to arconnect."
                    if ok else outer._params.get("error", "no authorization code received"),
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                outer._event.set()

            def log_message(self, *args: object) -> None:  # the query holds the code: quiet
                return

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

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

    def wait(self, timeout: float = 300) -> tuple[str, str]:
        """Block until the redirect arrives; returns (code, state) or raises AuthError."""
        if not self._event.wait(timeout):
            raise AuthError(f"no OAuth redirect reached {self.redirect_uri} within {timeout:.0f} s")
        if "error" in self._params:
            raise AuthError(f"the platform refused the connection: {self._params['error']}")
        if "code" not in self._params:
            raise AuthError("the OAuth redirect carried no authorization code")
        return self._params["code"], self._params.get("state", "")
