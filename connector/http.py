"""The HTTP client every adapter talks through: authenticated, paced and retried in one place.

One tenacity ``Retrying`` wraps the send; what happens after a response is data — the
status-to-action table :data:`STATUS_ACTIONS` (in the manner of Airbyte's error handlers):

    ======================  =======================================================
    status                  action
    ======================  =======================================================
    2xx, 3xx, other 4xx     RETURN: the adapter decides what the response means
    401                     REFRESH: refresh the token once (passing the stale one),
                            retry once; a second 401 raises AuthError. A 401 the
                            platform's ``explain_401`` recognises as one no new token
                            cures (a missing scope) raises its error at once
    429                     RATE_LIMITED: wait ``Retry-After`` clock seconds (back off
                            without one), retry (at most :data:`MAX_RATE_LIMIT_WAITS`
                            times per request)
    5xx, connection error,  BACKOFF: exponential backoff with full jitter (0.5 s base,
    timeout                 30 s cap) up to ``max_attempts``, then UpstreamError
    ======================  =======================================================

The platform refines the table (:meth:`arconnect.adapters.base.Platform.parse_error`): its
reading of a response — a spent daily or monthly budget (DAILY_LIMIT: RateLimitedDaily at once,
no retry), a dead grant, a configuration error, a refusal of the data — wins over the status.
How a request is signed is the platform's too (:data:`Signer`; a bearer token by default).

No urllib3 ``Retry`` sits under it (:func:`make_session`), and adapters never retry. Waits run
on the scaled clock (:mod:`arconnect.clock`). Every request goes through the tenant's pacer
(:mod:`arconnect.pacing`) and reports the server's rate-limit headers back to it.

Authorization headers and tokens are never logged and never put in exception messages.
"""

from __future__ import annotations

import email.utils
import enum
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import requests
from requests.adapters import HTTPAdapter
from tenacity import RetryCallState, Retrying, retry_if_exception_type

from arconnect import __version__
from arconnect.adapters.base import ErrorVerdict, RateInfo
from arconnect.clock import Clock, get_clock
from arconnect.errors import (
    ArconnectError,
    AuthError,
    ConfigError,
    RateLimitedDaily,
    ReconnectRequired,
    UpstreamError,
)
from arconnect.pacing import Pacing, describe_wait

log = logging.getLogger(__name__)

USER_AGENT = f"arconnect/{__version__}"
BACKOFF_BASE = 0.5  # clock seconds before the first retry at most (full jitter: 0..base)
BACKOFF_CAP = 30.0  # clock seconds: the longest single backoff
MAX_RATE_LIMIT_WAITS = 20  # 429 waits per request; they do not use up max_attempts


Explain401 = Callable[[str, str, requests.Response], ArconnectError | None]
"""``(method, path, response) -> error``: the error to raise for a 401 that refreshing the token
cannot cure (Xero's ``AuthorizationUnsuccessful``: the grant lacks a scope), or None when a
refresh may help (an expired or revoked token)."""


ParseError = Callable[[requests.Response], ErrorVerdict | None]
"""The platform's reading of a non-2xx response (``Platform.parse_error``)."""
ReadRateInfo = Callable[[Mapping[str, str]], RateInfo | None]
"""What a response's headers say about the budget left (``Platform.rate_info``)."""
Signer = Callable[[str, str, "Mapping[str, Any] | None", str], dict[str, str]]
"""``(method, url, params, token) -> headers`` that authenticate one request."""


def bearer(method: str, url: str, params: Mapping[str, Any] | None, token: str
           ) -> dict[str, str]:
    """The OAuth 2.0 bearer header (RFC 6750 section 2.1)."""
    return {"Authorization": f"Bearer {token}"}


class TokenProvider(Protocol):
    """The token manager of one grant (``arconnect.auth.tokens.TokenManager``)."""

    def access_token(self) -> str:
        """A currently valid access token."""
        ...

    def refresh(self, stale_access_token: str | None) -> str:
        """A new access token; ``stale_access_token`` is the one the server refused."""
        ...


class Action(enum.Enum):
    """What the retry policy does with a response or a failed send."""

    RETURN = "return"
    REFRESH = "refresh"
    RATE_LIMITED = "rate_limited"
    DAILY_LIMIT = "daily_limit"
    BACKOFF = "backoff"


# Status ranges to actions, first match wins; anything else is RETURN.
STATUS_ACTIONS: tuple[tuple[range, Action], ...] = (
    (range(401, 402), Action.REFRESH),
    (range(429, 430), Action.RATE_LIMITED),
    (range(500, 600), Action.BACKOFF),
)
# A platform's verdict (ErrorVerdict.action) to the action taken; reconnect, config and data
# are handled in ApiClient._decide.
VERDICT_ACTIONS: Mapping[str, Action] = {
    "retry": Action.BACKOFF,
    "rate_limited": Action.RATE_LIMITED,
    "quota": Action.DAILY_LIMIT,
    "refresh": Action.REFRESH,
    "return": Action.RETURN,
    "data": Action.RETURN,
}
# Send failures that are worth another try (the request may not have reached the server).
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
)


def classify(response: requests.Response, verdict: ErrorVerdict | None = None) -> Action:
    """The action the platform's ``verdict`` (:data:`VERDICT_ACTIONS`), else
    :data:`STATUS_ACTIONS`, give a response."""
    if verdict is not None and verdict.action in VERDICT_ACTIONS:
        return VERDICT_ACTIONS[verdict.action]
    status = response.status_code
    for statuses, action in STATUS_ACTIONS:
        if status in statuses:
            return action
    return Action.RETURN


def retry_after_seconds(response: requests.Response) -> float | None:
    """``Retry-After`` as seconds (delta-seconds or an HTTP date); None when absent or bad."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)


def backoff_seconds(failures: int, rng: random.Random | None = None) -> float:
    """Full-jitter exponential backoff after ``failures`` consecutive failures (>= 1):
    uniform in ``[0, min(BACKOFF_CAP, BACKOFF_BASE * 2**(failures - 1))]`` clock seconds."""
    high = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** max(failures - 1, 0))
    return (rng or random).uniform(0.0, high)


def make_session(pool_size: int = 10) -> requests.Session:
    """The one ``requests.Session`` factory: a keep-alive pool of ``pool_size`` connections per
    host (size it for the tenant's concurrency), our User-Agent and no urllib3 retries — the
    client's tenacity policy is the only retry layer."""
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=max(pool_size, 1), max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    return session


class _Retry(Exception):
    """An attempt that asks for another one (internal: never leaves ApiClient)."""

    def __init__(self, action: Action, delay: float, status: int | None, reason: str) -> None:
        super().__init__(reason)
        self.action = action
        self.delay = delay
        self.status = status
        self.reason = reason


@dataclass
class _RequestState:
    """The budgets of one ``request`` call."""

    failures: int = 0  # 5xx / connection errors / timeouts so far
    rate_limit_waits: int = 0
    refreshed: bool = False
    fresh_token: str | None = None  # the refreshed token, for the retry right after a 401


class ApiClient:
    """The engine's HTTP client for one tenant (implements ``adapters.base.HttpClient``).

    Args:
        base_url: the API root; request paths are joined to it.
        token_provider: the grant's token manager (``access_token()``, ``refresh(stale)``).
        default_headers: headers on every request (e.g. Xero's ``xero-tenant-id``).
        pacer: the tenant's pacer (:func:`arconnect.pacing.get_pacer`).
        clock: the clock retry waits sleep on; the process clock when None.
        timeout: seconds per send (connect and read).
        max_attempts: sends per request when they fail with 5xx, connection errors or
            timeouts; then UpstreamError.
        on_response: called with every response received (including retried ones).
        session: the session to send with; :func:`make_session` sized for the pacer when None.
        explain_401: the platform's reading of a 401 (:data:`Explain401`); without it every
            401 is treated as a stale token.
        parse_error: the platform's reading of a non-2xx response (:data:`ParseError`).
        rate_info: reads what the headers say about the budget left (:data:`ReadRateInfo`).
        sign: how a request is authenticated (:data:`Signer`; a bearer token by default).
        max_calls: calls this client may still send (what is left of a monthly budget); the
            next one raises RateLimitedDaily.

    The client owns authentication, pacing and retries; it never interprets a body. Stats
    (``calls``, ``http_429s``, ``retries``, ``refreshes``) count for the client's lifetime and
    are safe to read from any thread.
    """

    def __init__(
        self,
        base_url: str,
        *,
        token_provider: TokenProvider,
        default_headers: Mapping[str, str] | None = None,
        pacer: Pacing,
        clock: Clock | None = None,
        timeout: float = 60.0,
        max_attempts: int = 6,
        on_response: Callable[[requests.Response], None] | None = None,
        session: requests.Session | None = None,
        explain_401: Explain401 | None = None,
        parse_error: ParseError | None = None,
        rate_info: ReadRateInfo | None = None,
        sign: Signer = bearer,
        max_calls: int | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._tokens = token_provider
        self._default_headers = dict(default_headers or {})
        self.pacer = pacer
        self._clock = clock or get_clock()
        self.timeout = timeout
        self.max_attempts = max(int(max_attempts), 1)
        self._on_response = on_response
        self._explain_401 = explain_401
        self._parse_error = parse_error
        self._rate_info = rate_info
        self._sign = sign
        self.max_calls = max_calls
        self._session = session or make_session(pacer.limits.concurrency)
        self._stats_lock = threading.Lock()
        self._calls = 0
        self._http_429s = 0
        self._retries = 0
        self._refreshes = 0

    # -- stats ----------------------------------------------------------------------------------

    @property
    def calls(self) -> int:
        """Requests sent (every attempt, retried ones included)."""
        return self._calls

    @property
    def http_429s(self) -> int:
        """429 responses received."""
        return self._http_429s

    @property
    def retries(self) -> int:
        """Attempts that were retried (after a 401, a 429, a 5xx or a failed send)."""
        return self._retries

    @property
    def refreshes(self) -> int:
        """Token refreshes after a 401."""
        return self._refreshes

    def _count(self, name: str) -> None:
        with self._stats_lock:
            setattr(self, name, getattr(self, name) + 1)

    # -- requests -------------------------------------------------------------------------------

    def observe(self, info: RateInfo) -> None:
        """Pass on what the platform said about the tenant's limits outside response headers
        (an adapter reading NetSuite's ``governanceLimits``) to the pacer."""
        self.pacer.observe(info)

    def url(self, path: str) -> str:
        """The absolute URL of ``path`` under the base URL."""
        return f"{self.base_url}/{path.lstrip('/')}"

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
    ) -> requests.Response:
        """Send one request, authenticated, paced and retried per :data:`STATUS_ACTIONS`.

        Returns:
            The final response: 2xx, 3xx or a 4xx other than 401/429 (the adapter decides).

        Raises:
            ConfigError: the base URL is not a usable http(s) URL.
            AuthError: the server refused a freshly refreshed token (401 twice), or
                ``explain_401``'s error for a 401 no refresh cures (no refresh is tried).
            ReconnectRequired: the token refresh was refused (from the token provider).
            RateLimitedDaily: the tenant's daily limit is spent (429 ``day``, or the pacer's).
            UpstreamError: 5xx / connection failures outlasted ``max_attempts``, or 429s
                outlasted :data:`MAX_RATE_LIMIT_WAITS`.
        """
        method = method.upper()
        state = _RequestState()
        retrying = Retrying(
            retry=retry_if_exception_type(_Retry),
            stop=self._stop(state),
            wait=_planned_wait,
            sleep=self._clock.sleep,
            before_sleep=self._before_sleep(method, path),
            reraise=True,
        )
        try:
            return retrying(
                self._attempt, state, method, path, params=params, headers=headers, json=json
            )
        except _Retry as last:
            status = f"HTTP {last.status}" if last.status is not None else last.reason
            if last.action is Action.RATE_LIMITED:
                raise UpstreamError(
                    f"{self.pacer.key}: {method} {path} still rate limited ({status}) after "
                    f"{state.rate_limit_waits - 1} waits",
                    status=last.status,
                ) from None
            raise UpstreamError(
                f"{self.pacer.key}: {method} {path} failed after {state.failures} attempts; "
                f"last: {status}",
                status=last.status,
            ) from None

    def _stop(self, state: _RequestState) -> Callable[[RetryCallState], bool]:
        def stop(retry_state: RetryCallState) -> bool:
            outcome = retry_state.outcome
            err = outcome.exception() if outcome is not None else None
            if not isinstance(err, _Retry):
                return True
            if err.action is Action.RATE_LIMITED:
                return state.rate_limit_waits > MAX_RATE_LIMIT_WAITS
            if err.action is Action.BACKOFF:
                return state.failures >= self.max_attempts
            return False  # REFRESH: once, guarded in _attempt

        return stop

    def _before_sleep(self, method: str, path: str) -> Callable[[RetryCallState], None]:
        def before_sleep(retry_state: RetryCallState) -> None:
            self._count("_retries")
            outcome = retry_state.outcome
            err = outcome.exception() if outcome is not None else None
            if isinstance(err, _Retry):
                log.info("%s %s: %s; retrying in %s (clock)", method, path, err.reason,
                         describe_wait(err.delay))

        return before_sleep

    def _attempt(
        self,
        state: _RequestState,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None,
        headers: Mapping[str, str] | None,
        json: Any,
    ) -> requests.Response:
        token, state.fresh_token = state.fresh_token or self._tokens.access_token(), None
        send_headers = {**self._default_headers, **(headers or {})}
        send_headers.update(self._sign(method, self.url(path), params, token))
        if self.max_calls is not None and self._calls >= self.max_calls:
            raise RateLimitedDaily(
                f"{self.pacer.key}: the monthly call budget is spent ({method} {path} not "
                "sent); it renews on the 1st of next month (UTC)")
        with self.pacer.slot(path):
            self._count("_calls")
            try:
                response = self._session.request(
                    method, self.url(path), params=params, headers=send_headers, json=json,
                    timeout=self.timeout,
                )
            except TRANSIENT_ERRORS as err:
                state.failures += 1
                raise _Retry(
                    Action.BACKOFF, backoff_seconds(state.failures), None, type(err).__name__
                ) from None
            except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                    requests.exceptions.InvalidSchema) as err:
                raise ConfigError(
                    f"{self.pacer.key}: bad API URL {self.url(path)!r}: {err}"
                ) from None
            except requests.RequestException as err:  # not worth retrying (redirect loop...)
                raise UpstreamError(
                    f"{self.pacer.key}: {method} {path} failed: {type(err).__name__}: {err}"
                ) from None
            info = self._rate_info(response.headers) if self._rate_info is not None else None
            if info is not None:
                self.pacer.observe(info)
        log.debug("%s %s -> %s", method, path, response.status_code)
        if self._on_response is not None:
            self._on_response(response)
        return self._decide(state, method, path, token, response)

    def _decide(
        self, state: _RequestState, method: str, path: str, token: str,
        response: requests.Response,
    ) -> requests.Response:
        status = response.status_code
        verdict = (self._parse_error(response)
                   if self._parse_error is not None and status >= 400 else None)
        if verdict is not None and verdict.action in ("reconnect", "config"):
            response.close()
            what = (f"{self.pacer.key}: {method} {path} was refused (HTTP {status})"
                    + (f": {verdict.message}" if verdict.message else ""))
            raise ReconnectRequired(what) if verdict.action == "reconnect" else ConfigError(what)
        action = classify(response, verdict)
        if action is Action.RETURN:
            return response
        if action is Action.REFRESH and self._explain_401 is not None:
            refusal = self._explain_401(method, path, response)
            if refusal is not None:  # no token would do better: neither refresh nor retry
                response.close()
                raise refusal
        response.close()
        if status == 429:
            self._count("_http_429s")
        if action is Action.REFRESH:
            if state.refreshed:
                raise AuthError(
                    f"{self.pacer.key}: {method} {path} was refused (HTTP 401) with a freshly "
                    "refreshed access token; check the app's scopes and the org's connection"
                )
            state.refreshed = True
            state.fresh_token = self._tokens.refresh(token)
            self._count("_refreshes")
            raise _Retry(action, 0.0, status, "HTTP 401, token refreshed")
        if action is Action.DAILY_LIMIT:
            spent = (verdict.message if verdict is not None and verdict.message
                     else "the daily API limit is spent")
            retry_after = retry_after_seconds(response)
            if retry_after is None:
                when = "it resets within 24 hours"
            else:
                when = f"it resets in about {describe_wait(retry_after)}"
            raise RateLimitedDaily(
                f"{self.pacer.key}: {spent} (HTTP {status} on {method} {path}); "
                f"{when}",
                retry_after=retry_after,
            )
        if action is Action.RATE_LIMITED:
            state.rate_limit_waits += 1
            if verdict is not None and verdict.concurrency:
                self.pacer.observe(RateInfo(concurrency_exceeded=True))
            delay = retry_after_seconds(response)
            if delay is None:  # no Retry-After (QBO sends none): back off like a 5xx
                delay = backoff_seconds(state.rate_limit_waits)
            said = verdict.message if verdict is not None and verdict.message else "rate limited"
            raise _Retry(action, delay, status, f"HTTP {status} ({said})")
        state.failures += 1
        raise _Retry(action, backoff_seconds(state.failures), status, f"HTTP {status}")


def _planned_wait(retry_state: RetryCallState) -> float:
    outcome = retry_state.outcome
    err = outcome.exception() if outcome is not None else None
    return err.delay if isinstance(err, _Retry) else 0.0
