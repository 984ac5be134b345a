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
from xml.sax.saxutils import escape as xml_escape

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


# ---- XML -----------------------------------------------------------------------------------
# Xero answers XML unless the request asks for JSON (``Accept: application/json``; the
# official SDKs always do, some clients never do):
# https://developer.xero.com/documentation/api/accounting/requests-and-responses . The shape
# follows XML responses recorded from the API (waynerobinson/xeroizer
# test/stub_responses/currencies.xml, organisation.xml, contact.xml, api_exception.xml): a
# ``<Response>`` root with the envelope's elements, each list a wrapper of singular elements
# (``<Currencies><Currency>…``), ``true``/``false``, ``xsi:nil`` for nulls, an empty list or
# object as an empty element, dates as ``2011-11-18T23:31:54.467``, the envelope's
# ``DateTimeUTC`` with seven fraction digits and ``Z``; errors an ``<ApiException>`` root.
XML_NAMESPACES = ('xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
                  'xmlns:xsd="http://www.w3.org/2001/XMLSchema"')
# List elements whose item name is not the list's name without its plural ending.
XML_ITEM_NAMES = {"Tracking": "TrackingCategory", "Elements": "DataContractBase"}


def _xml_item_name(name: str) -> str:
    if name in XML_ITEM_NAMES:
        return XML_ITEM_NAMES[name]
    if name.endswith("ies"):
        return name[:-3] + "y"
    if name.endswith(("sses", "xes")):
        return name[:-2]
    return name[:-1] if name.endswith("s") else name


def _xml_scalar(key: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    text = str(value)
    match = _DOTNET.match(text) if text.startswith("/Date(") else None
    if match:
        moment = EPOCH + timedelta(milliseconds=int(match.group(1)))
        if key == "DateTimeUTC":
            return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond:06d}0Z"
        out = moment.strftime("%Y-%m-%dT%H:%M:%S")
        return out + f".{moment.microsecond // 1000:03d}".rstrip("0").rstrip(".")
    return xml_escape(text)


def _xml_element(key: str, value: Any, indent: str, out: list[str]) -> None:
    if value is None:
        out.append(f'{indent}<{key} xsi:nil="true" />')
    elif isinstance(value, dict | list):
        if not value:
            out.append(f"{indent}<{key} />")
            return
        # an object's fields by name; a list's items each named after the list
        children = (value.items() if isinstance(value, dict)
                    else ((_xml_item_name(key), item) for item in value))
        out.append(f"{indent}<{key}>")
        for k, v in children:
            _xml_element(k, v, indent + "  ", out)
        out.append(f"{indent}</{key}>")
    else:
        out.append(f"{indent}<{key}>{_xml_scalar(key, value)}</{key}>")


def xml_of(body: bytes) -> bytes:
    """The XML rendering of a JSON API body (an envelope, or an error with ``ErrorNumber``).

    Raises:
        ValueError: ``body`` is not a JSON object.
    """
    obj = json.loads(body, parse_float=Decimal)
    if not isinstance(obj, dict):
        raise ValueError("not a JSON object")
    root = "ApiException" if "ErrorNumber" in obj else "Response"
    out = [f"<{root} {XML_NAMESPACES}>"]
    for key, value in obj.items():
        _xml_element(key, value, "  ", out)
    out.append(f"</{root}>")
    return "\n".join(out).encode()
