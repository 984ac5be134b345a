"""A consultant adds fields by editing YAML only: no code changes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from arconnect.errors import MappingError
from arconnect.mapping import load_mapping

FIXTURES = Path(__file__).parent.parent / "fixtures" / "xero_recorded"
CTX = {"tenant_id": 1, "synced_at": datetime(2026, 1, 1, tzinfo=UTC), "base_currency": "USD"}

DELIVERY = """\
          delivery_mode:
            path: ContactGroups[*].Name
            transform: lookup
            map: {"Training customers": paper, "E-invoicing": e_invoice}
            default: email
"""


def contacts() -> list[dict[str, Any]]:
    return list(json.loads((FIXTURES / "contacts.json").read_text())["Contacts"])


def customised(tmp_path: Path, marker: str, addition: str) -> Path:
    """A copy of the shipped xero.yaml with ``addition`` inserted after the ``marker`` line."""
    text = Path(load_mapping("xero").source).read_text()
    head, sep, tail = text.partition(marker)
    assert sep, marker
    line_end = tail.index("\n") + 1
    path = tmp_path / "mappings" / "xero.yaml"
    path.parent.mkdir()
    path.write_text(head + sep + tail[:line_end] + addition + tail[line_end:])
    return path


def test_delivery_mode_from_a_contact_group(tmp_path: Path) -> None:
    path = customised(tmp_path, "          groups: ContactGroups[*].Name", DELIVERY)
    rows = load_mapping(path).entities["contacts"].map_page(contacts(), CTX)["customer"]
    by_name = {r["name"]: r["delivery_mode"] for r in rows}
    assert by_name["Hamilton Smith Ltd"] == "paper"  # in group "Training customers"
    assert by_name["Bayside Club"] == "email"  # no groups: the default
    # the shipped mapping does not fill it
    shipped = load_mapping("xero").entities["contacts"].map_page(contacts(), CTX)["customer"]
    assert "delivery_mode" not in shipped[0]


def test_payment_method_from_the_bank_account(tmp_path: Path) -> None:
    addition = ('          method: {path: Account.Code, transform: lookup,'
                ' map: {"090": bank_transfer}, default: other}\n')
    path = customised(tmp_path, "# Example: the payment method from the bank account", addition)
    mapping = load_mapping(path)
    records = json.loads((FIXTURES / "payments.json").read_text())["Payments"]
    pays = mapping.entities["payments"].map_page(records, CTX)["payment"]
    assert pays[0]["method"] == "bank_transfer"  # Account.Code "090"
    # the invoices entity also has `reference: Reference`, but only payments has `method`
    assert "method" not in mapping.entities["invoices"].map_page([], CTX)


def test_a_consultant_mistake_names_the_line(tmp_path: Path) -> None:
    typo = "          delivery_mode: {path: 'ContactGroups[*].Name', transform: lokup}\n"
    path = customised(tmp_path, "          groups: ContactGroups[*].Name", typo)
    text = path.read_text().splitlines()
    line = next(i for i, t in enumerate(text, 1) if "lokup" in t)
    with pytest.raises(MappingError) as err:
        load_mapping(path)
    assert str(err.value).startswith(f"{path}:{line}: unknown transform 'lokup'")
    assert "did you mean 'lookup'" in str(err.value)


def test_the_engine_picks_up_the_consultants_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    services = pytest.importorskip("arconnect.services")
    from arconnect.settings import get_settings

    path = customised(tmp_path, "          groups: ContactGroups[*].Name", DELIVERY)
    monkeypatch.setenv("ARCONNECT_MAPPINGS_DIR", str(path.parent))
    get_settings.cache_clear()
    mapping = services.mapping_for("xero")
    assert mapping.source == str(path)
    rows = mapping.entities["contacts"].map_page(contacts(), CTX)["customer"]
    assert rows[0]["delivery_mode"] == "paper"
