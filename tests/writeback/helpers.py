"""Helpers for write-back tests: a connected, synced and segmented sandbox organisation."""

from __future__ import annotations

from typing import Any

from arconnect.segmenter.service import segment_tenant
from arconnect.services import sync_tenants, writeback_context
from tests.sync.conftest import XeroEnv

__all__ = ["XeroEnv", "context", "prepare", "sandbox_groups"]


def prepare(env: XeroEnv) -> None:
    results = sync_tenants(env.db)
    assert results[0].status == "ok", results[0].error
    segment_tenant(env.db, env.tenant)


def sandbox_groups(env: XeroEnv) -> dict[str, set[str]]:
    """The sandbox's ACTIVE groups and their members (ContactIDs, lower case)."""
    org = env.org
    out = {}
    for gid, group in org.contact_groups.items():
        if group["Status"] == "ACTIVE":
            out[group["Name"]] = {str(c).lower() for c in org.group_members.get(gid, [])}
    return out


def context(env: XeroEnv, **settings: Any) -> Any:
    from arconnect.settings import Settings

    return writeback_context(env.db, env.tenant,
                             settings=Settings(**settings) if settings else None)
