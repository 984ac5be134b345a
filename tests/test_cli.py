"""The command line: help, one-line errors for user mistakes, no tracebacks."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest


def _run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("ARCONNECT_")}
    full_env.update(env)
    return subprocess.run([sys.executable, "-m", "arconnect.cli", *args], env=full_env,
                          capture_output=True, text=True, timeout=60)


def test_help_lists_the_commands() -> None:
    out = _run("--help")
    assert out.returncode == 0
    for command in ("demo", "sync", "tenants", "sandbox", "mappings", "db"):
        assert command in out.stdout


@pytest.mark.parametrize("args, env, message", [
    (("tenants", "list"), {"ARCONNECT_DATABASE_URL": "mysql://localhost/x"},
     "ARCONNECT_DATABASE_URL: unknown scheme 'mysql'"),
    (("tenants", "add", "xero", "--client-id", "a", "--client-secret", "b",
      "--refresh-token", "c"), {}, "ARCONNECT_SECRET_KEY is not set"),
    (("sync", "nope"), {}, "no tenant 'nope'"),
])
def test_user_errors_are_one_line(args: tuple[str, ...], env: dict[str, str],
                                  message: str) -> None:
    out = _run(*args, **env)
    assert out.returncode == 2, out.stdout + out.stderr
    assert message in " ".join(out.stderr.split())
    assert "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) <= 3  # one message, wrapped at most


def test_mappings_check_names_file_and_line(tmp_path: object) -> None:
    bad = f"{tmp_path}/xero.yaml"
    with open(bad, "w") as fh:
        fh.write("version: 1\nplatform: xero\nentities:\n  contacts:\n    rows:\n"
                 "      - table: customer\n        fields:\n          external_id: ContactID\n"
                 "          name: {path: Name, transform: uppercase}\n")
    out = _run("mappings", "check", bad)
    assert out.returncode == 2
    assert f"{bad}:9:" in out.stderr.replace("\n", "")
    assert "uppercase" in out.stderr
    assert "Traceback" not in out.stderr
    ok = _run("mappings", "check")
    assert ok.returncode == 0 and "valid" in ok.stdout


def test_headless_add_sync_and_list(tmp_path: object) -> None:
    from arconnect.sandbox.xero import OrgSpec, SandboxConfig, XeroSandbox

    sandbox = XeroSandbox(SandboxConfig(
        seed=5, orgs=[OrgSpec(name="North Ltd", customers=8, invoices=60, payments=40),
                      OrgSpec(name="South Ltd", customers=8, invoices=60, payments=40)],
        client_id="cid", client_secret="secret", strict_limits=False))
    sandbox.start(port=0)
    try:
        env = {
            "ARCONNECT_DATABASE_URL": f"sqlite:///{tmp_path}/cli.db",
            "ARCONNECT_SECRET_KEY": "cli-test-key",
            "ARCONNECT_XERO_API_URL": sandbox.url,
            "ARCONNECT_XERO_IDENTITY_URL": sandbox.url,
            "ARCONNECT_XERO_LOGIN_URL": sandbox.url,
        }
        token = sandbox.create_grant()["refresh_token"]
        added = _run("tenants", "add", "xero", "--client-id", "cid", "--client-secret",
                     "secret", "--refresh-token", token, **env)
        assert added.returncode == 0, added.stderr
        assert "North Ltd" in added.stdout and "South Ltd" in added.stdout  # one grant, two orgs
        assert token not in added.stdout + added.stderr
        synced = _run("sync", **env)
        assert synced.returncode == 0, synced.stdout + synced.stderr
        listed = _run("tenants", "list", **env)
        assert listed.returncode == 0
        assert listed.stdout.count("active") == 2 and "NZD" in listed.stdout
    finally:
        sandbox.stop()


def test_db_upgrade_creates_the_schema(tmp_path: object) -> None:
    out = _run("db", "upgrade", ARCONNECT_DATABASE_URL=f"sqlite:///{tmp_path}/fresh.db")
    assert out.returncode == 0, out.stderr
    assert re.search(r"revision \d{4}", out.stdout)


def test_secrets_rotate_moves_tokens_to_the_new_key(tmp_path: object) -> None:
    from arconnect.sandbox.xero import OrgSpec, SandboxConfig, XeroSandbox

    sandbox = XeroSandbox(SandboxConfig(seed=6, orgs=[OrgSpec(customers=4, invoices=10,
                                                              payments=5)],
                                        client_id="cid", client_secret="secret"))
    sandbox.start(port=0)
    try:
        env = {"ARCONNECT_DATABASE_URL": f"sqlite:///{tmp_path}/rot.db",
               "ARCONNECT_XERO_API_URL": sandbox.url, "ARCONNECT_XERO_IDENTITY_URL": sandbox.url,
               "ARCONNECT_XERO_LOGIN_URL": sandbox.url}
        token = sandbox.create_grant()["refresh_token"]
        assert _run("tenants", "add", "xero", "--client-id", "cid", "--client-secret",
                    "secret", "--refresh-token", token, ARCONNECT_SECRET_KEY="old-key",
                    **env).returncode == 0
        rotated = _run("secrets", "rotate", ARCONNECT_SECRET_KEYS="new-key,old-key", **env)
        assert rotated.returncode == 0 and "1 grant" in rotated.stdout, rotated.stderr
        # the old key alone can no longer read them; the new key alone can
        stale = _run("sync", ARCONNECT_SECRET_KEY="old-key", **env)
        assert stale.returncode == 1 and "decrypt" in stale.stdout + stale.stderr
        assert _run("sync", ARCONNECT_SECRET_KEY="new-key", **env).returncode == 0
    finally:
        sandbox.stop()


def _ibm_csv(path: str) -> None:
    lines = ["countryCode,customerID,PaperlessDate,invoiceNumber,InvoiceDate,DueDate,"
             "InvoiceAmount,Disputed,SettledDate,PaperlessBill,DaysToSettle,DaysLate"]
    for n in range(40):
        customer = f"{n % 4 + 1:04d}-XYZAB"
        issued = f"{n % 12 + 1}/{n % 27 + 1}/2025"
        due = f"{(n + 1) % 12 + 1}/{n % 27 + 1}/{2025 if n % 12 < 11 else 2026}"
        settled = "" if n % 7 == 0 else f"{(n + 1) % 12 + 1}/{(n * 3) % 27 + 1}/2026"
        paper = "Paper" if n % 2 else "Electronic"
        lines.append(f"391,{customer},1/1/2012,{n:06d},{issued},{due},{100 + n * 17}.25,No,"
                     f"{settled},{paper},0,0")
    lines.append("391,0009-BAD,1/1/2012,999999,13/45/2025,1/1/2026,12.00,No,,Paper,0,0")
    with open(path, "w") as fh:
        fh.write("\n".join(lines) + "\n")


def test_import_segment_export_lock_and_rules(tmp_path: object) -> None:
    env = {"ARCONNECT_DATABASE_URL": f"sqlite:///{tmp_path}/seg.db"}
    data = f"{tmp_path}/ar.csv"
    _ibm_csv(data)
    strict = _run("import", "csv", data, "--mapping", "csv_ibm", "--tenant", "Sample",
                  "--strict", **env)
    assert strict.returncode == 2 and "line 42" in strict.stderr  # nothing imported
    loaded = _run("import", "csv", data, "--mapping", "csv_ibm", "--tenant", "Sample", **env)
    assert loaded.returncode == 1, loaded.stderr  # imported, but one row was rejected
    assert "line 42" in loaded.stderr and "document" in loaded.stdout
    assert "1 of 41 rows rejected" in loaded.stderr
    seg = _run("segment", "Sample", **env)
    assert seg.returncode == 0, seg.stderr
    assert "segments" in seg.stdout and "customers" in seg.stdout
    out = _run("export", "Sample", "--format", "json", **env)
    rows = json.loads(out.stdout)
    assert len(rows) == 4 and all(r["segment"] and r["reasons"] for r in rows)
    locked = _run("lock", "Sample", rows[0]["customer_id"], "--segment", "At risk",
                  "--until", "2099-01-01", **env)
    assert locked.returncode == 0 and "At risk" in locked.stdout
    assert _run("unlock", "Sample", rows[0]["customer_id"], **env).returncode == 0
    checked = _run("rules", "check", **env)
    assert checked.returncode == 0 and "Reliable" in checked.stdout
    bad = f"{tmp_path}/rules.yaml"
    with open(bad, "w") as fh:
        fh.write("version: 1\ndefault_segment: Nope\ndimensions: []\nsegments: []\n")
    wrong = _run("rules", "check", bad, **env)
    assert wrong.returncode == 2 and f"{bad}:" in wrong.stderr.replace("\n", "")
    moved = _run("rules", "diff", "upflow", "Sample", **env)
    assert moved.returncode == 0 and "would move" in moved.stdout
