"""Connecting and disconnecting organisations: what the CLI, the demo and the web app call.

A grant (one user's consent) is one ``credential`` row; every tenant it reaches (a Xero
grant reaches several organisations, a QuickBooks grant one company) is one ``tenant`` row
pointing at it. What a grant reaches, how a code is exchanged and how a connection is dropped
are the platform's (:class:`arconnect.adapters.base.Platform`). Tokens and the client secret are
stored encrypted by the vault. These functions own those two tables' auth columns; they never
print or log a token.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from sqlmodel import col

from arconnect.adapters.base import Discovered, OAuthClient, Platform
from arconnect.auth.oauth import AuthRequest, Now, TokenSet, utcnow
from arconnect.auth.tokens import (
    STATUS_ACTIVE,
    STATUS_DISCONNECTED,
    STATUS_REVOKED,
    TokenManager,
    as_utc,
)
from arconnect.auth.vault import TokenVault
from arconnect.errors import AuthError, ConfigError, NotFoundError, ReconnectRequired
from arconnect.platforms import get_platform
from arconnect.settings import Settings, get_settings
from arconnect.store.models import Credential, Tenant


def _oauth(platform: Platform, settings: Settings | None, client_id: str, client_secret: str,
           now: Now, tenant: str | None = None) -> OAuthClient:
    return platform.oauth(settings or get_settings(), client_id, client_secret, now, tenant)


def _save_grant(
    engine: Engine,
    platform: str,
    *,
    client_id: str,
    client_secret: str,
    token: TokenSet,
    connections: Sequence[Discovered],
    vault: TokenVault,
    now: Now,
) -> list[Tenant]:
    """Store one grant and its tenants in one transaction: a credential row with the token set
    encrypted, and one tenant per tenant reached, upserted by ``(platform, external_id)``.
    Either both are committed or neither (no grant without a tenant)."""
    stamp = now()
    refresh = token.get("refresh_token")
    cred = Credential(
        platform=platform,
        client_id=client_id,
        client_secret_enc=vault.encrypt(client_secret),
        access_token_enc=vault.encrypt(str(token["access_token"])),
        refresh_token_enc=vault.encrypt(str(refresh)) if refresh else None,
        expires_at=as_utc(token.get("expires_at")),
        refresh_expires_at=as_utc(token.get("refresh_expires_at")),
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
            external_id = conn.external_id
            tenant = session.scalars(
                select(Tenant).where(col(Tenant.platform) == platform,
                                    col(Tenant.external_id) == external_id)
            ).one_or_none()
            if tenant is None:
                tenant = Tenant(
                    platform=platform,
                    external_id=external_id,
                    name=conn.name or external_id,
                    created_at=stamp,
                    updated_at=stamp,
                )
                session.add(tenant)
            tenant.name = conn.name or tenant.name
            tenant.credential_id = int(cred.id)
            tenant.connection_id = conn.connection_id
            tenant.status = STATUS_ACTIVE
            tenant.status_detail = None
            tenant.updated_at = stamp
            out.append(tenant)
        session.commit()
    return out


def _select(platform: Platform, connections: list[Discovered], tenant_id: str | None,
            retry: str) -> list[Discovered]:
    """The tenants to store: every one, or only ``tenant_id``; checked before anything is
    stored, so a wrong id leaves no grant behind. ``retry`` says how to try again."""
    word = platform.tenant_word
    if not connections:
        raise NotFoundError(
            f"the grant reaches no {platform.label} {word}: the user must choose at least one "
            f"{word} on {platform.label}'s consent page; nothing was stored. Connect again "
            f"with `arconnect tenants connect {platform.name}`"
        )
    if tenant_id is None:
        return connections
    chosen = [c for c in connections if c.external_id == tenant_id]
    if not chosen:
        reach = ", ".join(f"{c.external_id} ({c.name})" for c in connections)
        raise NotFoundError(
            f"--tenant-id {tenant_id!r}: the grant does not reach that {word}; it "
            f"reaches: {reach}. Nothing was stored; {retry}"
        )
    return chosen


def add_grant(
    engine: Engine,
    platform: str,
    *,
    client_id: str,
    client_secret: str,
    refresh_token: str,
    tenant_id: str | None = None,
    vault: TokenVault,
    settings: Settings | None = None,
    now: Now = utcnow,
) -> list[Tenant]:
    """Add a grant headlessly from a refresh token; one tenant per tenant it reaches.

    The refresh token is traded at once and the rotated pair is committed before anything else
    (the given token may then be used up; Xero still accepts it for 30 minutes, so a failed run
    can be repeated with it).

    Args:
        engine: the store.
        platform: the platform's name (``xero``, ``quickbooks``).
        client_id: the app's client id.
        client_secret: the app's client secret (stored encrypted).
        refresh_token: a refresh token of the grant.
        tenant_id: only this tenant (Xero tenant id, QuickBooks realm id); default every one
            the grant reaches. Required where the grant does not tell which tenant it is for
            (QuickBooks: the realm id comes with the consent redirect only).
        vault: encrypts the tokens and the client secret.
        settings: hosts and timeout (default: the process-wide settings).
        now: the clock for ``expires_at``.

    Raises:
        ReconnectRequired: the platform refused the refresh token (used up, expired, revoked).
        NotFoundError: ``tenant_id`` is not among the tenants the grant reaches.
        AuthError, UpstreamError: the platform refused the app or failed.
    """
    port = get_platform(platform)
    oauth = _oauth(port, settings, client_id, client_secret, now, tenant_id)
    try:
        token = oauth.refresh(refresh_token)
    except ReconnectRequired as err:
        raise ReconnectRequired(
            f"{port.label} refused the grant ({err}). Nothing was stored: get a new one, or "
            f"use `arconnect tenants connect {port.name}`"
        ) from None
    # Which tenants first: a wrong --tenant-id must not leave a stored grant behind.
    # Where the grant does not say which tenant it is for, the id given stands in for the
    # consent redirect's parameter (QuickBooks' realm id).
    callback = ({port.callback_params[0]: tenant_id}
                if tenant_id and port.callback_params else {})
    chosen = _select(
        port, port.discover(oauth, token, callback), tenant_id,
        "rerun with one of these ids (with Xero the same refresh token works again for 30 "
        "minutes), or without --tenant-id for all of them",
    )
    return _save_grant(engine, port.name, client_id=client_id, client_secret=client_secret,
                       token=token, connections=chosen, vault=vault, now=now)


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


def begin_connect(
    platform: str, settings: Settings, redirect_uri: str, scopes: str | None = None,
    tenant: str | None = None,
) -> AuthRequest:
    """Start the browser flow: the consent URL (state, and PKCE where the platform takes it)
    for the configured app of ``platform``; ``tenant``: the tenant the consent is for, where
    the platform's consent page lives on the tenant's own host (a NetSuite account).

    Raises:
        ConfigError: the app's client id / secret settings are not set (named), or the
            platform needs ``tenant`` and it is None.
    """
    port = get_platform(platform)
    client_id, client_secret = port.app_credentials(settings)
    oauth = port.oauth(settings, client_id, client_secret, None, tenant)
    return oauth.authorization_url(redirect_uri, scopes)


def complete_connect(
    engine: Engine,
    platform: str,
    request: AuthRequest,
    code: str,
    state: str,
    redirect_uri: str,
    vault: TokenVault,
    settings: Settings | None = None,
    now: Now = utcnow,
    callback: dict[str, str] | None = None,
    tenant: str | None = None,
) -> list[Tenant]:
    """Finish the browser flow: exchange the code, store the grant, one tenant per tenant it
    reaches (``callback``: the redirect's other query parameters, e.g. QuickBooks' realmId;
    ``tenant``: as for :func:`begin_connect`).

    Raises:
        AuthError: state mismatch, or the platform refused the code.
        ConfigError: the app's credentials are not set.
        UpstreamError: the platform failed.
    """
    settings = settings or get_settings()
    port = get_platform(platform)
    client_id, client_secret = port.app_credentials(settings)
    oauth = _oauth(port, settings, client_id, client_secret, now, tenant)
    token = oauth.exchange_code(request, code, state, redirect_uri)
    connections = _select(port, port.discover(oauth, token, callback or {}), None,
                          "connect again")
    return _save_grant(engine, port.name, client_id=client_id, client_secret=client_secret,
                       token=token, connections=connections, vault=vault, now=now)


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
    """Revoke a grant at its platform and mark it and its tenants ``revoked`` (tokens erased).

    The platform removes every connection of the grant. Synced data stays in the store.

    Raises:
        NotFoundError: no such credential.
        AuthError, UpstreamError: the platform refused or failed; nothing was changed locally.
    """
    with Session(engine, expire_on_commit=False) as session:
        cred = session.get(Credential, credential_id)
        if cred is None:
            raise NotFoundError(f"no stored grant (credential {credential_id})")
        refresh = vault.decrypt(cred.refresh_token_enc) if cred.refresh_token_enc else None
        secret = vault.decrypt(cred.client_secret_enc) if cred.client_secret_enc else ""
        if refresh and cred.status == STATUS_ACTIVE:
            _oauth(get_platform(cred.platform), settings, cred.client_id, secret,
                   now).revoke(refresh)
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
    """Disconnect one tenant: where the platform links tenants to a grant one by one (Xero's
    connections, ``DELETE /connections/{id}``) that link is dropped, and when it was the grant's
    last tenant — or the platform has no such links (QuickBooks: one company per grant) — the
    grant is revoked, so no live token is kept. The tenant is marked ``disconnected`` (its
    synced data, segments and audit trail stay; syncs of every tenant skip it). Returns what
    was done, in words.

    Raises:
        AuthError, UpstreamError: the platform refused or failed; nothing was changed locally.
    """
    settings = settings or get_settings()
    port = get_platform(tenant.platform)
    label = port.label
    done: list[str] = []
    with Session(engine, expire_on_commit=False) as session:
        cred = session.get(Credential, tenant.credential_id) if tenant.credential_id else None
        siblings = [] if cred is None else [
            t for t in session.scalars(select(Tenant).where(
                col(Tenant.credential_id) == cred.id, col(Tenant.id) != tenant.id))
            if t.status != STATUS_DISCONNECTED]
    removed = _remove_connection(engine, port, cred, tenant, settings, now)
    if removed is None:
        done.append(f"the grant is no longer active, so nothing was asked of {label} (remove "
                    f"the app in {label}'s connected apps if it is still listed)")
    else:
        if port.per_tenant_disconnect:
            done.append(f"{label} removed the connection" if removed
                        else f"{label} no longer had the connection")
        if not siblings and cred is not None and cred.id is not None:
            revoke_grant(engine, cred.id, vault, settings, now)
            done.append("the grant (its last organisation) was revoked and its tokens erased")
    with Session(engine, expire_on_commit=False) as session:
        row = session.get(Tenant, tenant.id)
        assert row is not None
        stamp = now()
        row.status = STATUS_DISCONNECTED
        row.status_detail = (f"disconnected {stamp:%Y-%m-%d}" + (f" by {by}" if by else "")
                             + "; data kept; reconnect with `arconnect tenants connect "
                             + f"{port.name}`")
        row.updated_at = stamp
        session.commit()
    return "; ".join(done)


def _remove_connection(engine: Engine, port: Platform, cred: Credential | None,
                       tenant: Tenant, settings: Settings, now: Now) -> bool | None:
    """Drop the tenant's link to the grant with the grant's token: True when the platform
    removed it, False when it no longer had it (or has no per-tenant links), None when the
    grant is dead (revoked or expired at the platform)."""
    if cred is None or cred.id is None or cred.status != STATUS_ACTIVE:
        return None
    manager = TokenManager.for_credential(engine, cred.id)
    oauth = _oauth(port, settings, cred.client_id, "", now)
    try:
        token = manager.access_token()
        if not port.per_tenant_disconnect or not tenant.connection_id:
            return False
        try:
            return port.remove_connection(oauth, token, tenant.connection_id)
        except AuthError:  # the token was refused: refresh once, which tells if the grant lives
            return port.remove_connection(oauth, manager.refresh(token), tenant.connection_id)
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
