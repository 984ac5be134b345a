"""Helpers for write-back tests: a connected, synced and segmented sandbox organisation."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, text

from arconnect.segmenter.service import segment_tenant
from arconnect.services import sync_tenants, writeback_context
from arconnect.store.models import SegmentAssignment
from tests.sync.conftest import XeroEnv

__all__ = ["XeroEnv", "assert_segment_groups", "context", "desired", "largest_group",
           "notes", "prepare", "sandbox_groups"]


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


def desired(env: XeroEnv) -> dict[str, str]:
    """ContactID -> the segment group it should be in (archived customers left out)."""
    t = SegmentAssignment.__table__  # type: ignore[attr-defined]
    with env.db.connect() as conn:
        rows = conn.execute(select(t.c.customer_external_id, t.c.segment).where(
            t.c.tenant_id == env.tenant.id)).all()
        archived = {r[0] for r in conn.execute(text(
            "SELECT external_id FROM customer WHERE is_archived"))}
    return {str(c).lower(): f"AR: {s}" for c, s in rows if c not in archived}


def assert_segment_groups(env: XeroEnv) -> dict[str, set[str]]:
    """Every active customer is in its segment's group and in no other ``AR:`` group;
    returns the sandbox's groups."""
    groups = sandbox_groups(env)
    for cid, group in desired(env).items():
        assert cid in groups[group], (cid, group)
        assert sum(cid in m for n, m in groups.items() if n.startswith("AR: ")) == 1, cid
    return groups


def largest_group(groups: dict[str, set[str]]) -> str:
    """Our (``AR:``) group with the most members."""
    return max((n for n in groups if n.startswith("AR: ")), key=lambda n: len(groups[n]))


def notes(env: XeroEnv) -> dict[str, int]:
    """ContactID (lower case) -> History notes the write-back added to the contact."""
    out: dict[str, int] = {}
    for cid, entries in env.org.history.items():
        n = sum(1 for e in entries if "set by arconnect" in str(e.get("Details", "")))
        if n:
            out[str(cid).lower()] = n
    return out
