"""Proactive pacing: our own traffic never causes a 429.

A pacer guards one tenant's calls with the limits its platform states
(:meth:`arconnect.adapters.base.Platform.limits`; any of them may be absent):

- a **sliding** minute window: never more than ``per_minute`` calls in any 60 clock-seconds.
  The server counts in *fixed* windows that reset at a time we do not know; a sliding window
  never puts more than ``per_minute`` calls into any fixed window, whatever its phase;
- a concurrency cap (calls in flight);
- a per-day budget (a sliding 24-hour window); when it is spent, :meth:`Pacer.slot` raises
  :class:`~arconnect.errors.RateLimitedDaily` instead of blocking for hours;
- an app-wide sliding minute window shared by every tenant's pacer of the same app (the key's
  prefix: ``quickbooks:<realm>`` belongs to the app ``quickbooks``);
- a sliding minute window for batch requests (``batch_per_minute``), for calls whose path ends
  with ``batch_path``.

What the server's headers say is left (:class:`arconnect.adapters.base.RateInfo`, read by the
platform; :meth:`Pacer.observe`) lowers the budget when someone else — another app, another
process — spent some of it; it never raises it.

Waiting goes through the scaled clock (:mod:`arconnect.clock`): with ``ARCONNECT_TIME_SCALE=60``
a minute window passes in one real second.

With ``ARCONNECT_REDIS_URL`` set, :func:`get_pacer` returns a :class:`RedisPacer` that keeps the
windows in Redis sorted sets (one Lua script admits a call atomically) and the concurrency cap as
expiring leases, so every process and worker shares one budget per tenant and per app.

Public names: :class:`Limits`, :class:`Pacing` (what the HTTP client needs), :class:`Pacer`,
:class:`RedisPacer`, :func:`get_pacer`, :func:`reset_pacers`.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import threading
import uuid
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from arconnect.adapters.base import RateInfo
from arconnect.clock import Clock, get_clock
from arconnect.errors import ConfigError, RateLimitedDaily, UpstreamError

if TYPE_CHECKING:
    import redis

MINUTE = 60.0
DAY = 86_400.0
# Added to every minute window: the server stamps a call when it arrives, we stamp it just
# before sending, and the two delays differ a little from call to call. 1% of a window (0.6 s)
# absorbs that jitter; N calls at N/minute still take (ceil(N/per_minute) - 1) windows + 1%.
WINDOW_MARGIN = 0.01
MINUTE_SPAN = MINUTE * (1.0 + WINDOW_MARGIN)


@dataclass(frozen=True)
class Limits:
    """A platform's call limits for one tenant (and the app-wide minute limit); None: the
    platform has no such limit.

    Attributes:
        per_minute: calls in any minute.
        concurrency: calls in flight.
        per_day: calls in any 24 hours.
        app_per_minute: calls in any minute by every tenant of the app together.
        batch_per_minute: batch requests in any minute (paths ending with ``batch_path``).
        per_month: calls a calendar month (checked by the service before a run, from the
            calls its runs recorded; not by the pacer).
        batch_path: the path suffix of batch requests.
    """

    per_minute: int = 60
    concurrency: int = 5
    per_day: int | None = None
    app_per_minute: int | None = None
    batch_per_minute: int | None = None
    per_month: int | None = None
    batch_path: str = "/batch"

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "batch_path" or (value is None and f.name not in (
                    "per_minute", "concurrency")):
                continue
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"pacing limit {f.name}={value!r}: must be a positive integer")


UNLIMITED = 10**12  # what an absent limit counts as inside the windows


def _cap(limit: int | None) -> int:
    return UNLIMITED if limit is None else limit


class Pacing(Protocol):
    """What the HTTP client asks of a pacer."""

    key: str
    limits: Limits

    def slot(self, path: str = "") -> contextlib.AbstractContextManager[None]:
        """Block until one more call (to ``path``) is allowed; the call runs inside the
        context."""
        ...

    def observe(self, info: RateInfo) -> None:
        """Lower the budget to what the server's rate-limit headers say is left."""
        ...


def describe_wait(seconds: float) -> str:
    """``seconds`` (clock seconds) as "3 h 20 min" / "45 s", for messages."""
    seconds = max(seconds, 0.0)
    if seconds < 120:
        return f"{math.ceil(seconds)} s"
    minutes = math.ceil(seconds / 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


def _daily_error(key: str, per_day: int | None, retry_after: float | None) -> RateLimitedDaily:
    """``per_day`` None: the server said the day is spent (other clients share the limit)."""
    if retry_after is None:
        when = "it resets within 24 hours"
    else:
        at = datetime.now(UTC) + timedelta(seconds=retry_after)
        when = f"it resets in about {describe_wait(retry_after)} (~{at:%Y-%m-%d %H:%M} UTC)"
    spent = (f"the daily API limit ({per_day} calls) is spent" if per_day is not None
             else "the daily API limit is spent (the ERP says so; other syncs and apps of the "
                  "organisation share it)")
    return RateLimitedDaily(f"{key}: {spent}; {when}", retry_after=retry_after)


class _Window:
    """Weighted call stamps within the last ``span`` clock seconds. Not thread-safe: the
    owner holds a lock around every use."""

    def __init__(self, span: float) -> None:
        self.span = span
        self._entries: deque[tuple[float, int]] = deque()
        self._count = 0

    def _prune(self, now: float) -> None:
        while self._entries and self._entries[0][0] + self.span <= now:
            self._count -= self._entries.popleft()[1]

    def count(self, now: float) -> int:
        self._prune(now)
        return self._count

    def wait(self, now: float, limit: int) -> float:
        """Clock seconds until one more call fits under ``limit`` (0 when it fits now)."""
        self._prune(now)
        excess = self._count - limit + 1
        if excess <= 0:
            return 0.0
        for stamp, weight in self._entries:
            excess -= weight
            if excess <= 0:
                return max(stamp + self.span - now, 0.0)
        return self.span  # unreachable: the entries sum to the count

    def add(self, now: float, weight: int = 1) -> None:
        self._entries.append((now, weight))
        self._count += weight

    def lower_to(self, now: float, limit: int, remaining: int) -> None:
        """Add phantom calls stamped ``now`` so that at most ``remaining`` calls are left."""
        deficit = (limit - self.count(now)) - max(remaining, 0)
        if deficit > 0:
            self.add(now, deficit)


class _AppWindow:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.window = _Window(MINUTE_SPAN)


_app_windows: dict[tuple[str, int], tuple[Clock, _AppWindow]] = {}
_app_lock = threading.Lock()


def _app_window(app: str, clock: Clock) -> _AppWindow:
    # Stamps only compare on one clock, so the shared window is per (app, clock).
    with _app_lock:
        found = _app_windows.get((app, id(clock)))
        if found is None or found[0] is not clock:
            found = (clock, _AppWindow())
            _app_windows[(app, id(clock))] = found
        return found[1]


RAISE_AFTER = 60.0
"""Clock seconds without a concurrency refusal after which a lowered cap goes up by one."""


class _Gate:
    """Calls in flight, at most ``limit``; the limit moves while calls run (the platform says
    its limit, or refuses a call for too many in flight).

    ``ceiling`` is the cap the platform or the settings state; after a refusal the limit sits
    below it and climbs back one step per :data:`RAISE_AFTER` clock seconds without another.
    """

    def __init__(self, limit: int, clock: Clock) -> None:
        self._cond = threading.Condition()
        self._clock = clock
        self.limit = self.ceiling = max(1, limit)
        self.busy = 0
        self._lowered_at: float | None = None

    def acquire(self) -> None:
        with self._cond:
            self._recover()
            while self.busy >= self.limit:
                self._cond.wait(0.5)
                self._recover()
            self.busy += 1

    def release(self) -> None:
        with self._cond:
            self.busy -= 1
            self._cond.notify()

    def _recover(self) -> None:
        if self._lowered_at is None or self.limit >= self.ceiling:
            return
        now = self._clock.monotonic()
        if now - self._lowered_at >= RAISE_AFTER:
            self.limit += 1
            self._lowered_at = now if self.limit < self.ceiling else None
            self._cond.notify_all()

    def set_limit(self, limit: int) -> None:
        """The platform's own statement of the cap: it becomes the ceiling and the limit."""
        with self._cond:
            self.limit = self.ceiling = max(1, limit)
            self._lowered_at = None
            self._cond.notify_all()

    def refused(self) -> None:
        """A call was refused for too many in flight: one fewer from now on (at least one)."""
        with self._cond:
            self.limit = max(1, min(self.limit, self.busy) - 1)
            self._lowered_at = self._clock.monotonic()


def app_of(key: str) -> str:
    """The app a pacer key belongs to: the part before the first ``:``."""
    return key.split(":", 1)[0]


class Pacer:
    """In-process pacing for one tenant (thread-safe; one instance per key via get_pacer).

    Args:
        key: ``<app>:<tenant>``, e.g. ``xero:<tenant id>``; messages name it.
        limits: the tenant's limits.
        clock: the (scaled) clock to stamp and sleep on; the process clock when None.

    The pacer owns the budget; it never sends requests and never retries.
    """

    def __init__(self, key: str, limits: Limits, clock: Clock | None = None) -> None:
        self.key = key
        self.limits = limits
        self.clock = self._clock = clock or get_clock()
        self._lock = threading.Lock()
        self._slots = _Gate(limits.concurrency, self._clock)
        self._minute = _Window(MINUTE_SPAN)
        self._day = _Window(DAY)
        self._batch = _Window(MINUTE_SPAN)
        self._day_reset_at: float | None = None
        self._app = _app_window(app_of(key), self._clock)

    @contextlib.contextmanager
    def slot(self, path: str = "") -> Iterator[None]:
        """Block until a call (to ``path``) is allowed by every limit, then run the call
        inside the context.

        Raises:
            RateLimitedDaily: the day's budget is spent (ours, or the server said so).
        """
        self._slots.acquire()
        try:
            self._admit(self._is_batch(path))
            yield
        finally:
            self._slots.release()

    def _is_batch(self, path: str) -> bool:
        # "batch" and "/batch" are one URL: the client joins either under its base URL
        bare = "/" + path.split("?", 1)[0].strip("/")
        return self.limits.batch_per_minute is not None and bare.endswith(self.limits.batch_path)

    def _admit(self, batch: bool = False) -> None:
        limits = self.limits
        while True:
            with self._lock:
                now = self._clock.monotonic()
                if limits.per_day is not None or self._day_reset_at is not None:
                    self._check_day(now)
                wait = self._minute.wait(now, limits.per_minute)
                if batch:
                    wait = max(wait, self._batch.wait(now, _cap(limits.batch_per_minute)))
                with self._app.lock:
                    if limits.app_per_minute is not None:
                        wait = max(wait, self._app.window.wait(now, limits.app_per_minute))
                    if wait <= 0:
                        if limits.app_per_minute is not None:
                            self._app.window.add(now)
                        self._minute.add(now)
                        if limits.per_day is not None:
                            self._day.add(now)
                        if batch:
                            self._batch.add(now)
                        return
            self._clock.sleep(wait)

    def _check_day(self, now: float) -> None:
        if self._day_reset_at is not None:
            if now < self._day_reset_at:
                raise _daily_error(self.key, None, self._day_reset_at - now)
            self._day_reset_at = None
        if self.limits.per_day is None:
            return
        wait = self._day.wait(now, self.limits.per_day)
        if wait > 0:
            raise _daily_error(self.key, self.limits.per_day, wait)

    @property
    def concurrency(self) -> int:
        """The calls in flight allowed now."""
        return self._slots.limit

    def observe(self, info: RateInfo) -> None:
        """Trust the server when it says fewer calls are left than we think.

        A day with no calls left (``info.day == 0``, or ``info.day_spent``) makes the next
        :meth:`slot` raise RateLimitedDaily. Never raises a call budget; the concurrency cap
        follows what the server states (``info.concurrency``) and goes down by one on a refusal
        for too many in flight.
        """
        limits = self.limits
        if info.concurrency is not None:
            self._slots.set_limit(info.concurrency)
        if info.concurrency_exceeded:
            self._slots.refused()
        with self._lock:
            now = self._clock.monotonic()
            if info.minute is not None:
                self._minute.lower_to(now, limits.per_minute, info.minute)
            if info.day is not None:
                if limits.per_day is not None:
                    self._day.lower_to(now, limits.per_day, info.day)
                elif info.day <= 0:
                    self._day_reset_at = now + DAY
            if info.day_spent:
                retry_after = info.retry_after
                self._day_reset_at = now + (retry_after if retry_after is not None else DAY)
            if info.app_minute is not None and limits.app_per_minute is not None:
                with self._app.lock:
                    self._app.window.lower_to(now, limits.app_per_minute, info.app_minute)


# -- Redis: one budget across processes ---------------------------------------------------------

# Admit one call if every limit allows it. Time is Redis' own clock (shared by every process,
# whatever host) times the time scale. Scores of the windows are clock seconds; lease scores are
# real seconds (a crashed worker's lease lapses after lease_seconds of real time).
# KEYS: minute, app minute, day, leases, day reset.  ARGV: scale, per_minute, app_per_minute,
# per_day, concurrency, member, lease_seconds, minute_span, day_span.
# Returns {"ok", now} | {"wait", seconds} | {"busy", "0"} | {"day", seconds}.
_ADMIT_LUA = """
local t = redis.call('TIME')
local real = tonumber(t[1]) + tonumber(t[2]) / 1000000
local scale = tonumber(ARGV[1])
local now = real * scale
local per_minute, app_per_minute = tonumber(ARGV[2]), tonumber(ARGV[3])
local per_day, concurrency = tonumber(ARGV[4]), tonumber(ARGV[5])
local member, lease = ARGV[6], tonumber(ARGV[7])
local minute_span, day_span = tonumber(ARGV[8]), tonumber(ARGV[9])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - minute_span)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - minute_span)
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - day_span)
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', real)
local reset = tonumber(redis.call('GET', KEYS[5]) or '0')
if reset > now then return {'day', tostring(reset - now)} end
local n = redis.call('ZCARD', KEYS[3])
if n >= per_day then
  local e = redis.call('ZRANGE', KEYS[3], n - per_day, n - per_day, 'WITHSCORES')
  return {'day', tostring(tonumber(e[2]) + day_span - now)}
end
if redis.call('ZCARD', KEYS[4]) >= concurrency then return {'busy', '0'} end
local wait = 0
for i, limit in ipairs({per_minute, app_per_minute}) do
  local c = redis.call('ZCARD', KEYS[i])
  if c >= limit then
    local e = redis.call('ZRANGE', KEYS[i], c - limit, c - limit, 'WITHSCORES')
    wait = math.max(wait, tonumber(e[2]) + minute_span - now)
  end
end
if wait > 0 then return {'wait', tostring(wait)} end
local minute_ms = math.ceil(minute_span / scale * 1000) + 1000
redis.call('ZADD', KEYS[1], now, member)
redis.call('PEXPIRE', KEYS[1], minute_ms)
redis.call('ZADD', KEYS[2], now, member)
redis.call('PEXPIRE', KEYS[2], minute_ms)
redis.call('ZADD', KEYS[3], now, member)
redis.call('PEXPIRE', KEYS[3], math.ceil(day_span / scale * 1000) + 1000)
redis.call('ZADD', KEYS[4], real + lease, member)
redis.call('PEXPIRE', KEYS[4], math.ceil(lease * 1000) + 1000)
return {'ok', tostring(now)}
"""

# Add phantom calls stamped now so that at most `remaining` are left in one window.
# KEYS: the window. ARGV: scale, span, limit, remaining, member prefix.
_LOWER_LUA = """
local t = redis.call('TIME')
local scale = tonumber(ARGV[1])
local now = (tonumber(t[1]) + tonumber(t[2]) / 1000000) * scale
local span, limit, remaining = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - span)
local deficit = (limit - redis.call('ZCARD', KEYS[1])) - math.max(remaining, 0)
local i = 0
while i < deficit do
  local args = {}
  local j = 0
  while j < 500 and i < deficit do
    args[#args + 1] = now
    args[#args + 1] = ARGV[5] .. i
    i, j = i + 1, j + 1
  end
  redis.call('ZADD', KEYS[1], unpack(args))
end
if deficit > 0 then redis.call('PEXPIRE', KEYS[1], math.ceil(span / scale * 1000) + 1000) end
return deficit
"""

# Block the day until now + ARGV[2] clock seconds. KEYS: day reset. ARGV: scale, seconds.
_DAY_RESET_LUA = """
local t = redis.call('TIME')
local scale = tonumber(ARGV[1])
local now = (tonumber(t[1]) + tonumber(t[2]) / 1000000) * scale
local seconds = tonumber(ARGV[2])
redis.call('SET', KEYS[1], tostring(now + seconds), 'PX', math.ceil(seconds / scale * 1000) + 1)
return 1
"""


class RedisPacer:
    """Pacing for one tenant shared by every process through Redis.

    Same contract as :class:`Pacer`. Keys (under ``prefix``): ``<key>:min``, ``<key>:day``,
    ``<key>:leases``, ``<key>:day_reset`` per tenant and ``<app>:appmin`` per app; they expire
    on their own once idle. A concurrency lease lapses after ``lease_seconds`` real seconds if
    its holder dies mid-call.

    Args:
        key: ``<app>:<tenant>``.
        limits: the tenant's limits.
        client: a ``redis.Redis`` connection.
        clock: the clock to sleep on; its ``scale`` scales Redis' time the same way.
        prefix: the Redis key prefix.
        lease_seconds: real seconds after which a dead holder's concurrency lease lapses.
    """

    poll_seconds = 0.05  # real seconds between tries while every lease is taken

    def __init__(
        self,
        key: str,
        limits: Limits,
        client: redis.Redis,
        clock: Clock | None = None,
        *,
        prefix: str = "arconnect:pace",
        lease_seconds: float = 300.0,
    ) -> None:
        self.key = key
        self.limits = limits
        self._redis = client
        self.clock = self._clock = clock or get_clock()
        self._scale = float(getattr(self._clock, "scale", 1.0))
        self._lease_seconds = lease_seconds
        base = f"{prefix}:{key}"
        self._keys = {
            "min": f"{base}:min",
            "app": f"{prefix}:{app_of(key)}:appmin",
            "day": f"{base}:day",
            "leases": f"{base}:leases",
            "day_reset": f"{base}:day_reset",
        }
        # Calls of this process queue here first, so only one per free slot polls Redis.
        self._local = _Gate(limits.concurrency, self._clock)
        self._admit_script = client.register_script(_ADMIT_LUA)
        self._lower_script = client.register_script(_LOWER_LUA)
        self._reset_script = client.register_script(_DAY_RESET_LUA)
        self._ids = itertools.count()
        self._id = uuid.uuid4().hex[:12]

    def _call(self, script: Any, keys: list[str], args: list[object]) -> Any:
        import redis as redis_lib

        try:
            return script(keys=keys, args=args)
        except redis_lib.RedisError as err:
            raise UpstreamError(
                f"{self.key}: the pacing store (Redis) failed: {type(err).__name__}: {err}"
            ) from None

    @contextlib.contextmanager
    def slot(self, path: str = "") -> Iterator[None]:
        """Block until a call is allowed across every process; see :meth:`Pacer.slot` (batch
        requests count in the shared minute window like any call: a platform whose batch limit
        is below its minute limit is paced to the batch limit by the in-process pacer only)."""
        self._local.acquire()
        try:
            member = self._admit()
            try:
                yield
            finally:
                with contextlib.suppress(Exception):
                    self._redis.zrem(self._keys["leases"], member)
        finally:
            self._local.release()

    def _admit(self) -> str:
        k, limits = self._keys, self.limits
        keys = [k["min"], k["app"], k["day"], k["leases"], k["day_reset"]]
        while True:
            member = f"{self._id}:{next(self._ids)}"
            args: list[object] = [
                repr(self._scale), limits.per_minute, _cap(limits.app_per_minute),
                _cap(limits.per_day),
                self._local.limit, member, repr(self._lease_seconds), repr(MINUTE_SPAN),
                repr(DAY),
            ]
            verdict, value = (_text(v) for v in self._call(self._admit_script, keys, args))
            if verdict == "ok":
                return member
            if verdict == "day":
                raise _daily_error(self.key, limits.per_day, float(value))
            if verdict == "busy":
                self._clock.sleep(self.poll_seconds * self._scale)
            else:
                self._clock.sleep(float(value))

    @property
    def concurrency(self) -> int:
        """The calls in flight allowed now (this process's view of the shared cap)."""
        return self._local.limit

    def observe(self, info: RateInfo) -> None:
        """Lower the shared budget to what the server says; see :meth:`Pacer.observe`."""
        limits = self.limits
        if info.concurrency is not None:
            self._local.set_limit(info.concurrency)
        if info.concurrency_exceeded:
            self._local.refused()
        marker = f"ph:{self._id}:{next(self._ids)}:"
        for remaining, window, span, limit in (
            (info.minute, "min", MINUTE_SPAN, limits.per_minute),
            (info.day, "day", DAY, limits.per_day),
            (info.app_minute, "app", MINUTE_SPAN, limits.app_per_minute),
        ):
            # An absent limit has no window to lower (its UNLIMITED stand-in would need as many
            # phantom calls).
            if remaining is not None and limit is not None and remaining < limit:
                self._call(self._lower_script, [self._keys[window]],
                           [repr(self._scale), repr(span), limit, remaining, marker + window])
        if info.day_spent or (info.day is not None and info.day <= 0
                              and limits.per_day is None):
            retry_after = info.retry_after if info.day_spent else None
            seconds = retry_after if retry_after is not None else DAY
            if seconds > 0:
                self._call(self._reset_script, [self._keys["day_reset"]],
                           [repr(self._scale), repr(seconds)])


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


# -- the process-wide registry ------------------------------------------------------------------

_pacers: dict[tuple[str, Limits], Pacer | RedisPacer] = {}
_redis_clients: dict[str, redis.Redis] = {}
_registry_lock = threading.Lock()


def get_pacer(key: str, limits: Limits) -> Pacer | RedisPacer:
    """The process-wide pacer of ``key`` (``<app>:<tenant>``) under ``limits``.

    A :class:`RedisPacer` when ``ARCONNECT_REDIS_URL`` is set, else an in-process
    :class:`Pacer`. Every client of one tenant must share it, so build clients through this.
    A new process clock (:func:`arconnect.clock.set_clock`) starts new pacers: stamps on
    different clocks do not compare.
    """
    from arconnect.settings import get_settings

    redis_url = get_settings().redis_url
    clock = get_clock()
    with _registry_lock:
        pacer = _pacers.get((key, limits))
        if pacer is None or pacer.clock is not clock:
            if redis_url:
                pacer = RedisPacer(key, limits, _redis_client(redis_url), clock)
            else:
                pacer = Pacer(key, limits, clock)
            _pacers[(key, limits)] = pacer
        return pacer


def _redis_client(url: str) -> redis.Redis:
    client = _redis_clients.get(url)
    if client is None:
        try:
            import redis as redis_lib
        except ImportError:  # pragma: no cover - redis is a declared dependency
            raise ConfigError(
                "ARCONNECT_REDIS_URL is set but the redis package is missing"
            ) from None
        try:
            client = redis_lib.Redis.from_url(url)
        except ValueError as err:
            raise ConfigError(f"ARCONNECT_REDIS_URL: {err}") from None
        _redis_clients[url] = client
    return client


def reset_pacers() -> None:
    """Forget every pacer and app window (tests; a new clock or new settings)."""
    with _registry_lock:
        _pacers.clear()
        _redis_clients.clear()
    with _app_lock:
        _app_windows.clear()
