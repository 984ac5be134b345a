"""A tiny local Xero identity stand-in, used only while the Xero sandbox cannot be imported.

It serves ``POST /connect/token`` (refresh grant; every refresh token is single use, stricter
than Xero's 30-minute grace), ``POST /connect/revocation`` and ``GET /connections``, with the
same URL layout as the sandbox (one base URL for every host).
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs


class TokenServer:
    """Start with :meth:`start`; ``url`` is the base URL; ``token_calls`` counts refreshes."""

    def __init__(self, client_id: str = "cid", client_secret: str = "secret") -> None:
        self.basic = "Basic " + base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
        self.refresh_tokens: set[str] = set()
        self.access_tokens: set[str] = set()
        self.token_calls = 0
        self.lock = threading.Lock()
        self.orgs = [("11111111-0000-0000-0000-000000000001", "A")]
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self, **_: Any) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _pair(self) -> dict[str, Any]:
        access, refresh = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        self.access_tokens.add(access)
        self.refresh_tokens.add(refresh)
        return {"access_token": access, "refresh_token": refresh, "expires_in": 1800,
                "token_type": "Bearer", "scope": "offline_access accounting.contacts"}

    def create_grant(self) -> dict[str, Any]:
        with self.lock:
            return self._pair()

    def revoke_all(self) -> None:
        with self.lock:
            self.refresh_tokens.clear()
            self.access_tokens.clear()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _send(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length", 0))
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                if self.headers.get("Authorization") != outer.basic:
                    self._send(400, {"error": "invalid_client"})
                    return
                with outer.lock:
                    if self.path == "/connect/revocation":
                        outer.refresh_tokens.clear()
                        outer.access_tokens.clear()
                        self._send(200, {})
                        return
                    if self.path != "/connect/token" or form.get("grant_type") != "refresh_token":
                        self._send(400, {"error": "unsupported_grant_type"})
                        return
                    outer.token_calls += 1
                    token = form.get("refresh_token", "")
                    if token not in outer.refresh_tokens:
                        self._send(400, {"error": "invalid_grant"})
                        return
                    outer.refresh_tokens.discard(token)
                    pair = outer._pair()
                self._send(200, pair)

            def do_GET(self) -> None:  # noqa: N802
                bearer = self.headers.get("Authorization", "").removeprefix("Bearer ")
                if self.path != "/connections" or bearer not in outer.access_tokens:
                    self._send(401, {"Title": "Unauthorized", "Status": 401})
                    return
                self._send(200, [
                    {"id": f"conn-{tid[-4:]}", "authEventId": "e-1", "tenantId": tid,
                     "tenantType": "ORGANISATION", "tenantName": name,
                     "createdDateUtc": "2026-11-23T09:00:00.0000000", "updatedDateUtc": None}
                    for tid, name in outer.orgs
                ])

            def log_message(self, *args: object) -> None:
                return

        return Handler
