"""Engines, sessions and schema upgrades for the store.

SQLite (the embedded default) runs in WAL mode with a busy timeout so a sync, the CLI and the
scheduler can share one file; PostgreSQL is reached through ``ARCONNECT_DATABASE_URL``. The schema
is only ever created by alembic migrations: :func:`get_engine` upgrades a fresh or older database
before handing it out.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import orjson
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from arconnect.errors import ConfigError
from arconnect.redact import mask_url, redact
from arconnect.settings import get_settings

_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"cannot store {type(value).__name__} in a JSON column")


def json_dumps(value: Any) -> str:
    """JSON columns: fast (orjson), dates as ISO text, Decimal as a number."""
    return orjson.dumps(value, default=_json_default).decode()


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    # Checkpoint the WAL every ~40 MB instead of ~4 MB: a sync page writes ~1 MB, and each
    # checkpoint costs an fsync.
    cur.execute("PRAGMA wal_autocheckpoint=10000")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def create_store_engine(url: str) -> Engine:
    """A new engine for ``url`` (no migrations run); ConfigError for an unusable URL."""
    try:
        if url.startswith("sqlite"):
            path = url.split("///", 1)[1].split("?", 1)[0] if "///" in url else ""
            if path and path != ":memory:":
                # A folder is never created: a mistyped path would silently start an empty
                # store (and a full re-sync) somewhere unexpected.
                folder = Path(path).expanduser().parent
                if not folder.is_dir():
                    raise ConfigError(
                        f"ARCONNECT_DATABASE_URL: the folder {folder} does not exist; create it "
                        "or point the URL at a file in an existing folder"
                    )
            engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False},
                                   json_serializer=json_dumps,
                                   json_deserializer=orjson.loads)
            event.listen(engine, "connect", _sqlite_pragmas)
            # pysqlite's own transaction handling defers BEGIN; emit it ourselves so that
            # "BEGIN IMMEDIATE" (used for single-flight token refresh) works.
            event.listen(engine, "connect", _disable_pysqlite_begin)
            event.listen(engine, "begin", _sqlite_begin)
        else:
            engine = create_engine(url, pool_pre_ping=True, json_serializer=json_dumps,
                                   json_deserializer=orjson.loads)
    except (ArgumentError, ImportError) as err:
        # Never echo the password: the URL is masked, and so is the driver's message (a URL
        # that does not parse is quoted in it whole).
        raise ConfigError(
            f"ARCONNECT_DATABASE_URL: cannot use {mask_url(url)!r}: {redact(str(err))}; use "
            "sqlite:///path.db or postgresql+psycopg://user@host/db"
        ) from None
    return engine


def _disable_pysqlite_begin(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None


def _sqlite_begin(conn: Any) -> None:
    mode = conn.info.pop("sqlite_begin", "BEGIN")
    conn.exec_driver_sql(mode)


def alembic_config(url: str) -> Config:
    """The alembic configuration of the packaged migrations, pointed at ``url``."""
    pkg = resources.files("arconnect.store")
    cfg = Config(str(pkg.joinpath("alembic.ini")))
    cfg.set_main_option("script_location", str(pkg.joinpath("migrations")))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply migrations up to ``revision`` on ``engine``'s database."""
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None for an empty database)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision(engine: Engine) -> str | None:
    """The newest revision shipped with this version of arconnect."""
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    return ScriptDirectory.from_config(cfg).get_current_head()


def get_engine(url: str | None = None) -> Engine:
    """The shared engine for ``url`` (default: the settings'), migrated to head on first use."""
    url = url or get_settings().database_url
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            engine = create_store_engine(url)
            try:
                if current_revision(engine) != head_revision(engine):
                    upgrade(engine)
            except OperationalError as err:
                raise ConfigError(
                    f"ARCONNECT_DATABASE_URL: cannot open the store at {engine.url!r}: "
                    f"{str(err.orig).strip()}"
                ) from None
            _engines[url] = engine
        return engine


def dispose_engines() -> None:
    """Close every shared engine (tests, forked workers)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


@contextmanager
def session_scope(engine: Engine | None = None) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    factory = sessionmaker(engine or get_engine(), expire_on_commit=False)
    with factory() as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
