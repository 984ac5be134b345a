"""Connecting and disconnecting organisations: what the CLI, the demo and the web app call.

A Xero grant (one user's consent) is one ``credential`` row; every organisation it reaches
(``GET /connections``) is one ``tenant`` row pointing at it. Tokens and the client secret are
stored encrypted by the vault. These functions own those two tables' auth columns; they never
print or log a token.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from sqlmodel import col

from arconnect.auth.tokens import (
    STATUS_ACTIVE,
    STATUS_DISCONNECTED,
    STATUS_REVOKED,
    TokenManager,
    as_utc,
)
from arconnect.auth.vault import TokenVault
from arconnect.auth.xero import AuthRequest, Now, TokenSet, XeroOAuth, utcnow
from arconnect.errors import AuthError, ConfigError, NotFoundError, ReconnectRequired
from arconnect.settings import Settings, get_settings
from arconnect.store.models import Credential, Tenant

PLATFORM = "xero"


def _oauth(settings: Settings | None, client_id: str, client_secret: str, now: Now) -> XeroOAuth:
    return XeroOAuth(settings or get_settings(), client_id, client_secret, now=now)


def _save_grant(
    engine: Engine,
    *,
    client_id: str,
    client_secret: str,
    token: TokenSet,
    connections: Sequence[dict[str, Any]],
    vault: TokenVault,
    now: Now,
) -> list[Tenant]:
    """Store one grant and its organisations in one transaction: a credential row with the
    token set encrypted, and one tenant per organisation, upserted by ``(platform,
    external_id)``. Either both are committed or neither (no grant without a tenant)."""
    stamp = now()
    refresh = token.get("refresh_token")
    cred = Credential(
        platform=PLATFORM,
        client_id=client_id,
        client_secret_enc=vault.encrypt(client_secret),
        access_token_enc=vault.encrypt(str(token["access_token"])),
        refresh_token_enc=vault.encrypt(str(refresh)) if refresh else None,
        expires_at=as_utc(token.get("expires_at")),
        scope=token.get("scope"),
        status=STATUS_ACTIVE,
        version=0,
        created_at=stamp,
        updated_at=stamp,
    )
    out: list[Tenant] = []
    with Session(engine, expire_on_commit=False) as session:
        session.add(cred)
        session.flush()
        assert cred.id is not None
        for conn in connections:
            external_id = str(conn["tenantId"])
            tenant = session.scalars(
                select(Tenant).where(col(Tenant.platform) == PLATFORM,
                                    col(Tenant.external_id) == external_id)
            ).one_or_none()
            if tenant is None:
                tenant = Tenant(
                    platform=PLATFORM,
                    external_id=external_id,
                    name=str(conn.get("tenantName") or external_id),
                    created_at=stamp,
                    updated_at=stamp,
                )
                session.add(tenant)
            tenant.name = str(conn.get("tenantName") or tenant.name)
            tenant.credential_id = int(cred.id)
            tenant.connection_id = str(conn["id"]) if conn.get("id") else None
            tenant.status = STATUS_ACTIVE
            tenant.status_detail = None
            tenant.updated_at = stamp
            out.append(tenant)
        session.commit()
    return out


def _organisations(connections: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    # /connections also lists practice (XPM) connections; only organisations hold ledgers.
    # https://developer.xero.com/documentation/guides/oauth2/tenants
    return [
        c for c in connections
        if c.get("tenantId") and str(c.get("tenantType") or "ORGANISATION") == "ORGANISATION"
    ]


def _select(connections: list[dict[str, Any]], tenant_id: str | None,
            retry: str) -> list[dict[str, Any]]:
    """The organisations to store: every one, or only ``tenant_id``; checked before anything
    is stored, so a wrong id leaves no grant behind. ``retry`` says how to try again."""
    if not connections:
        raise NotFoundError(
            "the grant reaches no Xero organisation (GET /connections is empty): the user "
            "must choose at least one organisation on Xero's consent page; nothing was "
            "stored. Connect again with `arconnect tenants connect xero`"
        )
    if tenant_id is None:
        return connections
    chosen = [c for c in connections if str(c["tenantId"]) == tenant_id]
    if not chosen:
        reach = ", ".join(f"{c['tenantId']} ({c.get('tenantName', '')})" for c in connections)
        raise NotFoundError(
            f"--tenant-id {tenant_id!r}: the grant does not reach that organisation; it "
            f"reaches: {reach}. Nothing was stored; {retry}"
        )
    return chosen


def add_xero_grant(
    engine: Engine,
    *,
    client_id: str,
    client_secret: str,
    refresh_token: str,
    tenant_id: str | None = None,
    vault: TokenVault,
    settings: Settings | None = None,
    now: Now = utcnow,
) -> list[Tenant]:
    """Add a grant headlessly from a refresh token; one tenant per organisation it reaches.

    The refresh token is traded at once and the rotated pair is committed before anything else
    (the given token is then used up; Xero still accepts it for 30 minutes, so a failed run can be
    repeated with it).

    Args:
        engine: the store.
        client_id: the Xero app's client id.
        client_secret: the app's client secret (stored encrypted).
        refresh_token: a refresh token of the grant (``offline_access`` scope).
        tenant_id: only this organisation (Xero tenant id); default every one the grant reaches.
        vault: encrypts the tokens and the client secret.
        settings: Xero hosts and timeout (default: the process-wide settings).
        now: the clock for ``expires_at``.

    Raises:
        ReconnectRequired: Xero refused the refresh token (used up, expired or revoked).
        NotFoundError: ``tenant_id`` is not among the organisations the grant reaches.
        AuthError, UpstreamError: Xero refused the app or failed.
    """
    oauth = _oauth(settings, client_id, client_secret, now)
    try:
        token = oauth.refresh(refresh_token)
    except ReconnectRequired:
        raise ReconnectRequired(
            "Xero refused the refresh token (invalid_grant): it was already used more than 30 "
            "minutes ago, expired (60 days unused) or was revoked; get a new one, or use "
            "`arconnect tenants connect xero`"
        ) from None
    # Which organisations first: a wrong --tenant-id must not leave a stored grant behind.
    # The given refresh token stays usable for Xero's 30-minute grace period, so the command
    # can be repeated with the right id (https://developer.xero.com/faq/oauth2).
    chosen = _select(
        _organisations(oauth.connections(str(token["access_token"]))), tenant_id,
        "the same refresh token works again for 30 minutes: rerun with one of these ids, "
        "or without --tenant-id for all of them",
    )
    return _save_grant(engine, client_id=client_id, client_secret=client_secret, token=token,
                       connections=chosen, vault=vault, now=now)


def check_vault(engine: Engine, vault: TokenVault) -> None:
    """Check that ``vault`` opens the grants already stored (one secret of each).

    Run before the consent page opens, so a wrong or changed key is reported before the user
    is told "Connected" in the browser, not after.

    Raises:
        ConfigError: a stored grant was encrypted under none of the configured keys.
    """
    with Session(engine) as session:
        rows = session.execute(
            select(col(Credential.id), col(Credential.client_secret_enc))
            .where(col(Credential.client_secret_enc).is_not(None))
        ).all()
    for credential_id, secret in rows:
        try:
            vault.decrypt(secret or "")
        except ConfigError as err:
            raise ConfigError(f"stored grant {credential_id}: {err}") from None


def begin_xero_connect(
    settings: Settings, redirect_uri: str, scopes: str | None = None
) -> AuthRequest:
    """Start the browser flow: the consent URL (state + PKCE) for the configured Xero app.

    Raises:
        ConfigError: ``ARCONNECT_XERO_CLIENT_ID`` / ``_CLIENT_SECRET`` are not set.
    """
    client_id, client_secret = _app_credentials(settings)
    return XeroOAuth(settings, client_id, client_secret).authorization_url(redirect_uri, scopes)


def complete_xero_connect(
    engine: Engine,
    request: AuthRequest,
    code: str,
    state: str,
    redirect_uri: str,
    vault: TokenVault,
    settings: Settings | None = None,
    now: Now = utcnow,
) -> list[Tenant]:
    """Finish the browser flow: exchange the code, store the grant, one tenant per organisation.

    Raises:
        AuthError: state mismatch, or Xero refused the code.
        ConfigError: the Xero app's credentials are not set.
        UpstreamError: Xero failed.
    """
    settings = settings or get_settings()
    client_id, client_secret = _app_credentials(settings)
    oauth = _oauth(settings, client_id, client_secret, now)
    token = oauth.exchange_code(request, code, state, redirect_uri)
    connections = _select(_organisations(oauth.connections(str(token["access_token"]))), None,
                          "connect again")
    return _save_grant(engine, client_id=client_id, client_secret=client_secret, token=token,
                       connections=connections, vault=vault, now=now)


def _app_credentials(settings: Settings) -> tuple[str, str]:
    if not settings.xero_client_id or not settings.xero_client_secret:
        raise ConfigError(
            "ARCONNECT_XERO_CLIENT_ID and ARCONNECT_XERO_CLIENT_SECRET are not set: use your "
            "Xero app's credentials (https://developer.xero.com/app/manage)"
        )
    return settings.xero_client_id, settings.xero_client_secret


def list_tenants(engine: Engine) -> list[Tenant]:
    """Every tenant, oldest first."""
    with Session(engine, expire_on_commit=False) as session:
        return list(session.scalars(select(Tenant).order_by(col(Tenant.id))))


def get_tenant(engine: Engine, key: str) -> Tenant:
    """The tenant whose id, name or ERP id is ``key``.

    Raises:
        NotFoundError: no tenant matches (the message lists the known ones), or the name is
            ambiguous.
    """
    tenants = list_tenants(engine)
    for field in ("id", "external_id", "name"):
        match = [t for t in tenants if str(getattr(t, field)) == key]
        if len(match) == 1:
            return match[0]
        if len(match) > 1:
            ids = ", ".join(str(t.id) for t in match)
            raise NotFoundError(f"tenant {key!r} is ambiguous (ids {ids}); use the id")
    known = ", ".join(f"{t.id} ({t.name}, {t.external_id})" for t in tenants) or "none yet"
    raise NotFoundError(f"no tenant {key!r}; known tenants: {known}")


def revoke_grant(
    engine: Engine,
    credential_id: int,
    vault: TokenVault,
    settings: Settings | None = None,
    now: Now = utcnow,
) -> None:
    """Revoke a grant at Xero and mark it and its tenants ``revoked`` (tokens erased).

    Xero removes every connection of the grant. Synced data stays in the store.

    Raises:
        NotFoundError: no such credential.
        AuthError, UpstreamError: Xero refused or failed; nothing was changed locally.
    """
    with Session(engine, expire_on_commit=False) as session:
        cred = session.get(Credential, credential_id)
        if cred is None:
            raise NotFoundError(f"no stored grant (credential {credential_id})")
        refresh = vault.decrypt(cred.refresh_token_enc) if cred.refresh_token_enc else None
        secret = vault.decrypt(cred.client_secret_enc) if cred.client_secret_enc else ""
        if refresh and cred.status == STATUS_ACTIVE:
            _oauth(settings, cred.client_id, secret, now).revoke(refresh)
        stamp = now()
        cred.status = STATUS_REVOKED
        cred.access_token_enc = None
        cred.refresh_token_enc = None
        cred.previous_refresh_token_enc = None
        cred.updated_at = stamp
        owned = select(Tenant).where(col(Tenant.credential_id) == credential_id)
        for tenant in session.scalars(owned):
            if tenant.status == STATUS_DISCONNECTED:
                continue
            tenant.status = STATUS_REVOKED
            tenant.status_detail = "the grant was revoked; reconnect to sync again"
            tenant.updated_at = stamp
        session.commit()
    TokenManager.forget(engine, credential_id)


def disconnect_tenant(
    engine: Engine,
    tenant: Tenant,
    vault: TokenVault,
    settings: Settings | None = None,
    now: Now = utcnow,
    by: str | None = None,
) -> str:
    """Disconnect one organisation: Xero drops the grant's connection to it
    (``DELETE /connections/{id}``); when it was the grant's last organisation the grant is
    revoked too, so no live token is kept. The tenant is marked ``disconnected`` (its synced
    data, segments and audit trail stay; syncs of every tenant skip it). Returns what was done,
    in words.

    Raises:
        AuthError, UpstreamError: Xero refused or failed; nothing was changed locally.
    """
    settings = settings or get_settings()
    done: list[str] = []
    with Session(engine, expire_on_commit=False) as session:
        cred = session.get(Credential, tenant.credential_id) if tenant.credential_id else None
        siblings = [] if cred is None else [
            t for t in session.scalars(select(Tenant).where(
                col(Tenant.credential_id) == cred.id, col(Tenant.id) != tenant.id))
            if t.status != STATUS_DISCONNECTED]
    removed = _remove_connection(engine, cred, tenant, settings, now)
    if removed is None:
        done.append("the grant is no longer active, so nothing was asked of Xero (remove the "
                    "app under Settings ─▶ Connected apps in Xero if it is still listed)")
    else:
        done.append("Xero removed the connection" if removed
                    else "Xero no longer had the connection")
        if not siblings and cred is not None and cred.id is not None:
            revoke_grant(engine, cred.id, vault, settings, now)
            done.append("the grant (its last organisation) was revoked and its tokens erased")
    with Session(engine, expire_on_commit=False) as session:
        row = session.get(Tenant, tenant.id)
        assert row is not None
        stamp = now()
        row.status = STATUS_DISCONNECTED
        row.status_detail = (f"disconnected {stamp:%Y-%m-%d}" + (f" by {by}" if by else "")
                             + "; data kept; reconnect with `arconnect tenants connect xero`")
        row.updated_at = stamp
        session.commit()
    return "; ".join(done)


def _remove_connection(engine: Engine, cred: Credential | None, tenant: Tenant,
                       settings: Settings, now: Now) -> bool | None:
    """``DELETE /connections/{id}`` with the grant's token: True when Xero removed it, False
    when it no longer had it, None when the grant is dead (revoked or expired at Xero)."""
    if cred is None or cred.id is None or cred.status != STATUS_ACTIVE:
        return None
    manager = TokenManager.for_credential(engine, cred.id)
    oauth = _oauth(settings, cred.client_id, "", now)
    try:
        token = manager.access_token()
        if not tenant.connection_id:
            return False
        try:
            return oauth.remove_connection(token, tenant.connection_id)
        except AuthError:  # the token was refused: refresh once, which tells if the grant lives
            return oauth.remove_connection(manager.refresh(token), tenant.connection_id)
    except ReconnectRequired:
        return None


def rotate_secrets(engine: Engine, vault: TokenVault) -> int:
    """Re-encrypt every stored token and client secret under the vault's newest key.

    Each credential is rewritten under the token manager's locks, so a refresh running at the
    same time is never undone. Run it after putting a new key first in
    ``ARCONNECT_SECRET_KEYS``; then the old key can be dropped.

    Returns:
        How many credentials were re-encrypted.

    Raises:
        ConfigError: a stored secret cannot be decrypted with the configured keys.
    """
    with Session(engine) as session:
        ids = list(session.scalars(select(col(Credential.id)).order_by(col(Credential.id))))
    done = 0
    for credential_id in ids:
        if credential_id is not None and TokenManager(engine, credential_id, vault).reencrypt():
            done += 1
    return done
