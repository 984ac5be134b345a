"""Secrets and the first connection: key precedence and fingerprints, no orphan grant, secrets
from the environment or stdin, nothing secret in logs or errors, and a consent flow that fails
before the browser, not after (the Xero sandbox over real HTTP)."""

from __future__ import annotations

import hashlib
import io
import logging
import re
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from rich.console import Console
from sqlalchemy import Engine, func, select

from arconnect import cli
from arconnect.auth.tokens import credential_table, tenant_table
from arconnect.auth.vault import TokenVault, generate_key
from arconnect.sandbox.xero import XeroSandbox
from arconnect.store import db
from tests.auth.helpers import credential_row, small_sandbox, store_grant

AUTHORIZE = re.compile(r"^https?://\S+/identity/connect/authorize\?\S+$", re.M)


class _Stream(io.StringIO):
    """stdout / stderr for an in-process CLI run; read while it runs from another thread."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        with self._lock:
            return super().write(text)

    def text(self) -> str:
        with self._lock:
            return self.getvalue()


class _TTY(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def server() -> Iterator[XeroSandbox]:
    with small_sandbox("Safe Ltd", seed=3, customers=3, invoices=6, payments=3) as sb:
        yield sb


@pytest.fixture
def env(server: XeroSandbox, sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A store and the sandbox as Xero; returns the store URL."""
    for name, value in (("ARCONNECT_DATABASE_URL", sqlite_url),
                        ("ARCONNECT_XERO_API_URL", server.url),
                        ("ARCONNECT_XERO_IDENTITY_URL", server.url),
                        ("ARCONNECT_XERO_LOGIN_URL", server.url),
                        ("ARCONNECT_XERO_CLIENT_ID", "cid")):
        monkeypatch.setenv(name, value)
    return sqlite_url


def _run(monkeypatch: pytest.MonkeyPatch, *args: str, stdin: str = "",
         follow: bool = False) -> tuple[int, str, str]:
    """Run ``arconnect ARGS`` in this process as the console script does: (exit code, stdout,
    stderr). ``follow``: when the consent URL is printed, open it the way a browser would."""
    from arconnect.settings import get_settings

    get_settings.cache_clear()
    out, err = _Stream(), _Stream()
    monkeypatch.setattr(sys, "argv", ["arconnect", *args])
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    done = threading.Event()

    def browser() -> None:
        while not done.wait(0.01):
            found = AUTHORIZE.search(out.text())
            if found:  # the sandbox approves at once and redirects to our listener
                requests.get(found.group(0), timeout=10)
                return

    opener = threading.Thread(target=browser, daemon=True)
    if follow:
        opener.start()
    try:
        cli.main()
        code = 0
    except SystemExit as stop:
        code = int(stop.code or 0)
    finally:
        done.set()
        if follow:
            opener.join(10)
        db.dispose_engines()
    return code, out.text(), err.text()


@pytest.fixture
def short_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    """The redirect listener gives up after 5 s, not 5 minutes (a test that fails must not
    hang)."""
    from arconnect.callback import CallbackServer

    wait = CallbackServer.wait
    monkeypatch.setattr(CallbackServer, "wait", lambda self, timeout=300: wait(self, 5))


def _counts(engine: Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        return (conn.execute(select(func.count()).select_from(credential_table())).scalar_one(),
                conn.execute(select(func.count()).select_from(tenant_table())).scalar_one())


def _one_line_error(code: int, err: str) -> str:
    assert code == 2, err
    assert "Traceback" not in err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    return err


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- item 4: keys ---------------------------------------------------------------------------


def test_both_key_variables_are_refused_and_rotate_changes_nothing(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    old, new = generate_key(), generate_key()
    engine = db.get_engine(sqlite_url)
    cid = store_grant(engine, TokenVault([old]))
    before = credential_row(engine, cid)
    monkeypatch.setenv("ARCONNECT_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("ARCONNECT_SECRET_KEY", old)
    monkeypatch.setenv("ARCONNECT_SECRET_KEYS", new)
    code, out, err = _run(monkeypatch, "secrets", "rotate")
    _one_line_error(code, err)
    assert "unset ARCONNECT_SECRET_KEY" in err and "re-encrypted" not in out
    assert credential_row(db.get_engine(sqlite_url), cid) == before


def test_rotate_names_the_key_it_encrypted_with(sqlite_url: str,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    old, new = generate_key(), "a new long passphrase for the vault"
    cid = store_grant(db.get_engine(sqlite_url), TokenVault([old]))
    monkeypatch.setenv("ARCONNECT_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("ARCONNECT_SECRET_KEYS", f"{new},{old}")
    code, out, err = _run(monkeypatch, "secrets", "rotate")
    assert code == 0, err
    new_print = hashlib.sha256(new.encode()).hexdigest()[:8]
    old_print = hashlib.sha256(old.encode()).hexdigest()[:8]
    assert f"1 grant(s) under key {new_print}" in out and old_print in out
    assert new not in out and old not in out
    row = credential_row(db.get_engine(sqlite_url), cid)
    assert TokenVault([new]).decrypt(row["refresh_token_enc"]) == "rt-0"
    # a key that opens nothing names the configured keys by fingerprint only
    monkeypatch.setenv("ARCONNECT_SECRET_KEYS", "some other key")
    code, out, err = _run(monkeypatch, "secrets", "rotate")
    _one_line_error(code, " ".join(err.split()) + "\n")
    assert hashlib.sha256(b"some other key").hexdigest()[:8] in err and "other key" not in err


# -- item 4: tenants add --------------------------------------------------------------------


def test_a_wrong_tenant_id_stores_nothing_and_the_token_still_works(
    server: XeroSandbox, env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARCONNECT_SECRET_KEY", "test key")
    monkeypatch.setenv("ARCONNECT_XERO_CLIENT_SECRET", "secret")
    monkeypatch.setenv("ARCONNECT_XERO_REFRESH_TOKEN", server.create_grant()["refresh_token"])
    code, out, err = _run(monkeypatch, "tenants", "add", "xero", "--tenant-id", "nope")
    err = _one_line_error(code, " ".join(err.split()) + "\n")
    tenant_id = server.orgs[0].tenant_id
    assert "'nope'" in err and f"{tenant_id} (Safe Ltd)" in err and "Nothing was stored" in err
    assert _counts(db.get_engine(env)) == (0, 0)
    # within Xero's 30-minute grace the same refresh token works for the corrected command
    code, out, err = _run(monkeypatch, "tenants", "add", "xero", "--tenant-id", tenant_id)
    assert code == 0, err
    assert "Safe Ltd" in out and _counts(db.get_engine(env)) == (1, 1)


def test_secrets_come_from_the_environment_or_stdin_not_argv(
    server: XeroSandbox, env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARCONNECT_SECRET_KEY", "test key")
    code, out, err = _run(monkeypatch, "tenants", "add", "--help")
    text = " ".join(out.replace("│", " ").split())
    assert "ARCONNECT_XERO_CLIENT_SECRET" in text and "ARCONNECT_XERO_REFRESH_TOKEN" in text
    assert "- reads it from stdin" in text and "visible to other users in ps" in text
    # the client secret from the environment, the refresh token from stdin: no warning
    monkeypatch.setenv("ARCONNECT_XERO_CLIENT_SECRET", "secret")
    token = server.create_grant()["refresh_token"]
    code, out, err = _run(monkeypatch, "tenants", "add", "xero", "--refresh-token", "-",
                          stdin=token + "\n")
    assert code == 0, err
    assert "Safe Ltd" in out and "warning" not in err and token not in out + err
    # on the command line it still works, with a warning that ps shows it
    monkeypatch.delenv("ARCONNECT_XERO_CLIENT_SECRET")
    code, out, err = _run(monkeypatch, "tenants", "add", "xero", "--client-secret", "secret",
                          "--refresh-token", server.create_grant()["refresh_token"])
    assert code == 0, err
    assert "--client-secret on the command line" in err
    assert "--refresh-token on the command line" in err
    assert "set ARCONNECT_XERO_REFRESH_TOKEN or pass `--refresh-token -`" in err
    # nothing usable on stdin: one line saying where the secrets can come from
    code, out, err = _run(monkeypatch, "tenants", "add", "xero", "--client-secret", "-",
                          "--refresh-token", "-")
    assert "only one of them can read stdin" in _one_line_error(code, err)
    monkeypatch.setenv("ARCONNECT_XERO_CLIENT_SECRET", "secret")
    code, out, err = _run(monkeypatch, "tenants", "add", "xero", "--refresh-token", "-",
                          stdin="\n")
    assert "stdin gave no value" in _one_line_error(code, " ".join(err.split()) + "\n")


# -- item 4: nothing secret in logs or errors -----------------------------------------------


def test_demo_verbose_never_logs_the_authorization_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the demo points these at its sandbox; set here so they are restored after the test
    for name in ("DATABASE_URL", "XERO_API_URL", "XERO_IDENTITY_URL", "XERO_LOGIN_URL",
                 "XERO_CLIENT_ID", "XERO_CLIENT_SECRET"):
        monkeypatch.setenv(f"ARCONNECT_{name}", "unset")
    monkeypatch.setattr(logging.root, "handlers", [])  # the CLI configures logging itself
    monkeypatch.setattr(logging.root, "level", logging.root.level)
    codes: list[str] = []
    from arconnect.callback import CallbackServer

    wait = CallbackServer.wait

    def remember(self: CallbackServer, timeout: float = 300) -> tuple[str, str]:
        got = wait(self, timeout)
        codes.append(got[0])
        return got

    monkeypatch.setattr(CallbackServer, "wait", remember)
    code, out, err = _run(monkeypatch, "-v", "demo", "--customers", "3", "--invoices", "4",
                          "--database", f"sqlite:///{tmp_path}/demo.db")
    assert code == 0, err[-2000:]
    logged = "".join((out + err).split())  # rich wraps and pads long log lines
    assert codes and codes[0] not in logged
    assert "/callback/xero?code=***" in logged  # the request was logged, masked


def test_a_bad_database_driver_never_shows_the_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARCONNECT_DATABASE_URL", "postgresql+nosuchdriver://u:secretpw@h/db")
    code, out, err = _run(monkeypatch, "tenants", "list")
    err = _one_line_error(code, " ".join(err.split()) + "\n")
    assert "secretpw" not in out + err
    assert "'postgresql+nosuchdriver://u:***@h/db'" in err and "nosuchdriver" in err


# -- item 8: the consent flow ---------------------------------------------------------------


def test_connect_prints_the_consent_url_whole_and_connects(
    env: str, short_wait: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARCONNECT_SECRET_KEY", "test key")
    monkeypatch.setenv("ARCONNECT_XERO_CLIENT_SECRET", "secret")
    port = _free_port()
    code, out, err = _run(monkeypatch, "tenants", "connect", "xero", "--port", str(port),
                          follow=True)
    assert code == 0, err
    url = AUTHORIZE.search(out)
    assert url is not None, out  # on one line: rich did not wrap it
    assert f"redirect_uri=http%3A%2F%2Flocalhost%3A{port}%2Fcallback%2Fxero" in url.group(0)
    assert "connected Safe Ltd" in out
    assert _counts(db.get_engine(env)) == (1, 1)


def test_the_consent_url_is_a_terminal_hyperlink_only_on_a_terminal() -> None:
    url = "https://login.xero.com/identity/connect/authorize?" + "&".join(
        f"p{i}=" + "x" * 20 for i in range(12))
    plain = io.StringIO()
    cli.show_link(Console(file=plain, width=40), url)
    assert plain.getvalue() == url + "\n"
    tty = _TTY()
    cli.show_link(Console(file=tty, width=40, force_terminal=True, color_system="standard"),
                  url)
    shown = tty.getvalue()
    assert re.search(r"\x1b\]8;[^;]*;" + re.escape(url) + r"\x1b\\" + re.escape(url)
                     + r"\x1b\]8;;\x1b\\", shown), repr(shown)
    assert "\n" not in shown.rstrip("\n")


def test_connect_on_a_port_in_use_offers_a_free_one(
    env: str, short_wait: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARCONNECT_SECRET_KEY", "test key")
    monkeypatch.setenv("ARCONNECT_XERO_CLIENT_SECRET", "secret")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        # the port of the configured redirect URI (8765 by default), or --port
        monkeypatch.setenv("ARCONNECT_XERO_REDIRECT_URI", f"http://localhost:{port}/callback/xero")
        for args in (("--port", str(port)), ()):
            code, out, err = _run(monkeypatch, "tenants", "connect", "xero", *args)
            err = _one_line_error(code, " ".join(err.split()) + "\n")
            suggested = re.search(r"--port (\d+)` \(free now\)", err)
            assert f"port {port} is in use" in err and suggested, err
            assert int(suggested.group(1)) != port
            assert f"register http://localhost:{suggested.group(1)}/callback/xero" in err
            assert "exact match" in err and "authorize" not in out


@pytest.mark.parametrize("key", [None, "a key that is not the store's"])
def test_connect_checks_the_key_before_the_consent_page(
    key: str | None, env: str, short_wait: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    store_grant(db.get_engine(env), TokenVault(["the store's key"]))
    if key:
        monkeypatch.setenv("ARCONNECT_SECRET_KEY", key)
    monkeypatch.setenv("ARCONNECT_XERO_CLIENT_SECRET", "secret")
    code, out, err = _run(monkeypatch, "tenants", "connect", "xero", "--port",
                          str(_free_port()))
    err = _one_line_error(code, " ".join(err.split()) + "\n")
    assert ("cannot decrypt stored tokens" if key else "ARCONNECT_SECRET_KEY is not set") in err
    assert "authorize" not in out  # the user was never sent to Xero
    assert _counts(db.get_engine(env)) == (1, 1)  # nothing added
