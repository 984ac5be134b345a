"""The transforms added for spreadsheet exports: date, if_present, zero_if/zero_unless, object."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest

from arconnect.mapping import compile_path
from arconnect.transforms import TRANSFORMS


def build(name: str, **raw: Any) -> Callable[..., Any]:
    t = TRANSFORMS[name]
    args = t.args.model_validate(raw)
    paths = {arg: compile_path(getattr(args, arg), in_each=False) for arg in t.path_args}
    return t.factory(args, paths)


def test_date_reads_the_ibm_formats() -> None:
    f = build("date", format="%m/%d/%Y")
    # The IBM export writes M/D/YYYY without leading zeros; padded values read the same.
    assert f("1/2/2013") == date(2013, 1, 2)
    assert f("01/02/2013") == date(2013, 1, 2)
    assert f("12/31/2013") == date(2013, 12, 31)
    assert f(" 2/28/2012 ") == date(2012, 2, 28)
    assert f("1/2/2013") == date(2013, 1, 2)  # cached
    assert f("") is None and f("   ") is None
    assert f(date(2020, 5, 1)) == date(2020, 5, 1)
    assert f(datetime(2020, 5, 1, 13, 0)) == date(2020, 5, 1)
    assert build("date", format="%d.%m.%Y")("31.01.2024") == date(2024, 1, 31)
    assert build("date", format="%Y-%m-%d %H:%M")("2024-01-31 23:59") == date(2024, 1, 31)


@pytest.mark.parametrize("bad", ["13/45/2013", "2013-01-02", "2/30/2013", "yesterday", "1/2/13"])
def test_date_refuses_what_the_format_does_not_read(bad: str) -> None:
    f = build("date", format="%m/%d/%Y")
    with pytest.raises(ValueError, match=r"is not a date in the format %m/%d/%Y"):
        f(bad)


@pytest.mark.parametrize("fmt", ["%m/%Y", "%d/%m", "%H:%M"])
def test_date_format_must_read_day_month_and_year(fmt: str) -> None:
    with pytest.raises(ValueError, match="does not read a day, a month and a year"):
        build("date", format=fmt)


def test_date_format_is_required() -> None:
    with pytest.raises(ValueError):
        build("date")


def test_if_present() -> None:
    f = build("if_present", then="PAID", otherwise="AUTHORISED")
    assert f("1/15/2013") == "PAID"
    assert f(None) == "AUTHORISED" and f("") == "AUTHORISED"
    assert build("if_present", then=True)(None) is None
    assert TRANSFORMS["if_present"].handles_none


def test_zero_if_and_zero_unless() -> None:
    due = build("zero_if", present="SettledDate")
    paid = build("zero_unless", present="SettledDate")
    settled = {"SettledDate": "1/15/2013"}
    open_ = {"SettledDate": None}
    assert due("55.945", settled, None, {}) == Decimal("0.00")
    assert due("55.945", open_, None, {}) == Decimal("55.95")
    assert paid("55.94", settled, None, {}) == Decimal("55.94")
    assert paid("55.94", {}, None, {}) == Decimal("0.00")
    assert due("", settled, None, {}) is None
    assert str(build("zero_if", present="X", round=0)("7.5", {}, None, {})) == "8"
    with pytest.raises(ValueError, match="is not a number"):
        due("12,5x", open_, None, {})


def test_object_builds_json_safe_values() -> None:
    f = build("object", paths={
        "country": "countryCode",
        "disputed": {"path": "Disputed", "transform": "bool"},
        "since": {"path": "PaperlessDate", "transform": "date", "format": "%m/%d/%Y"},
        "amount": {"path": "Amount", "transform": "decimal", "round": 1},
        "missing": "Nope",
    })
    rec = {"countryCode": "391", "Disputed": "Yes", "PaperlessDate": "4/6/2013",
           "Amount": "1.25"}
    assert f(None, rec, None, {}) == {"country": "391", "disputed": True,
                                      "since": "2013-04-06", "amount": "1.3"}
    assert f(None, {}, None, {}) is None
    with pytest.raises(ValueError, match="disputed: 'maybe' is not true or false"):
        f(None, {"Disputed": "maybe"}, None, {})


@pytest.mark.parametrize(("spec", "message"), [
    ({"k": {"path": "A", "transform": "base_amount"}}, "is not a value transform"),
    ({"k": {"path": "A", "transform": "nope"}}, "is not a value transform"),
    ({"k": {"path": "A", "round": 2}}, "need a `transform:`"),
    ({"k": {"path": "A", "transform": "date"}}, "transform date"),
    ({"k": 3}, "give a path"),
    ({"k": "bad path!"}, "bad path"),
])
def test_object_refuses_bad_specs(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build("object", paths=spec)
