"""Write-back's ``Idempotency-Key``: what makes a replayed write harmless where Xero would
otherwise do it twice (a History note is appended again on every PUT)."""

from __future__ import annotations

from typing import Any

import pytest

from arconnect.sandbox.xero.api import Request, Response
from arconnect.writeback import service as wb
from tests.writeback.helpers import XeroEnv, assert_segment_groups, context, notes
from tests.writeback.test_writeback import Killed


def _apply(env: XeroEnv, plan: wb.Plan | None = None) -> wb.ApplyResult:
    ctx = context(env)
    plan = plan or wb.build_plan(ctx)
    wb.save_plan(env.db, plan)
    return wb.apply_plan(ctx, plan, approved_by="tester", fresh=True)


def test_a_run_killed_after_a_history_note_resumes_with_one_note_per_limit(
    wb_env: XeroEnv,
) -> None:
    """The note reached Xero, then the process died before recording it: the resumed run
    sends the same call again, and the key keeps Xero from appending a second note."""
    ctx = context(wb_env)
    plan = wb.build_plan(ctx)
    wb.save_plan(wb_env.db, plan)
    limits = {str(op["customer"]).lower() for op in plan.ops if op["action"] == "note.add"}
    assert len(limits) > 1, "the plan sets several credit limits"
    real = ctx.client.request

    def dying(method: str, path: str, **kw: Any) -> Any:
        resp = real(method, path, **kw)
        if method == "PUT" and path.endswith("/History") and resp.status_code < 300:
            raise Killed  # Xero holds the note; the audit log never hears of it
        return resp

    ctx.client.request = dying  # type: ignore[method-assign]
    with pytest.raises(Killed):
        wb.apply_plan(ctx, plan, approved_by="tester", fresh=True)
    assert sum(notes(wb_env).values()) == 1

    pending = wb.pending_plan(wb_env.db, wb_env.tenant)
    assert pending is not None and pending.id == plan.id
    result = wb.apply_plan(context(wb_env), pending)
    assert result.status == "applied", result.errors
    assert notes(wb_env) == dict.fromkeys(limits, 1)
    assert_segment_groups(wb_env)


def test_every_write_carries_an_idempotency_key(wb_env: XeroEnv) -> None:
    """Every PUT and POST that reaches Xero — groups created, filled and deleted, terms, notes —
    carries a key within the 128 characters Xero allows (``idempotencyKey`` in
    tests/fixtures/xero_accounting.yaml), one key per distinct request."""
    seen: list[tuple[str, str, str | None, bytes]] = []
    handle = wb_env.sandbox.api.handle

    def recording(org: Any, req: Request, corrupt: str | None = None) -> Response:
        seen.append((req.method, req.path, req.headers.get("Idempotency-Key"), req.body))
        return handle(org, req, corrupt)

    wb_env.sandbox.api.handle = recording  # type: ignore[method-assign]
    first = _apply(wb_env)
    assert first.status == "applied", first.errors
    ctx = context(wb_env)
    back = _apply(wb_env, wb.plan_rollback(ctx, first.plan.id))
    assert back.status == "applied", back.errors
    gone = _apply(wb_env, wb.plan_remove_all(context(wb_env)))
    assert gone.status == "applied", gone.errors

    writes = [(m, p, k, b) for m, p, k, b in seen if m in ("PUT", "POST")]
    kinds = {(m, p.split("/")[3] + ("/History" if p.endswith("/History") else ""))
             for m, p, _, _ in writes}
    # what a write-back sends, each at least once: else this test proves nothing
    assert {("PUT", "ContactGroups"), ("POST", "ContactGroups"), ("POST", "Contacts"),
            ("PUT", "Contacts/History")} <= kinds, kinds
    missing = [f"{m} {p}" for m, p, k, _ in writes if not k]
    assert not missing, f"{len(missing)} writes without an Idempotency-Key: {missing[:3]}"
    assert all(len(k or "") <= 128 for _, _, k, _ in writes)
    by_key: dict[str, set[tuple[str, str, bytes]]] = {}
    for m, p, k, b in writes:
        by_key.setdefault(str(k), set()).add((m, p.lower(), b))
    assert all(len(requests) == 1 for requests in by_key.values())
