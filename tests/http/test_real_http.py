"""ApiClient over real sockets against a small local server that enforces a FIXED minute window
the way Xero does (on a scaled clock, out of phase with the client): pacing keeps it free of
429s, and retries work through the pooled session."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from arconnect.clock import Clock
from arconnect.http import ApiClient
from arconnect.pacing import MINUTE, Limits, Pacer

SCALE = 60.0  # a minute in one real second


class FixedWindowServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, per_minute: int, phase: float) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.per_minute = per_minute
        self.origin = time.monotonic() - phase / SCALE
        self.lock = threading.Lock()
        self.counts: dict[int, int] = {}
        self.statuses: list[int] = []
        self.fail_next = 0

    def now(self) -> float:
        return (time.monotonic() - self.origin) * SCALE


class Handler(BaseHTTPRequestHandler):
    server: FixedWindowServer

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        srv = self.server
        with srv.lock:
            now = srv.now()
            window = int(now // MINUTE)
            used = srv.counts.get(window, 0)
            if srv.fail_next:
                srv.fail_next -= 1
                status, headers = 503, {}
            elif used >= srv.per_minute:
                reset = (window + 1) * MINUTE - now
                status = 429
                headers = {"Retry-After": str(math.ceil(reset)), "X-Rate-Limit-Problem": "minute"}
            else:
                srv.counts[window] = used + 1
                status = 200
                headers = {"X-MinLimit-Remaining": str(srv.per_minute - used - 1),
                           "X-DayLimit-Remaining": "4000"}
            srv.statuses.append(status)
        body = b'{"ok": true}'
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def server() -> Iterator[FixedWindowServer]:
    srv = FixedWindowServer(per_minute=10, phase=37.0)
    thread = threading.Thread(target=srv.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()


def _client(srv: FixedWindowServer, tokens: Any, clock: Clock) -> ApiClient:
    host, port = srv.server_address[:2]
    return ApiClient(
        f"http://{host!s}:{port}",
        token_provider=tokens,
        pacer=Pacer("xero:real", Limits(per_minute=srv.per_minute, concurrency=4), clock=clock),
        clock=clock,
        timeout=5.0,
        max_attempts=3,
    )


def test_paced_calls_never_hit_the_fixed_window(server: FixedWindowServer, tokens: Any) -> None:
    clock = Clock(SCALE)
    client = _client(server, tokens, clock)
    calls = 25
    todo = iter(range(calls))
    lock = threading.Lock()

    def work() -> None:
        while True:
            with lock:
                if next(todo, None) is None:
                    return
            assert client.request("GET", "/api.xro/2.0/Invoices").status_code == 200

    started = clock.monotonic()
    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = clock.monotonic() - started
    assert server.statuses.count(200) == calls
    assert client.http_429s == 0 and 429 not in server.statuses
    floor = (math.ceil(calls / server.per_minute) - 1) * MINUTE
    assert floor <= elapsed <= floor * 1.01 + 0.15 * SCALE  # overhead: 150 real milliseconds


def test_5xx_burst_over_real_sockets(server: FixedWindowServer, tokens: Any) -> None:
    server.fail_next = 2
    client = _client(server, tokens, Clock(600.0))  # backoff waits are scaled down too
    assert client.request("GET", "/api.xro/2.0/Invoices").json() == {"ok": True}
    assert server.statuses == [503, 503, 200]
    assert client.retries == 2
