"""Exchange-rate direction is part of the mapping: Xero's ``CurrencyRate`` divides, QBO's
``ExchangeRate`` multiplies (``base_amount``'s ``rate_is:``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from arconnect.errors import MappingError
from arconnect.mapping import load_mapping

NOW = datetime(2026, 12, 1, tzinfo=UTC)
XERO = Path(__file__).parent.parent / "fixtures" / "xero_recorded"


def _document(tmp_path: Path, base: str) -> Path:
    path = tmp_path / "rates.yaml"
    path.write_text(
        "entities:\n"
        "  invoices:\n"
        "    rows:\n"
        "      - table: document\n"
        "        fields:\n"
        "          external_id: Id\n"
        "          kind: {const: invoice}\n"
        "          status: {const: open}\n"
        f"          total_base: {base}\n", encoding="utf-8")
    return path


def _total_base(path: Path, rec: dict[str, Any], base_currency: str) -> Any:
    rows = load_mapping(path).entities["invoices"].map_page(
        [rec], {"tenant_id": 1, "synced_at": NOW, "base_currency": base_currency})
    return rows["document"][0]["total_base"]


def test_xero_currency_rate_divides() -> None:
    # The recorded Xero invoices are all in the org's currency (CurrencyRate 1): the shipped
    # mapping keeps their amounts, and divides a foreign one. Xero OpenAPI getQuotes example
    # (tests/fixtures/SOURCES.md): an AUD quote at CurrencyRate 0.937053 in an NZD org, i.e.
    # 1 NZD = 0.937053 AUD, so 20.65 AUD is 22.04 NZD.
    # https://developer.xero.com/documentation/api/accounting/invoices (CurrencyRate)
    invoices = json.loads((XERO / "invoices.json").read_text(encoding="utf-8"))["Invoices"]
    recorded = next(i for i in invoices if i["Type"] == "ACCREC" and i.get("CurrencyRate"))
    xero = load_mapping("xero").entities["invoices"]
    ctx = {"tenant_id": 1, "synced_at": NOW, "base_currency": recorded["CurrencyCode"]}
    (row,) = xero.map_page([recorded], ctx)["document"]
    assert row["total_base"] == Decimal(str(recorded["Total"])).quantize(Decimal("0.01"))
    foreign = {**recorded, "CurrencyCode": "AUD", "CurrencyRate": 0.937053, "Total": 20.65}
    (row,) = xero.map_page([foreign], {**ctx, "base_currency": "NZD"})["document"]
    assert row["total_base"] == Decimal("22.04")  # 20.65 / 0.937053 = 22.037...; × gives 19.35


def test_qbo_exchange_rate_multiplies(tmp_path: Path) -> None:
    # QBO: ExchangeRate is home-currency units per one unit of the document's currency;
    # HomeTotalAmt = TotalAmt × ExchangeRate. The recorded QBO responses are all in the home
    # currency (USD, no ExchangeRate), so the record is built from Intuit's definition:
    # https://developer.intuit.com/app/developer/qbo/docs/workflows/manage-multiple-currencies
    path = _document(tmp_path, "{path: TotalAmt, transform: base_amount, rate: ExchangeRate, "
                               "rate_is: multiplier, currency: CurrencyRef.value}")
    eur = {"Id": "130", "TotalAmt": 100.00, "ExchangeRate": 1.0856,
           "CurrencyRef": {"value": "EUR", "name": "Euro"}, "HomeTotalAmt": 108.56}
    assert _total_base(path, eur, "USD") == Decimal(str(eur["HomeTotalAmt"]))
    # a home-currency document carries ExchangeRate 1 (or none): the amount itself
    usd = {"Id": "131", "TotalAmt": 55.5, "ExchangeRate": 1, "CurrencyRef": {"value": "USD"}}
    assert _total_base(path, usd, "USD") == Decimal("55.50")
    assert _total_base(path, {"Id": "132", "TotalAmt": 55.5}, "USD") == Decimal("55.50")


def test_divisor_is_the_default(tmp_path: Path) -> None:
    path = _document(tmp_path, "{path: Total, transform: base_amount, rate: CurrencyRate, "
                               "currency: CurrencyCode}")
    rec = {"Id": "1", "Total": 20.65, "CurrencyRate": 0.937053, "CurrencyCode": "AUD"}
    assert _total_base(path, rec, "NZD") == Decimal("22.04")


def test_an_unknown_direction_is_a_load_error(tmp_path: Path) -> None:
    path = _document(tmp_path, "{path: Total, transform: base_amount, rate_is: times}")
    with pytest.raises(MappingError, match=r"rates\.yaml:9: .*rate_is"):
        load_mapping(path)


def test_the_rate_path_must_be_named(tmp_path: Path) -> None:
    # the engine knows no platform's field names: no default rate path
    path = _document(tmp_path, "{path: Total, transform: base_amount}")
    with pytest.raises(MappingError, match=r"rates\.yaml:9: .*rate"):
        load_mapping(path)
