"""Who may reach an emulator: loopback unless asked otherwise, and only under known names.

The control API is unauthenticated (it shows the client secret and mints grants), so an
emulator listens on loopback unless ``allow_remote`` is given, and answers 421 to a request
whose ``Host`` header names anything else: a page on another site that rebinds its DNS name to
this address sends its own name there.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence

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


def host_names(host: str, allow_remote: bool, extra: Sequence[str]) -> frozenset[str]:
    """The names a request's ``Host`` header may carry for a server bound to ``host``."""
    names = set(LOOPBACK_NAMES) | {h.strip().strip("[]").lower() for h in extra if h.strip()}
    bound = host.strip().strip("[]").lower()
    if bound in ("", "0.0.0.0", "::"):
        if allow_remote:  # all interfaces: the machine's own names reach it too
            names.update({socket.gethostname().lower(), socket.getfqdn().lower()})
    else:
        names.add(bound)
    return frozenset(names)


def host_of(header: str) -> str:
    """The name in a ``Host`` header, without the port (``[::1]:80`` -> ``::1``)."""
    value = header.strip().lower()
    if value.startswith("["):
        return value[1:].split("]", 1)[0]
    if value.count(":") == 1:
        return value.split(":", 1)[0]
    return value
