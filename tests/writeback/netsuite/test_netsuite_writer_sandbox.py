"""The NetSuite writer against the NetSuite sandbox: its SuiteQL statements are ones the
account answers, its PATCH bodies are accepted with strict property names, and what it wrote
reads back as the value the planner asked for (so a second plan finds nothing to do); an
account without the Dunning Letters SuiteApp, or without a mapped custom field, is refused
before any write."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from arconnect.adapters.base import ErpState, SlotKind, SlotSpec
from arconnect.adapters.netsuite.writer import NetSuiteWriter
from arconnect.sandbox.netsuite import AccountSpec, NsConfig, NsSandbox

START = datetime(2026, 11, 30, 17, 0, tzinfo=UTC)
SEGMENT = SlotSpec("field:segment", SlotKind.REFERENCE, "category",
                   {"Reliable": "AR Reliable", "At risk": "AR At risk"}, create=False)
HOLD = SlotSpec("field:hold", SlotKind.REFERENCE, "creditholdoverride", {"hold": "ON"},
                create=False)
DUNNING = SlotSpec("field:dunning", SlotKind.REFERENCE, "custentity_3805_dunning_procedure",
                   {"Reliable": "Gentle", "At risk": "Firm"}, create=False)
TAG = SlotSpec("field:tag", SlotKind.REFERENCE, "custentity_ar_segment",
               {"Reliable": "Reliable", "At risk": "At risk"}, create=False)
TERMS = SlotSpec("terms", SlotKind.REFERENCE)
LIMIT = SlotSpec("field:credit_limit", SlotKind.SCALAR, "creditlimit")
SLOTS = [SEGMENT, HOLD, DUNNING, TAG, TERMS, LIMIT]


class Client:
    """The engine's client as an adapter sees it: paths under the account's REST root."""

    def __init__(self, sb: NsSandbox, account: str | None = None) -> None:
        self.base = sb.rest_base(account)
        self.session = requests.Session()
        self.session.headers["Authorization"] = \
            f"Bearer {sb.create_grant(account)['access_token']}"
        self.requests: list[tuple[str, str]] = []

    def request(self, method: str, path: str, *, params: Any = None, headers: Any = None,
                json: Any = None) -> requests.Response:
        self.requests.append((method, path))
        return self.session.request(method, f"{self.base}{path}", params=params,
                                    headers=headers, json=json, timeout=10)


@pytest.fixture(scope="module")
def sb() -> Iterator[NsSandbox]:
    config = NsConfig(seed=11, start=START, accounts=[
        AccountSpec(account_id="1234567_SB1", customers=12, invoices=60, payments=40),
        AccountSpec(account_id="7654321", customers=4, invoices=20, payments=10,
                    dunning_suiteapp=False, custom_fields={})])
    with NsSandbox(config) as sandbox:
        yield sandbox


def _ids(sb: NsSandbox, account: str | None = None) -> list[str]:
    return [str(r["id"]) for r in sb.account(account).customers]


def _op(customer: str, slot: str, after: Any, before: Any, action: str = "field.set"
        ) -> dict[str, Any]:
    return {"action": action, "customer": customer, "name": None, "slot": slot,
            "before": before, "after": after, "reason": "r", "priority": 1.0}


def _apply(writer: NetSuiteWriter, client: Client, ops: list[dict[str, Any]],
           erp: ErpState) -> list[Any]:
    outcomes = []
    for unit in writer.compile(ops, erp, set()):
        for call in unit.calls:
            writer.resolve(call, erp)
            outcomes.append(writer.send(client, call, "k", ops, erp))
    return outcomes


def test_written_values_read_back_as_planned(sb: NsSandbox) -> None:
    writer = NetSuiteWriter()
    client = Client(sb)
    ids = _ids(sb)[:3]
    erp = writer.read_state(client, SLOTS, {c: {} for c in _ids(sb)})
    assert writer.refusal("SB", SLOTS, erp, {}) is None
    assert "AR At risk" not in erp.objects["field:segment"]
    first, second, third = ids
    ops = [{"action": "object.create", "customer": None, "name": None, "slot": "object",
            "before": None, "after": "AR At risk", "reason": "r", "priority": 0.0,
            "target": "field:segment"}]
    wanted = {"field:segment": "AR At risk", "field:hold": "ON", "field:dunning": "Firm",
              "field:tag": "At risk", "terms": writer.terms_value(30, "", erp),
              "field:credit_limit": "12500"}
    for slot, after in wanted.items():
        ops.append(_op(first, slot, after, erp.value(first, slot),
                       "terms.set" if slot == "terms" else "field.set"))
    ops.append(_op(second, "field:dunning", "Gentle", erp.value(second, "field:dunning")))
    ops.append(_op(third, "field:credit_limit", "", erp.value(third, "field:credit_limit")))
    outcomes = _apply(writer, client, ops, erp)
    assert [(o.ok, o.message) for o in outcomes] == [(True, None)] * 4
    assert writer.min_calls(ops, erp) == 4
    patches = [r for r in client.requests if r[0] == "PATCH"]
    assert len(patches) == 3  # one per customer, every slot of the first in one
    after = writer.read_state(client, SLOTS, {c: {} for c in ids})
    assert after.values[first] == wanted
    assert after.value(second, "field:dunning") == "Gentle"
    assert after.value(third, "field:credit_limit") == ""
    row = sb.account().customers[int(second)]
    assert row["custentity_3805_dunning_manager"] == int(sb.account().spec.dunning_manager)
    assert row["custentity_3805_dunning_level"] is None
    # Back to the hold's release value, and the category cleared where there was none.
    back = [_op(first, "field:hold", "AUTO", "ON"), _op(first, "field:segment", "",
                                                        "AR At risk")]
    assert [o.ok for o in _apply(writer, client, back, after)] == [True]
    again = writer.read_state(client, [SEGMENT, HOLD], {first: {}})
    assert again.values[first] == {"field:segment": "", "field:hold": "AUTO"}


def test_an_account_without_the_suiteapp_or_the_field_is_refused_before_any_write(
        sb: NsSandbox) -> None:
    writer = NetSuiteWriter()
    client = Client(sb, "7654321")
    erp = writer.read_state(client, [SEGMENT, DUNNING, TAG, LIMIT],
                            {c: {} for c in _ids(sb, "7654321")})
    text = writer.refusal("Plain", [SEGMENT, DUNNING, TAG, LIMIT], erp, {})
    assert text is not None
    assert "Dunning Letters SuiteApp" in text
    assert "custentity_ar_segment does not exist" in text
    assert not [r for r in client.requests if r[0] != "POST" or "suiteql" not in r[1]]
