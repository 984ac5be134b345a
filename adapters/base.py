"""The port between the engine and the platforms: the Adapter protocol and its value types.

The engine (``arconnect.sync``) depends on these names only, never on a platform package.
An adapter knows HTTP paths and the wire format; it never touches the store, never retries and
never sleeps — the client it is handed owns authentication, retries and pacing.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

import requests

from arconnect.errors import ConfigError

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
    """Optional adapter methods for reads that no incremental cursor catches.

    Attributes:
        customer_entity: the entity read by id for customers that documents name but the
            store lacks.
        open_entities: the entities whose open documents a reconcile run re-reads in full
            (changes the platform makes without a new timestamp).
    """

    customer_entity: str
    open_entities: Sequence[str]

    def fetch_ids(
        self, client: HttpClient, tenant: TenantInfo, entity: str, ids: Sequence[str]
    ) -> Iterator[Page]:
        """Yield the records of ``entity`` with these ids (cursors untouched)."""
        ...

    def fetch_open(self, client: HttpClient, tenant: TenantInfo, entity: str) -> Iterator[Page]:
        """Yield every still-open document of ``entity`` (cursors untouched)."""
        ...


@runtime_checkable
class Sweeping(Protocol):
    """Optional: finding deletes no incremental read reports (QBO's change data capture
    reaches 30 days back; older deletes only show as ids missing from a full listing)."""

    def delete_sweep(self, client: HttpClient, tenant: TenantInfo, entity: str,
                     known_ids: Sequence[str]) -> Iterator[Page]:
        """Yield tombstones (records the entity's mapping reads as deletes) for the ids in
        ``known_ids`` that ``entity`` no longer lists; nothing unless the whole listing was
        read."""
        ...


# -- the platform port ------------------------------------------------------------------------
#
# One object per platform gives the engine everything it needs of that platform; the engine
# finds it by ``tenant.platform`` in the registry (``arconnect.platforms``), the only engine
# module that imports a platform package.

TokenSet = dict[str, Any]
"""A token response with an absolute ``expires_at`` (aware UTC datetime or None)."""


@dataclass(frozen=True)
class ConsentRequest:
    """One consent request: where to send the user, and what to check when they come back.

    Attributes:
        url: the consent page address (carries ``state``, and a PKCE challenge where the
            platform takes one).
        state: the anti-forgery value the redirect must echo.
        code_verifier: the PKCE secret the code exchange proves ("" without PKCE).
    """

    url: str
    state: str
    code_verifier: str = ""


@dataclass(frozen=True)
class Discovered:
    """A tenant a grant reaches: a Xero organisation, a QuickBooks company (realm), a NetSuite
    account.

    Attributes:
        external_id: the platform's id of the tenant (Xero tenant id, QBO realm id, ...).
        name: its name as the platform shows it.
        connection_id: the platform's id of the link between grant and tenant, where it has
            one (Xero's connection id), for a per-tenant disconnect.
    """

    external_id: str
    name: str
    connection_id: str | None = None


class OAuthClient(Protocol):
    """A platform's OAuth client for one app (client id and secret): consent, code exchange,
    refresh, revocation. It speaks HTTP only: it never stores or logs a token."""

    def authorization_url(self, redirect_uri: str, scopes: str | None = None) -> ConsentRequest:
        """The consent URL and the state (and PKCE verifier) to check on the way back."""
        ...

    def exchange_code(
        self, request: ConsentRequest, code: str, state: str, redirect_uri: str
    ) -> TokenSet:
        """The token set for the redirect's authorization code; AuthError when ``state`` is not
        the request's (compare with ``hmac.compare_digest``) or the platform refuses the code."""
        ...

    def refresh(self, refresh_token: str) -> TokenSet:
        """A new token set; raises ReconnectRequired when the platform refuses the grant."""
        ...

    def revoke(self, token: str) -> None:
        """Revoke the grant (the refresh token, or the access token where that is all)."""
        ...


@dataclass(frozen=True)
class ErrorVerdict:
    """The platform's reading of an HTTP response the engine would otherwise retry or return.

    Attributes:
        action: ``retry`` (back off and send again), ``rate_limited`` (wait, then send again),
            ``quota`` (a daily or monthly budget is spent: stop the tenant's run), ``refresh``
            (the access token is stale: refresh once, then send again), ``reconnect`` (the
            grant is dead), ``config`` (a setting or a scope is wrong: stop, tell the fix),
            ``data`` (this request's data was refused: return it to the caller), ``return``.
        message: the platform's own words, for the error the user sees.
        retry_after: seconds to wait, where the platform says.
        concurrency: the limit hit is the calls in flight (NetSuite's account-wide concurrency,
            shared with every other integration): the pacer lowers its cap by one.
    """

    action: str
    message: str | None = None
    retry_after: float | None = None
    concurrency: bool = False


@dataclass(frozen=True)
class RateInfo:
    """What a response's headers say about the tenant's remaining budget (None: not said).

    Attributes:
        minute: calls left in the current minute window.
        day: calls left today.
        app_minute: calls left in the app-wide minute window.
        day_spent: the server says the daily limit is spent.
        retry_after: seconds until the spent limit resets, where the server says.
        concurrency: the calls in flight the platform allows the tenant, where it says (read
            from a response body, e.g. NetSuite's ``governanceLimits``); it replaces the
            configured cap, up or down.
        concurrency_exceeded: the server refused a call for too many in flight: the cap goes
            down by one (and back up slowly while no refusal follows).
    """

    minute: int | None = None
    day: int | None = None
    app_minute: int | None = None
    day_spent: bool = False
    retry_after: float | None = None
    concurrency: int | None = None
    concurrency_exceeded: bool = False


class Platform(Protocol):
    """Everything the engine needs of one platform.

    Attributes:
        name: the registry key and ``tenant.platform`` (``xero``, ``quickbooks``, ``netsuite``).
        label: how people name it (``Xero``, ``QuickBooks Online``).
        tenant_word: what a tenant is called on the platform (``organisation``, ``company``).
        customer_entity: the entity whose records are the customers (refreshed right before a
            write-back plan, so drift is judged on current values).
        idle_expiry_days: days an unused refresh token lives (Xero 60, QBO 100); a keep-alive
            refreshes idle grants before then. None: the grant cannot be kept alive.
        per_tenant_disconnect: the platform can drop one tenant of a grant (Xero's
            connections); otherwise disconnecting a tenant revokes its grant.
        env_prefix: the prefix of its settings (``ARCONNECT_XERO``, ``ARCONNECT_QBO``):
            ``<prefix>_CLIENT_ID``, ``_CLIENT_SECRET``, ``_REFRESH_TOKEN``, ``_REDIRECT_URI``.
        tenant_id_option: what the platform calls a tenant's id on the command line
            (``tenant-id``, ``realm-id``).
        callback_params: redirect query parameters besides ``code`` and ``state`` that the
            discovery needs (QuickBooks: ``realmId``).
    """

    name: str
    label: str
    tenant_word: str
    customer_entity: str
    idle_expiry_days: int | None
    per_tenant_disconnect: bool
    env_prefix: str
    tenant_id_option: str
    callback_params: tuple[str, ...]

    def configured_app(self, settings: Any) -> tuple[str | None, str | None]:
        """The app's client id and secret as configured (None where unset)."""
        ...

    def redirect_uri(self, settings: Any) -> str:
        """The configured OAuth redirect URI."""
        ...

    def adapter(self, settings: Any) -> Adapter:
        """The reader."""
        ...

    def writer(self, settings: Any, outbound: Any) -> Any:
        """The write-back writer for the compiled ``outbound:`` mapping section."""
        ...

    def limits(self, settings: Any) -> Any:
        """The tenant's call limits (``arconnect.pacing.Limits``)."""
        ...

    def base_url(self, settings: Any, tenant: TenantInfo) -> str:
        """The API root a tenant's request paths are joined to."""
        ...

    def headers(self, tenant: TenantInfo) -> dict[str, str]:
        """Headers on every request of the tenant (Xero's ``xero-tenant-id``)."""
        ...

    def signer(self, settings: Any) -> Any:
        """How a request is authenticated (``arconnect.http.Signer``: ``(method, url, params,
        token) -> headers``), or None for an OAuth 2.0 bearer token (NetSuite's token-based
        authentication signs each request with OAuth 1.0a instead)."""
        ...

    def oauth(self, settings: Any, client_id: str, client_secret: str,
              now: Any = None, tenant: str | None = None) -> OAuthClient:
        """The OAuth client of an app (``now``: the clock for ``expires_at``; ``tenant``: the
        tenant the consent is for, where the platform's OAuth endpoints live on the tenant's
        own host — NetSuite's account — and None where they do not)."""
        ...

    def headless_grant(self, settings: Any, options: Mapping[str, str | None]
                       ) -> tuple[str, str, str]:
        """``(client_id, client_secret, refresh_token)`` to store for ``tenants add`` from its
        options (``account``, ``client_id``, ``client_secret``, ``refresh_token``, and the
        options of other auth schemes: ``certificate_id``, ``private_key``, ``consumer_key``,
        ``consumer_secret``, ``token_id``, ``token_secret``); ConfigError naming an option
        that is missing, or that this platform does not take."""
        ...

    def app_credentials(self, settings: Any) -> tuple[str, str]:
        """The configured app's client id and secret; ConfigError naming the settings."""
        ...

    def discover(self, oauth: OAuthClient, token: TokenSet,
                 callback: Mapping[str, str]) -> list[Discovered]:
        """The tenants a new grant reaches (Xero: ``GET /connections``; QBO: the ``realmId``
        of the consent redirect, in ``callback``)."""
        ...

    def remove_connection(self, oauth: OAuthClient, access_token: str,
                          connection_id: str) -> bool:
        """Drop one tenant from a grant (only when ``per_tenant_disconnect``): True when the
        platform removed it, False when it no longer had it."""
        ...

    def parse_error(self, response: requests.Response) -> ErrorVerdict | None:
        """The platform's reading of a non-2xx response; None leaves the engine's default
        (401 refresh, 429 wait, 5xx back off, other 4xx return)."""
        ...

    def explain_401(self, settings: Any, tenant_name: str,
                    granted_scopes: Any) -> Any:
        """An ``arconnect.http.Explain401`` for 401s no refresh cures (a missing scope), or
        None. ``granted_scopes()`` reads the scopes the stored grant holds."""
        ...

    def rate_info(self, headers: Mapping[str, str]) -> RateInfo | None:
        """The remaining budget the response's headers state, or None."""
        ...

    def error_message(self, response: requests.Response) -> str:
        """The platform's message in a 4xx body, for errors the user sees."""
        ...

    def transforms(self) -> Mapping[str, Any]:
        """Mapping transforms the platform adds (name -> ``arconnect.transforms.Transform``)."""
        ...

    def verify_webhook(self, settings: Any, body: bytes, headers: Mapping[str, str]) -> bool:
        """True when a webhook delivery is signed with the app's key."""
        ...


OAUTH2_OPTIONS = ("client_id", "client_secret", "refresh_token")
"""The ``tenants add`` options of a plain OAuth 2.0 grant."""


def oauth2_headless_grant(label: str, options: Mapping[str, str | None]
                          ) -> tuple[str, str, str]:
    """:meth:`Platform.headless_grant` of a platform whose grants are an app's client id and
    secret with a refresh token (Xero, QuickBooks Online).

    Raises:
        ConfigError: an option of another auth scheme is given, or one of the three is missing.
    """
    foreign = [k for k, v in options.items() if v and k not in OAUTH2_OPTIONS
               and k != "account"]
    if foreign:
        names = ", ".join("--" + k.replace("_", "-") for k in foreign)
        raise ConfigError(f"{names}: {label} grants take a client id, a client secret and a "
                          "refresh token only. Nothing was changed")
    missing = [k for k in OAUTH2_OPTIONS if not options.get(k)]
    if missing:
        raise ConfigError(f"--{missing[0].replace('_', '-')} is missing for a {label} grant. "
                          "Nothing was changed")
    return (str(options["client_id"]), str(options["client_secret"]),
            str(options["refresh_token"]))


# -- the write side ---------------------------------------------------------------------------
#
# Write-back (``arconnect.writeback``) plans operations per customer and *slot* and hands them to
# the platform's :class:`Writer`, which turns them into the fewest calls the platform allows,
# sends each one and says how the platform answered. The engine owns plans, budgets, audit rows
# and idempotency keys; a writer owns the wire format and never touches the store.


class SlotKind(StrEnum):
    """What kind of thing a slot is in the ERP.

    * ``membership``: the customer is in one of a set of containers, or in none (Xero contact
      groups); containers are objects of their own, created by the writer when allowed.
    * ``reference``: a field of the customer that points at a named object (QBO
      ``CustomerTypeRef`` and ``SalesTermRef``; NetSuite ``category``, ``terms``).
    * ``scalar``: a field holding a value (NetSuite ``creditLimit``, a custom field, Xero's
      sales payment terms).
    """

    MEMBERSHIP = "membership"
    REFERENCE = "reference"
    SCALAR = "scalar"


@dataclass(frozen=True)
class SlotSpec:
    """One slot as a writer sees it (compiled from the mapping's ``outbound:`` section).

    Attributes:
        key: how plans, audit rows and ``writeback_state`` name the slot (``group:segment``,
            ``terms``, ``field:segment``, ``field:credit_limit``).
        kind: membership, reference or scalar.
        target: where it lands on the platform (``CustomerTypeRef``, ``SalesTermRef``, a custom
            field's label ...); "" for the platform's default.
        names: value (segment, tag ...) -> the name of the object it stands for (membership and
            named references).
        create: write-back may create missing objects (else the ERP admin must).
        where: ``file:line`` of the slot in the mapping, for error messages.
    """

    key: str
    kind: SlotKind
    target: str = ""
    names: Mapping[str, str] = field(default_factory=dict)
    create: bool = True
    where: str = ""


WriteOp = dict[str, Any]
"""A planned operation, as stored in a plan (JSON): ``action`` (``group.set``, ``group.create``,
``group.delete``, ``terms.set``, ``terms.release``, ``field.set``, ``field.release``,
``object.create``, ``note.add``), ``customer`` (ERP id or None), ``name``, ``slot`` (a
:attr:`SlotSpec.key`, or ``object``), ``before``, ``after``, ``reason``, ``priority`` (open balance:
larger first); ``remove`` (membership: containers to leave), ``original`` and ``restore`` (value
slots: the customer's own value, and whether this puts it back), ``text`` (notes), ``target``
(``object.create``: the slot key the object is for)."""


@dataclass(frozen=True)
class RefTarget:
    """A reference field a writer can set, and the objects it points at.

    Attributes:
        creatable: whether the API can create a missing object (QBO terms: yes; customer
            types: no).
        max_name: the longest object name the platform takes (None: no known limit).
        create_where: where an admin creates one by hand, as the ERP's menus name it.
    """

    creatable: bool
    max_name: int | None = None
    create_where: str = ""


@dataclass(frozen=True)
class WriteTargets:
    """What a platform's writer can write: the mapping's ``outbound:`` section is checked
    against it (``file:line`` errors) before anything is planned.

    Attributes:
        membership: True when the platform has containers customers join (Xero groups).
        references: reference field name -> :class:`RefTarget` (``reference`` slots may name
            these as ``target``).
        terms: how payment terms are written (``scalar`` value, ``reference`` to a term object),
            None when the writer cannot write terms.
        limit_note: whether a credit limit can be noted in the customer's history.
        limit_field: whether a credit limit can be written to a field (``credit_limit.field``).
        limit_field_hint: what the ``field`` names on this platform, for messages.
        terms_types: the accepted ``terms.type`` values (first: the default).
        max_batch: the most operations one call may carry (``batch_size`` is capped to it).
    """

    membership: bool = False
    references: Mapping[str, RefTarget] = field(default_factory=dict)
    terms: SlotKind | None = None
    limit_note: bool = False
    limit_field: bool = False
    limit_field_hint: str = ""
    terms_types: tuple[str, ...] = ()
    max_batch: int = 50


@dataclass
class ErpState:
    """What the ERP holds now, as a writer read it for one plan.

    Attributes:
        objects: per slot key, the objects its values may point at: name -> id (membership
            containers, customer types, terms).
        members: membership container name -> ids of its members (lower case).
        values: customer id -> slot key -> the value the ERP holds now (reference slots: the
            object's name; scalar slots: the value; None: empty).
        unavailable: slot key -> why the platform cannot take it (the plan lists the slot as
            not written, with this reason, instead of failing).
        calls: read calls made.
        extra: the writer's own per-run facts (QBO ``SyncToken`` by customer, ...).
    """

    objects: dict[str, dict[str, str]] = field(default_factory=dict)
    members: dict[str, set[str]] = field(default_factory=dict)
    values: dict[str, dict[str, Any]] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)
    calls: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def value(self, customer: str, slot: str, default: Any = None) -> Any:
        """The value of ``slot`` the ERP holds for ``customer`` (``default`` when not read)."""
        return self.values.get(customer, {}).get(slot, default)


@dataclass
class WriteCall:
    """One API call and the operations (indexes into the plan) it carries.

    Attributes:
        method, path, body, params: the request (``path`` relative to the API root the
            writer's :meth:`Writer.send` resolves).
        label: what the call does (``group.add``, ``group.clear``, ``terms.set``, ``batch``);
            a ``group.clear`` is logged before it is sent (a run cut off after it knows to
            refill the container).
        ops: indexes of the plan operations the call carries.
        group: the container (or object) name the call targets, when it targets one.
    """

    method: str
    path: str
    body: Any
    label: str
    ops: list[int] = field(default_factory=list)
    group: str | None = None
    params: dict[str, str] | None = None


@dataclass
class WriteUnit:
    """Calls that go together (a container cleared is refilled in the same unit); the budget
    starts a unit only when it can finish it."""

    calls: list[WriteCall]
    priority: float


@dataclass
class CallOutcome:
    """How the platform answered one :class:`WriteCall`.

    Attributes:
        status: the HTTP status of the (last) request.
        ok: the call went through (its operations are done unless ``refused``).
        message: the platform's words when the call failed as a whole.
        refused: op index -> the platform's message for operations refused inside a call that
            went through (Xero's per-element ``ValidationErrors``, QBO's per-item ``Fault``);
            key None: refused elements no operation stands for.
        created: objects the call created: name -> id.
        write_calls: write requests made (a QBO batch retried for stale items counts twice).
        read_calls: read requests made to interpret or retry the answer.
    """

    status: int
    ok: bool
    message: str | None = None
    refused: dict[int | None, str] = field(default_factory=dict)
    created: dict[str, str] = field(default_factory=dict)
    write_calls: int = 1
    read_calls: int = 0


@runtime_checkable
class Writer(Protocol):
    """A platform's write-back: reads what the ERP holds for the slots, compiles planned
    operations into the fewest calls, sends them. It never touches the store and never retries
    a call the engine's client retries (a writer may re-send once what the platform asks to be
    re-sent, e.g. QBO's stale ``SyncToken``).

    Attributes:
        platform: the platform name.
        batch_size: the most operations one call carries.
        targets: what it can write (the outbound mapping is checked against it).
        object_kind: how ``writeback_object`` names the containers it creates.
    """

    platform: str
    batch_size: int
    targets: WriteTargets
    object_kind: str

    def read_state(self, client: HttpClient, slots: Sequence[SlotSpec],
                   customers: Mapping[str, Mapping[str, Any]]) -> ErpState:
        """What the ERP holds for ``slots``; ``customers`` (id -> the stored customer row:
        ``terms_days``, ``terms_type``, ``extra``) as the last sync left them."""
        ...

    def terms_value(self, days: int, terms_type: str, erp: ErpState) -> Any:
        """The value of the ``terms`` slot for net ``days``, as :meth:`read_state` reports
        terms (so the two compare)."""
        ...

    def refusal(self, tenant: str, slots: Sequence[SlotSpec], erp: ErpState,
                needed: Mapping[str, set[str]]) -> str | None:
        """Why the plan cannot be carried out before any write (objects an admin must create,
        a platform limit), or None. ``needed``: slot key -> names of missing objects."""
        ...

    def resolve(self, call: WriteCall, erp: ErpState) -> None:
        """Put the ids of objects created earlier in the run into ``call`` (before its
        idempotency key is derived and it is logged or sent)."""
        ...

    def compile(self, ops: Sequence[WriteOp], erp: ErpState,
                untouchable: set[str]) -> list[WriteUnit]:
        """The fewest calls that carry out ``ops``, in units by priority (``WriteCall.ops``
        index ``ops``); ``untouchable``: customers no container-wide call may touch."""
        ...

    def send(self, client: HttpClient, call: WriteCall, key: str, ops: Sequence[WriteOp],
             erp: ErpState) -> CallOutcome:
        """Send ``call`` (``key``: the idempotency key the engine derived from the plan and the
        call) and read the answer; ``ops`` is the whole plan (``call.ops`` index it); objects
        created are added to ``erp.objects``."""
        ...

    def min_calls(self, ops: Sequence[WriteOp], erp: ErpState) -> int:
        """The fewest write calls ``ops`` can take (the benchmark's yardstick)."""
        ...

    def daily_budget(self, settings: Any) -> int | None:
        """The write calls a tenant may make in a day (None: no daily limit)."""
        ...
