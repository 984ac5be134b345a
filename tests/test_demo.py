"""``arconnect demo``: every run starts from an empty store of its own, and every step counts the
same customers."""

from __future__ import annotations

import re
import sys
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from arconnect import console as console_module
from arconnect.cli import main
from arconnect.demo import DEMO_CLIENT_ID, DEMO_DB
from arconnect.store.db import dispose_engines, get_engine
from arconnect.store.models import Credential, Customer, SegmentAssignment, Tenant

# What run_demo points at its sandbox; set here first so that the test puts them back.
DEMO_ENV = ("ARCONNECT_XERO_API_URL", "ARCONNECT_XERO_IDENTITY_URL",
            "ARCONNECT_XERO_LOGIN_URL", "ARCONNECT_XERO_CLIENT_ID",
            "ARCONNECT_XERO_CLIENT_SECRET")


def _arconnect(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
               store: str | None, *args: str) -> tuple[int, str, str]:
    """Run the ``arconnect`` entry point in this process with ARCONNECT_DATABASE_URL=``store``
    (None: unset) and its output captured (not a terminal, 200 columns); returns its exit
    code, stdout and stderr."""
    monkeypatch.setattr(sys, "argv", ["arconnect", *args])
    monkeypatch.setenv("ARCONNECT_DATABASE_URL", store or "unset")
    if store is None:
        monkeypatch.delenv("ARCONNECT_DATABASE_URL")  # ... and unset again afterwards
    for name in DEMO_ENV:  # (placeholders)
        monkeypatch.setenv(name, "http://127.0.0.1:9" if name.endswith("_URL") else "unset")
    for out in (console_module.console, console_module.err_console):
        monkeypatch.setattr(out, "_width", 200)
    with pytest.raises(SystemExit) as exited:
        main()
    captured = capsys.readouterr()
    return int(exited.value.code or 0), captured.out, captured.err


def _store(url: str, *, client_id: str, name: str, customers: int) -> None:
    """A store holding one organisation connected through ``client_id``."""
    now = datetime.now(UTC)
    with Session(get_engine(url)) as session:
        grant = Credential(platform="xero", client_id=client_id, created_at=now,
                           updated_at=now)
        session.add(grant)
        session.flush()
        tenant = Tenant(platform="xero", external_id="earlier-org", name=name,
                        credential_id=grant.id, created_at=now, updated_at=now)
        session.add(tenant)
        session.flush()
        assert tenant.id is not None
        session.add_all(Customer(tenant_id=tenant.id, external_id=f"earlier-{n}",
                                 name=f"Earlier {n}", synced_at=now) for n in range(customers))
        session.commit()
    dispose_engines()


def _number(pattern: str, text: str) -> tuple[int, ...]:
    found = re.search(pattern, text, re.M)
    assert found, pattern
    return tuple(int(g.replace(",", "")) for g in found.groups())


def test_demo_runs_end_to_end_from_a_fresh_store_and_every_step_counts_the_same_customers(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    # An earlier demo of another size left its company in the demo's own store (the test runs
    # in a folder of its own).
    store = f"sqlite:///./{DEMO_DB}"
    _store(store, client_id=DEMO_CLIENT_ID, name="Demo Company (NZ)", customers=3)

    code, out, err = _arconnect(monkeypatch, capsys, None, "demo", "--customers", "25",
                                "--invoices", "150")
    assert code == 0, out + err
    assert "removed an earlier demo (3 contacts)" in out
    assert "through OAuth" in out
    assert len([line for line in out.splitlines() if line.strip().startswith(
        ("full", "incremental")) and " ok" in line]) == 6  # the sync summary, each company
    db = get_engine(store)
    with Session(db) as session:
        tenants = session.exec(select(Tenant)).scalars().all()
        assert sorted(t.platform for t in tenants) == ["netsuite", "quickbooks", "xero"]
        assert "earlier-org" not in [t.external_id for t in tenants]
        assert not session.exec(select(Customer).where(
            Customer.external_id.startswith("earlier-"))).first()  # type: ignore[attr-defined]
        assigned = {t.platform: session.exec(
            select(func.count()).select_from(SegmentAssignment)
            .where(SegmentAssignment.tenant_id == t.id)).one()[0] for t in tenants}

    # per company (Xero first, then QuickBooks Online, then NetSuite, side by side in one
    # table), the store, the segments and the write-back plan speak of the same customers
    assert "In the store" in out
    customers = _number(r"^ customers +(\d+) +(\d+) +(\d+) *$", out)
    archived = _number(r"^   of them archived +(\d+) +(\d+) +(\d+) *$", out)
    not_invoiced = _number(r"^   of them nothing invoiced yet +(\d+) +(\d+) +(\d+) *$", out)
    # the Xero company has both kinds of customer whose counting once differed step to step
    assert archived[0] > 0 and not_invoiced[0] > 0
    flat = " ".join(out.split())
    segmented = [int(m) for m in re.findall(r"\d+ of (\d+) customers changed", out)]
    plans = [(int(a), int(b)) for a, b in re.findall(r"it moves (\d+) of (\d+) customers",
                                                     flat)]
    for i, platform in enumerate(("xero", "quickbooks", "netsuite")):
        assert segmented[i] == assigned[platform] == customers[i], platform
        moved, of = plans[2 * i]  # each plan is named twice: its table, then the approval
        assert of == customers[i]
        assert moved == customers[i] - archived[i]  # the first plan moves every one it may
        if archived[i]:
            assert (f"{archived[i]} of the {customers[i]} customers are archived in the ERP: "
                    "segmented, but write-back leaves archived ones alone, so at most "
                    f"{customers[i] - archived[i]} can move") in flat
    # progress in plain lines: the output is not a terminal
    assert re.search(r"^Demo Company \(NZ\) · invoices: done, [\d,]+ records in 1 page$", out,
                     re.M)
    assert re.search(r"^write-back: (\d+)/\1 calls, 100%$", out, re.M)
    # what each ERP shows after the write-back: Xero's groups, QuickBooks' customer types,
    # NetSuite's categories, credit holds and dunning procedures
    assert "what Xero shows now" in flat and "what QuickBooks Online shows now" in flat
    assert "what NetSuite shows now" in flat and "through OAuth (the redirect address pasted " \
        "back)" in flat
    assert re.search(r"field:dunning │ (Firm|Gentle|Standard) +│ +[1-9]", out)
    assert re.search(r"field:segment │ AR At risk +│ +[1-9]", out)


def test_demo_refuses_a_store_holding_an_organisation_it_did_not_connect(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        sqlite_url: str) -> None:
    _store(sqlite_url, client_id="a-real-app", name="Acme Wholesale", customers=2)

    # ARCONNECT_DATABASE_URL names the store (as it does for a real installation)
    code, out, err = _arconnect(monkeypatch, capsys, sqlite_url, "demo")
    assert code == 2
    message = " ".join(err.split())
    assert "holds organisations the demo did not connect ('Acme Wholesale')" in message
    assert "Nothing was changed" in message and "Traceback" not in err
    assert len(err.strip().splitlines()) <= 3  # one message, wrapped at most
    with Session(get_engine(sqlite_url)) as session:
        assert [t.name for t in session.exec(select(Tenant)).scalars()] == ["Acme Wholesale"]
        assert session.exec(select(func.count()).select_from(Customer)).one()[0] == 2
