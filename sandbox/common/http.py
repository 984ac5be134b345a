"""A request as an emulator's handlers see it, and the response they return."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

JSON = "application/json; charset=utf-8"


@dataclass
class Request:
    """An API request as the handlers see it (query keys lower-cased, last value wins)."""

    method: str
    path: str
    query: dict[str, str]
    headers: Mapping[str, str]
    body: bytes = b""

    def flag(self, name: str) -> bool:
        """A boolean query parameter (``true``/``false``)."""
        return self.query.get(name.lower(), "").lower() == "true"


@dataclass
class Response:
    """What goes back on the wire."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = JSON


def text(status: int, body: str | bytes = b"") -> Response:
    """A ``text/plain`` response."""
    return Response(status, body.encode() if isinstance(body, str) else body,
                    content_type="text/plain")
