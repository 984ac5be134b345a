"""What every platform's write-back must do, through the run a scheduled job makes
(:func:`arconnect.services.run_tenants`: sync, segments, write-back): the ERP ends holding each
customer's segment in the platform's slot, and a second run plans nothing and sends no write."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from arconnect.services import run_tenants
from arconnect.settings import get_settings

from .conftest import Env, segment_names


def _desired(env: Env, names: dict[str, str]) -> dict[str, str]:
    """Customer external id (lower case) -> the slot value its segment asks for; archived
    customers are segmented but never written."""
    with env.db.connect() as conn:
        rows = conn.execute(text(
            "SELECT s.customer_external_id, s.segment FROM segment_assignment s"
            " JOIN customer c ON c.tenant_id = s.tenant_id"
            " AND c.external_id = s.customer_external_id"
            " WHERE s.tenant_id = :t AND NOT c.is_archived"), {"t": env.tenant.id}).all()
    return {str(c).lower(): names[s] for c, s in rows}


@pytest.mark.use("writeback")
def test_write_back_round_trip_then_a_second_run_writes_nothing(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = segment_names(env.harness.platform)
    for key, value in {**env.harness.writeback_setup(env.tenant, names),
                       "ARCONNECT_WRITEBACK_APPROVAL_SHARE": "1.0"}.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    [first] = run_tenants(env.db, [env.key])
    assert first.ok and first.writeback == "applied", (first.writeback, first.errors)
    assert first.write_calls > 0
    desired = _desired(env, names)
    assert desired, "no customer was segmented"
    written = {k.lower(): v for k, v in env.harness.written(env.tenant, names).items()}
    wrong = {c: (written.get(c), want) for c, want in desired.items() if written.get(c) != want}
    assert not wrong, f"{len(wrong)} customers hold another value (ERP, wanted): " \
                      f"{list(wrong.items())[:5]}"
    assert set(written) <= set(desired), sorted(set(written) - set(desired))[:5]

    writes = env.harness.write_requests(env.tenant)
    [second] = run_tenants(env.db, [env.key])
    assert second.ok, second.errors
    assert second.writeback == "nothing to write" and second.write_calls == 0
    assert env.harness.write_requests(env.tenant) == writes
