"""The mapping transforms Xero adds: its ``/Date(ms±hhmm)/`` dates (``adapters/xero/dates.py``).

Registered with the engine through the platform port (``XeroPlatform.transforms``), so a
mapping file can write ``transform: xero_date`` while the engine knows no Xero format.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from arconnect.adapters.xero.dates import parse_xero_date, parse_xero_datetime
from arconnect.transforms import NoArgs, Transform, ValueFn, date_transform


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


_xero_date = date_transform(parse_xero_date, "a Xero date (/Date(ms+hhmm)/ or YYYY-MM-DD)")


TRANSFORMS: dict[str, Transform] = {
    t.name: t
    for t in (
        Transform("xero_datetime", "Xero /Date(ms±hhmm)/ or ISO text ─▶ UTC timestamp", NoArgs,
                  "datetime", _xero_datetime),
        Transform("xero_date", "Xero /Date(…)/ or ISO text ─▶ calendar date in its own offset",
                  NoArgs, "date", _xero_date),
    )
}
