"""QuickBooks Online's wire format: timestamps with the company's UTC offset, money, Faults.

Records are kept in the exact shape QBO sends (key names and order as in the recorded
responses in ``tests/fixtures/qbo_recorded/``) with money as :class:`~decimal.Decimal`, rendered
to JSON as plain numbers the way QBO writes them (``362.07``, ``100``, ``0``).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

CENT = Decimal("0.01")
ZERO = Decimal(0)
JSON = "application/json;charset=UTF-8"


def money(value: Decimal | float | int | str) -> Decimal:
    """A 2-dp Decimal, half-up."""
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def parse_offset(text: str) -> timezone:
    """``"-08:00"`` -> a fixed :class:`~datetime.timezone`.

    Raises:
        ValueError: not ``±HH:MM``.
    """
    sign = -1 if text.startswith("-") else 1
    hours, _, minutes = text.lstrip("+-").partition(":")
    if not hours.isdigit() or not minutes.isdigit():
        raise ValueError(f"a UTC offset looks like -08:00, not {text!r}")
    return timezone(sign * timedelta(hours=int(hours), minutes=int(minutes)))


def stamp(moment: datetime, tz: timezone) -> str:
    """``MetaData`` timestamps: ``2024-06-20T13:16:17-07:00`` (whole seconds, company offset)."""
    return moment.astimezone(tz).replace(microsecond=0).isoformat()


def response_time(moment: datetime, tz: timezone) -> str:
    """The envelope's ``time``: ``2025-01-16T04:15:11.919-08:00`` (milliseconds)."""
    local = moment.astimezone(tz)
    return local.isoformat(timespec="milliseconds")


def parse_time(text: str, tz: timezone) -> datetime:
    """An ISO date or date-time from a query or ``changedSince``; a date or a time without an
    offset is read in the company's offset. Returns aware UTC.

    Raises:
        ValueError: not ISO 8601.
    """
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz)
    return value.astimezone(UTC)


def _default(obj: Any) -> Any:
    if isinstance(obj, Decimal):
        return int(obj) if obj == obj.to_integral_value() else float(obj)
    raise TypeError(f"cannot render {type(obj).__name__}")


def render(obj: Any) -> str:
    """Compact JSON of a record or envelope (Decimal money as JSON numbers)."""
    return json.dumps(obj, default=_default, ensure_ascii=False, separators=(",", ":"))


def fault(message: str, detail: str, code: str, kind: str = "ValidationFault",
          element: str = "") -> dict[str, Any]:
    """The ``Fault`` object: ``{"Error":[{"Message","Detail","code","element"}],"type"}``
    (Intuit's batch reference sample; python-quickbooks ``tests/unit/test_client.py``)."""
    return {"Error": [{"Message": message, "Detail": detail, "code": code,
                       "element": element}], "type": kind}
