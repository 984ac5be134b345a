"""Organisation time zones: Xero's Windows ids and IANA names."""

from __future__ import annotations

from datetime import UTC, date, datetime

from arconnect.timezones import today_in, zone


def test_xero_zone_ids_map_to_iana() -> None:
    assert zone("NEWZEALANDSTANDARDTIME").key == "Pacific/Auckland"
    assert zone("AUSEASTERNSTANDARDTIME").key == "Australia/Sydney"
    assert zone("GMTSTANDARDTIME").key == "Europe/London"
    assert zone("Europe/Paris").key == "Europe/Paris"
    assert zone(None).key == zone("no such zone").key == "UTC"


def test_today_is_the_organisations_today() -> None:
    late_utc = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)  # already the 24th in Auckland
    assert today_in("NEWZEALANDSTANDARDTIME", late_utc) == date(2026, 11, 24)
    assert today_in("PACIFICSTANDARDTIME", late_utc) == date(2026, 11, 23)
