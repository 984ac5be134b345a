"""Xero's JSON date formats: parse ``/Date(ms±hhmm)/`` and ISO 8601 strings, format them back.

Xero's Accounting API writes dates the Microsoft .NET way: ``"/Date(1439434356790)/"`` or
``"/Date(1419937200000+1300)/"`` — milliseconds since the Unix epoch (the instant, in UTC), then
an optional offset saying which local time the instant belongs to. Dates before 1970 are negative
(``/Date(-80006400000+0000)/``). Newer fields carry ISO strings as well (``DateString``
``"2018-10-20T00:00:00"``, ``UpdatedDateUTCString`` ``"2018-11-02T16:31:30Z"``).
Section "JSON responses and date formats" of
https://developer.xero.com/documentation/api/accounting/requests-and-responses

Known traps this module avoids, each reported against another Xero client:

- negative epochs were rejected by a ``\\d+`` pattern
  (https://github.com/singer-io/tap-xero/issues/68);
- an over-eager parser turned the account code ``"272"`` into the year 272
  (https://github.com/singer-io/tap-xero/issues/69), so only the two exact shapes above are
  dates — everything else is returned unchanged;
- dates shifted by a day through local-time conversion
  (https://github.com/XeroAPI/Xero-NetStandard/issues/269): the *local* date is taken in the
  value's own offset, never in this machine's time zone.

These are pure functions: no I/O, no clock, no global state.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)

# /Date(<ms>)/ or /Date(<ms>±hhmm)/; ms may be negative (before 1970).
_NET_DATE = re.compile(r"/Date\((-?\d+)([+-]\d{4})?\)/")
# ISO 8601 as Xero writes it: a calendar date, optionally a time (fractions of any length),
# optionally Z or an offset. Deliberately strict: "272" or "20181020" are not dates here.
_ISO = re.compile(
    r"(\d{4}-\d{2}-\d{2})"
    r"(?:[T ](\d{2}:\d{2}(?::\d{2})?)(?:\.(\d+))?)?"
    r"(Z|[+-]\d{2}:?\d{2})?"
)
# Offsets seen once are reused (there are only a handful): fewer tzinfo objects per page.
_OFFSETS: dict[str, timezone] = {"+0000": UTC, "-0000": UTC}


def _offset(text: str) -> timezone:
    """The tzinfo of ``+hhmm`` / ``-hhmm`` / ``+hh:mm``."""
    tz = _OFFSETS.get(text)
    if tz is None:
        digits = text[1:].replace(":", "")
        minutes = int(digits[:2]) * 60 + int(digits[2:4])
        delta = timedelta(minutes=minutes if text[0] == "+" else -minutes)
        tz = UTC if not minutes else timezone(delta)
        if len(_OFFSETS) < 256:
            _OFFSETS[text] = tz
    return tz


def parse_xero_datetime(value: Any) -> Any:
    """Parse a Xero date or timestamp into an aware ``datetime``; return anything else unchanged.

    ``/Date(ms±hhmm)/`` becomes the instant expressed in its own offset (UTC when there is
    none); an ISO string becomes an aware datetime in its offset (UTC when it names none —
    Xero's ``...String`` fields are UTC timestamps or local calendar dates, and UTC keeps the
    calendar date intact). Strings of any other shape, numbers, ``None`` and objects are
    returned as they are: this function never guesses.

    Args:
        value: a raw JSON value.

    Returns:
        An aware ``datetime`` for a Xero date string, else ``value`` itself.
    """
    if not isinstance(value, str):
        return value
    if value.startswith("/Date("):
        m = _NET_DATE.fullmatch(value)
        if m is None:
            return value
        ms, off = m.groups()
        try:
            instant = EPOCH + int(ms) * _MS
        except OverflowError:  # beyond year 1..9999: not a date we can represent
            return value
        if off is None:
            return instant
        tz = _offset(off)
        return instant if tz is UTC else instant.astimezone(tz)
    m = _ISO.fullmatch(value)
    if m is None:
        return value
    day, clock, fraction, off = m.groups()
    text = day if clock is None else f"{day}T{clock}"
    if fraction:
        # Python reads at most microseconds; .NET writes up to 7 fractional digits.
        text += "." + fraction[:6].ljust(6, "0")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:  # e.g. 2018-02-30
        return value
    return parsed.replace(tzinfo=UTC if off in (None, "Z") else _offset(off))


def parse_xero_date(value: Any) -> date | None:
    """The local calendar date of a Xero date value, or ``None`` when it is not one.

    The date is taken in the value's own offset: ``/Date(1419937200000+1300)/`` is the instant
    2014-12-30T11:00Z, and in +13:00 that is 2014-12-31. ``date`` and ``datetime`` objects are
    accepted as they are (a datetime gives its own local date).

    Args:
        value: a raw JSON value (or an already parsed date / datetime).

    Returns:
        The date, or ``None`` for ``None`` and for anything that is not a Xero date.
    """
    parsed = parse_xero_datetime(value)
    if isinstance(parsed, datetime):
        return parsed.date()
    if isinstance(parsed, date):
        return parsed
    return None


def format_xero_date(value: datetime | date) -> str:
    """Format an instant (or a calendar date, taken at midnight UTC) as ``/Date(ms+0000)/``.

    Naive datetimes are taken as UTC. Sub-millisecond parts are floored, and instants before
    1970 give a negative count, as Xero writes them.

    Args:
        value: the datetime or date to format.

    Returns:
        The Xero JSON date string, e.g. ``/Date(1539993600000+0000)/``.
    """
    if isinstance(value, datetime):
        instant = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    else:
        instant = datetime(value.year, value.month, value.day, tzinfo=UTC)
    ms = (instant - EPOCH) // _MS
    return f"/Date({ms}+0000)/"
