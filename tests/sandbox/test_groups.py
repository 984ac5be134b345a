"""Contact groups: membership writes and how they show on groups and contacts, including a
write-back of 10,000 contacts in batches of 50."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from arconnect.sandbox.xero import OrgSpec, XeroSandbox

from .conftest import Client

BATCH = 50


def _all_contacts(c: Client) -> dict[str, list[dict[str, Any]]]:
    """ContactGroups of every contact (archived too), walking ``GET /Contacts?page=N``."""
    out: dict[str, list[dict[str, Any]]] = {}
    page = 1
    while True:
        r = c.get("Contacts", {"page": page, "pageSize": 1000, "includeArchived": "true"})
        assert r.status_code == 200, r.text
        body = r.json()
        for contact in body["Contacts"]:
            out[contact["ContactID"]] = contact["ContactGroups"]
        if page >= body["pagination"]["pageCount"]:
            return out
        page += 1


def _members(c: Client, gid: str) -> list[str]:
    r = c.get(f"ContactGroups/{gid}")
    assert r.status_code == 200, r.text
    return [m["ContactID"] for m in r.json()["ContactGroups"][0]["Contacts"]]


def _add(c: Client, gid: str, ids: list[str], **headers: str) -> list[str]:
    r = c.send("PUT", f"ContactGroups/{gid}/Contacts",
               {"Contacts": [{"ContactID": i} for i in ids]}, **headers)
    assert r.status_code == 200, r.text
    return [m["ContactID"] for m in r.json()["Contacts"]]


def _create(c: Client, *names: str) -> list[str]:
    r = c.send("PUT", "ContactGroups", {"ContactGroups": [{"Name": n} for n in names]})
    assert r.status_code == 200, r.text
    return [g["ContactGroupID"] for g in r.json()["ContactGroups"]]


def _snapshot(c: Client) -> tuple[list[str], dict[str, str], dict[str, dict[str, None]]]:
    """The active groups in creation order, their names and their members."""
    listed = c.get("ContactGroups").json()["ContactGroups"]
    order = [g["ContactGroupID"] for g in listed]
    names = {g["ContactGroupID"]: g["Name"] for g in listed}
    return order, names, {gid: dict.fromkeys(_members(c, gid)) for gid in order}


def _expect(c: Client, order: list[str], model: dict[str, dict[str, None]],
            names: dict[str, str]) -> None:
    """Every group lists its members in the order added; every contact lists its groups in
    the order the groups were created."""
    for gid in order:
        assert _members(c, gid) == list(model[gid]), names[gid]
    for cid, groups in _all_contacts(c).items():
        want = [g for g in order if cid in model[g]]
        assert [g["ContactGroupID"] for g in groups] == want, cid
        assert [g["Name"] for g in groups] == [names[g] for g in want]
        assert all(g["Status"] == "ACTIVE" for g in groups)


def test_group_write_back_at_10000_contacts(make_sb: Callable[..., XeroSandbox]) -> None:
    sb = make_sb(orgs=[OrgSpec(customers=10_000, invoices=200, payments=100, suppliers=4,
                               bills=20)], prerender=False)
    c = Client(sb)
    ids = list(sb.orgs[0].contacts)[:10_000]
    assert len(ids) == 10_000
    order, names, model = _snapshot(c)
    new = _create(c, *(f"AR: Segment {i}" for i in range(6)))
    for i, gid in enumerate(new):
        order.append(gid)
        names[gid] = f"AR: Segment {i}"
        model[gid] = {}

    home = {}  # the new group each contact is put into
    for k in range(0, len(ids), BATCH):
        batch = ids[k:k + BATCH]
        gid = new[(k // BATCH) % len(new)]
        assert _add(c, gid, batch) == batch
        model[gid].update(dict.fromkeys(batch))
        home.update(dict.fromkeys(batch, gid))

    # move every fifth contact (2,000) to the next group: one DELETE each, then PUTs of 50
    moved = ids[::5]
    assert len(moved) == 2_000
    arriving: dict[str, list[str]] = {gid: [] for gid in new}
    for cid in moved:
        src = home[cid]
        r = c.send("DELETE", f"ContactGroups/{src}/Contacts/{cid}")
        assert r.status_code == 204, r.text
        del model[src][cid]
        arriving[new[(new.index(src) + 1) % len(new)]].append(cid)
    for gid, cids in arriving.items():
        for k in range(0, len(cids), BATCH):
            assert _add(c, gid, cids[k:k + BATCH]) == cids[k:k + BATCH]
            model[gid].update(dict.fromkeys(cids[k:k + BATCH]))

    cleared = new[2]
    assert c.send("DELETE", f"ContactGroups/{cleared}/Contacts").status_code == 204
    model[cleared] = {}
    _expect(c, order, model, names)
    # the default page size shows the same thing
    page = c.get("Contacts", {"page": 3, "includeArchived": "true"}).json()["Contacts"]
    assert len(page) == 100
    for contact in page:
        assert [g["ContactGroupID"] for g in contact["ContactGroups"]] == [
            g for g in order if contact["ContactID"] in model[g]]
    assert sum(len(m) for m in model.values()) > 8_000


def test_group_membership_rules(make_sb: Callable[..., XeroSandbox]) -> None:
    sb = make_sb()
    c = Client(sb)
    loners = [cid for cid, groups in _all_contacts(c).items() if not groups][:4]
    order, names, model = _snapshot(c)
    a, b, d = _create(c, "AR: Watch", "AR: Hold", "AR: Legal")
    names.update({a: "AR: Watch", b: "AR: Hold", d: "AR: Legal"})
    model.update({a: {}, b: {}, d: {}})
    order += [a, b, d]

    def contact_groups(cid: str) -> list[tuple[str, str]]:
        groups = c.get(f"Contacts/{cid}").json()["Contacts"][0]["ContactGroups"]
        return [(g["ContactGroupID"], g["Name"]) for g in groups]

    # adding an existing member is a no-op that still echoes it
    assert _add(c, a, loners[:2]) == loners[:2]
    assert _add(c, a, [loners[1], loners[2], loners[1]]) == [loners[1], loners[2], loners[1]]
    model[a].update(dict.fromkeys(loners[:3]))
    # a contact's groups come in the order the groups were created, not the order joined
    assert _add(c, d, [loners[0]]) == [loners[0]]
    assert _add(c, b, [loners[0]]) == [loners[0]]
    model[d][loners[0]] = None
    model[b][loners[0]] = None
    assert contact_groups(loners[0]) == [(a, names[a]), (b, names[b]), (d, names[d])]
    _expect(c, order, model, names)

    # removing a non-member (or a former member) is a validation error; an unknown id a 404
    for cid in (loners[3], loners[0]):
        if cid == loners[0]:
            assert c.send("DELETE", f"ContactGroups/{a}/Contacts/{cid}").status_code == 204
            del model[a][cid]
        r = c.send("DELETE", f"ContactGroups/{a}/Contacts/{cid}")
        assert r.status_code == 400
        body = r.json()
        assert body["Type"] == "ValidationException"
        assert body["Elements"] == [{"ContactID": cid, "ValidationErrors": [
            {"Message": "The contact is not a member of this contact group"}]}]
    unknown = "00000000-0000-0000-0000-000000000001"
    assert c.send("DELETE", f"ContactGroups/{a}/Contacts/{unknown}").status_code == 404
    assert contact_groups(loners[0]) == [(b, names[b]), (d, names[d])]

    # a rename shows on the members
    r = c.send("POST", f"ContactGroups/{b}", {"ContactGroups": [{"Name": "AR: On hold"}]})
    assert r.status_code == 200
    names[b] = "AR: On hold"
    assert contact_groups(loners[0]) == [(b, "AR: On hold"), (d, names[d])]

    # an Idempotency-Key replays the answer without adding twice
    first = c.send("PUT", f"ContactGroups/{b}/Contacts", {"Contacts": [
        {"ContactID": loners[3]}]}, **{"Idempotency-Key": "members-1"})
    again = c.send("PUT", f"ContactGroups/{b}/Contacts", {"Contacts": [
        {"ContactID": loners[3]}]}, **{"Idempotency-Key": "members-1"})
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    model[b][loners[3]] = None
    _expect(c, order, model, names)

    # deleting a group removes its members; it can take no more
    r = c.send("POST", f"ContactGroups/{a}", {"ContactGroups": [{"Status": "DELETED"}]})
    assert r.status_code == 200
    assert r.json()["ContactGroups"][0]["Status"] == "DELETED"
    assert _members(c, a) == []
    assert sb.orgs[0].group_members[a] == {}
    assert all(contact_groups(cid) == [] for cid in loners[1:3])
    r = c.send("PUT", f"ContactGroups/{a}/Contacts", {"Contacts": [{"ContactID": loners[1]}]})
    assert r.status_code == 400
    assert r.json()["Elements"][0]["ValidationErrors"] == [
        {"Message": "The contact group is deleted"}]
    order.remove(a)

    # clearing a group leaves its members' other groups alone
    assert c.send("DELETE", f"ContactGroups/{d}/Contacts").status_code == 204
    assert c.send("DELETE", f"ContactGroups/{d}/Contacts").status_code == 204
    model[d] = {}
    assert contact_groups(loners[0]) == [(b, "AR: On hold")]
    _expect(c, order, model, names)
