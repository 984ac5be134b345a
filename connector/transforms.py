"""The whitelist of named transforms a mapping file may use, and what each one's arguments are.

A mapping field names at most one transform (``transform: decimal``) and gives its arguments
beside it (``round: 2``). This module is the only place values change shape between the raw ERP
record and the normalized row, so a consultant's YAML can never run code: it can only pick a
name from :data:`TRANSFORMS`. Each transform is built once, at load, into a plain function.

Two calling conventions keep the hot path cheap:

- a *value* transform is ``fn(value) -> value``;
- a *record* transform (``uses_record``) is ``fn(value, rec, parent, ctx) -> value``: it reads
  other paths of the record (``base_amount`` reads the rate and the currency) or the engine's
  context (``base_currency``).

Transforms never see ``None`` unless they say so (``handles_none``); for the others a missing
value short-circuits to the field's ``default``. Converting transforms treat ``""`` as missing.
A transform signals bad input by raising ``ValueError``; the mapping turns that into a
``RecordError`` naming the record and the column.

Adding a transform: write its ``Args`` model (``extra="forbid"``, every argument documented),
its factory, and one line in :data:`TRANSFORMS`; then list it in the comment block of
``mappings/*.yaml``. Never add one that evaluates text from the file.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# A compiled path: reads a value from the current record (and its parent inside ``each:``).
Getter = Callable[[dict[str, Any], "dict[str, Any] | None"], Any]
ValueFn = Callable[[Any], Any]
RecordFn = Callable[[Any, dict[str, Any], "dict[str, Any] | None", dict[str, Any]], Any]
# What a transform yields, checked against the column's type at load.
Output = Literal["date", "datetime", "decimal", "int", "bool", "str", "any"]


class Args(BaseModel):
    """Base of every transform's arguments: unknown arguments are load errors."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)


class NoArgs(Args):
    """The transform takes no arguments."""


@dataclass(frozen=True)
class Transform:
    """One whitelisted transform.

    Attributes:
        name: the name used in mapping files.
        summary: one line for the consultant (shown in errors and in ``mappings check``).
        args: the pydantic model of its arguments.
        output: what it yields, checked against the column type at load.
        factory: builds the function from validated arguments and the compiled path arguments
            (``path_args``: argument name ─▶ getter or list of getters).
        path_args: argument names whose values are record paths (compiled by the mapping).
        uses_record: the built function is a record transform (see the module docstring).
        handles_none: the function is also called for a missing value.
    """

    name: str
    summary: str
    args: type[Args]
    output: Output
    factory: Callable[[Any, dict[str, Any]], Callable[..., Any]]
    path_args: tuple[str, ...] = ()
    uses_record: bool = False
    handles_none: bool = False


# -- scalar conversions (shared with the mapping for defaults) ---------------------------------


def to_decimal(value: Any) -> Decimal:
    """``value`` as a ``Decimal``, exactly as written: floats go through their shortest repr
    (``0.1`` is ``Decimal("0.1")``, never the binary expansion); never returns a float.

    Raises:
        ValueError: for booleans, non-numeric text, NaN and infinities.
    """
    cls = value.__class__
    if cls is float:
        out = Decimal(repr(value))
    elif cls is int:
        return Decimal(value)
    elif cls is Decimal:
        out = value
    elif cls is str:
        try:
            out = Decimal(value.strip().replace(",", ""))
        except InvalidOperation:
            raise ValueError(f"{value!r} is not a number") from None
    elif isinstance(value, int) and not isinstance(value, bool):
        return Decimal(int(value))
    else:
        raise ValueError(f"{value!r} is not a number")
    if not out.is_finite():
        raise ValueError(f"{value!r} is not a finite number")
    return out


def _quantum(places: int) -> Decimal:
    return Decimal(1).scaleb(-places)


def _blank(value: Any) -> bool:
    """Empty for ``first`` / ``join``: None, "", [] or {}."""
    return value is None or value == "" or value == [] or value == {}


# -- the transforms ----------------------------------------------------------------------------


def parse_iso_datetime(value: Any) -> datetime | None:
    """ISO 8601 text with an offset (``2024-06-20T13:16:17-07:00``, ``…Z``) ─▶ aware UTC
    datetime; text without an offset is taken as UTC; None when it is not ISO 8601."""
    if isinstance(value, datetime):
        out = value
    elif isinstance(value, str):
        try:
            out = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    return (out if out.tzinfo else out.replace(tzinfo=UTC)).astimezone(UTC)


def parse_iso_date(value: Any) -> date | None:
    """``YYYY-MM-DD`` (or an ISO timestamp: its calendar date in its own offset) ─▶ date; None
    when it is neither."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        return None
    text = value.strip()
    try:
        return date.fromisoformat(text[:10]) if len(text) == 10 else datetime.fromisoformat(
            text.replace("Z", "+00:00")).date()
    except ValueError:
        return None


def _iso_datetime(args: NoArgs, paths: dict[str, Any]) -> ValueFn:
    def iso_datetime(value: Any) -> datetime | None:
        if value == "":
            return None
        out = parse_iso_datetime(value)
        if out is None:
            raise ValueError(f"{value!r} is not an ISO 8601 timestamp (2024-06-20T13:16:17-07:00)")
        return out

    return iso_datetime


def date_transform(parse: Callable[[Any], date | None], what: str
                   ) -> Callable[[NoArgs, dict[str, Any]], ValueFn]:
    """The factory of a calendar-date transform over ``parse`` (None: not a date; ``what`` names
    the expected form in the error). Dates repeat a lot within a page (issue and due dates):
    each function built remembers the ones it parsed."""

    def factory(args: NoArgs, paths: dict[str, Any]) -> ValueFn:
        cache: dict[str, date] = {}

        def to_date(value: Any) -> date | None:
            try:
                return cache[value]
            except (KeyError, TypeError):
                pass
            if value == "":
                return None
            out = parse(value)
            if out is None:
                raise ValueError(f"{value!r} is not {what}")
            if isinstance(value, str):
                if len(cache) > 50_000:
                    cache.clear()
                cache[value] = out
            return out

        return to_date

    return factory


_iso_date = date_transform(parse_iso_date, "an ISO 8601 date (YYYY-MM-DD)")


class DecimalArgs(Args):
    """Arguments of ``decimal``."""

    round: int | None = Field(
        default=None, ge=0, le=10, description="decimal places, rounded half-up (none: as is)"
    )


def _decimal(args: DecimalArgs, paths: dict[str, Any]) -> ValueFn:
    if args.round is None:

        def decimal_(value: Any) -> Decimal | None:
            return None if value == "" else to_decimal(value)

        return decimal_
    quantum = _quantum(args.round)

    def decimal_rounded(value: Any) -> Decimal | None:
        if value == "":
            return None
        return to_decimal(value).quantize(quantum, ROUND_HALF_UP)

    return decimal_rounded


def _int(args: NoArgs, paths: dict[str, Any]) -> ValueFn:
    def int_(value: Any) -> int | None:
        cls = value.__class__
        if cls is int:
            return int(value)
        if cls is bool:
            raise ValueError(f"{value!r} is not a whole number")
        if value == "":
            return None
        try:
            number = to_decimal(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a whole number") from None
        if number != number.to_integral_value():
            raise ValueError(f"{value!r} is not a whole number")
        return int(number)

    return int_


_TRUE = {"true", "yes", "y", "1", "t"}
_FALSE = {"false", "no", "n", "0", "f"}


def _bool(args: NoArgs, paths: dict[str, Any]) -> ValueFn:
    def bool_(value: Any) -> bool | None:
        if value is True or value is False:
            return value
        if value.__class__ is int and value in (0, 1):
            return bool(value)
        if isinstance(value, str):
            text = value.strip().lower()
            if text in _TRUE:
                return True
            if text in _FALSE:
                return False
            if text == "":
                return None
        raise ValueError(f"{value!r} is not true or false")

    return bool_


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, float):
        return str(to_decimal(value))
    if isinstance(value, int | Decimal | date):
        return str(value)
    raise ValueError(f"{value!r} is not text (a list or object cannot go in a text column)")


def _str(args: NoArgs, paths: dict[str, Any]) -> ValueFn:
    return _as_text


def _upper(args: NoArgs, paths: dict[str, Any]) -> ValueFn:
    def upper(value: Any) -> str:
        return _as_text(value).upper()

    return upper


def _lower(args: NoArgs, paths: dict[str, Any]) -> ValueFn:
    def lower(value: Any) -> str:
        return _as_text(value).lower()

    return lower


class EqualsArgs(Args):
    """Arguments of ``equals``."""

    value: Any = Field(description="the value to compare with (on a list: any element)")


def _equals(args: EqualsArgs, paths: dict[str, Any]) -> ValueFn:
    target = args.value

    def equals(value: Any) -> bool:
        if isinstance(value, list):
            return target in value
        return bool(value == target)

    return equals


class ValuesArgs(Args):
    """Arguments of ``in`` and ``not_in``."""

    values: list[Any] = Field(min_length=1, description="the values to look for")


def _members(values: Sequence[Any]) -> Any:
    if all(isinstance(v, Hashable) for v in values):
        return frozenset(values)
    return list(values)


def _in(args: ValuesArgs, paths: dict[str, Any]) -> ValueFn:
    members = _members(args.values)

    def in_(value: Any) -> bool:
        if isinstance(value, list):
            return any(v in members for v in value if isinstance(v, Hashable))
        return isinstance(value, Hashable) and value in members

    return in_


def _not_in(args: ValuesArgs, paths: dict[str, Any]) -> ValueFn:
    is_in = _in(args, paths)

    def not_in(value: Any) -> bool:
        return not is_in(value)

    return not_in


class LookupArgs(Args):
    """Arguments of ``lookup``."""

    map: dict[Any, Any] = Field(
        min_length=1, description="value found ─▶ value stored; on a list the first hit wins"
    )
    default: Any = Field(
        default=None, description="stored when the value is missing or not in map"
    )
    ignore_case: bool = Field(default=False, description="match text keys case-insensitively")


def _lookup(args: LookupArgs, paths: dict[str, Any]) -> ValueFn:
    table = dict(args.map)
    fallback = args.default
    fold = args.ignore_case
    if fold:
        table = {k.casefold() if isinstance(k, str) else k: v for k, v in table.items()}

    def key(value: Any) -> Any:
        return value.casefold() if fold and isinstance(value, str) else value

    def lookup(value: Any) -> Any:
        if isinstance(value, list):
            for item in value:
                if isinstance(item, Hashable) and key(item) in table:
                    return table[key(item)]
            return fallback
        if isinstance(value, Hashable) and key(value) in table:
            return table[key(value)]
        return fallback

    return lookup


class BaseAmountArgs(Args):
    """Arguments of ``base_amount``."""

    rate: str = Field(description="path of the exchange rate (read as `rate_is:` says)")
    rate_is: Literal["divisor", "multiplier"] = Field(
        default="divisor",
        description="divisor: foreign units per ONE base unit, base = amount / rate; "
                    "multiplier: base units per ONE foreign unit, base = amount × rate",
    )
    currency: str | None = Field(
        default=None, description="path of the document currency (none: not checked)"
    )
    round: int = Field(default=2, ge=0, le=10, description="decimal places, rounded half-up")


def _base_amount(args: BaseAmountArgs, paths: dict[str, Any]) -> RecordFn:
    # Xero's CurrencyRate is foreign units per one base unit: an AUD invoice in an NZD org at
    # 0.937053 means 1 NZD = 0.937053 AUD, so base = amount / rate (the spec's quote examples:
    # 20.65 AUD ─▶ 22.04 NZD; 500.00 NZD at 1.547150 in a USD org ─▶ 323.17 USD). Base-currency
    # payments carry CurrencyRate 0, invoices 1; a missing or zero rate means "already base".
    # https://developer.xero.com/documentation/api/accounting/invoices (CurrencyRate)
    # QBO's ExchangeRate is the other way round, home (base) units per one foreign unit:
    # HomeTotalAmt = TotalAmt × ExchangeRate, so a QBO mapping says `rate_is: multiplier`.
    # https://developer.intuit.com/app/developer/qbo/docs/workflows/manage-multiple-currencies
    multiply = args.rate_is == "multiplier"
    rate_of: Getter = paths["rate"]
    currency_of: Getter | None = paths.get("currency")
    quantum = _quantum(args.round)

    def base_amount(
        value: Any, rec: dict[str, Any], parent: dict[str, Any] | None, ctx: dict[str, Any]
    ) -> Decimal | None:
        if value == "":
            return None
        amount = to_decimal(value)
        rate = rate_of(rec, parent)
        if not rate:
            return amount.quantize(quantum, ROUND_HALF_UP)
        if currency_of is not None:
            currency = currency_of(rec, parent)
            if currency and currency == ctx.get("base_currency"):
                return amount.quantize(quantum, ROUND_HALF_UP)
        factor = to_decimal(rate)
        if factor <= 0:
            raise ValueError(f"exchange rate {rate!r} is not positive")
        base = amount * factor if multiply else amount / factor
        return base.quantize(quantum, ROUND_HALF_UP)

    return base_amount


class FirstArgs(Args):
    """Arguments of ``first``."""

    paths: list[str] = Field(
        min_length=1, description="more paths tried in order after `path` (if any)"
    )


def _first(args: FirstArgs, paths: dict[str, Any]) -> RecordFn:
    getters: list[Getter] = paths["paths"]

    def first(
        value: Any, rec: dict[str, Any], parent: dict[str, Any] | None, ctx: dict[str, Any]
    ) -> Any:
        if not _blank(value):
            return value
        for get in getters:
            found = get(rec, parent)
            if not _blank(found):
                return found
        return None

    return first


class JoinArgs(Args):
    """Arguments of ``join``."""

    sep: str = Field(default=", ", description="the separator")
    paths: list[str] = Field(default_factory=list, description="more paths joined after `path`")


def _join(args: JoinArgs, paths: dict[str, Any]) -> RecordFn:
    getters: list[Getter] = paths.get("paths") or []
    sep = args.sep

    def join(
        value: Any, rec: dict[str, Any], parent: dict[str, Any] | None, ctx: dict[str, Any]
    ) -> str | None:
        parts: list[Any] = []
        for item in [value, *(get(rec, parent) for get in getters)]:
            if isinstance(item, list):
                parts.extend(item)
            else:
                parts.append(item)
        texts = [_as_text(p) for p in parts if not _blank(p)]
        return sep.join(texts) if texts else None

    return join


class DateArgs(Args):
    """Arguments of ``date``."""

    format: str = Field(
        min_length=2, description='strptime format of the text, e.g. "%m/%d/%Y" for 1/2/2013'
    )


# A date whose day, month and year differ, to check at load that a format reads all three.
_PROBE_DATE = date(2001, 2, 3)


def _date(args: DateArgs, paths: dict[str, Any]) -> ValueFn:
    fmt = args.format
    try:
        probe = datetime.strptime(_PROBE_DATE.strftime(fmt), fmt).date()
    except ValueError as err:
        raise ValueError(f"format {fmt!r} cannot be used ({err})") from None
    if probe != _PROBE_DATE:
        raise ValueError(
            f"format {fmt!r} does not read a day, a month and a year (e.g. %d, %m and %Y)"
        )
    # Spreadsheet exports repeat the same dates on many rows: remember them.
    cache: dict[str, date] = {}

    def date_(value: Any) -> date | None:
        try:
            return cache[value]
        except (KeyError, TypeError):
            pass
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        if not isinstance(value, str):
            raise ValueError(f"{value!r} is not a date in the format {fmt}")
        text = value.strip()
        if text == "":
            return None
        try:
            out = datetime.strptime(text, fmt).date()
        except ValueError:
            raise ValueError(f"{value!r} is not a date in the format {fmt}") from None
        if len(cache) > 50_000:
            cache.clear()
        cache[value] = out
        return out

    return date_


class PresentArgs(Args):
    """Arguments of ``if_present``."""

    then: Any = Field(description="stored when the value is there (not missing, not empty)")
    otherwise: Any = Field(default=None, description="stored when the value is missing or empty")


def _if_present(args: PresentArgs, paths: dict[str, Any]) -> ValueFn:
    then, otherwise = args.then, args.otherwise

    def if_present(value: Any) -> Any:
        return otherwise if _blank(value) else then

    return if_present


class ZeroIfArgs(Args):
    """Arguments of ``zero_if`` and ``zero_unless``."""

    present: str = Field(description="path of the value that decides (e.g. a settled date)")
    round: int = Field(default=2, ge=0, le=10, description="decimal places, rounded half-up")


def _zero_when(args: ZeroIfArgs, paths: dict[str, Any], *, when_present: bool) -> RecordFn:
    present_of: Getter = paths["present"]
    quantum = _quantum(args.round)
    zero = Decimal(0).quantize(quantum)

    def zero_when(
        value: Any, rec: dict[str, Any], parent: dict[str, Any] | None, ctx: dict[str, Any]
    ) -> Decimal | None:
        if value == "":
            return None
        amount = to_decimal(value).quantize(quantum, ROUND_HALF_UP)
        return zero if _blank(present_of(rec, parent)) != when_present else amount

    return zero_when


def _zero_if(args: ZeroIfArgs, paths: dict[str, Any]) -> RecordFn:
    # An export without an amount-due column: a settled invoice owes nothing, an open one all.
    return _zero_when(args, paths, when_present=True)


def _zero_unless(args: ZeroIfArgs, paths: dict[str, Any]) -> RecordFn:
    return _zero_when(args, paths, when_present=False)


class ObjectArgs(Args):
    """Arguments of ``object``."""

    paths: dict[str, Any] = Field(
        min_length=1,
        description="key ─▶ a path, or {path: P, transform: T, <T's arguments>} with a value "
                    "transform T (e.g. bool), or {transform: object, paths: {..}} (an object "
                    "inside: customer.extra.attributes); the keys with a value make the object",
    )


def _json_safe(value: Any) -> Any:
    """``value`` as something a JSON column stores (dates as ISO text, Decimals as text)."""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _object(args: ObjectArgs, paths: dict[str, Any]) -> RecordFn:
    # Paths in a dict are not compiled by the mapping (it compiles text and lists): do it here.
    from arconnect.mapping import compile_path

    parts: list[tuple[str, Getter, ValueFn | None]] = []
    inner_objects: list[tuple[str, RecordFn]] = []
    for key, spec in args.paths.items():
        if isinstance(spec, str):
            parts.append((str(key), compile_path(spec, in_each=False), None))
            continue
        if isinstance(spec, dict) and spec.get("transform") == "object" and "path" not in spec:
            # An object inside the object (extra: {attributes: {industry: ...}}).
            inner_paths = spec.get("paths")
            if set(spec) != {"transform", "paths"} or not isinstance(inner_paths, dict) or (
                    not inner_paths):
                raise ValueError(f"paths.{key}: an object inside takes only `paths: {{key: "
                                 "path}`, e.g. {transform: object, paths: {industry: "
                                 "'Groups[*].Name'}}")
            try:
                inner_objects.append((str(key), _object(ObjectArgs(paths=inner_paths), {})))
            except ValueError as err:
                raise ValueError(f"paths.{key}.{err}") from None
            continue
        if not isinstance(spec, dict) or not isinstance(spec.get("path"), str):
            raise ValueError(f"paths.{key}: give a path, or {{path: P, transform: T}}")
        rest = {k: v for k, v in spec.items() if k not in ("path", "transform")}
        fn: ValueFn | None = None
        name = spec.get("transform")
        if name is not None:
            inner = TRANSFORMS.get(name) if isinstance(name, str) else None
            if inner is None or inner.uses_record or inner.name == "object":
                raise ValueError(f"paths.{key}: {name!r} is not a value transform; use one of "
                                 + ", ".join(t.name for t in TRANSFORMS.values()
                                             if not t.uses_record))
            try:
                inner_args = inner.args.model_validate(rest)
            except Exception as err:
                raise ValueError(f"paths.{key}: transform {name}: {err}") from None
            fn = inner.factory(inner_args, {})
        elif rest:
            raise ValueError(f"paths.{key}: {', '.join(rest)} need a `transform:`")
        parts.append((str(key), compile_path(spec["path"], in_each=False), fn))

    def object_(
        value: Any, rec: dict[str, Any], parent: dict[str, Any] | None, ctx: dict[str, Any]
    ) -> dict[str, Any] | None:
        out: dict[str, Any] = {}
        for key, get, fn in parts:
            found = get(rec, parent)
            if found is not None and fn is not None:
                try:
                    found = fn(found)
                except ValueError as err:
                    raise ValueError(f"{key}: {err}") from None
            if isinstance(found, list):  # Addresses[*].Country: the filled ones
                found = [item for item in found if not _blank(item)]
            if not _blank(found):
                out[key] = _json_safe(found)
        for key, build in inner_objects:
            inner = build(None, rec, parent, ctx)
            if inner is not None:
                out[key] = inner
        return out or None

    return object_


def _t(name: str, summary: str, args: type[Args], output: Output,
       factory: Callable[[Any, dict[str, Any]], Callable[..., Any]], **kw: Any) -> Transform:
    return Transform(name, summary, args, output, factory, **kw)


TRANSFORMS: dict[str, Transform] = {
    t.name: t
    for t in (
        _t("iso_datetime", "ISO 8601 timestamp with its offset ─▶ UTC timestamp", NoArgs,
           "datetime", _iso_datetime),
        _t("iso_date", "ISO 8601 date (YYYY-MM-DD) ─▶ calendar date", NoArgs, "date",
           _iso_date),
        _t("decimal", "number ─▶ exact Decimal (never float); `round: N` rounds half-up",
           DecimalArgs, "decimal", _decimal),
        _t("int", "whole number", NoArgs, "int", _int),
        _t("bool", "true/false (also \"true\"/\"false\", 1/0)", NoArgs, "bool", _bool),
        _t("str", "text", NoArgs, "str", _str),
        _t("upper", "text in upper case", NoArgs, "str", _upper),
        _t("lower", "text in lower case", NoArgs, "str", _lower),
        _t("equals", "`value: X` ─▶ true when the value is X (missing: false)", EqualsArgs,
           "bool", _equals, handles_none=True),
        _t("in", "`values: [..]` ─▶ true when the value is one of them", ValuesArgs, "bool",
           _in, handles_none=True),
        _t("not_in", "`values: [..]` ─▶ true when the value is none of them", ValuesArgs,
           "bool", _not_in, handles_none=True),
        _t("lookup", "`map: {from: to}` with `default:`; on a list the first hit wins",
           LookupArgs, "any", _lookup, handles_none=True),
        _t("base_amount", "amount ─▶ base currency: amount / rate, or × rate with `rate_is: "
           "multiplier` (`rate:`, `currency:` paths)",
           BaseAmountArgs, "decimal", _base_amount, path_args=("rate", "currency"),
           uses_record=True),
        _t("first", "first non-empty of `path` and `paths: [..]`", FirstArgs, "any", _first,
           path_args=("paths",), uses_record=True, handles_none=True),
        _t("join", "list (and `paths: [..]`) ─▶ text joined by `sep:`", JoinArgs, "str", _join,
           path_args=("paths",), uses_record=True, handles_none=True),
        _t("date", "text ─▶ calendar date read with `format:` (strptime, e.g. \"%m/%d/%Y\")",
           DateArgs, "date", _date),
        _t("if_present", "`then:` when the value is there, else `otherwise:`", PresentArgs,
           "any", _if_present, handles_none=True),
        _t("zero_if", "amount ─▶ 0 when the `present:` path has a value, else the amount",
           ZeroIfArgs, "decimal", _zero_if, path_args=("present",), uses_record=True),
        _t("zero_unless", "amount ─▶ the amount when the `present:` path has a value, else 0",
           ZeroIfArgs, "decimal", _zero_unless, path_args=("present",), uses_record=True),
        _t("object", "`paths: {key: path}` ─▶ an object of the values found (JSON columns)",
           ObjectArgs, "any", _object, uses_record=True, handles_none=True),
    )
}


def all_transforms() -> dict[str, Transform]:
    """The engine's transforms and those every registered platform adds (``xero_date`` ...)."""
    from arconnect.platforms import platform_transforms

    return {**TRANSFORMS, **platform_transforms()}


def describe_transforms() -> list[dict[str, str]]:
    """Name, arguments and summary of every transform (for docs, errors and the CLI)."""
    out = []
    for t in all_transforms().values():
        out.append({"name": t.name, "args": ", ".join(t.args.model_fields) or "-",
                    "summary": t.summary})
    return out
