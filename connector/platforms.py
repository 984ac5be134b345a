"""The platform registry: the one place the engine finds a platform by name.

Every engine module reaches Xero, QuickBooks Online or NetSuite through
:func:`get_platform` (by ``tenant.platform``) and the :class:`arconnect.adapters.base.Platform`
it returns; this module is the only one in the engine that names a platform package, and it
imports each lazily, so a platform's dependencies load only when one of its tenants is used.
A test (``tests/test_boundary.py``) holds every other engine module to that.
"""

from __future__ import annotations

import importlib
import threading
from typing import Any

from arconnect.adapters.base import Platform
from arconnect.errors import ConfigError

# name -> "module:attribute" of the platform object's class
_REGISTRY: dict[str, str] = {
    "xero": "arconnect.adapters.xero.platform:XeroPlatform",
    "quickbooks": "arconnect.adapters.quickbooks.platform:QuickBooksPlatform",
    "netsuite": "arconnect.adapters.netsuite.platform:NetSuitePlatform",
}
_loaded: dict[str, Platform] = {}
_lock = threading.Lock()


def platform_names() -> tuple[str, ...]:
    """The registered platforms' names, in registration order."""
    return tuple(_REGISTRY)


def available() -> tuple[str, ...]:
    """The registered platforms whose package is installed and loads."""
    out = []
    for name in _REGISTRY:
        try:
            get_platform(name)
        except ConfigError:
            continue
        out.append(name)
    return tuple(out)


def get_platform(name: str) -> Platform:
    """The platform object of ``name`` (``tenant.platform``).

    Raises:
        ConfigError: no platform of that name is registered (the message lists the known ones),
            or its package does not load.
    """
    with _lock:
        found = _loaded.get(name)
        if found is not None:
            return found
        target = _REGISTRY.get(name)
        if target is None:
            raise ConfigError(f"platform {name!r} is not supported; supported platforms: "
                              f"{', '.join(_REGISTRY)}")
        module_name, _, attribute = target.partition(":")
        try:
            cls = getattr(importlib.import_module(module_name), attribute)
        except (ImportError, AttributeError) as err:
            raise ConfigError(f"platform {name!r}: its package does not load ({err})") from None
        platform: Platform = cls()
        _loaded[name] = platform
        return platform


def platform_transforms() -> dict[str, Any]:
    """The mapping transforms every loadable platform adds, by name."""
    out: dict[str, Any] = {}
    for name in available():
        out.update(get_platform(name).transforms())
    return out
