"""Fault injection shared by every emulator: 5xx bursts, slow and malformed responses, expired
tokens.

Each fault is armed for the next ``n`` matching requests. By default a fault matches the
platform's API paths (its ``api_prefix``); ``path_contains`` narrows it to paths containing a
substring, and may point it at other paths (a token endpoint). A platform adds its own knobs
(:meth:`Faults.knobs`) in a subclass.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass
class Fault:
    """One armed fault."""

    kind: str
    remaining: int
    path_contains: str | None = None
    status: int = 503
    seconds: float = 0.0
    malformed: str = "json"

    def matches(self, path: str, api_prefix: str) -> bool:
        """Does this fault apply to ``path`` (``api_prefix``: where it applies by default)?"""
        if self.path_contains is None:
            return path.lower().startswith(api_prefix)
        return self.path_contains.lower() in path.lower()


class Faults:
    """The fault knobs (``sb.faults``).

    Args:
        api_prefix: the lower-case path prefix a fault matches by default (``/api.xro/``).
        malformed_kinds: the ways :meth:`malformed` may corrupt a body.
        expire_hook: what :meth:`expire_tokens` calls (the identity server's).
    """

    def __init__(self, api_prefix: str, malformed_kinds: tuple[str, ...],
                 expire_hook: Callable[[], None]) -> None:
        self.api_prefix = api_prefix
        self.malformed_kinds = malformed_kinds
        self._expire = expire_hook
        self._armed: list[Fault] = []
        self._lock = threading.Lock()

    def knobs(self) -> dict[str, Callable[..., Any]]:
        """The knobs by the name ``POST /_sandbox/faults`` arms them with (``fault``)."""
        return {"burst_5xx": self.burst_5xx, "slow": self.slow, "malformed": self.malformed,
                "expire_tokens": self.expire_tokens, "clear": self.clear}

    def burst_5xx(self, n: int, status: int = 503, path_contains: str | None = None) -> None:
        """The next ``n`` matching requests fail with ``status`` (500–599)."""
        if not 500 <= status <= 599:
            raise ValueError("a 5xx status is expected")
        self.arm(Fault("5xx", n, path_contains, status=status))

    def slow(self, seconds: float, n: int = 1, path_contains: str | None = None) -> None:
        """The next ``n`` matching requests wait ``seconds`` real seconds before answering."""
        self.arm(Fault("slow", n, path_contains, seconds=seconds))

    def malformed(self, n: int, kind: str = "json", path_contains: str | None = None) -> None:
        """The next ``n`` matching successful API responses are corrupted in the way ``kind``
        names, one of :attr:`malformed_kinds` (``json``: a truncated body)."""
        if kind not in self.malformed_kinds:
            raise ValueError(f"kind must be one of {self.malformed_kinds}")
        self.arm(Fault("malformed", n, path_contains, malformed=kind))

    def expire_tokens(self) -> None:
        """Every access token issued so far is expired from now on (401 on next use)."""
        self._expire()

    def clear(self) -> None:
        """Disarm everything."""
        with self._lock:
            self._armed.clear()

    def pending(self) -> list[dict[str, object]]:
        """What is still armed (for ``GET /_sandbox/state``)."""
        with self._lock:
            return [dict(vars(f)) for f in self._armed]

    def take(self, kind: str, path: str) -> Fault | None:
        """Consume one use of the first armed ``kind`` fault matching ``path``."""
        with self._lock:
            for fault in self._armed:
                if (fault.kind == kind and fault.remaining > 0
                        and fault.matches(path, self.api_prefix)):
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._armed.remove(fault)
                    return fault
        return None

    def arm(self, fault: Fault) -> None:
        """Arm ``fault`` (a platform's own knobs arm theirs through this).

        Raises:
            ValueError: ``fault.remaining`` is below 1.
        """
        if fault.remaining < 1:
            raise ValueError("n must be at least 1")
        with self._lock:
            self._armed.append(fault)
