"""Shared fixtures: a fresh store per test on SQLite and, where marked, PostgreSQL.

PostgreSQL runs on the CI machine at 127.0.0.1:5432 (trust auth, database ``test``). Each test
gets its own schema there. Outside CI a missing server skips those tests with the reason; in CI
(``CI=true``) it fails them, so a broken database never passes silently.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import create_engine, text

from arconnect import clock
from arconnect.settings import get_settings
from arconnect.store import db

PG_URL = os.environ.get(
    "ARCONNECT_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


REDIS_URL = os.environ.get("ARCONNECT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def pytest_sessionstart(session: pytest.Session) -> None:
    """Say at once when the editable install lacks files added since it was made: the tests
    importing them would fail with a bare ModuleNotFoundError."""
    from tests.installcheck import REINSTALL, not_installed

    missing = not_installed()
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if missing and reporter is not None:
        reporter.write_line(f"arconnect's editable install lacks files added since it was "
                            f"made ({', '.join(missing[:3])}): install again: {REINSTALL}",
                            yellow=True, bold=True)


def _unreachable(what: str, url: str, probe: Callable[[], object]) -> str | None:
    """None when ``probe`` succeeds, else why ``what`` at ``url`` cannot be used."""
    try:
        probe()
        return None
    except Exception as err:  # any failure to connect means "no server here"
        return f"{what} not reachable at {url}: {str(err).splitlines()[0]}"


def _probe_pg() -> None:
    eng = create_engine(PG_URL, connect_args={"connect_timeout": 3})
    try:
        with eng.connect() as conn:
            conn.execute(text("select 1"))
    finally:
        eng.dispose()


def _probe_redis() -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    finally:
        client.close()


@pytest.fixture(scope="session")
def pg_problem() -> str | None:
    return _unreachable("PostgreSQL", PG_URL, _probe_pg)


@pytest.fixture(scope="session")
def redis_problem() -> str | None:
    return _unreachable("Redis", REDIS_URL, _probe_redis)


def require_service(problem: str | None, purpose: str) -> None:
    """Skip the test when a service is missing — but fail it in CI, which must run it."""
    if problem:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"{problem} (CI must run {purpose})")
        pytest.skip(problem)


@pytest.fixture(name="require_service")
def _require_service() -> Callable[[str | None, str], None]:
    """:func:`require_service` for conftests and tests in sub-folders."""
    return require_service


@pytest.fixture
def pg_url(pg_problem: str | None) -> Iterator[str]:
    """A URL to a fresh, empty PostgreSQL schema (dropped afterwards)."""
    require_service(pg_problem, "the PostgreSQL tests")
    schema = "t_" + uuid.uuid4().hex[:12]
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        db.dispose_engines()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: object) -> str:
    return f"sqlite:///{tmp_path}/store.db"  # type: ignore[str-bytes-safe]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: object) -> str:
    """A fresh store URL, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/store.db"  # type: ignore[str-bytes-safe]
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> Iterator[None]:
    """No test sees the developer's .env, database or demo key; clocks reset afterwards."""
    for name in list(os.environ):
        if name.startswith("ARCONNECT_") and name != "ARCONNECT_TEST_PG_URL":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # type: ignore[arg-type]
    monkeypatch.setenv("ARCONNECT_DEMO_KEY_FILE", f"{tmp_path}/demo.key")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
    clock.set_clock(None)
