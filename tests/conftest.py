"""Shared fixtures: a fresh store per test on SQLite and, where marked, PostgreSQL.

PostgreSQL runs on the CI machine at 127.0.0.1:5432 (trust auth, database ``test``). Each test
gets its own schema there. Outside CI a missing server skips those tests with the reason; in CI
(``CI=true``) it fails them, so a broken database never passes silently.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from arconnect import clock
from arconnect.settings import get_settings
from arconnect.store import db

PG_URL = os.environ.get(
    "ARCONNECT_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _pg_available() -> str | None:
    try:
        eng = create_engine(PG_URL, connect_args={"connect_timeout": 3})
        with eng.connect() as conn:
            conn.execute(text("select 1"))
        eng.dispose()
        return None
    except Exception as err:  # any failure to connect means "no server here"
        return f"PostgreSQL not reachable at {PG_URL}: {str(err).splitlines()[0]}"


@pytest.fixture(scope="session")
def pg_problem() -> str | None:
    return _pg_available()


def require_pg(problem: str | None) -> None:
    if problem:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"{problem} (CI must run the PostgreSQL tests)")
        pytest.skip(problem)


@pytest.fixture
def pg_url(pg_problem: str | None) -> Iterator[str]:
    """A URL to a fresh, empty PostgreSQL schema (dropped afterwards)."""
    require_pg(pg_problem)
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
