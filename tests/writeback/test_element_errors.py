"""Write-back reads the per-element errors of a 200: an element Xero refused is a failed
operation with Xero's message in the audit (not "done"), the rest of its batch lands, and the
next run retries it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from arconnect.adapters.xero.writer import Call, XeroWriter
from arconnect.segmenter.service import lock_customer, segment_tenant
from arconnect.store.models import SegmentAssignment
from arconnect.writeback import service as wb
from tests.writeback.helpers import XeroEnv, context


def _terms(env: XeroEnv, cid: str) -> Any:
    contact = next(c for k, c in env.org.contacts.items() if str(k).lower() == cid.lower())
    return (contact.get("PaymentTerms") or {}).get("Sales")


def _set_website(env: XeroEnv, cid: str, website: str) -> None:
    """What an admin types in Xero's own contact screen (the API cannot set it)."""
    key = next(k for k in env.org.contacts if str(k).lower() == cid.lower())
    env.org.contacts[key]["Website"] = website
    env.org.contacts.touch(key)


def test_an_element_refused_in_a_200_is_a_failed_operation_and_is_retried(
        wb_env: XeroEnv) -> None:
    # Chronic late customers get net 15: two more are put there, so one batch of terms holds
    # several contacts.
    t = SegmentAssignment.__table__  # type: ignore[attr-defined]
    with wb_env.db.connect() as conn:
        others = [str(c) for c, in conn.execute(select(t.c.customer_external_id).where(
            t.c.tenant_id == wb_env.tenant.id, t.c.segment != "Chronic late"))]
    active = {str(k).lower() for k, c in wb_env.org.contacts.items()
              if c["ContactStatus"] == "ACTIVE"}
    for cid in [c for c in sorted(others) if c.lower() in active][:2]:
        lock_customer(wb_env.db, wb_env.tenant, cid, segment="Chronic late")
    segment_tenant(wb_env.db, wb_env.tenant)
    ctx = context(wb_env)
    plan = wb.build_plan(ctx)
    terms_ops = [op for op in plan.ops if op["action"] == "terms.set"]
    assert len(terms_ops) >= 3
    refused, accepted = terms_ops[0], terms_ops[1:]
    # Xero refuses every API update of a contact whose website lacks http(s)://
    _set_website(wb_env, refused["customer"], "www.refused.example")
    wb.save_plan(wb_env.db, plan)
    result = wb.apply_plan(ctx, plan, approved_by="tester", fresh=True)

    assert result.status == "applied_with_errors"
    assert result.failed == 1
    assert [e for e in result.errors if "Website must be valid." in e] == result.errors
    # the rest of the batch landed; the refused contact kept its terms
    for op in accepted:
        assert _terms(wb_env, op["customer"]) == op["after"], op["customer"]
    assert _terms(wb_env, refused["customer"]) == refused["before"]
    rows = wb.audit_rows(wb_env.db, wb_env.tenant, plan_id=plan.id,
                         customer=refused["customer"])
    row = next(r for r in rows if r["operation"] == "terms.set")
    assert row["status"] == "error"
    assert row["response"]["status"] == 200
    assert row["response"]["error"] == "Website must be valid."
    ok_rows = [r for r in wb.audit_rows(wb_env.db, wb_env.tenant, plan_id=plan.id)
               if r["operation"] == "terms.set" and r["status"] == "ok"]
    assert len(ok_rows) == len(accepted)

    # Once the admin fixes the website, the next run writes the refused terms, and only them.
    _set_website(wb_env, refused["customer"], "https://www.refused.example")
    ctx = context(wb_env)
    again = wb.build_plan(ctx)
    assert [(op["action"], op["customer"]) for op in again.ops
            if op["action"] == "terms.set"] == [("terms.set", refused["customer"])]
    wb.save_plan(wb_env.db, again)
    retried = wb.apply_plan(ctx, again, approved_by="tester", fresh=True)
    assert retried.status == "applied" and not retried.failed, retried.errors
    assert _terms(wb_env, refused["customer"]) == refused["after"]
    rows = wb.audit_rows(wb_env.db, wb_env.tenant, plan_id=again.id,
                         customer=refused["customer"])
    assert [r["status"] for r in rows if r["operation"] == "terms.set"] == ["ok"]


def test_refused_elements_are_read_by_id_name_or_position() -> None:
    writer = XeroWriter()
    contacts = Call("POST", "Contacts", {"Contacts": [{"ContactID": "A1"}, {"ContactID": "B2"},
                                                      {"ContactID": "C3"}]}, "terms.set")
    body = {"Contacts": [
        {"ContactID": "a1", "HasValidationErrors": False},
        {"ContactID": "B2", "StatusAttributeString": "ERROR", "HasValidationErrors": True,
         "ValidationErrors": [{"Message": "Website must be valid."}]},
        {"ContactID": "00000000-0000-0000-0000-000000000000", "HasValidationErrors": True,
         "ValidationErrors": [{"Message": "x"}, {"Message": "x"}, {"Message": "y"}]}]}
    assert writer.refused_elements(contacts, body) == {
        "b2": "Website must be valid.", "c3": "x; y"}
    groups = Call("PUT", "ContactGroups", {"ContactGroups": [{"Name": "AR: A"}]}, "group.create")
    refused_group = {"ContactGroups": [
        {"ContactGroupID": "00000000-0000-0000-0000-000000000000", "Name": "AR: A",
         "ValidationErrors": [{"Message": "You’ve reached the limit of 100 contact groups."}]}]}
    assert writer.refused_elements(groups, refused_group) == {
        "AR: A": "You’ve reached the limit of 100 contact groups."}
    assert writer.created_groups(refused_group) == {}
    note = Call("PUT", "Contacts/A1/History", {"HistoryRecords": [{"Details": "n"}]}, "note.add")
    assert writer.refused_elements(note, {"HistoryRecords": [
        {"Details": "n", "ValidationErrors": [{"Message": "too long"}]}]}) == {"*": "too long"}
    assert writer.refused_elements(note, {"HistoryRecords": [
        {"Details": "n", "ValidationErrors": []}]}) == {}
