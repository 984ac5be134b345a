"""The port between the engine and the platforms: the Adapter protocol and its value types.

The engine (``arconnect.sync``) depends on these names only, never on a platform package.
An adapter knows HTTP paths and the wire format; it never touches the store, never retries and
never sleeps — the client it is handed owns authentication, retries and pacing.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import requests

Record = dict[str, Any]
Cursor = dict[str, Any]


class HttpClient(Protocol):
    """What an adapter may ask of the engine's HTTP client (``arconnect.http.ApiClient``)."""

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
    ) -> requests.Response:
        """Send one request to ``path`` under the tenant's API base URL, authenticated, paced
        and retried; returns the final response (2xx/4xx) or raises an ArconnectError."""
        ...


@dataclass(frozen=True)
class TenantInfo:
    """What an adapter needs to know about the tenant it reads from."""

    external_id: str
    name: str = ""
    base_currency: str | None = None
    timezone: str | None = None

    @property
    def label(self) -> str:
        """How messages name the tenant: ``Name (id)``."""
        return f"{self.name} ({self.external_id})" if self.name else self.external_id


@dataclass
class Page:
    """One page of raw records, and the cursor to store once its rows are committed.

    Attributes:
        records: raw records in the platform's wire format (parsed JSON objects).
        next_cursor: the cursor the engine commits together with this page's rows.
        number: the page number as the platform counts it (for error messages).
        done: True when this is the last page of the run for its entity.
    """

    records: list[Record]
    next_cursor: Cursor
    number: int | str
    done: bool = False
    item_count: int | None = None


@dataclass(frozen=True)
class OrgInfo:
    """Organisation-level facts read from the platform (base currency, time zone)."""

    name: str
    base_currency: str
    timezone: str
    extra: dict[str, Any] = field(default_factory=dict)


class Adapter(Protocol):
    """A platform adapter: declared endpoints, a fetch loop per entity, later a writer.

    Implementations are small classes composed of endpoint declarations and helpers in the
    platform's ``_common.py``; no base-class chains.
    """

    platform: str
    entities: Sequence[str]

    def organisation(self, client: HttpClient, tenant: TenantInfo) -> OrgInfo:
        """Read the organisation's base currency and time zone."""
        ...

    def fetch(
        self, client: HttpClient, tenant: TenantInfo, entity: str, cursor: Cursor | None
    ) -> Iterator[Page]:
        """Yield pages of ``entity`` changed since ``cursor`` (None: everything).

        ``fetch`` never persists state: the engine stores ``page.next_cursor`` in the same
        transaction as the page's rows, and passes the stored cursor back on the next run.
        """
        ...


@runtime_checkable
class Reconciling(Protocol):
    """Optional adapter methods for reads that no incremental cursor catches."""

    def fetch_ids(
        self, client: HttpClient, tenant: TenantInfo, entity: str, ids: Sequence[str]
    ) -> Iterator[Page]:
        """Yield the records of ``entity`` with these ids (cursors untouched)."""
        ...

    def fetch_open(self, client: HttpClient, tenant: TenantInfo, entity: str) -> Iterator[Page]:
        """Yield every still-open document of ``entity`` (cursors untouched)."""
        ...
