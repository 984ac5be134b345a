"""Every whitelisted transform, called as the mapping calls it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from arconnect.mapping import compile_path
from arconnect.transforms import TRANSFORMS, all_transforms, describe_transforms, to_decimal


def build(name: str, in_each: bool = False, **raw: Any) -> Callable[..., Any]:
    t = all_transforms()[name]
    args = t.args.model_validate(raw)
    paths: dict[str, Any] = {}
    for arg in t.path_args:
        value = getattr(args, arg)
        if isinstance(value, list):
            paths[arg] = [compile_path(p, in_each=in_each) for p in value]
        elif value is not None:
            paths[arg] = compile_path(value, in_each=in_each)
    return t.factory(args, paths)


def test_the_whitelist() -> None:
    assert set(TRANSFORMS) == {
        "iso_datetime", "iso_date", "decimal", "int", "bool", "str", "upper", "lower",
        "equals", "in", "not_in", "lookup", "base_amount", "first", "join",
        "date", "if_present", "zero_if", "zero_unless", "object",
    }
    # the platforms add their own formats through the port, named after them
    extra = set(all_transforms()) - set(TRANSFORMS)
    assert {"xero_datetime", "xero_date"} <= extra
    assert all(name.split("_")[0] in ("xero", "qbo", "quickbooks", "netsuite") for name in extra)
    assert all(row["summary"] for row in describe_transforms())


def test_unknown_arguments_are_refused() -> None:
    with pytest.raises(ValidationError):
        TRANSFORMS["decimal"].args.model_validate({"rnd": 2})
    with pytest.raises(ValidationError):
        all_transforms()["xero_date"].args.model_validate({"format": "%Y"})


def test_xero_datetime() -> None:
    f = build("xero_datetime")
    got = f("/Date(1419937200000+1300)/")
    assert got == datetime(2014, 12, 30, 11, tzinfo=UTC) and got.tzinfo is UTC
    assert f("2018-11-02T16:31:30Z") == datetime(2018, 11, 2, 16, 31, 30, tzinfo=UTC)
    assert f("") is None
    with pytest.raises(ValueError, match="272"):
        f("272")


def test_xero_date() -> None:
    f = build("xero_date")
    assert f("/Date(1419937200000+1300)/") == date(2014, 12, 31)
    assert f("/Date(1419937200000+1300)/") == date(2014, 12, 31)  # cached
    assert f("2018-10-20T00:00:00") == date(2018, 10, 20)
    assert f("") is None
    for bad in ("272", 272, "tomorrow"):
        with pytest.raises(ValueError):
            f(bad)


def test_decimal_is_exact_and_never_float() -> None:
    f = build("decimal")
    assert f(0.1) == Decimal("0.1") and isinstance(f(0.1), Decimal)
    assert f(541.25) == Decimal("541.25")
    assert f(3) == Decimal(3)
    assert f("1,234.50") == Decimal("1234.50")
    assert f("") is None
    for bad in ("abc", True, float("nan"), float("inf"), [1]):
        with pytest.raises(ValueError):
            f(bad)
    r = build("decimal", round=2)
    assert r(2.675) == Decimal("2.68")  # half-up on the written value, not the binary one
    assert r(0.125) == Decimal("0.13")
    assert r(-0.125) == Decimal("-0.13")
    assert str(r(5)) == "5.00"


def test_int() -> None:
    f = build("int")
    assert f(30) == 30 and f(30.0) == 30 and f("30") == 30
    for bad in (30.5, "x", True):
        with pytest.raises(ValueError):
            f(bad)


def test_bool() -> None:
    f = build("bool")
    assert f(True) is True and f(False) is False
    assert f("true") is True and f("FALSE") is False and f(1) is True and f(0) is False
    assert f("") is None
    with pytest.raises(ValueError):
        f("maybe")


def test_str_upper_lower() -> None:
    assert build("str")(272) == "272"
    assert build("str")(0.1) == "0.1"
    assert build("str")(True) == "true"
    assert build("upper")("nzd") == "NZD"
    assert build("lower")("ACTIVE") == "active"
    with pytest.raises(ValueError):
        build("str")({"a": 1})


def test_equals() -> None:
    f = build("equals", value="DELETED")
    assert f("DELETED") is True and f("AUTHORISED") is False and f(None) is False
    assert f(["A", "DELETED"]) is True


def test_in_and_not_in() -> None:
    f = build("in", values=["DELETED", "VOIDED"])
    g = build("not_in", values=["DELETED", "VOIDED"])
    assert f("VOIDED") is True and f("PAID") is False and f(None) is False
    assert g("VOIDED") is False and g("PAID") is True and g(None) is True
    assert f(["PAID", "VOIDED"]) is True
    with pytest.raises(ValidationError):
        TRANSFORMS["in"].args.model_validate({"values": []})


def test_lookup() -> None:
    f = build("lookup", map={"Post": "paper", "E-invoicing": "e_invoice"}, default="email")
    assert f("Post") == "paper"
    assert f("Other") == "email"
    assert f(None) == "email"
    # on a list (a contact's groups) the first element found in the table wins
    assert f(["VIP", "E-invoicing", "Post"]) == "e_invoice"
    assert f([]) == "email"
    g = build("lookup", map={"post": "paper"}, ignore_case=True)
    assert g("POST") == "paper" and g("x") is None


def _base(rec: dict[str, Any], base: str | None, **args: Any) -> Any:
    args = {"rate": "CurrencyRate", "currency": "CurrencyCode", **args}
    f = build("base_amount", **args)
    return f(rec["Total"], rec, None, {"base_currency": base})


def test_base_amount_divides_by_xeros_rate() -> None:
    # Xero OpenAPI getQuotes example: an AUD quote at 0.937053 in an NZD org.
    aud = {"Total": 20.65, "CurrencyCode": "AUD", "CurrencyRate": 0.937053}
    assert _base(aud, "NZD") == Decimal("22.04")  # 20.65 / 0.937053 = 22.0372...
    # Xero OpenAPI createQuotes example: an NZD quote at 1.547150 in a USD org.
    nzd = {"Total": 500.0, "CurrencyCode": "NZD", "CurrencyRate": 1.54715}
    assert _base(nzd, "USD") == Decimal("323.17")  # 500 / 1.54715 = 323.1749...
    # never the other direction
    assert _base(nzd, "USD") != Decimal("773.58")


def test_base_amount_keeps_base_currency_amounts() -> None:
    # base-currency payments carry CurrencyRate 0; invoices 1; some records none at all
    for rate in (0, None, 1):
        rec = {"Total": 541.25, "CurrencyCode": "USD", "CurrencyRate": rate}
        assert _base(rec, "USD") == Decimal("541.25")
    # the currency is the org's: the rate is ignored even when it is odd
    assert _base({"Total": 10, "CurrencyCode": "USD", "CurrencyRate": 2}, "USD") == Decimal(
        "10.00"
    )
    # the rate rules when the base currency is unknown
    assert _base({"Total": 10, "CurrencyCode": "EUR", "CurrencyRate": 2}, None) == Decimal(
        "5.00"
    )


def test_base_amount_rounds_half_up() -> None:
    rec = {"Total": 0.05, "CurrencyCode": "EUR", "CurrencyRate": 2}  # 0.025
    assert _base(rec, "USD") == Decimal("0.03")
    with pytest.raises(ValueError, match="not positive"):
        _base({"Total": 1, "CurrencyCode": "EUR", "CurrencyRate": -2}, "USD")


def test_base_amount_rate_and_currency_paths() -> None:
    f = build("base_amount", in_each=True, rate="^.CurrencyRate", currency="^.CurrencyCode")
    parent = {"CurrencyRate": 0.5, "CurrencyCode": "EUR"}
    assert f(10, {"Amount": 10}, parent, {"base_currency": "USD"}) == Decimal("20.00")


def test_first() -> None:
    f = build("first", paths=["CreditNote.CreditNoteID", "Prepayment.PrepaymentID"])
    assert f("inv-1", {}, None, {}) == "inv-1"
    assert f(None, {"CreditNote": {"CreditNoteID": "cn-1"}}, None, {}) == "cn-1"
    assert f("", {"Prepayment": {"PrepaymentID": "pp-1"}}, None, {}) == "pp-1"
    assert f(None, {}, None, {}) is None


def test_join() -> None:
    f = build("join")
    assert f(["A", "", "B"], {}, None, {}) == "A, B"
    assert f([], {}, None, {}) is None
    g = build("join", sep=" ", paths=["LastName"])
    assert g("Ann", {"LastName": "Lee"}, None, {}) == "Ann Lee"


def test_to_decimal() -> None:
    assert to_decimal(1.1) == Decimal("1.1")
    assert to_decimal(Decimal("2.5")) == Decimal("2.5")
