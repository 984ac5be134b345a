"""The errors arconnect raises, and what each means for the person who sees it.

Every error a user can cause or fix derives from :class:`ArconnectError`; the CLI prints its
message on one line (no traceback) and exits with status 2. Anything else is a bug.

    ArconnectError                  a problem the user can act on; ``str(err)`` says what and where
    ├── ConfigError                 a bad setting (database URL, missing secret key, ...)
    ├── MappingError                a mapping or rules file that does not validate (file:line)
    ├── NotFoundError               a tenant, grant or record that does not exist
    ├── AuthError                   OAuth went wrong (state mismatch, denied consent, bad client)
    │   ├── ReconnectRequired       the grant is dead (``invalid_grant``): reconnect the org
    │   └── ScopeMissing            the ERP refused a call the grant has no scope for
    ├── RateLimitedDaily            the tenant's daily API budget is spent: the run stops
    ├── UpstreamError               the ERP kept failing after retries (5xx, timeouts)
    └── PageError                   a page could not be read or mapped (tenant, entity, page)
"""

from __future__ import annotations


class ArconnectError(Exception):
    """Base class of the errors a user can act on; the message names what and where."""


class ConfigError(ArconnectError):
    """A setting is missing or invalid."""


class MappingError(ArconnectError):
    """A YAML mapping or rules file is invalid; the message starts with ``file:line:``."""


class NotFoundError(ArconnectError):
    """A tenant, grant or record that was asked for does not exist."""


class AuthError(ArconnectError):
    """The OAuth exchange failed for a reason the user can fix."""


class ReconnectRequired(AuthError):
    """The grant's refresh token was refused (``invalid_grant``); an admin must reconnect."""


class ScopeMissing(AuthError):
    """The ERP refused a call because the grant lacks a scope it needs; a token refresh does
    not help, reconnecting with the scope does.

    Attributes:
        scopes: the scopes any one of which would allow the call (empty when unknown).
    """

    def __init__(self, message: str, scopes: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.scopes = scopes


class RateLimitedDaily(ArconnectError):
    """The tenant's daily call limit is spent; the run stops until the window resets.

    Attributes:
        retry_after: seconds until the ERP says calls are allowed again, when it said so.
    """

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class UpstreamError(ArconnectError):
    """The ERP kept answering with errors (or not at all) after the retry policy gave up."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class PageError(ArconnectError):
    """A page of records could not be parsed or mapped; nothing of it was stored."""

    def __init__(self, tenant: str, entity: str, page: int | str, problem: str) -> None:
        super().__init__(f"tenant {tenant}, entity {entity}, page {page}: {problem}")
        self.tenant = tenant
        self.entity = entity
        self.page = page
        self.problem = problem


class WritebackRefused(ArconnectError):
    """A write-back plan cannot run (a missing ERP object, the group limit, a stale or
    unapproved plan); nothing was written. ``str(err)`` names what and the fix."""
