"""The query endpoint: grammar, paging, the Active default, errors."""

from __future__ import annotations

from decimal import Decimal

from arconnect.sandbox.quickbooks import QboSandbox

from .conftest import Api


def _rows(resp: object, entity: str) -> list[dict[str, object]]:
    body = resp.json()  # type: ignore[attr-defined]
    return list(body["QueryResponse"].get(entity, []))


def test_paging_covers_every_invoice_then_an_empty_page(api: Api, qbo: QboSandbox) -> None:
    seen: list[str] = []
    start = 1
    while True:
        resp = api.query(f"SELECT * FROM Invoice ORDERBY MetaData.LastUpdatedTime "
                         f"STARTPOSITION {start} MAXRESULTS 300")
        assert resp.status_code == 200
        body = resp.json()
        if not body["QueryResponse"]:
            assert set(body) == {"QueryResponse", "time"}
            break
        page = body["QueryResponse"]
        assert page["startPosition"] == start and page["maxResults"] == len(page["Invoice"])
        seen += [row["Id"] for row in page["Invoice"]]
        start += 300
    assert sorted(seen) == sorted(qbo.companies[0].tables["Invoice"])
    stamps = [qbo.companies[0].tables["Invoice"].updated[i] for i in seen]
    assert stamps == sorted(stamps)


def test_default_page_is_100(api: Api) -> None:
    page = api.query("select * from Invoice").json()["QueryResponse"]
    assert page["maxResults"] == 100 and len(page["Invoice"]) == 100


def test_maxresults_over_1000_is_refused(api: Api) -> None:
    resp = api.query("SELECT * FROM Invoice MAXRESULTS 1001")
    assert resp.status_code == 400
    error = resp.json()["Fault"]["Error"][0]
    assert error["code"] == "4001" and "1000" in error["Detail"]


def test_inactive_customers_only_when_asked(api: Api, qbo: QboSandbox) -> None:
    table = qbo.companies[0].tables["Customer"]
    active = sum(1 for c in table.values() if c["Active"])
    assert 0 < active < len(table)
    default = api.query("SELECT COUNT(*) FROM Customer").json()["QueryResponse"]
    assert default == {"totalCount": active}
    both = api.query("SELECT * FROM Customer WHERE Active IN (true, false) MAXRESULTS 1000")
    assert len(_rows(both, "Customer")) == len(table)
    inactive = _rows(api.query("SELECT * FROM Customer WHERE Active = false"), "Customer")
    assert inactive and all(not c["Active"] for c in inactive)
    assert all(str(c["DisplayName"]).endswith(" (deleted)") for c in inactive)


def test_parse_errors(api: Api) -> None:
    for text in ("SELECT * FROM Invoice WHERE Id = '1' OR Id = '2'",
                 "SELECT Id FROM Invoice", "SELECT * FROM Invoice WHERE", "DROP TABLE x",
                 "SELECT * FROM Invoice ORDERBY Id, TxnDate"):
        resp = api.query(text)
        assert resp.status_code == 400, text
        fault = resp.json()["Fault"]
        assert fault["type"] == "ValidationFault"
        assert fault["Error"][0]["code"] == "4000", text
        assert fault["Error"][0]["Detail"].startswith("QueryParserError"), text
    assert api.query("SELECT * FROM invoice").status_code == 400  # entity names: exact case
    unknown = api.query("SELECT * FROM Invoice WHERE Colour = 'red'")
    assert unknown.json()["Fault"]["Error"][0]["code"] == "4001"


def test_filters(api: Api, qbo: QboSandbox) -> None:
    company = qbo.companies[0]
    ids = sorted(company.tables["Invoice"], key=int)[:3]
    got = _rows(api.query(f"SELECT * FROM Invoice WHERE Id IN ('{ids[0]}', '{ids[1]}', "
                          f"'{ids[2]}')"), "Invoice")
    assert sorted(r["Id"] for r in got) == ids
    since = "2026-10-01T00:00:00-08:00"
    recent = _rows(api.query(f"SELECT * FROM Invoice WHERE MetaData.LastUpdatedTime >= "
                             f"'{since}' MAXRESULTS 1000"), "Invoice")
    expected = [k for k, v in company.tables["Invoice"].updated.items()
                if v.isoformat() >= "2026-10-01T08:00:00+00:00"]
    assert len(recent) == len(expected) > 0
    owing = _rows(api.query("SELECT * FROM Invoice WHERE Balance > '0' AND TxnDate < "
                            "'2026-01-01' MAXRESULTS 1000"), "Invoice")
    assert owing and all(Decimal(str(r["Balance"])) > 0 and str(r["TxnDate"]) < "2026-01-01"
                         for r in owing)
    name = next(iter(company.tables["Customer"].values()))["DisplayName"]
    like = _rows(api.query(f"SELECT * FROM Customer WHERE DisplayName LIKE "
                           f"'%{str(name)[2:8].lower()}%'"), "Customer")
    assert any(r["DisplayName"] == name for r in like)
    mine = _rows(api.query("SELECT * FROM Invoice WHERE CustomerRef = '2' MAXRESULTS 1000"),
                 "Invoice")
    assert all(r["CustomerRef"]["value"] == "2" for r in mine)  # type: ignore[index]


def test_post_query_and_old_minor_version(api: Api) -> None:
    resp = api.session.post(f"{api.base}/query", params={"minorversion": "4"},
                            data="SELECT * FROM Term",
                            headers={**api.headers(), "Content-Type": "application/text"},
                            timeout=5)
    assert resp.status_code == 200
    names = [t["Name"] for t in resp.json()["QueryResponse"]["Term"]]
    assert "Net 30" in names and names == sorted(names, key=str.lower)


def test_reads(api: Api, qbo: QboSandbox) -> None:
    company = qbo.companies[0]
    customer = api.get("customer/1").json()
    assert set(customer) == {"Customer", "time"} and customer["Customer"]["Id"] == "1"
    info = api.get(f"companyinfo/{company.realm_id}").json()["CompanyInfo"]
    assert info["CompanyName"] == "Sandbox Company US 1"
    prefs = api.get("preferences").json()["Preferences"]["CurrencyPrefs"]
    assert prefs == {"MultiCurrencyEnabled": True, "HomeCurrency": {"value": "USD"}}
    missing = api.get("invoice/999999")
    assert missing.status_code == 400
    assert missing.json()["Fault"]["Error"][0]["code"] == "610"
