"""A sync stopped part-way through an entity, then records move at the platform, then resumed:
nothing may be lost.

Platforms list by last-update time (Xero ``UpdatedDateUTC``, QBO ``MetaData.LastUpdatedTime``):
an edit moves a record to the end and shifts every record after it one place towards the front.
A pass resumed by page number or start position after such edits skips the records that shifted
onto pages read before the stop, and no later incremental read fetches them (they are older than
the cursor). Each entity is stopped two pages in, its earliest records are edited (with other
changes besides), and the store must equal the company after the resumed sync. The SIGKILL test
(``test_sync_contract.py``) shows that a real kill stops at the same committed state.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text

from arconnect.adapters.base import Page
from arconnect.services import sync_tenants
from arconnect.settings import get_settings
from arconnect.sync import Progress

from .conftest import Env, assert_store_equals

COMPANY = "tiny"
AT_LEAST = 12  # records of every entity: four pages of three


class Stop(BaseException):
    """Ends the sync where a kill would: right after a page and its cursor committed."""


class StopAt(Progress):
    def __init__(self, entity: str, page: int) -> None:
        self.entity, self.page, self.pages = entity, page, 0

    def page_done(self, tenant: str, entity: str, page: Page, stored: int) -> None:
        if entity == self.entity:
            self.pages += 1
            if self.pages == self.page:
                raise Stop


def _empty_store(env: Env) -> None:
    with env.db.begin() as conn:
        for table in ("allocation", "payment", "document", "customer", "sync_cursor"):
            conn.execute(text(f"DELETE FROM {table} WHERE tenant_id = :t"),
                         {"t": env.tenant.id})


@pytest.mark.use("pages")
def test_stopped_sync_resumes_without_loss_after_records_move(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in env.harness.tiny_pages().items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    env.harness.grow(env.tenant, AT_LEAST)
    env.harness.advance(3600)  # the copies are history by now, far outside any overlap
    for seed, entity in enumerate(env.harness.entities, 1):
        _empty_store(env)
        with pytest.raises(Stop):
            sync_tenants(env.db, [env.key], full=True, progress=StopAt(entity, 2))
        env.harness.advance(3600)
        env.harness.move_earliest(env.tenant, 6, entity)
        env.harness.mutate(env.tenant, seed=seed)
        for _ in range(2):
            [result] = sync_tenants(env.db, [env.key])
            assert result.ok, f"{entity}: {result.error}"
        assert_store_equals(env)
