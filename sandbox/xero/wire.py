"""Xero's wire format: .NET JSON dates, ``DateString`` values, money and JSON rendering.

Records are kept in the exact shape Xero sends (key names and order as in the recorded
responses), with money as :class:`~decimal.Decimal`. They are rendered to JSON once and the
bytes cached; only a mutation renders a record again.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from random import Random
from typing import Any

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
CENT = Decimal("0.01")
_DOTNET = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")


_DAY_MS: dict[date, int] = {}


def ms_of(moment: datetime | date) -> int:
    """Unix milliseconds of an aware datetime, or of a date's UTC midnight (negative pre-1970)."""
    if isinstance(moment, datetime):
        return (moment - EPOCH) // timedelta(milliseconds=1)
    ms = _DAY_MS.get(moment)
    if ms is None:
        ms = (moment - EPOCH.date()).days * 86_400_000
        _DAY_MS[moment] = ms
    return ms


def dotnet_date(moment: datetime | date | int, offset: bool = True) -> str:
    """``/Date(ms+0000)/`` as Xero sends dates and timestamps (``offset=False``: envelope form).

    >>> dotnet_date(date(1967, 6, 20))
    '/Date(-80006400000+0000)/'
    """
    ms = moment if isinstance(moment, int) else ms_of(moment)
    return f"/Date({ms}+0000)/" if offset else f"/Date({ms})/"


def parse_dotnet_date(text: str) -> datetime:
    """Parse ``/Date(ms[+-hhmm])/`` into an aware UTC datetime (the offset is informational:
    the milliseconds are already UTC, https://developer.xero.com/documentation/api/accounting/
    requests-and-responses#json-date-format)."""
    match = _DOTNET.match(text)
    if not match:
        raise ValueError(f"not a Xero JSON date: {text!r}")
    return EPOCH + timedelta(milliseconds=int(match.group(1)))


def dotnet_ms(text: str) -> int:
    """The milliseconds inside a ``/Date(…)/`` value."""
    match = _DOTNET.match(text)
    if not match:
        raise ValueError(f"not a Xero JSON date: {text!r}")
    return int(match.group(1))


def date_string(day: date) -> str:
    """``DateString``: the local calendar date at midnight, no zone (``2026-11-23T00:00:00``)."""
    return f"{day.isoformat()}T00:00:00"


def money(value: Decimal | float | int | str) -> Decimal:
    """A 2-dp Decimal, half-up (the way Xero rounds line totals)."""
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def new_id(rng: Random) -> str:
    """A deterministic version-4 UUID string from ``rng`` (RFC 4122 version and variant bits)."""
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        # Xero prints 29 and 541.25, not 29.00; a 2- or 6-dp Decimal round-trips exactly
        # through float's shortest repr, so this never changes a digit.
        if value == value.to_integral_value():
            return int(value)
        return float(value)
    raise TypeError(f"cannot render {type(value).__name__}")


def render(obj: Any) -> str:
    """Compact JSON text of a record or envelope (Decimal money rendered as JSON numbers)."""
    return json.dumps(obj, default=_default, ensure_ascii=False, separators=(",", ":"))


def envelope_head(now: datetime, provider: str, rng_id: str) -> str:
    """The envelope's leading keys, ``{"Id":…,"Status":"OK","ProviderName":…,"DateTimeUTC":…``
    (no closing brace), in the order every recorded response shows."""
    return (
        f'{{"Id":"{rng_id}","Status":"OK","ProviderName":{json.dumps(provider)},'
        f'"DateTimeUTC":"{dotnet_date(now, offset=False)}"'
    )
