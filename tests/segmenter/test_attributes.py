"""Attributes in segment rules (delivery mode, payment method, country, currency, groups, and
consultant-defined ones) and the disputed_share metric: from a mapping to the store, the
metrics, a rule, a segment and the export.

The rules are written here as small files; the stores are built directly (the property tests'
builder, tests/segmenter/test_metrics.py) or imported from an IBM-shaped CSV through
``mappings/csv_ibm.yaml``, whose ``Disputed`` column is the dispute flag.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, update

from arconnect.csv_import import import_csv
from arconnect.errors import MappingError
from arconnect.mapping import load_mapping
from arconnect.segmenter.metrics import ATTRIBUTE_KEYS, METRIC_KEYS, empty_metrics
from arconnect.segmenter.rules import ATTRIBUTES, Rules, assign, check_rules, load_rules
from arconnect.segmenter.service import export_rows, export_text, segment_tenant
from arconnect.services import find_tenants
from arconnect.store import db
from arconnect.store.db import dispose_engines, get_engine
from arconnect.store.models import Customer, SegmentAssignment, Tenant
from tests.segmenter.test_metrics import Alloc, Cust, Doc, History, measure, store

DAY = date(2026, 6, 30)
SPEED = ("dimensions:\n"
         "  - name: speed\n"
         "    metric: late_share\n"
         "    buckets: [{tag: fast, lte: 0.3}, {tag: slow, gt: 0.3}]\n")


def rules_file(tmp_path: Path, body: str, head: str = "") -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(head + SPEED + body, encoding="utf-8")
    return path


def one_segment(tmp_path: Path, when: str, head: str = "") -> Rules:
    """Rules whose segment Hit has ``when``; everyone else is Rest."""
    return load_rules(rules_file(tmp_path, f"segments:\n  - name: Hit\n    when: {when}\n"
                                           "  - name: Rest\ndefault_segment: Rest\n", head))


def decide(rules: Rules, **metrics: Any) -> tuple[str, list[str]]:
    m = empty_metrics()
    m.update(metrics)
    a = assign(rules, m, None, None, DAY)
    return a.segment, a.reasons


# -- the contract ---------------------------------------------------------------------------


def test_the_attributes_are_part_of_the_metrics_contract() -> None:
    assert set(ATTRIBUTE_KEYS) <= set(METRIC_KEYS)
    assert set(ATTRIBUTES) == set(ATTRIBUTE_KEYS)
    assert {"disputed_share", "attributes"} <= set(METRIC_KEYS)
    assert set(empty_metrics()) == set(METRIC_KEYS)


# -- conditions -----------------------------------------------------------------------------


@pytest.mark.parametrize(("when", "metrics", "segment", "reason"), [
    ("{attribute: delivery_mode, in: [paper, post]}", {"delivery_mode": "Paper"}, "Hit",
     "Delivery mode is Paper"),
    ("{attribute: delivery_mode, in: [paper]}", {"delivery_mode": "electronic"}, "Rest", None),
    ("{attribute: delivery_mode, not_in: [paper]}", {"delivery_mode": "electronic"}, "Hit",
     "Delivery mode is electronic, not paper"),
    ("{attribute: delivery_mode, not_in: [paper]}", {"delivery_mode": " PAPER "}, "Rest", None),
    ("{attribute: currency, eq: eur}", {"currency": "EUR"}, "Hit", "Currency is EUR"),
    ("{attribute: currency, ne: EUR}", {"currency": "NZD"}, "Hit", "Currency is NZD, not EUR"),
    ("{attribute: currency, ne: EUR}", {"currency": "eur"}, "Rest", None),
    # numbers compare as their text: the IBM file's country codes
    ("{attribute: country, eq: 391}", {"country": "391"}, "Hit", "Country is 391"),
    ("{attribute: country, in: [770, 406]}", {"country": "391"}, "Rest", None),
    # a missing attribute: only `missing: true` holds
    ("{attribute: country, in: [NZ]}", {}, "Rest", None),
    ("{attribute: country, not_in: [NZ]}", {}, "Rest", None),
    ("{attribute: country, ne: NZ}", {}, "Rest", None),
    ("{attribute: country, missing: true}", {}, "Hit", "Country unknown"),
    ("{attribute: country, missing: true}", {"country": "NZ"}, "Rest", None),
    ("{attribute: country, missing: false}", {"country": "NZ"}, "Hit", "Country is NZ"),
    # groups: any of the customer's groups
    ("{attribute: group, in: [wholesale]}", {"group": ["Export", "Wholesale"]}, "Hit",
     "Group is Wholesale"),
    ("{attribute: group, not_in: [Wholesale]}", {"group": ["Export", "Wholesale"]}, "Rest",
     None),
    ("{attribute: group, not_in: [Wholesale]}", {"group": ["Export"]}, "Hit",
     "Group is Export, not Wholesale"),
    ("{attribute: group, missing: true}", {"group": []}, "Hit", "Group unknown"),
    ("{attribute: payment_method, in: [card]}", {"payment_method": "card"}, "Hit",
     "Payment method is card"),
    # combined with metrics and tags
    ("{all: [{tag: slow}, {attribute: delivery_mode, eq: paper}]}",
     {"late_share": 0.5, "delivery_mode": "paper"}, "Hit", "Delivery mode is paper"),
    ("{not: {attribute: delivery_mode, eq: paper}}", {"delivery_mode": "paper"}, "Rest", None),
    ("{metric: disputed_share, gte: 0.2}", {"disputed_share": 0.25, "invoice_count": 4}, "Hit",
     "Share of invoices disputed 25.0% ≥ 0.2 over 4 invoices"),
    ("{metric: disputed_share, gte: 0.2}", {"disputed_share": None}, "Rest", None),
])
def test_attribute_conditions(tmp_path: Path, when: str, metrics: dict[str, Any], segment: str,
                              reason: str | None) -> None:
    got, reasons = decide(one_segment(tmp_path, when), **metrics)
    assert got == segment
    if reason is not None:
        assert reason in reasons


def test_consultant_defined_attributes_are_declared_and_read_from_attributes(
        tmp_path: Path) -> None:
    rules = one_segment(tmp_path, "{attribute: industry, in: [Retail]}",
                        head="attributes: [industry, tier]\n")
    assert decide(rules, attributes={"industry": "retail"}) == (
        "Hit", ["Hit: first matching segment", "Industry is retail"])
    assert decide(rules, attributes={"industry": ["bank", "RETAIL"]})[0] == "Hit"  # a list
    assert decide(rules, attributes={"industry": "bank"})[0] == "Rest"
    assert decide(rules, attributes={})[0] == "Rest"
    # a metric of the same name is not the attribute
    assert decide(rules, industry="retail")[0] == "Rest"
    numbers = one_segment(tmp_path, "{attribute: tier, eq: 2}", head="attributes: [tier]\n")
    assert decide(numbers, attributes={"tier": 2.0})[0] == "Hit"
    assert decide(numbers, attributes={"tier": "2"})[0] == "Hit"


def test_attributes_in_derived_dimensions(tmp_path: Path) -> None:
    rules = load_rules(rules_file(tmp_path, (
        "  - name: billing\n"
        "    cases:\n"
        "      - {tag: on_paper, when: {attribute: delivery_mode, in: [paper]}}\n"
        "      - {tag: paperless}\n"
        "segments:\n  - name: Paper\n    when: {tag: on_paper}\n  - name: Rest\n"
        "default_segment: Rest\n")))
    segment, reasons = decide(rules, delivery_mode="PAPER")
    assert segment == "Paper"
    assert "Billing on_paper (Delivery mode is PAPER)" in reasons
    assert decide(rules, delivery_mode="email")[0] == "Rest"


def test_rules_check_summarises_attribute_conditions(tmp_path: Path) -> None:
    rows = check_rules(rules_file(tmp_path, (
        "segments:\n"
        "  - name: A\n    when: {attribute: group, in: [Wholesale, Export]}\n"
        "  - name: B\n    when: {attribute: country, missing: true}\n"
        "  - name: C\n    when: {attribute: currency, ne: EUR}\n"
        "  - name: D\ndefault_segment: D\n")))
    assert [r["when"] for r in rows] == ["group in [Wholesale, Export]", "country missing",
                                        "currency ≠ EUR", "otherwise"]


# -- errors ---------------------------------------------------------------------------------


def test_every_attribute_mistake_is_reported_at_its_line_in_one_pass(tmp_path: Path) -> None:
    path = rules_file(tmp_path, (
        "segments:\n"
        "  - name: A\n"                                                  # line 12
        "    when: {attribute: delivery_mod, in: [paper]}\n"              # 13
        "  - name: B\n"
        "    when: {attribute: industry, eq: retail}\n"                   # 15: undeclared
        "  - name: C\n"
        "    when: {attribute: country, in: []}\n"                        # 17
        "  - name: D\n"
        "    when: {attribute: country, in: [NZ], eq: NZ}\n"              # 19
        "  - name: E\n"
        "    when: {attribute: country, missing: maybe}\n"                # 21
        "  - name: F\n"
        "    when: {attribute: late_share, eq: 1}\n"                      # 23: a metric
        "  - name: G\n"
        "    when: {attribute: currency, eq: {a: 1}}\n"                   # 25
        "  - name: H\n"
        "default_segment: H\n"),
        head="attributes:\n  - country\n  - late_share\n  - bad name\n  - sector\n  - sector\n")
    with pytest.raises(MappingError) as err:
        check_rules(path)
    text = str(err.value)
    lines = text.splitlines()
    assert len(lines) == 11, text
    for line, words in [
        (2, "'country' is a built-in attribute"), (3, "'late_share' is a metric"),
        (4, "attribute name 'bad name'"), (6, "attribute 'sector' is declared twice"),
        (13, "unknown attribute 'delivery_mod' (did you mean 'delivery_mode'?)"),
        (15, "unknown attribute 'industry'"), (17, "`in:` takes a non-empty list"),
        (19, "takes one of in, not_in, eq, ne, missing"), (21, "`missing:` takes true or false"),
        (23, "unknown attribute 'late_share'; late_share is a metric"),
        (25, "`eq:` takes one value"),
    ]:
        assert any(re.match(rf".*rules\.yaml:{line}: .*{re.escape(words)}", x) for x in lines), (
            line, words, text)
    # the fix is named: declare your own
    assert "`attributes: [industry]`" in text


def test_the_logic_check_reads_attribute_conditions(tmp_path: Path) -> None:
    path = rules_file(tmp_path, (
        "segments:\n"
        "  - name: A\n"
        "    when: {all: [{attribute: country, eq: NZ}, {attribute: country, in: [au, us]}]}\n"
        "  - name: B\n"
        "    when: {all: [{attribute: group, eq: Retail}, {attribute: group, eq: Export}]}\n"
        "  - name: C\n"
        "    when: {all: [{attribute: country, in: [NZ, AU]}, {not: {attribute: country, "
        "missing: true}}, {tag: slow}]}\n"
        "  - name: D\n    when: {metric: disputed_share, gt: 1}\n"
        "  - name: E\ndefault_segment: E\n"))
    with pytest.raises(MappingError) as err:
        check_rules(path)
    lines = str(err.value).splitlines()
    # a customer has one country (7), a share is at most 1 (13); groups can be both (9)
    assert [int(x.split(":")[1]) for x in lines] == [7, 13], lines
    assert "never one of NZ and one of au, us" in lines[0]
    assert "(it is between 0 and 1)" in lines[1]


# -- the attributes on a store --------------------------------------------------------------


def test_attributes_computed_on_a_store(sqlite_url: str) -> None:
    engine = db.get_engine(sqlite_url)

    def pay(ext: str, cents: int, method: str) -> Alloc:
        return Alloc(ext, "payment", date(2026, 5, 1), cents, method=method)

    def inv(ext: str, cust: str, currency: str | None, *allocs: Alloc) -> Doc:
        return Doc(ext, "invoice", cust, "open", False, date(2026, 4, 1),
                   date(2026, 5, 1), None, 10_000, 10_000, 10_000, list(allocs),
                   currency=currency)

    customers = [
        # the most money by card; its own method column is ignored once it has payments
        Cust("A", delivery_mode="paper", payment_method="cheque", default_currency="EUR",
             groups=["Wholesale", "Export", "Wholesale", " "],
             extra={"country": "NZ", "attributes": {"industry": "retail", "tier": 2,
                                                    "blank": "", "nested": {"x": 1}}}),
        # a tie between two methods: the alphabetical first; a list of countries
        Cust("B", payment_method="cheque", extra={"country": ["", "AU", "NZ"]}),
        # no payments: its own method; a number for a country
        Cust("C", payment_method="direct_debit", extra={"country": 391}),
        # nothing at all
        Cust("D"),
    ]
    docs = [
        inv("A1", "A", "USD", pay("PA1", 3_000, "bank_transfer"), pay("PA2", 5_000, "card")),
        inv("B1", "B", "USD", pay("PB1", 4_000, "card"), pay("PB2", 4_000, "bank_transfer")),
        inv("B2", "B", "NZD"), inv("B3", "B", "NZD"),
        inv("C1", "C", "NZD"), inv("C2", "C", "AUD"),  # a tie: the alphabetical first
    ]
    got = measure(engine, store(engine, History(customers, docs)))
    pick = ("delivery_mode", "payment_method", "country", "currency", "group", "attributes")
    assert {c: tuple(got[c][k] for k in pick) for c in "ABCD"} == {
        "A": ("paper", "card", "NZ", "EUR", ["Export", "Wholesale"],
              {"industry": "retail", "tier": 2}),
        "B": (None, "bank_transfer", "AU", "NZD", [], {}),
        "C": (None, "direct_debit", "391", "AUD", [], {}),
        "D": (None, None, None, None, [], {}),
    }
    # no document carries a dispute flag: unknown, not 0
    assert {got[c]["disputed_share"] for c in "ABCD"} == {None}


def test_disputed_share_on_a_store(db_url: str) -> None:
    engine = db.get_engine(db_url)

    def inv(ext: str, cust: str, disputed: bool | None, issued: date = date(2026, 3, 1),
            status: str = "open") -> Doc:
        return Doc(ext, "invoice", cust, status, status == "voided", issued, issued, None,
                   10_000, 10_000, 10_000, disputed=disputed)

    docs = [
        inv("A1", "A", True), inv("A2", "A", False), inv("A3", "A", None),  # no flag: not
        inv("A4", "A", True, issued=date(2024, 1, 1)),  # before the window
        inv("A5", "A", True, status="voided"),  # not counted
        inv("A6", "A", True, status="draft"),
        inv("B1", "B", None), inv("B2", "B", None),
        inv("K1", "K", True),  # a sub-customer: counts for its parent A
        inv("C1", "C", True, issued=date(2024, 1, 1)),  # nothing in the window
    ]
    customers = [Cust("A"), Cust("B"), Cust("C"), Cust("K", parent="A")]
    got = measure(engine, store(engine, History(customers, docs)))
    assert got["A"]["disputed_share"] == 0.5  # A1 and K1 of A1, A2, A3, K1
    assert got["B"]["disputed_share"] == 0.0  # the tenant flags disputes; B has none
    assert got["C"]["disputed_share"] is None  # no invoice in the window
    # a tenant whose only flag lies outside the window has no dispute information there
    again = measure(engine, store(engine, History([Cust("C")], [docs[-1]])))
    assert again["C"]["disputed_share"] is None


def test_text_true_is_no_dispute_flag(db_url: str) -> None:
    """Only a JSON boolean is a flag, on SQLite and PostgreSQL alike."""
    engine = db.get_engine(db_url)
    tenant_id = store(engine, History([Cust("A")], [
        Doc("A1", "invoice", "A", "open", False, date(2026, 3, 1), None, None, 100, 100,
            100, disputed=False),
        Doc("A2", "invoice", "A", "open", False, date(2026, 3, 1), None, None, 100, 100,
            100)]))
    from arconnect.store.models import Document
    with engine.begin() as conn:
        conn.execute(update(Document.__table__).where(  # type: ignore[attr-defined]
            Document.__table__.c.external_id == "A2",  # type: ignore[attr-defined]
            Document.__table__.c.tenant_id == tenant_id,  # type: ignore[attr-defined]
        ).values(extra={"disputed": "true"}))
    assert measure(engine, tenant_id)["A"]["disputed_share"] == 0.0


# -- from an IBM-shaped CSV to a segment and the export ---------------------------------------

HEADER = ("countryCode,customerID,PaperlessDate,invoiceNumber,InvoiceDate,DueDate,InvoiceAmount,"
          "Disputed,SettledDate,PaperlessBill,DaysToSettle,DaysLate")
ROWS = [
    # customer, invoice, issued, due, amount, disputed, settled, billing, country
    ("0001-AAAAA", "0000000001", "1/10/2013", "2/9/2013", "100.00", "Yes", "3/20/2013", "Paper",
     "391"),
    ("0001-AAAAA", "0000000002", "2/10/2013", "3/12/2013", "100.00", "No", "3/12/2013", "Paper",
     "391"),
    ("0001-AAAAA", "0000000003", "3/10/2013", "4/9/2013", "100.00", "No", "4/1/2013", "Paper",
     "391"),
    ("0001-AAAAA", "0000000004", "4/10/2013", "5/10/2013", "100.00", "No", "", "Paper", "391"),
    ("0002-BBBBB", "0000000005", "1/15/2013", "2/14/2013", "50.00", "No", "2/1/2013",
     "Electronic", "770"),
    ("0002-BBBBB", "0000000006", "2/15/2013", "3/17/2013", "50.00", "No", "3/1/2013",
     "Electronic", "770"),
    ("0003-CCCCC", "0000000007", "1/20/2011", "2/19/2011", "70.00", "Yes", "3/1/2011", "Paper",
     "406"),
]
AS_OF = date(2013, 6, 30)


def _import(db_url: str, tmp_path: Path) -> Iterator[tuple[Engine, Tenant]]:
    lines = [HEADER] + [f"{c9},{c},,{n},{i},{d},{a},{x},{s},{b},," for c, n, i, d, a, x, s, b, c9
                        in ROWS]
    path = tmp_path / "ar.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    engine = get_engine(db_url)
    assert not import_csv(engine, path, "csv_ibm", "ibm").rejects
    (tenant,) = find_tenants(engine, ["ibm"])
    try:
        yield engine, tenant
    finally:
        dispose_engines()


@pytest.fixture
def imported(db_url: str, tmp_path: Path) -> Iterator[tuple[Engine, Tenant]]:
    """The CSV above imported, on SQLite and PostgreSQL."""
    yield from _import(db_url, tmp_path)


@pytest.fixture
def imported_sqlite(sqlite_url: str, tmp_path: Path) -> Iterator[tuple[Engine, Tenant]]:
    yield from _import(sqlite_url, tmp_path)


PAPER_RULES = ("  - name: billing\n"
               "    cases:\n"
               "      - {tag: on_paper, when: {attribute: delivery_mode, in: [Paper]}}\n"
               "      - {tag: paperless}\n")


def test_a_delivery_mode_rule_moves_customers_and_the_export_carries_the_attributes(
        imported: tuple[Engine, Tenant], tmp_path: Path) -> None:
    engine, tenant = imported
    tail = ("  - name: Disputing\n    when: {metric: disputed_share, gt: 0}\n"
            "  - name: Other\ndefault_segment: Other\n")
    without = load_rules(rules_file(tmp_path, PAPER_RULES + "segments:\n" + tail))
    before = {r.customer_id: r.assignment.segment for r in segment_tenant(
        engine, tenant, rules=without, run_date=AS_OF, dry_run=True).results}
    assert before == {"0001-AAAAA": "Disputing", "0002-BBBBB": "Other", "0003-CCCCC": "Other"}

    with_paper = load_rules(rules_file(tmp_path, PAPER_RULES + (
        "segments:\n  - name: Paper\n    when: {tag: on_paper}\n") + tail))
    run = segment_tenant(engine, tenant, rules=with_paper, run_date=AS_OF)
    after = {r.customer_id: r for r in run.results}
    assert {c: r.assignment.segment for c, r in after.items()} == {
        "0001-AAAAA": "Paper", "0002-BBBBB": "Other", "0003-CCCCC": "Paper"}
    assert "Billing on_paper (Delivery mode is paper)" in after["0001-AAAAA"].assignment.reasons

    rows = {r["customer_id"]: r for r in export_rows(engine, tenant)}
    a = rows["0001-AAAAA"]["metrics"]
    assert (a["delivery_mode"], a["country"], a["currency"], a["group"], a["attributes"],
            a["payment_method"]) == ("paper", "391", "USD", [], {}, None)
    assert a["disputed_share"] == 0.25  # 1 of its 4 invoices in the window
    assert rows["0002-BBBBB"]["metrics"]["disputed_share"] == 0.0
    assert rows["0003-CCCCC"]["metrics"]["disputed_share"] is None  # nothing in the window
    doc = json.loads(export_text(rows.values(), "json"))
    assert doc[0]["metrics"]["country"] == "391"

    table = list(csv.DictReader(io.StringIO(export_text(rows.values(), "csv"))))
    by_id = {r["customer_id"]: r for r in table}
    assert by_id["0001-AAAAA"]["delivery_mode"] == "paper"
    assert by_id["0001-AAAAA"]["country"] == "391"
    assert by_id["0001-AAAAA"]["disputed_share"] == "0.25"
    assert by_id["0002-BBBBB"]["delivery_mode"] == "electronic"
    assert by_id["0001-AAAAA"]["group"] == ""


def test_the_digest_is_stable_and_follows_the_attributes(
        imported_sqlite: tuple[Engine, Tenant]) -> None:
    engine, tenant = imported_sqlite

    def digests() -> dict[str, str]:
        t = SegmentAssignment.__table__  # type: ignore[attr-defined]
        with engine.connect() as conn:
            return dict(conn.execute(select(t.c.customer_external_id, t.c.digest)
                                     .where(t.c.tenant_id == tenant.id)).all())

    segment_tenant(engine, tenant, run_date=AS_OF)
    first = digests()
    segment_tenant(engine, tenant, run_date=AS_OF)
    assert digests() == first  # nothing moved: no row rewritten
    c = Customer.__table__  # type: ignore[attr-defined]
    with engine.begin() as conn:
        conn.execute(update(c).where(c.c.tenant_id == tenant.id,
                                     c.c.external_id == "0002-BBBBB")
                     .values(groups=["Wholesale"],
                             extra={"country": "770", "attributes": {"industry": "retail"}}))
    segment_tenant(engine, tenant, run_date=AS_OF)
    now = digests()
    assert now["0001-AAAAA"] == first["0001-AAAAA"]
    assert now["0002-BBBBB"] != first["0002-BBBBB"]
    (row,) = [r for r in export_rows(engine, tenant) if r["customer_id"] == "0002-BBBBB"]
    assert row["metrics"]["group"] == ["Wholesale"]
    assert row["metrics"]["attributes"] == {"industry": "retail"}
    (cells,) = csv.DictReader(io.StringIO(export_text([row], "csv")))
    assert list(cells)[-1] == "attribute.industry"
    assert (cells["group"], cells["attribute.industry"]) == ("Wholesale", "retail")


# -- the mapping ----------------------------------------------------------------------------


def test_the_xero_mapping_reads_the_contact_country_and_its_example_attribute(
        tmp_path: Path) -> None:
    shipped = Path(load_mapping("xero").source).read_text(encoding="utf-8")
    # uncomment the example: it must work as written
    example = re.search(r"\n( +)# attributes:\n(?:\1#   .*\n)+", shipped)
    assert example is not None
    uncommented = re.sub(r"(?m)^( +)# ", r"\1", example.group(0))
    path = tmp_path / "xero.yaml"
    path.write_text(shipped.replace(example.group(0), uncommented), encoding="utf-8")
    contact = {
        "ContactID": "c-1", "Name": "Kiwi Retail", "ContactStatus": "ACTIVE",
        "IsCustomer": True, "IsSupplier": False,
        "ContactGroups": [{"Name": "VIP"}, {"Name": "Retail customers"}],
        "Addresses": [{"AddressType": "POBOX", "Country": ""},
                      {"AddressType": "STREET", "Country": "New Zealand"}],
    }
    ctx = {"tenant_id": 1, "synced_at": datetime(2026, 1, 2, tzinfo=UTC), "base_currency": "NZD"}
    for source, attributes in ((load_mapping("xero"), None),
                               (load_mapping(path), {"industry": "retail"})):
        (row,) = source.entities["contacts"].map_page([contact], ctx)["customer"]
        want: dict[str, Any] = {"country": ["New Zealand"]}
        if attributes:
            want["attributes"] = attributes
        assert row["extra"] == want
    # and the nested paths are noted as read fields (what `mappings check` lists)
    assert any(f.column.endswith("(paths.attributes.industry)")
               for f in load_mapping(path).fields), [f.column for f in load_mapping(path).fields]
    # no address with a country: nothing stored
    (row,) = load_mapping(path).entities["contacts"].map_page(
        [dict(contact, Addresses=[{"Country": ""}], ContactGroups=[])], ctx)["customer"]
    assert row["extra"] is None


@pytest.mark.parametrize(("inner", "words"), [
    ("{transform: object}", "paths.attributes: an object inside takes only `paths: {key: path}`"),
    ("{transform: object, paths: {industry: {path: A, transform: nope}}}",
     "paths.attributes.paths.industry: 'nope' is not a value transform"),
])
def test_an_object_inside_an_object_is_checked(tmp_path: Path, inner: str, words: str) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(
        "version: 1\nplatform: xero\nentities:\n  contacts:\n    rows:\n"
        "      - table: customer\n        fields:\n          external_id: ContactID\n"
        "          extra:\n            transform: object\n"
        f"            paths: {{country: Country, attributes: {inner}}}\n", encoding="utf-8")
    with pytest.raises(MappingError) as err:
        load_mapping(path)
    assert f"m.yaml:9: column extra: transform object: {words}" in str(err.value)


def test_rules_check_prints_every_attribute_error_without_a_traceback(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.test_bad_input import run_cli

    path = rules_file(tmp_path, (
        "segments:\n"
        "  - name: A\n    when: {attribute: delivery_mod, in: [paper]}\n"
        "  - name: B\n    when: {attribute: industry, eq: retail}\n"
        "  - name: C\ndefault_segment: C\n"))
    ran = run_cli(capsys, "rules", "check", str(path))
    assert ran.code == 2 and "Traceback" not in ran.err
    assert "rules.yaml:7: unknown attribute 'delivery_mod'" in ran.said
    assert "rules.yaml:9: unknown attribute 'industry'" in ran.said
    ok = rules_file(tmp_path, (
        "segments:\n  - name: A\n    when: {attribute: industry, eq: retail}\n"
        "  - name: C\ndefault_segment: C\n"), head="attributes: [industry]\n")
    ran = run_cli(capsys, "rules", "check", str(ok))
    assert ran.code == 0, ran.said  # declared: valid (a warning: speed is used by nothing)
