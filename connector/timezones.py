"""Organisation time zones: "today" is the organisation's today, not the server's.

Xero names zones by their Windows id in capitals without spaces (``NEWZEALANDSTANDARDTIME``);
the Windows ─▶ IANA table comes from tzlocal (CLDR's windowsZones). IANA names pass through.
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tzlocal.windows_tz import win_tz


def _squash(name: str) -> str:
    return re.sub(r"[^A-Z0-9]", "", name.upper())


_BY_SQUASHED = {_squash(windows): iana for windows, iana in win_tz.items()}


@functools.lru_cache(maxsize=256)
def zone(name: str | None) -> ZoneInfo:
    """The zone for a platform's time-zone name (Xero/Windows id or IANA); UTC when unknown."""
    if not name:
        return ZoneInfo("UTC")
    iana = _BY_SQUASHED.get(_squash(name), name)
    try:
        return ZoneInfo(iana)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def today_in(name: str | None, now: datetime | None = None) -> date:
    """The calendar date in the organisation's zone at ``now`` (default: this instant)."""
    return (now or datetime.now(UTC)).astimezone(zone(name)).date()
