"""The NetSuite sandbox's server: accounts by path and by Host label, authentication on every
REST request, SuiteQL paging, governance limits, 429 over the concurrency limit, mutations seen
through keyset queries, faults and the control API."""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from authlib.oauth1.rfc5849.client_auth import ClientAuth
from authlib.oauth1.rfc5849.signature import generate_signature_base_string
from authlib.oauth1.rfc5849.util import escape

from arconnect.sandbox.netsuite import AccountSpec, NsConfig, NsSandbox
from arconnect.sandbox.netsuite.model import INVOICE

START = datetime(2026, 11, 30, 17, 0, tzinfo=UTC)
SB, PROD = "1234567_SB1", "7654321"
SUITEQL = "/services/rest/query/v1/suiteql"
GOVERNANCE = "/services/rest/system/v1/governanceLimits"
INVOICES = ("SELECT id, tranid, type, entity, foreignamountunpaid, "
            "TO_CHAR(lastmodifieddate, 'YYYY-MM-DD HH24:MI:SS') AS lastmodified "
            "FROM transaction WHERE type = 'CustInvc' AND lastmodifieddate >= "
            "TO_TIMESTAMP('{since}', 'YYYY-MM-DD HH24:MI:SS') AND id > {after} ORDER BY id")


def _config(**overrides: Any) -> NsConfig:
    base: dict[str, Any] = {
        "seed": 7, "start": START,
        "accounts": [AccountSpec(account_id=SB, customers=20, invoices=200, payments=150),
                     AccountSpec(account_id=PROD, name="Other", customers=8, invoices=30,
                                 payments=20, role_is_admin=False, concurrency_limit=2)]}
    base.update(overrides)
    return NsConfig(**base)


@pytest.fixture(scope="module")
def sb() -> Iterator[NsSandbox]:
    with NsSandbox(_config()) as sandbox:
        yield sandbox


class Client:
    """A bearer-authenticated client of one account."""

    def __init__(self, sb: NsSandbox, account_id: str | None = None) -> None:
        self.base = sb.rest_base(account_id)
        self.session = requests.Session()
        self.session.headers.update({
            "Authorization": f"Bearer {sb.create_grant(account_id)['access_token']}",
            "Prefer": "transient"})

    def query(self, statement: str, limit: int = 1000, offset: int = 0) -> requests.Response:
        return self.session.post(f"{self.base}{SUITEQL}",
                                 params={"limit": limit, "offset": offset},
                                 json={"q": statement})

    def get(self, path: str) -> requests.Response:
        return self.session.get(f"{self.base}{path}")


def _error(resp: requests.Response) -> tuple[int, str, str]:
    item = resp.json()["o:errorDetails"][0]
    return resp.status_code, item["o:errorCode"], item["detail"]


def test_suiteql_page_and_paging_links(sb: NsSandbox) -> None:
    client = Client(sb)
    resp = client.query("SELECT id, name FROM term ORDER BY id", limit=3, offset=3)
    assert resp.status_code == 200
    doc = resp.json()
    assert (doc["count"], doc["offset"], doc["totalResults"], doc["hasMore"]) == (3, 3, 7, True)
    assert [i["id"] for i in doc["items"]] == ["4", "5", "6"]
    assert doc["items"][0]["links"] == []
    rels = {link["rel"]: link["href"] for link in doc["links"]}
    url = f"{client.base}{SUITEQL}"
    assert rels == {"first": f"{url}?limit=3&offset=0", "previous": f"{url}?limit=3&offset=0",
                    "next": f"{url}?limit=3&offset=6", "last": f"{url}?limit=3&offset=6",
                    "self": f"{url}?limit=3&offset=3"}
    plain = client.session.post(url, json={"q": "SELECT id FROM term ORDER BY id"}).json()
    assert plain["links"] == [{"rel": "self", "href": url}] and plain["count"] == 7
    last = client.query("SELECT id, name FROM term ORDER BY id", limit=3, offset=6).json()
    assert last["hasMore"] is False and "next" not in {x["rel"] for x in last["links"]}
    assert sb.stats.get(SB, "suiteql") >= 2 and sb.stats.get(SB, "rows_returned") >= 4


def test_suiteql_needs_prefer_transient_and_reports_grammar_errors(sb: NsSandbox) -> None:
    client = Client(sb)
    bare = client.session.post(f"{client.base}{SUITEQL}", json={"q": "SELECT id FROM term "
                                                                      "ORDER BY id"},
                               headers={"Prefer": ""})
    assert _error(bare)[:2] == (400, "INVALID_HEADER")
    status, code, detail = _error(client.query("SELECT id FROM nosuch ORDER BY id"))
    assert (status, code) == (400, "INVALID_PARAMETER")
    assert detail.endswith("Record 'nosuch' was not found.")
    assert _error(client.query("SELECT id FROM term ORDER BY id", limit=1001))[:2] == (
        400, "INVALID_PARAMETER")


def test_row_cap_refuses_offset_paging_past_it() -> None:
    with NsSandbox(_config(row_cap=50)) as capped:
        client = Client(capped)
        ok = client.query("SELECT id FROM transaction ORDER BY id", limit=50, offset=0)
        assert ok.status_code == 200 and ok.json()["totalResults"] > 50
        status, code, _ = _error(client.query("SELECT id FROM transaction ORDER BY id",
                                              limit=50, offset=50))
        assert (status, code) == (400, "INVALID_PARAMETER")
        # a keyset page never needs an offset: it goes on past the cap
        last = ok.json()["items"][-1]["id"]
        more = client.query(f"SELECT id FROM transaction WHERE id > {last} ORDER BY id",
                            limit=50)
        assert more.status_code == 200 and more.json()["items"][0]["id"] > last


def test_account_by_path_and_by_host_label(sb: NsSandbox) -> None:
    client = Client(sb)
    port = urlsplit(sb.url).port
    by_host = client.session.get(f"{sb.url}{GOVERNANCE}",
                                 headers={"Host": f"1234567-sb1.localhost:{port}"})
    assert by_host.status_code == 200
    assert by_host.json()["accountConcurrencyLimit"] == 15
    assert client.get(GOVERNANCE).json() == by_host.json()
    # a token of one account does not open another
    other = client.session.get(f"{sb.rest_base(PROD)}{GOVERNANCE}")
    assert _error(other)[:2] == (401, "INVALID_LOGIN")


def test_unknown_account_is_404_naming_it(sb: NsSandbox) -> None:
    for resp in (requests.get(f"{sb.url}/9999999-sb1{GOVERNANCE}"),
                 requests.get(f"{sb.url}{GOVERNANCE}", headers={
                     "Host": f"9999999-sb1.localhost:{urlsplit(sb.url).port}"})):
        status, code, detail = _error(resp)
        assert status == 404 and "'9999999-sb1'" in detail


def test_missing_or_bad_credentials_are_invalid_login(sb: NsSandbox) -> None:
    for headers in ({}, {"Authorization": "Bearer nope"}):
        resp = requests.get(f"{sb.rest_base()}{GOVERNANCE}", headers=headers)
        status, code, detail = _error(resp)
        assert (status, code) == (401, "INVALID_LOGIN")
        assert detail.startswith("Invalid login attempt.")
        assert resp.json()["title"] == "Unauthorized"


def test_governance_limits_for_administrators_only(sb: NsSandbox) -> None:
    assert Client(sb).get(GOVERNANCE).json() == {
        "accountConcurrencyLimit": 15, "unallocatedConcurrencyLimit": 15,
        "integrationConcurrencyLimit": None, "limitType": "accountLimit"}
    assert _error(Client(sb, PROD).get(GOVERNANCE))[:2] == (403, "INSUFFICIENT_PERMISSION")
    assert sb.stats.get(PROD, "governance") >= 1


def _hold(client: Client, n: int) -> list[int]:
    """``n`` requests at once (the slow fault holds them); their statuses."""
    statuses: list[int] = []
    lock = threading.Lock()

    def one() -> None:
        resp = requests.get(f"{client.base}{GOVERNANCE}",
                            headers=dict(client.session.headers), timeout=10)
        with lock:
            statuses.append(resp.status_code)

    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
        time.sleep(0.02)
    for t in threads:
        t.join()
    return statuses


@pytest.mark.parametrize("body", ["json", "empty"])
def test_concurrency_over_the_limit_is_429(body: str) -> None:
    accounts = [AccountSpec(account_id=SB, customers=8, invoices=20, payments=10,
                            concurrency_limit=2)]
    with NsSandbox(_config(accounts=accounts, rest_429_body=body)) as sb:
        client = Client(sb)
        sb.faults.slow(1.0, n=2)
        statuses = _hold(client, 4)
        assert sorted(statuses) == [200, 200, 429, 429]
        assert sb.stats.get(SB, "http_429") == 2
        sb.faults.slow(1.0, n=2)
        threads = [threading.Thread(target=client.get, args=(GOVERNANCE,)) for _ in range(2)]
        for t in threads:
            t.start()
        time.sleep(0.15)
        resp = requests.get(f"{client.base}{GOVERNANCE}", headers=dict(client.session.headers))
        for t in threads:
            t.join()
        assert resp.status_code == 429 and "Retry-After" not in resp.headers
        if body == "json":
            assert _error(resp) == (429, "CONCURRENCY_LIMIT_EXCEEDED",
                                    "Concurrent request limit exceeded. Request blocked.")
        else:
            assert resp.content == b""


def test_relaxed_limits_count_but_never_refuse() -> None:
    accounts = [AccountSpec(account_id=SB, customers=8, invoices=20, payments=10,
                            concurrency_limit=1)]
    with NsSandbox(_config(accounts=accounts, strict_limits=False)) as sb:
        sb.faults.slow(0.6, n=3)
        assert _hold(Client(sb), 3) == [200, 200, 200]
        assert sb.limits.peak[SB] == 3


def test_mutations_bump_lastmodifieddate_and_show_in_keyset_queries() -> None:
    with NsSandbox(_config()) as sb:
        client = Client(sb)
        sb.clock.advance(600)  # (an access token lives an hour)
        since = sb.clock.now().astimezone(sb.account().tz).strftime("%Y-%m-%d %H:%M:%S")
        before = client.query(INVOICES.format(since=since, after=0)).json()
        assert before["totalResults"] == 0
        sb.clock.advance(5)
        mut = sb.mutate()
        open_invoice = next(r for r in sb.account().transactions if r["type"] == INVOICE
                            and not r["voided"] and r["foreignamountunpaid"] > 10)
        payment = mut.pay_invoice(open_invoice["id"], open_invoice["foreignamountunpaid"] / 2)
        new = mut.new_invoice()
        changed = client.query(INVOICES.format(since=since, after=0)).json()
        assert [i["id"] for i in changed["items"]] == [str(open_invoice["id"]), str(new["id"])]
        assert changed["items"][0]["foreignamountunpaid"] == str(
            open_invoice["foreignamountunpaid"])
        # keyset: the page after the first id holds the rest only
        after = client.query(INVOICES.format(since=since, after=open_invoice["id"])).json()
        assert [i["id"] for i in after["items"]] == [str(new["id"])]
        links = client.query(
            "SELECT previousdoc, previoustype, nextdoc, nexttype, linktype, foreignamount "
            f"FROM nexttransactionlinelink WHERE nextdoc IN ({payment['id']}) "
            "ORDER BY nextdoc, previousdoc").json()["items"]
        assert [(x["previousdoc"], x["nexttype"]) for x in links] == [
            (str(open_invoice["id"]), "CustPymt")]
        sb.clock.advance(5)
        mut.delete(payment["id"])
        gone = client.query(
            "SELECT recordid, recordtype FROM deletedrecord WHERE recordtype IN ('invoice', "
            "'customerpayment') AND deleteddate >= TO_TIMESTAMP('" + since +
            "', 'YYYY-MM-DD HH24:MI:SS') ORDER BY deleteddate, recordid").json()["items"]
        assert gone == [{"links": [], "recordid": str(payment["id"]),
                         "recordtype": "customerpayment"}]
        assert client.query(
            f"SELECT nextdoc FROM nexttransactionlinelink WHERE nextdoc IN ({payment['id']}) "
            "ORDER BY nextdoc").json()["totalResults"] == 0
        restored = sb.account().transactions[open_invoice["id"]]
        assert restored["foreignamountpaid"] + restored["foreignamountunpaid"] == \
            restored["foreigntotal"]


def test_random_mutations_stamp_every_change() -> None:
    with NsSandbox(_config()) as sb:
        sb.clock.advance(60)
        stamp = sb.clock.now().replace(microsecond=0)
        done = sb.mutate(seed=3).random(40)
        assert sum(done.values()) >= 30
        account = sb.account()
        touched = [r for r in account.transactions if r["lastmodifieddate"] >= stamp]
        assert touched
        for row in account.transactions:
            if row["type"] == INVOICE and not row["voided"]:
                assert row["foreignamountpaid"] + row["foreignamountunpaid"] == \
                    row["foreigntotal"]


def test_faults_and_control_api(sb: NsSandbox) -> None:
    client = Client(sb)
    sb.faults.burst_5xx(1)
    assert client.get(GOVERNANCE).status_code == 503
    sb.faults.malformed(1, "missing_id")
    item = client.query("SELECT id, name FROM term ORDER BY id", limit=1).json()["items"][0]
    assert "id" not in item and item["name"] == "Net 15"
    armed = requests.post(f"{sb.url}/_sandbox/faults", json={"fault": "throttle", "n": 1})
    assert armed.status_code == 200
    assert client.get(GOVERNANCE).status_code == 429
    state = requests.get(f"{sb.url}/_sandbox/state").json()
    assert [a["host"] for a in state["accounts"]] == ["1234567-sb1", "7654321"]
    assert state["accounts"][0]["rest_base"] == sb.rest_base()
    grant = requests.post(f"{sb.url}/_sandbox/grants", json={"account_id": PROD}).json()
    assert grant["account_id"] == PROD and grant["refresh_token"]
    counts = requests.post(f"{sb.url}/_sandbox/mutate", json={"n": 5, "seed": 9}).json()
    assert sum(counts["counts"].values()) >= 1
    stats = requests.get(f"{sb.url}/_sandbox/stats").json()
    assert stats["by_account"][SB]["governance"] >= 1
    tba = requests.post(f"{sb.url}/_sandbox/tba", json={"account_id": SB}).json()
    assert tba["consumer_key"] == sb.config.tba_consumer_key and tba["token_id"]
    sb.faults.expire_tokens()
    assert client.get(GOVERNANCE).status_code == 401
    fresh = Client(sb)
    assert requests.post(f"{sb.url}/_sandbox/revoke", json={"account_id": SB}).json() == {
        "revoked": [SB]}
    assert fresh.get(GOVERNANCE).status_code == 401


def _hmac_sha256(client: ClientAuth, request: Any) -> str:
    """HMAC-SHA256 over authlib's RFC 5849 base string (NetSuite's TBA signature method)."""
    base = generate_signature_base_string(request)
    key = f"{escape(client.client_secret or '')}&{escape(client.token_secret or '')}"
    return base64.b64encode(hmac.new(key.encode(), base.encode(), hashlib.sha256).digest()
                            ).decode()


class _Sha256Auth(ClientAuth):  # type: ignore[misc]
    SIGNATURE_METHODS = {**ClientAuth.SIGNATURE_METHODS, "HMAC-SHA256": _hmac_sha256}


@pytest.mark.parametrize("by_host", [False, True])
def test_tba_signed_requests_reach_the_rest_routes(by_host: bool,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")  # the sandbox speaks plain http
    # TBA timestamps must be within 300 s of the sandbox clock: a sandbox starting now
    sb = NsSandbox(_config(start=None))
    sb.start()
    token_id, token_secret = sb.create_tba_token(SB)
    auth = _Sha256Auth(sb.config.tba_consumer_key, client_secret=sb.config.tba_consumer_secret,
                       token=token_id, token_secret=token_secret, realm=SB,
                       signature_method="HMAC-SHA256")
    port = urlsplit(sb.url).port
    base = f"http://1234567-sb1.localhost:{port}" if by_host else sb.rest_base()
    url = f"{base}{SUITEQL}?limit=2&offset=0"
    body = b'{"q": "SELECT id FROM term ORDER BY id"}'
    _, headers, _ = auth.prepare("POST", url, {"Content-Type": "application/json",
                                               "Prefer": "transient"}, body)
    target = f"{sb.url}{SUITEQL}?limit=2&offset=0" if by_host else url
    if by_host:
        headers["Host"] = f"1234567-sb1.localhost:{port}"
    try:
        resp = requests.post(target, data=body, headers=headers)
        replayed = requests.post(target, data=body, headers=headers)
    finally:
        sb.stop()
    assert resp.status_code == 200, resp.text
    assert resp.json()["count"] == 2
    assert replayed.status_code == 401  # the nonce was used
