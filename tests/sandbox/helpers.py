"""Helpers every emulator's tests share: private sandboxes stopped after the test, and the
``sandbox serve`` command run as a user runs it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import TypeVar

from arconnect.sandbox.common.server import Emulator

S = TypeVar("S", bound=Emulator)


@contextmanager
def sandbox_factory(build: Callable[..., S]) -> Iterator[Callable[..., S]]:
    """A ``make(**overrides)`` that starts ``build(**overrides)``; all stopped on exit."""
    with ExitStack() as started:
        yield lambda **overrides: started.enter_context(build(**overrides))


@contextmanager
def served(*args: str) -> Iterator[tuple[str, str]]:
    """``python -m arconnect.sandbox.cli serve ARGS`` in a subprocess: yields its URL and what
    it printed up to the control API line; then Ctrl-C, after which it must exit 0."""
    proc = subprocess.Popen(
        [sys.executable, "-u", "-m", "arconnect.sandbox.cli", "serve", *args],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert proc.stdout is not None
        lines = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if "control API" in line:
                break
        url = lines[0].split()[-1]
        assert url.startswith("http://127.0.0.1:")
        yield url, "".join(lines)
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
