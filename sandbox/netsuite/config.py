"""What shapes a NetSuite sandbox run: the accounts to generate and how the emulator behaves.

Behaviours no public NetSuite document pins down are switches here, each marked "assumed" in the
fidelity table of ``sandbox/README.md``, so a test can flip one and show the product copes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from arconnect.sandbox.common.config import CompanySize, EmulatorConfig

# Redirect URIs an integration record may hold: https or a custom scheme, never http
# (section "Authorization Code Grant Flow" of
# https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_157771733782.html).
DEFAULT_REDIRECT_URIS = (
    "https://localhost:8765/callback/netsuite",
    "https://localhost:8000/callback/netsuite",
    "arconnect://callback/netsuite",
)


def host_form(account_id: str) -> str:
    """The account id as host names carry it: lower case, ``_`` as ``-`` (``1234567_SB1`` ─▶
    ``1234567-sb1``)."""
    return account_id.strip().lower().replace("_", "-")


@dataclass
class AccountSpec(CompanySize):
    """One synthetic NetSuite account (sizes as the other sandboxes meet them).

    Attributes:
        account_id: the account id in its original form (``1234567_SB1``: a sandbox account).
        name: the company name.
        timezone: the account's time zone: SuiteQL renders and reads datetimes in it.
        base_currency: the root subsidiary's currency (ISO code).
        oneworld: the account has subsidiaries (NetSuite OneWorld); else no ``subsidiary`` table.
        subsidiaries: subsidiary names under the root (OneWorld).
        foreign_currency: when set, the last subsidiary keeps its books in this currency (its
            transactions' ``exchangerate`` is relative to it); by default every subsidiary
            keeps the base currency.
        concurrency_limit: concurrent requests the account allows, shared by every
            integration (over it: 429).
        role_is_admin: the integration's role is an administrator (may read governanceLimits).
        dunning_suiteapp: the Dunning Letters SuiteApp is installed (its customer fields and
            procedure records exist).
        custom_fields: the account's own custom entity fields on customers: script id ─▶
            ``text`` or ``list``.
        categories: the customer categories the account already has.
        dunning_procedures: dunning procedure name ─▶ internal id (SuiteApp installed).
        dunning_manager: the employee id every procedure names as its default dunning manager.
    """

    account_id: str = "1234567_SB1"
    name: str = "Honeycomb Mfg (sandbox)"
    timezone: str = "America/Los_Angeles"
    base_currency: str = "USD"
    oneworld: bool = True
    subsidiaries: tuple[str, ...] = ("Honeycomb US", "Honeycomb Canada")
    foreign_currency: str | None = None
    concurrency_limit: int = 15
    role_is_admin: bool = True
    dunning_suiteapp: bool = True
    custom_fields: dict[str, str] = field(
        default_factory=lambda: {"custentity_ar_segment": "text"})
    categories: tuple[str, ...] = ("Retail", "Wholesale")
    dunning_procedures: dict[str, str] = field(
        default_factory=lambda: {"Standard": "1", "Gentle": "2", "Firm": "3"})
    dunning_manager: str = "-5"


@dataclass
class NsConfig(EmulatorConfig):
    """Everything that shapes a NetSuite sandbox run: :class:`~arconnect.sandbox.common.
    config.EmulatorConfig`'s settings (``seed``, ``start``, ``strict_limits``, ``auto_approve``,
    ``client_id`` / ``client_secret`` of the integration record's OAuth 2.0 client) and these.

    Attributes:
        accounts: the accounts served.
        clock_scale: sandbox seconds per real second.
        redirect_uris: the integration record's redirect URIs (matched exactly).
        refresh_token_days: lifetime of an authorization-code refresh token; after it the grant
            is dead (NetSuite's examples show 7 days).
        tba_consumer_key / tba_consumer_secret: the integration record's token-based
            authentication consumer pair.
        row_cap: the most rows one SuiteQL result set reaches by offset paging (NetSuite:
            100,000 without SuiteAnalytics Connect); tests lower it.
        omit_null_columns: SuiteQL leaves null columns out of an item (assumed).
        rest_429_body: what a 429 over the concurrency limit carries: ``json`` (NetSuite's
            error shape) or ``empty`` (assumed).
        credit_hold_values: the ids of ``creditholdoverride`` (assumed ``AUTO``/``ON``/``OFF``).
        deleted_columns: the ``deletedrecord`` columns (record id, record type, name, deleted
            date; assumed names).
    """

    accounts: list[AccountSpec] = field(default_factory=lambda: [AccountSpec()])
    clock_scale: float = 1.0
    client_id: str = "arconnect-netsuite-demo"
    client_secret: str = "netsuite-demo-secret"
    redirect_uris: list[str] = field(default_factory=lambda: list(DEFAULT_REDIRECT_URIS))
    refresh_token_days: int = 7
    tba_consumer_key: str = "arconnect-demo-ck"
    tba_consumer_secret: str = "arconnect-demo-cs"
    row_cap: int = 100_000
    omit_null_columns: bool = True
    rest_429_body: str = "json"
    credit_hold_values: tuple[str, str, str] = ("AUTO", "ON", "OFF")
    deleted_columns: tuple[str, str, str, str] = ("recordid", "recordtype", "name",
                                                   "deleteddate")
