"""Xero JSON dates: /Date(ms±hhmm)/ and ISO text, local dates, formatting, round trips."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arconnect.adapters.xero.dates import format_xero_date, parse_xero_date, parse_xero_datetime


def test_utc_milliseconds_without_offset() -> None:
    got = parse_xero_datetime("/Date(1439434356790)/")
    assert got == datetime(2015, 8, 13, 2, 52, 36, 790000, tzinfo=UTC)
    assert got.utcoffset() == timedelta(0)


def test_offset_keeps_the_instant_and_gives_the_local_time() -> None:
    got = parse_xero_datetime("/Date(1419937200000+1300)/")
    assert got.utcoffset() == timedelta(hours=13)
    assert got == datetime(2014, 12, 30, 11, 0, tzinfo=UTC)  # the same instant
    assert (got.year, got.month, got.day, got.hour) == (2014, 12, 31, 0)


def test_local_date_is_taken_in_the_values_own_offset() -> None:
    assert parse_xero_date("/Date(1419937200000+1300)/") == date(2014, 12, 31)
    assert parse_xero_date("/Date(1419937200000+0000)/") == date(2014, 12, 30)
    # a negative offset moves the local date back
    assert parse_xero_date("/Date(1419937200000-1200)/") == date(2014, 12, 29)


def test_negative_epoch_before_1970() -> None:
    # singer-io/tap-xero#68: -80006400000 ms is exactly 926 days before the epoch.
    got = parse_xero_datetime("/Date(-80006400000+0000)/")
    assert got == datetime(1967, 6, 20, tzinfo=UTC)
    assert parse_xero_date("/Date(-80006400000+0000)/") == date(1967, 6, 20)


def test_zero_epoch_of_voided_invoices() -> None:
    assert parse_xero_date("/Date(0+0000)/") == date(1970, 1, 1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2018-10-20T00:00:00", datetime(2018, 10, 20, tzinfo=UTC)),
        ("2018-11-02T16:31:30Z", datetime(2018, 11, 2, 16, 31, 30, tzinfo=UTC)),
        ("2018-11-02T16:31:30.5+02:00",
         datetime(2018, 11, 2, 16, 31, 30, 500000, tzinfo=timezone(timedelta(hours=2)))),
        ("2019-03-05T18:59:06.1234567", datetime(2019, 3, 5, 18, 59, 6, 123456, tzinfo=UTC)),
        ("2018-10-20", datetime(2018, 10, 20, tzinfo=UTC)),
    ],
)
def test_iso_strings(text: str, expected: datetime) -> None:
    got = parse_xero_datetime(text)
    assert got == expected and got.utcoffset() == expected.utcoffset()
    assert parse_xero_date(text) == expected.date()


@pytest.mark.parametrize(
    "value",
    ["272", "0272", "20181020", "", "Date(1439434356790)", "/Date(abc)/", "/Date(12+13)/",
     "2018-02-30", "not a date", 272, 1439434356790, 27.2, None, True, [], {}],
)
def test_anything_else_is_returned_unchanged(value: object) -> None:
    # tap-xero#69: the account code "272" must never become the year 272.
    assert parse_xero_datetime(value) is value
    assert parse_xero_date(value) is None


def test_date_and_datetime_objects_pass() -> None:
    d = date(2020, 1, 2)
    assert parse_xero_date(d) == d
    assert parse_xero_date(datetime(2020, 1, 2, 23, tzinfo=UTC)) == d


def test_format() -> None:
    assert format_xero_date(datetime(2015, 8, 13, 2, 52, 36, 790000, tzinfo=UTC)) == (
        "/Date(1439434356790+0000)/"
    )
    assert format_xero_date(datetime(1967, 6, 20, tzinfo=UTC)) == "/Date(-80006400000+0000)/"
    assert format_xero_date(date(2018, 10, 20)) == "/Date(1539993600000+0000)/"
    # naive is UTC; an offset is honoured
    assert format_xero_date(datetime(2018, 10, 20)) == "/Date(1539993600000+0000)/"
    nz = datetime(2014, 12, 31, tzinfo=timezone(timedelta(hours=13)))
    assert format_xero_date(nz) == "/Date(1419937200000+0000)/"
    # sub-millisecond parts are floored, also before 1970
    assert format_xero_date(datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)) == (
        "/Date(-1+0000)/"
    )


_instants = st.datetimes(
    min_value=datetime(1800, 1, 1), max_value=datetime(2200, 1, 1),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=13)),
                               timezone(timedelta(hours=-5, minutes=-30))]),
).map(lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000))


@given(_instants)
def test_round_trip_instant(dt: datetime) -> None:
    assert parse_xero_datetime(format_xero_date(dt)) == dt


@given(st.integers(min_value=-5_000_000_000_000, max_value=5_000_000_000_000),
       st.sampled_from(["", "+0000", "+1300", "-0530", "+0545"]))
def test_round_trip_text(ms: int, offset: str) -> None:
    text = f"/Date({ms}{offset})/"
    parsed = parse_xero_datetime(text)
    assert isinstance(parsed, datetime)
    assert format_xero_date(parsed) == f"/Date({ms}+0000)/"
    local = parsed.date()
    assert parse_xero_date(text) == local


@given(st.dates(min_value=date(1800, 1, 1), max_value=date(2200, 1, 1)))
def test_round_trip_date(d: date) -> None:
    assert parse_xero_date(format_xero_date(d)) == d
