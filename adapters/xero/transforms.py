"""The mapping transforms Xero adds: its ``/Date(ms±hhmm)/`` dates (``adapters/xero/dates.py``).

Registered with the engine through the platform port (``XeroPlatform.transforms``), so a
mapping file can write ``transform: xero_date`` while the engine knows no Xero format.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from arconnect.adapters.xero.dates import parse_xero_date, parse_xero_datetime
from arconnect.transforms import NoArgs, Transform, ValueFn


def _xero_datetime(args: NoArgs, paths: dict[str, Any]) -> ValueFn:
    def xero_datetime(value: Any) -> datetime | None:
        if value == "":
            return None
        out = parse_xero_datetime(value)
        if not isinstance(out, datetime):
            raise ValueError(f"{value!r} is not a Xero date-time (/Date(ms+hhmm)/ or ISO 8601)")
        # Stored as UTC instants; the offset only said which local time it was.
        return out.astimezone(UTC)

    return xero_datetime


def _xero_date(args: NoArgs, paths: dict[str, Any]) -> ValueFn:
    # Calendar dates repeat a lot within a page (issue and due dates): remember them.
    cache: dict[str, date] = {}

    def xero_date(value: Any) -> date | None:
        try:
            return cache[value]
        except (KeyError, TypeError):
            pass
        if value == "":
            return None
        out: date | None = parse_xero_date(value)
        if out is None:
            raise ValueError(f"{value!r} is not a Xero date (/Date(ms+hhmm)/ or YYYY-MM-DD)")
        if isinstance(value, str):
            if len(cache) > 50_000:
                cache.clear()
            cache[value] = out
        return out

    return xero_date


TRANSFORMS: dict[str, Transform] = {
    t.name: t
    for t in (
        Transform("xero_datetime", "Xero /Date(ms±hhmm)/ or ISO text ─▶ UTC timestamp", NoArgs,
                  "datetime", _xero_datetime),
        Transform("xero_date", "Xero /Date(…)/ or ISO text ─▶ calendar date in its own offset",
                  NoArgs, "date", _xero_date),
    )
}
