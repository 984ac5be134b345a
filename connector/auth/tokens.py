"""One token manager per grant: valid access tokens, and single-flight refresh.

Refresh tokens rotate: Xero's are single use (the old one stops working 30 minutes later,
https://developer.xero.com/faq/oauth2) and Intuit's change value from time to time ("Always store
the latest refresh_token value from the most recent API server response",
https://developer.intuit.com/app/developer/qbo/docs/develop/authentication-and-authorization/faq).
Two workers refreshing the same grant with the same token can each get a different new pair, and
whichever one is stored last may be the one the platform no longer honours. So a refresh here is
single-flight:

1. a lock per credential serialises the threads of this process;
2. a database lock serialises processes: SQLite ``BEGIN IMMEDIATE`` (the write lock, taken
   before the row is read), PostgreSQL ``SELECT ... FOR UPDATE`` on the credential row;
3. inside both, the row is read again: when another thread or process already rotated (the
   stored access token differs from the caller's stale one and is not about to expire), that
   token is used and the token endpoint is not called;
4. otherwise the stored refresh token is traded, and the new pair is persisted (encrypted,
   ``version`` + 1, the previous refresh token kept) and committed before the access token is
   handed out.

If the process dies between the token endpoint's answer and the commit, the stored (old) refresh
token is still honoured for the platform's grace period (Xero: 30 minutes), so the next refresh
recovers. The OAuth client comes from the credential's platform (:mod:`arconnect.platforms`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, Table, select, update

from arconnect.auth.oauth import Now, TokenSet, utcnow
from arconnect.auth.vault import TokenVault, get_reading_vault
from arconnect.errors import ArconnectError, NotFoundError, ReconnectRequired
from arconnect.settings import get_settings
from arconnect.store.models import SQLModel

EXPIRY_MARGIN = timedelta(seconds=60)
"""An access token this close to its expiry is refreshed first (clock skew, request time)."""

STATUS_ACTIVE = "active"
STATUS_RECONNECT = "reconnect_required"
STATUS_REVOKED = "revoked"
STATUS_DISCONNECTED = "disconnected"  # a tenant the admin disconnected (its data is kept)


class OAuthClient(Protocol):
    """What the token manager needs of a platform's OAuth client
    (:class:`arconnect.adapters.base.OAuthClient`)."""

    def refresh(self, refresh_token: str) -> TokenSet:
        """A new token set for ``refresh_token``; ReconnectRequired on ``invalid_grant``."""
        ...


OAuthFactory = Callable[[str, str], OAuthClient]
"""Builds the OAuth client of an app from its ``(client_id, client_secret)``."""


def credential_table() -> Table:
    """The ``credential`` table (SQLAlchemy core)."""
    return SQLModel.metadata.tables["credential"]


def tenant_table() -> Table:
    """The ``tenant`` table (SQLAlchemy core)."""
    return SQLModel.metadata.tables["tenant"]


def as_utc(value: datetime | None) -> datetime | None:
    """``value`` as an aware UTC datetime (naive values from SQLite are UTC)."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def platform_oauth_factory(platform: str) -> OAuthFactory:
    """The OAuth client factory of ``platform``'s apps over the process-wide settings."""
    from arconnect.platforms import get_platform

    def factory(client_id: str, client_secret: str) -> OAuthClient:
        oauth: OAuthClient = get_platform(platform).oauth(get_settings(), client_id,
                                                          client_secret)
        return oauth

    return factory


_locks: dict[tuple[str, int], threading.Lock] = {}
_managers: dict[tuple[str, int], TokenManager] = {}
_registry_lock = threading.Lock()


def _key(engine: Engine, credential_id: int) -> tuple[str, int]:
    return (engine.url.render_as_string(hide_password=True), credential_id)


def _credential_lock(engine: Engine, credential_id: int) -> threading.Lock:
    with _registry_lock:
        return _locks.setdefault(_key(engine, credential_id), threading.Lock())


class TokenManager:
    """Access tokens of one grant (credential row), shared by every endpoint and thread.

    Args:
        engine: the store holding the credential.
        credential_id: the credential row's id.
        vault: decrypts and encrypts the stored tokens.
        oauth_factory: builds the platform's OAuth client from ``(client_id, client_secret)``;
            default: the one of the credential's platform.
        now: the clock deciding expiry (aware UTC; tests move it).

    The manager owns the credential's token columns and its status; it never logs a token and
    never hands out an access token whose rotation is not yet committed.
    """

    def __init__(
        self,
        engine: Engine,
        credential_id: int,
        vault: TokenVault,
        oauth_factory: OAuthFactory | None = None,
        *,
        now: Now = utcnow,
    ) -> None:
        self.engine = engine
        self.credential_id = credential_id
        self._vault = vault
        self._oauth_factory = oauth_factory
        self._now = now
        self._lock = _credential_lock(engine, credential_id)
        self._cached: tuple[str, datetime | None] | None = None
        self._sqlite = engine.dialect.name == "sqlite"
        self.refreshes = 0
        """Token-endpoint calls made by this manager (a statistic)."""

    @classmethod
    def for_credential(cls, engine: Engine, credential_id: int) -> TokenManager:
        """The process-wide manager of ``credential_id`` in ``engine``'s store.

        Its vault reads the configured keys (or the demo key file when none is configured and
        one exists); its OAuth client uses the process-wide settings.
        """
        key = _key(engine, credential_id)
        with _registry_lock:
            manager = _managers.get(key)
        if manager is None:
            created = cls(engine, credential_id, get_reading_vault())
            with _registry_lock:
                manager = _managers.setdefault(key, created)
        return manager

    @staticmethod
    def forget(engine: Engine, credential_id: int) -> None:
        """Drop the process-wide manager of a credential (after it was revoked or replaced)."""
        with _registry_lock:
            _managers.pop(_key(engine, credential_id), None)

    def _fresh(self, expires_at: datetime | None) -> bool:
        # No recorded expiry: trust the token until the API refuses it (401 ─▶ refresh).
        return expires_at is None or expires_at - self._now() > EXPIRY_MARGIN

    def access_token(self) -> str:
        """A valid access token: the cached or stored one, refreshed when it expires within 60 s.

        Raises:
            ReconnectRequired: the grant is dead; an admin must reconnect.
            ConfigError: the stored tokens cannot be decrypted with the configured keys.
            AuthError, UpstreamError: a needed refresh failed.
        """
        cached = self._cached
        if cached is not None and self._fresh(cached[1]):
            return cached[0]
        with self.engine.connect() as conn:
            row = self._read(conn, lock=False)
        if row["status"] != STATUS_ACTIVE:
            raise self._dead(row)
        stored = self._decrypt(row["access_token_enc"])
        expires_at = as_utc(row["expires_at"])
        if stored and self._fresh(expires_at):
            self._cached = (stored, expires_at)
            return stored
        return self.refresh(stored)

    def refresh(self, stale_access_token: str | None = None, *, force: bool = False) -> str:
        """Make sure a rotated access token is stored, and return it (single-flight).

        Args:
            stale_access_token: the token the caller found wanting (expired, or refused with
                401); None when the caller has none. When the stored token is another one and
                is not about to expire, it is returned without calling the token endpoint.
            force: refresh even when the stored token looks valid (keep-alive of idle grants).

        Raises:
            ReconnectRequired: the refresh token was refused (``invalid_grant``) or the grant is
                already marked dead; the credential and its tenants are marked
                ``reconnect_required`` first.
            ConfigError: the stored tokens cannot be decrypted.
            AuthError, UpstreamError: the token endpoint failed; nothing was changed.
        """
        dead: ReconnectRequired | None = None
        access: str = ""
        expires: datetime | None = None
        with self._locked() as (conn, row):
            if row["status"] != STATUS_ACTIVE:
                raise self._dead(row, conn)
            stored = self._decrypt(row["access_token_enc"])
            expires_at = as_utc(row["expires_at"])
            if (
                not force
                and stored
                and stored != stale_access_token
                and self._fresh(expires_at)
            ):
                self._cached = (stored, expires_at)
                return stored
            refresh_token = self._decrypt(row["refresh_token_enc"])
            if not refresh_token:
                dead = self._mark_dead(conn, row, "no refresh token is stored")
            else:
                client_secret = self._decrypt(row["client_secret_enc"]) or ""
                factory = self._oauth_factory or platform_oauth_factory(row["platform"])
                oauth = factory(row["client_id"], client_secret)
                self.refreshes += 1
                try:
                    token = oauth.refresh(refresh_token)
                except ReconnectRequired as err:
                    # the platform's own words, where they say more than the error code (why,
                    # and what lasts how long: NetSuite's 7-day grants)
                    said = str(err).strip()
                    dead = self._mark_dead(conn, row, said if said not in ("", "invalid_grant")
                                           else f"{_label(row)} refused the refresh token "
                                           "(invalid_grant)")
                else:
                    access, expires = self._store(conn, row, token, refresh_token)
            # leaving the block commits the rotated pair, or the reconnect_required marks
        if dead is not None:
            self._cached = None
            raise dead
        self._cached = (access, expires)
        return access

    def reencrypt(self, vault: TokenVault | None = None) -> bool:
        """Re-encrypt the stored secrets under the newest key (``arconnect secrets rotate``).

        Runs under the same locks as :meth:`refresh`, so a rotation in flight is never
        overwritten with an older token.

        Args:
            vault: the vault to rotate with (default: this manager's).

        Returns:
            True when the row had anything to re-encrypt.

        Raises:
            ConfigError: a stored secret cannot be decrypted with the configured keys.
        """
        vault = vault or self._vault
        columns = ("client_secret_enc", "access_token_enc", "refresh_token_enc",
                   "previous_refresh_token_enc")
        with self._locked() as (conn, row):
            values = {c: vault.rotate(row[c]) for c in columns if row[c]}
            if values:
                cred = credential_table()
                conn.execute(
                    update(cred).where(cred.c.id == self.credential_id).values(**values)
                )
        return bool(values)

    # -- internals ---------------------------------------------------------------------------

    @contextmanager
    def _locked(self) -> Iterator[tuple[Connection, dict[str, Any]]]:
        """The credential row read under the thread lock and the database lock; the
        transaction commits when the block ends normally and rolls back on an exception."""
        with self._lock, self.engine.connect() as conn:
            if self._sqlite:
                # Take SQLite's write lock before reading, so no other process can read the same
                # refresh token and trade it too (see arconnect.store.db).
                conn.info["sqlite_begin"] = "BEGIN IMMEDIATE"
            with conn.begin():
                yield conn, self._read(conn, lock=True)

    def _read(self, conn: Connection, *, lock: bool) -> dict[str, Any]:
        cred = credential_table()
        stmt = select(cred).where(cred.c.id == self.credential_id)
        if lock and not self._sqlite:
            stmt = stmt.with_for_update()
        row = conn.execute(stmt).mappings().one_or_none()
        if row is None:
            raise NotFoundError(f"no stored grant (credential {self.credential_id})")
        return dict(row)

    def _decrypt(self, value: str | None) -> str | None:
        return self._vault.decrypt(value) if value else None

    def _store(
        self, conn: Connection, row: dict[str, Any], token: TokenSet, used_refresh: str
    ) -> tuple[str, datetime | None]:
        access = str(token["access_token"])
        new_refresh = str(token.get("refresh_token") or used_refresh)
        expires_at = token.get("expires_at")
        if token.get("expires_in") is not None:
            expires_at = self._now() + timedelta(seconds=float(token["expires_in"]))
        expires_at = as_utc(expires_at) if isinstance(expires_at, datetime) else None
        cred = credential_table()
        conn.execute(
            update(cred)
            .where(cred.c.id == self.credential_id)
            .values(
                access_token_enc=self._vault.encrypt(access),
                refresh_token_enc=self._vault.encrypt(new_refresh),
                previous_refresh_token_enc=row["refresh_token_enc"],
                expires_at=expires_at,
                refresh_expires_at=(as_utc(token["refresh_expires_at"])
                                    if isinstance(token.get("refresh_expires_at"), datetime)
                                    else row.get("refresh_expires_at")),
                scope=token.get("scope") or row["scope"],
                version=row["version"] + 1,
                updated_at=self._now(),
            )
        )
        return access, expires_at

    def _tenant_names(self, conn: Connection) -> list[tuple[int, str]]:
        ten = tenant_table()
        rows = conn.execute(
            select(ten.c.id, ten.c.name)
            .where(ten.c.credential_id == self.credential_id)
            .order_by(ten.c.id)
        )
        return [(int(r.id), str(r.name)) for r in rows]

    def _mark_dead(self, conn: Connection, row: dict[str, Any], why: str) -> ReconnectRequired:
        cred, ten = credential_table(), tenant_table()
        now = self._now()
        conn.execute(
            update(cred)
            .where(cred.c.id == self.credential_id)
            .values(status=STATUS_RECONNECT, updated_at=now)
        )
        conn.execute(
            update(ten)
            .where(ten.c.credential_id == self.credential_id,
                   ten.c.status != STATUS_DISCONNECTED)
            .values(status=STATUS_RECONNECT, status_detail=f"{why}; reconnect", updated_at=now)
        )
        return ReconnectRequired(self._reconnect_message(conn, why))

    def _dead(self, row: dict[str, Any], conn: Connection | None = None) -> ReconnectRequired:
        why = (
            "the grant was revoked"
            if row["status"] == STATUS_REVOKED
            else f"{_label(row)} refused the refresh token (invalid_grant)"
        )
        if conn is not None:
            return ReconnectRequired(self._reconnect_message(conn, why))
        with self.engine.connect() as own:
            return ReconnectRequired(self._reconnect_message(own, why))

    def _reconnect_message(self, conn: Connection, why: str) -> str:
        tenants = self._tenant_names(conn)
        if tenants:
            who = ("tenant " if len(tenants) == 1 else "tenants ") + ", ".join(
                f"{tid} ({name})" for tid, name in tenants
            )
        else:
            who = f"credential {self.credential_id}"
        platform = self._platform(conn)
        return (
            f"{who}: {why}; reconnect with `arconnect tenants connect {platform}` or "
            f"`arconnect tenants add {platform} --client-id … --client-secret … "
            "--refresh-token …`"
        )

    def _platform(self, conn: Connection) -> str:
        cred = credential_table()
        name = conn.execute(select(cred.c.platform).where(cred.c.id == self.credential_id)
                            ).scalar_one_or_none()
        return str(name or "PLATFORM")


def _label(row: dict[str, Any]) -> str:
    """How messages name the credential's platform (its registered label)."""
    from arconnect.platforms import get_platform

    try:
        return get_platform(str(row.get("platform"))).label
    except ArconnectError:
        return str(row.get("platform") or "the platform")
