"""Customer records (GET, PATCH and its refusals) and customer categories through the NetSuite
sandbox's REST routes, and the PATCH checks as functions."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from arconnect.sandbox.netsuite import AccountSpec, NsConfig, NsSandbox
from arconnect.sandbox.netsuite.records import (
    CUSTOMER_FIELDS,
    RecordError,
    customer_fields,
    patch_changes,
)

START = datetime(2026, 11, 30, 17, 0, tzinfo=UTC)
STRICT = {"X-NetSuite-PropertyNameValidation": "Error"}


@pytest.fixture(scope="module")
def sb() -> Iterator[NsSandbox]:
    config = NsConfig(seed=7, start=START, accounts=[AccountSpec(
        customers=20, invoices=200, payments=150,
        custom_fields={"custentity_ar_segment": "text", "custentity_ar_tier": "list"})])
    with NsSandbox(config) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def http(sb: NsSandbox) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {sb.create_grant()['access_token']}"
    return session


def _customer_url(sb: NsSandbox, customer_id: object) -> str:
    return f"{sb.rest_base()}/services/rest/record/v1/customer/{customer_id}"


def _detail(resp: requests.Response) -> tuple[str, str, str | None]:
    item = resp.json()["o:errorDetails"][0]
    return item["o:errorCode"], item["detail"], item.get("o:errorPath")


def _first_id(sb: NsSandbox) -> int:
    return next(iter(sb.account().customers))["id"]  # type: ignore[no-any-return]


def test_get_customer_renders_the_rest_record(sb: NsSandbox, http: requests.Session) -> None:
    row = next(r for r in sb.account().customers
               if r["category"] and r["terms"] and r["creditlimit"])
    resp = http.get(_customer_url(sb, row["id"]))
    assert resp.status_code == 200
    doc = resp.json()
    assert doc["links"] == [{"rel": "self", "href": _customer_url(sb, row["id"])}]
    assert doc["id"] == str(row["id"]) and doc["entityId"] == row["entityid"]
    assert doc["creditLimit"] == float(row["creditlimit"])
    assert doc["creditHoldOverride"] == {"id": "AUTO", "refName": "Auto"}
    assert doc["category"]["id"] == str(row["category"])
    assert doc["category"]["links"][0]["href"].endswith(
        f"/record/v1/customerCategory/{row['category']}")
    assert doc["terms"]["refName"] in {"Net 7", "Net 14", "Net 30", "20th of next month"}
    assert doc["lastModifiedDate"] == row["lastmodifieddate"].strftime("%Y-%m-%dT%H:%M:%SZ")
    assert "custentity_ar_segment" not in doc  # empty fields are left out
    assert http.get(_customer_url(sb, 99999)).status_code == 404
    assert _detail(http.get(_customer_url(sb, "abc")))[0] == "NONEXISTENT_ID"


def test_patch_changes_fields_and_bumps_lastmodifieddate(sb: NsSandbox,
                                                         http: requests.Session) -> None:
    cust_id = _first_id(sb)
    before = sb.account().customers[cust_id]["lastmodifieddate"]
    sb.clock.advance(120)
    body = {"creditLimit": 7500, "creditHoldOverride": {"id": "ON"}, "category": {"id": "1"},
            "terms": {"id": "3"}, "custentity_ar_segment": "B",
            "custentity_ar_tier": {"id": "4"},
            "custentity_3805_dunning_procedure": {"id": "2"},
            "custentity_3805_dunning_manager": {"id": "-5"},
            "custentity_3805_dunning_level": None}
    resp = http.patch(_customer_url(sb, cust_id), json=body, headers=STRICT)
    assert resp.status_code == 204 and resp.content == b""
    assert resp.headers["Location"] == _customer_url(sb, cust_id)
    row = sb.account().customers[cust_id]
    assert row["creditlimit"] == 7500 and row["creditholdoverride"] == "ON"
    assert (row["category"], row["terms"], row["custentity_3805_dunning_procedure"]) == (1, 3, 2)
    assert row["custentity_ar_segment"] == "B" and row["custentity_ar_tier"] == 4
    assert row["custentity_3805_dunning_level"] is None
    assert row["lastmodifieddate"] > before
    doc = http.get(_customer_url(sb, cust_id)).json()
    assert doc["creditHoldOverride"] == {"id": "ON", "refName": "On"}
    assert doc["custentity_ar_segment"] == "B"
    cleared = http.patch(_customer_url(sb, cust_id), json={"category": None}, headers=STRICT)
    assert cleared.status_code == 204 and sb.account().customers[cust_id]["category"] is None


@pytest.mark.parametrize(("body", "code", "detail", "path"), [
    ({"nosuchfield": 1}, "INVALID_CONTENT",
     "Error while accessing a resource. Invalid field name: nosuchfield. The field does not "
     "exist on record customer.", "nosuchfield"),
    ({"id": "5"}, "INVALID_CONTENT",
     "Error while accessing a resource. The field id is read-only and cannot be set.", "id"),
    ({"balance": 0}, "INVALID_CONTENT",
     "Error while accessing a resource. The field balance is read-only and cannot be set.",
     "balance"),
    ({"lastModifiedDate": "2026-01-01T00:00:00Z"}, "INVALID_CONTENT",
     "Error while accessing a resource. The field lastModifiedDate is read-only and cannot be "
     "set.", "lastModifiedDate"),
    ({"category": {"id": "999"}}, "INVALID_CONTENT",
     "Error while accessing resource: You have entered an Invalid Field Value 999 for the "
     "following field: category", "category"),
    ({"terms": {"id": "x"}}, "INVALID_CONTENT",
     "Error while accessing resource: You have entered an Invalid Field Value x for the "
     "following field: terms", "terms"),
    ({"custentity_3805_dunning_procedure": {"id": "6"}}, "INVALID_CONTENT",
     "Error while accessing resource: You have entered an Invalid Field Value 6 for the "
     "following field: custentity_3805_dunning_procedure", "custentity_3805_dunning_procedure"),
    ({"creditHoldOverride": {"id": "MAYBE"}}, "INVALID_CONTENT",
     "Error while accessing resource: You have entered an Invalid Field Value MAYBE for the "
     "following field: creditHoldOverride", "creditHoldOverride"),
    ({"creditLimit": "lots"}, "INVALID_CONTENT",
     "Error while accessing resource: You have entered an Invalid Field Value lots for the "
     "following field: creditLimit", "creditLimit"),
])
def test_patch_refusals_name_the_field(sb: NsSandbox, http: requests.Session,
                                       body: dict[str, Any], code: str, detail: str,
                                       path: str) -> None:
    cust_id = _first_id(sb)
    before = dict(sb.account().customers[cust_id])
    resp = http.patch(_customer_url(sb, cust_id), json={"creditLimit": 1, **body},
                      headers=STRICT)
    assert resp.status_code == 400
    assert resp.headers["Content-Type"].startswith("application/vnd.oracle.resource+json")
    assert resp.json()["title"] == "Bad Request"
    assert _detail(resp) == (code, detail, path)
    assert sb.account().customers[cust_id] == before  # nothing applied


def test_unknown_fields_are_ignored_without_the_validation_header(
        sb: NsSandbox, http: requests.Session) -> None:
    cust_id = _first_id(sb)
    resp = http.patch(_customer_url(sb, cust_id), json={"nosuchfield": 1, "creditLimit": 42})
    assert resp.status_code == 204
    assert sb.account().customers[cust_id]["creditlimit"] == 42


def test_credit_hold_values_follow_the_switch() -> None:
    with NsSandbox(NsConfig(start=START, credit_hold_values=("AUTO", "ON", "OFF"),
                            accounts=[AccountSpec(customers=8, invoices=20,
                                                  payments=10)])) as sb:
        account = sb.account()
        row = next(iter(account.customers))
        assert patch_changes(account, row, {"creditHoldOverride": {"id": "off"}},
                             strict_names=True, hold_values=("AUTO", "ON", "OFF")) == {
            "creditholdoverride": "OFF"}
        with pytest.raises(RecordError) as err:
            patch_changes(account, row, {"creditHoldOverride": {"id": "OFF"}},
                          strict_names=True, hold_values=("AUTO", "ON"))
        assert err.value.path == "creditHoldOverride"


def test_field_table_maps_camel_case_to_suiteql_columns(sb: NsSandbox) -> None:
    fields = customer_fields(sb.account())
    columns = sb.account().customers.columns
    assert {column for column, _ in fields.values()} == columns
    assert CUSTOMER_FIELDS["creditHoldOverride"] == ("creditholdoverride", "hold")


def test_customer_category_create_get_and_duplicate(sb: NsSandbox,
                                                    http: requests.Session) -> None:
    url = f"{sb.rest_base()}/services/rest/record/v1/customerCategory"
    resp = http.post(url, json={"name": "AR Slow payers"})
    assert resp.status_code == 204
    location = resp.headers["Location"]
    assert location.startswith(url + "/")
    got = http.get(location)
    assert got.status_code == 200
    assert got.json()["name"] == "AR Slow payers" and got.json()["isInactive"] is False
    new_id = int(location.rsplit("/", 1)[1])
    assert sb.account().tables["customercategory"][new_id]["name"] == "AR Slow payers"
    again = http.post(url, json={"name": "ar slow PAYERS"})
    assert again.status_code == 400
    assert _detail(again) == ("USER_ERROR", "Error while accessing a resource. A record with "
                              "this name already exists. Choose a different name.", "name")
    assert _detail(http.post(url, json={}))[0] == "USER_ERROR"
    # the new category can be written to a customer at once
    patched = http.patch(_customer_url(sb, _first_id(sb)), json={"category": {"id": str(new_id)}},
                         headers=STRICT)
    assert patched.status_code == 204
