"""Segment rules: tags, the primary segment, the credit policy, hysteresis and locks.

A rules file (``config/segments.yaml``, or a preset in ``config/presets/``) is data a consultant
edits; ``docs/segments.md`` is its guide. This module owns loading it (validated by a pydantic
model, every problem reported as ``file:line``) and the *pure* evaluation of one customer's
metrics (the dict of the metrics contract) into an :class:`Assignment` with reasons in plain
words. It never reads or writes the store and never computes metrics; conditions and formulas
are structured YAML evaluated by a small interpreter here (never ``eval``).

Evaluation of one customer, in order:

1. *Tags*: each bucket dimension puts the metric in the first bucket whose bounds hold (``gt``,
   ``gte``, ``lt``, ``lte``: each bound says whether it is inclusive). With hysteresis, a
   customer whose previous tags hold a bucket of the dimension keeps it while the metric is within
   the dimension's ``margin`` beyond the bucket's bounds. Derived dimensions then take the tag of
   their first case whose condition holds.
2. *Segment*: too little history (``min_history``) gives the default segment; otherwise the first
   segment of the ordered list whose ``when`` holds (none: the default segment). A change of
   segment waits until the customer has been ``min_days_in_segment`` days in the previous one,
   unless the new segment is ``immediate``.
3. *Lock*: a manual lock (segment and/or until a date) always wins while it lasts. The result
   says which rule (minimum days, a margin, the lock) kept the customer from the segment the
   rules alone give (``Assignment.held_by``), for previews.
4. *Credit policy* of the segment: a fixed amount or a formula, rounded, then floored and
   capped; optional payment terms; a credit-hold flag.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import operator
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from arconnect.errors import MappingError
from arconnect.segmenter.dunning import Channel, DunningPolicy, DunningStep, Tone
from arconnect.yamlfile import Lines, Loc, Problems, load_yaml_with_lines, read_text, suggest
from arconnect.yamlfile import validation_problems as _validation_problems

__all__ = [
    "ATTRIBUTES",
    "METRICS",
    "Assignment",
    "Finding",
    "Lock",
    "PreviousAssignment",
    "Rules",
    "RulesFile",
    "assign",
    "check_rules",
    "load_rules",
    "logic_findings",
    "shipped_presets",
]

# The numeric metrics of the metrics contract (docs/segments.md §1; arconnect.segmenter.metrics)
# a rule may name, with the words reasons use for them.
METRICS: dict[str, str] = {
    "invoice_count": "invoices",
    "paid_invoice_count": "paid invoices",
    "avg_days_to_pay": "days to pay",
    "avg_days_to_pay_weighted": "amount-weighted days to pay",
    "days_late_weighted": "amount-weighted days late",
    "days_late_weighted_paid": "amount-weighted days late (paid invoices)",
    "late_share": "share of invoices paid late",
    "open_balance": "open balance",
    "overdue_balance": "overdue balance",
    "aging_current": "amount not yet due",
    "aging_1_30": "amount 1-30 days past due",
    "aging_31_60": "amount 31-60 days past due",
    "aging_61_90": "amount 61-90 days past due",
    "aging_91_plus": "amount 91+ days past due",
    "oldest_overdue_days": "days past due of the oldest open item",
    "unapplied_credit": "unapplied credit",
    "net_exposure": "open balance net of unapplied credit",
    "turnover_12m": "turnover over 12 months",
    "avg_monthly_sales": "average monthly sales",
    "exposure_months": "months of sales owed",
    "tenure_days": "days since the first invoice",
    "days_since_last_payment": "days since the last payment",
    "trend": "trend of days late",
    "credit_note_ratio": "credit-note ratio",
    "disputed_share": "share of invoices disputed",
    "terms_days": "payment terms days",
}
# The built-in attributes (arconnect.segmenter.metrics ATTRIBUTE_KEYS: text, not numbers) a
# condition may compare, with the words reasons use for them. Others are declared in the rules
# file's ``attributes:`` and read from the customer's ``attributes`` (mappings put them there).
ATTRIBUTES: dict[str, str] = {
    "delivery_mode": "delivery mode",
    "payment_method": "payment method",
    "country": "country",
    "currency": "currency",
    "group": "group",
}
_ATTRIBUTE_OPS = ("in", "not_in", "eq", "ne", "missing")
# Values formulas may use besides the metrics (computed here, see ``_variables``).
DERIVED = {
    "terms_days_or_default": "payment terms days",
    "paid_on_time_invoices": "invoices paid on time",
}
# Metrics whose reasons say how many paid invoices they are computed over.
_OVER_PAID = {"avg_days_to_pay", "avg_days_to_pay_weighted", "days_late_weighted_paid",
              "late_share"}
# Shares between 0 and 1, shown as percent.
_SHARES = {"late_share", "disputed_share"}
_MONEY = {"open_balance", "overdue_balance", "aging_current", "aging_1_30", "aging_31_60",
          "aging_61_90", "aging_91_plus", "unapplied_credit", "net_exposure", "turnover_12m",
          "avg_monthly_sales"}
_OPS = {"gt": ">", "gte": "≥", "lt": "<", "lte": "≤", "eq": "=", "ne": "≠"}
_FORMULA_OPS = {"add": "+", "sub": "-", "mul": "×", "div": "/", "min": "min", "max": "max"}
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]*")
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*")


# -- the file's shape (pydantic) ---------------------------------------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BucketModel(_Model):
    """One bucket of a metric dimension: a tag and its bounds (each says if it is inclusive)."""

    tag: str
    gt: float | None = None
    gte: float | None = None
    lt: float | None = None
    lte: float | None = None
    reason: str | None = None


class CaseModel(_Model):
    """One case of a derived dimension: a tag and the condition giving it (none: otherwise)."""

    tag: str
    when: Any = None
    reason: str | None = None


class DimensionModel(_Model):
    """A dimension: ``metric`` + ``buckets``, or ``cases`` over tags and metrics (derived)."""

    name: str
    description: str | None = None
    metric: str | None = None
    buckets: list[BucketModel] | None = Field(default=None, min_length=1)
    cases: list[CaseModel] | None = Field(default=None, min_length=1)
    margin: float = Field(default=0, ge=0)
    when_missing: str | None = None
    # Tags only for the export and tables: `rules check` does not warn that no rule uses them.
    report_only: bool = False

    def tags_of(self) -> list[str]:
        entries: list[BucketModel | CaseModel] = [*(self.buckets or self.cases or [])]
        return [e.tag for e in entries]


class CreditModel(_Model):
    """A segment's credit limit: ``limit`` is an amount or a formula; ``null`` sets none."""

    limit: Any = None
    floor: Decimal | None = Field(default=None, ge=0)
    cap: Decimal | None = Field(default=None, ge=0)
    round_to: Decimal = Field(default=Decimal(100), gt=0)
    rounding: Literal["down", "nearest", "up"] = "down"


class DunningStepModel(_Model):
    """One step of a segment's reminder cadence: ``action`` once the oldest overdue item is
    ``after_days`` days past due; ``channel`` and ``tone`` default to the policy's."""

    after_days: int = Field(ge=1, le=3650)
    action: str = Field(min_length=1)
    channel: Channel | None = None
    tone: Tone | None = None


class DunningModel(_Model):
    """A segment's dunning policy (arconnect.segmenter.dunning): its tone, its channel and its
    steps, in ascending ``after_days``. Platform ids stay in the platform's mapping."""

    tone: Tone = "neutral"
    channel: Channel = "email"
    steps: list[DunningStepModel] = Field(min_length=1)


class SegmentModel(_Model):
    """One entry of the ordered decision list."""

    name: str
    description: str | None = None
    when: Any = None
    credit: CreditModel | None = None
    terms_days: int | None = Field(default=None, ge=0)
    credit_hold: bool = False
    immediate: bool = False
    explain: list[str] = Field(default_factory=list)
    dunning: DunningModel | None = None


class MinHistoryModel(_Model):
    paid_invoices: int = Field(default=0, ge=0)


class HysteresisModel(_Model):
    min_days_in_segment: int = Field(default=0, ge=0)


class RulesFile(_Model):
    """The whole rules file, as written (before conditions and formulas are compiled)."""

    version: int = Field(default=1, ge=1, le=1)
    name: str | None = None
    description: str | None = None
    default_terms_days: int = Field(default=30, ge=0)
    # The behaviour window of the metrics, in days before the run date (ten years at most).
    window_days: int = Field(default=365, ge=1, le=3650)
    min_history: MinHistoryModel = Field(default_factory=MinHistoryModel)
    hysteresis: HysteresisModel = Field(default_factory=HysteresisModel)
    # Consultant-defined attributes the conditions may name (a mapping puts their values into
    # customer.extra.attributes); the built-in ones (ATTRIBUTES) need no declaring.
    attributes: list[str] = Field(default_factory=list)
    dimensions: list[DimensionModel] = Field(min_length=1)
    segments: list[SegmentModel] = Field(min_length=1)
    default_segment: str


_SHAPE_KEYS: dict[str, tuple[str, ...]] = {
    "": tuple(RulesFile.model_fields),
    "dimensions": tuple(DimensionModel.model_fields),
    "buckets": tuple(BucketModel.model_fields),
    "cases": tuple(CaseModel.model_fields),
    "segments": tuple(SegmentModel.model_fields),
    "credit": tuple(CreditModel.model_fields),
    "min_history": tuple(MinHistoryModel.model_fields),
    "hysteresis": tuple(HysteresisModel.model_fields),
    "dunning": tuple(DunningModel.model_fields),
    "steps": tuple(DunningStepModel.model_fields),
}
_EXAMPLES = {
    "dimensions": "dimensions: [{name: payment_speed, metric: avg_days_to_pay_weighted, "
                  "buckets: [{tag: fast, lte: 30}, {tag: slow, gt: 30}]}]",
    "segments": "segments: [{name: Reliable, credit: {limit: 5000}}]",
    "default_segment": "default_segment: New",
    "name": "name: payment_speed",
    "tag": "tag: fast",
    "steps": "steps: [{after_days: 1, action: Reminder e-mail}]",
    "after_days": "after_days: 15",
    "action": "action: Call the accounts payable contact",
}


def _allowed_keys(loc: Loc) -> tuple[str, ...]:
    names = [p for p in loc if isinstance(p, str)]
    return _SHAPE_KEYS.get(names[-1] if names else "", ())


# -- inputs and outputs ------------------------------------------------------------------------


@dataclass(frozen=True)
class PreviousAssignment:
    """What the customer had before this run.

    Attributes:
        segment: the previous segment.
        tags: the previous tags (hysteresis keeps a bucket the customer is already in).
        since: the day the customer entered ``segment``.
    """

    segment: str
    tags: tuple[str, ...] | list[str] = ()
    since: date | None = None


@dataclass(frozen=True)
class Lock:
    """A manual lock: always honoured while it lasts.

    Attributes:
        segment: the segment to hold the customer in; ``None`` freezes the previous segment.
        until: the last day the lock holds (inclusive); ``None`` means until unlocked.
    """

    segment: str | None = None
    until: date | None = None

    def active(self, today: date) -> bool:
        return self.until is None or today <= self.until


@dataclass
class Assignment:
    """One customer's result: tags, segment, credit policy and the reasons in plain words."""

    segment: str
    tags: list[str]
    credit_limit: Decimal | None
    terms_days: int | None
    credit_hold: bool
    reasons: list[str]
    # Set when the customer stays where it was (or is locked) although the rules alone would
    # move it: ``"min_days"`` (min_days_in_segment), ``"margin"`` (a dimension's margin kept a
    # tag that decides the segment) or ``"lock"`` (a manual lock); ``rules_say`` is the
    # segment it would otherwise get, ``held_reason`` the reason in words.
    held_by: Literal["min_days", "margin", "lock"] | None = None
    rules_say: str | None = None
    held_reason: str | None = None


# -- compiled rules ----------------------------------------------------------------------------

Metrics = Mapping[str, Any]
# A compiled condition: (metrics, tags) -> (holds, the reasons of what held).
Cond = Callable[[Metrics, "dict[str, str]"], "tuple[bool, list[str]]"]
# A compiled formula: variables -> (value or None when undefined, the formula with values).
Formula = Callable[["dict[str, Decimal | None]"], "tuple[Decimal | None, str]"]


@dataclass(frozen=True)
class Bucket:
    tag: str
    bounds: tuple[tuple[str, Decimal], ...]
    reason: str | None

    def holds(self, value: Decimal, margin: Decimal = Decimal(0)) -> bool:
        for op, bound in self.bounds:
            if op == "gt" and not value > bound - margin:
                return False
            if op == "gte" and not value >= bound - margin:
                return False
            if op == "lt" and not value < bound + margin:
                return False
            if op == "lte" and not value <= bound + margin:
                return False
        return True

    def describe(self, margin: Decimal = Decimal(0)) -> str:
        """The bounds in words; with a margin, widened as hysteresis applies them."""
        return _describe(self, margin)

    def _words(self, margin: Decimal) -> str:
        parts = []
        for op, b in self.bounds:
            shifted = b - margin if op in ("gt", "gte") else b + margin
            parts.append(f"{_OPS[op]} {_num(shifted)}")
        return " and ".join(parts) or "any value"


@dataclass(frozen=True)
class Dimension:
    name: str
    metric: str | None
    buckets: tuple[Bucket, ...] = ()
    cases: tuple[tuple[str, Cond | None, str | None], ...] = ()
    margin: Decimal = Decimal(0)
    when_missing: str | None = None

    @property
    def tags(self) -> tuple[str, ...]:
        if self.buckets:
            return tuple(b.tag for b in self.buckets)
        return tuple(tag for tag, _, _ in self.cases)


@dataclass(frozen=True)
class CreditPolicy:
    limit: Decimal | None
    formula: Formula | None
    floor: Decimal | None
    cap: Decimal | None
    round_to: Decimal
    rounding: str


@dataclass(frozen=True)
class Segment:
    name: str
    when: Cond | None
    credit: CreditPolicy | None
    terms_days: int | None
    credit_hold: bool
    immediate: bool
    explain: tuple[str, ...]
    line: int
    dunning: DunningPolicy | None = None


@dataclass(frozen=True)
class Rules:
    """A validated, compiled rules file; evaluate it with :func:`assign`.

    Attributes:
        source: where it was loaded from (a path or ``arconnect.config/...``).
        model: the file as validated (for display).
        dimensions: in evaluation order (bucket dimensions first, then derived ones in file
            order).
        segments: the ordered decision list.
    """

    source: str
    model: RulesFile
    dimensions: tuple[Dimension, ...]
    segments: tuple[Segment, ...]
    default_segment: str
    min_paid_invoices: int
    min_days_in_segment: int
    default_terms_days: int
    tag_dimension: dict[str, str] = field(default_factory=dict)
    window_days: int = 365
    # How the rules were asked for (a shipped name such as ``default`` or ``upflow``, else the
    # file's path) and the SHA-256 of the file's text: a segment run stores both with its
    # results, so a preview names the rules those results came from.
    ref: str = ""
    digest: str = ""

    @property
    def name(self) -> str:
        return self.model.name or Path(self.source).stem

    @property
    def label(self) -> str:
        """``ref (sha256 1a2b3c4d5e6f)``: which rules, and which version of them."""
        return f"{self.ref or self.source} (sha256 {self.digest[:12]})"

    def segment(self, name: str) -> Segment | None:
        return next((s for s in self.segments if s.name == name), None)


# -- compiling ---------------------------------------------------------------------------------


class _Compiler:
    """Compiles conditions and formulas, collecting every problem with its line."""

    def __init__(self, problems: Problems, tags: set[str], all_tags: set[str],
                 attributes: frozenset[str] = frozenset()) -> None:
        self.problems = problems
        self.tags = tags  # the tags a condition may name where it is being compiled
        self.all_tags = all_tags
        self.attributes = attributes  # the consultant-defined ones the file declares

    def add(self, loc: Loc, message: str) -> None:
        self.problems.add(loc, message)

    def metric(self, name: Any, loc: Loc) -> bool:
        if not isinstance(name, str) or name not in METRICS:
            self.add(loc, f"unknown metric {name!r}{suggest(str(name), METRICS)}; metrics: "
                          f"{', '.join(METRICS)}")
            return False
        return True

    def attribute(self, name: Any, loc: Loc) -> bool:
        if isinstance(name, str) and (name in ATTRIBUTES or name in self.attributes):
            return True
        known = [*ATTRIBUTES, *sorted(self.attributes)]
        if isinstance(name, str) and name in METRICS:
            hint = f"; {name} is a metric: {{metric: {name}, gte: ...}}"
        else:
            hint = (f"; attributes: {', '.join(known)} — declare your own (a mapping puts it "
                    f"into customer.extra.attributes) in the file's top-level "
                    f"`attributes: [{name if isinstance(name, str) else 'industry'}]`")
        self.add(loc, f"unknown attribute {name!r}{suggest(str(name), known)}{hint}")
        return False

    def attribute_condition(self, spec: dict[Any, Any], loc: Loc) -> Cond | None:
        """``{attribute: delivery_mode, in: [paper]}`` (also ``not_in``, ``eq``, ``ne``, and
        ``missing: true|false``): text compared case-insensitively."""
        ops = set(spec) - {"attribute"}
        if len(ops) != 1 or not ops <= set(_ATTRIBUTE_OPS):
            self.add(loc, f"an attribute condition takes one of {', '.join(_ATTRIBUTE_OPS)} "
                          "(e.g. {attribute: delivery_mode, in: [paper]}); got "
                          f"{', '.join(sorted(map(str, ops))) or 'no comparison'}")
            return None
        known = self.attribute(spec["attribute"], (*loc, "attribute"))
        (op,) = ops
        value = spec[op]
        if op == "missing":
            if not isinstance(value, bool):
                self.add((*loc, op), f"`missing:` takes true or false, got {value!r}")
                return None
            values: tuple[Any, ...] = ()
        elif op in ("in", "not_in"):
            if (not isinstance(value, list) or not value
                    or not all(_attribute_scalar(v) for v in value)):
                self.add((*loc, op), f"`{op}:` takes a non-empty list of values, e.g. "
                                     f"`{op}: [paper, post]`; got {value!r}")
                return None
            values = tuple(value)
        else:
            if not _attribute_scalar(value):
                self.add((*loc, op), f"`{op}:` takes one value (text or a number), e.g. "
                                     f"`{op}: paper`; got {value!r}")
                return None
            values = (value,)
        if not known:
            return None
        name = str(spec["attribute"])
        return _attribute_test(name, name not in ATTRIBUTES, op, values, value is True)

    def condition(self, spec: Any, loc: Loc) -> Cond | None:
        help_ = ("a condition is {tag: slow}, {metric: oldest_overdue_days, gte: 61}, "
                 "{attribute: delivery_mode, in: [paper]}, {all: [...]}, {any: [...]} or "
                 "{not: {...}}")
        if not isinstance(spec, dict) or not spec:
            self.add(loc, f"not a condition: {spec!r}; {help_}")
            return None
        keys = set(spec)
        if keys <= {"all", "any"} and len(keys) == 1:
            (kind,) = keys
            items = spec[kind]
            if not isinstance(items, list) or not items:
                self.add((*loc, kind), f"`{kind}:` takes a non-empty list of conditions")
                return None
            parts = [self.condition(item, (*loc, kind, i)) for i, item in enumerate(items)]
            if any(p is None for p in parts):
                return None
            return _all([p for p in parts if p]) if kind == "all" else _any(
                [p for p in parts if p])
        if keys == {"not"}:
            inner = self.condition(spec["not"], (*loc, "not"))
            return _not(inner) if inner else None
        if keys == {"tag"}:
            tag = spec["tag"]
            if tag not in self.tags:
                known = tag in self.all_tags
                self.add((*loc, "tag"), f"tag {tag!r} is given by a later dimension; move that "
                                        "dimension above this one" if known else
                                        f"unknown tag {tag!r}{suggest(str(tag), self.tags)}; "
                                        "tags come from the dimensions above")
                return None
            return _has_tag(str(tag))
        if "metric" in keys:
            ops = keys - {"metric"}
            bad = ops - set(_OPS)
            if bad or not ops:
                self.add(loc, f"a metric condition takes {', '.join(_OPS)} (e.g. "
                              f"{{metric: oldest_overdue_days, gte: 61}}); got "
                              f"{', '.join(sorted(map(str, bad))) or 'no comparison'}")
                return None
            if not self.metric(spec["metric"], (*loc, "metric")):
                return None
            tests: list[tuple[str, Decimal]] = []
            for op in sorted(ops):
                bound = _decimal(spec[op])
                if bound is None:
                    self.add((*loc, op), f"`{op}:` needs a number, got {spec[op]!r}")
                    return None
                tests.append((op, bound))
            return _compare(str(spec["metric"]), tuple(tests))
        if "attribute" in keys:
            return self.attribute_condition(spec, loc)
        self.add(loc, f"not a condition: keys {', '.join(map(str, spec))}; {help_}")
        return None

    def formula(self, spec: Any, loc: Loc) -> Formula | None:
        if isinstance(spec, bool):
            self.add(loc, f"not a number or formula: {spec!r}")
            return None
        if isinstance(spec, int | float):
            value = Decimal(str(spec))
            return lambda _v: (value, _num(value))
        if isinstance(spec, str):
            if spec not in METRICS and spec not in DERIVED:
                names = [*METRICS, *DERIVED]
                self.add(loc, f"unknown name {spec!r} in the formula{suggest(spec, names)}; "
                              f"use a number or one of: {', '.join(names)}")
                return None
            return _variable(spec)
        if isinstance(spec, dict) and len(spec) == 1:
            ((op, args),) = spec.items()
            if op not in _FORMULA_OPS:
                self.add(loc, f"unknown operation {op!r}{suggest(str(op), _FORMULA_OPS)}; "
                              f"operations: {', '.join(_FORMULA_OPS)}")
                return None
            two = op in ("sub", "div")
            if not isinstance(args, list) or len(args) < 2 or (two and len(args) != 2):
                self.add((*loc, op), f"`{op}:` takes a list of {'two' if two else 'two or more'} "
                                     "numbers or formulas")
                return None
            parts = [self.formula(a, (*loc, op, i)) for i, a in enumerate(args)]
            if any(p is None for p in parts):
                return None
            return _operation(op, [p for p in parts if p])
        self.add(loc, f"not a number or formula: {spec!r}; e.g. {{mul: [2, avg_monthly_sales]}}")
        return None


def _declared_attributes(model: RulesFile, problems: Problems) -> frozenset[str]:
    """The consultant-defined attribute names of ``attributes:``, each checked."""
    seen: set[str] = set()
    for i, name in enumerate(model.attributes):
        loc = ("attributes", i)
        if not _NAME.fullmatch(name):
            problems.add(loc, f"attribute name {name!r}: use letters, digits, _ (as the "
                              "mapping's key in customer.extra.attributes)")
        elif name in ATTRIBUTES:
            problems.add(loc, f"{name!r} is a built-in attribute: remove it from `attributes:`")
        elif name in METRICS:
            problems.add(loc, f"{name!r} is a metric, not an attribute: name it in "
                              f"{{metric: {name}, ...}} and remove it from `attributes:`")
        elif name in seen:
            problems.add(loc, f"attribute {name!r} is declared twice")
        else:
            seen.add(name)
    return frozenset(seen)


def _compile(data: Any, lines: Lines, label: str) -> Rules:
    problems = Problems(label, lines)
    problems.items.extend(lines.duplicates)
    if not isinstance(data, dict):
        problems.add((), "a rules file is a YAML mapping with `dimensions:`, `segments:` and "
                         "`default_segment:` (see the shipped config/segments.yaml)")
        raise problems.error()
    try:
        model = RulesFile.model_validate(data)
    except ValidationError as err:
        _validation_problems(err, problems, allowed_keys=_allowed_keys, examples=_EXAMPLES)
        raise problems.error() from None

    # Tags: unique across dimensions (a condition names a tag alone).
    tag_dimension: dict[str, str] = {}
    dim_names: set[str] = set()
    for d, dim in enumerate(model.dimensions):
        loc = ("dimensions", d)
        if not _NAME.fullmatch(dim.name):
            problems.add((*loc, "name"), f"dimension name {dim.name!r}: use letters, digits, _")
        if dim.name in dim_names:
            problems.add((*loc, "name"), f"dimension {dim.name!r} is declared twice")
        dim_names.add(dim.name)
        entries: list[BucketModel | CaseModel] = [*(dim.buckets or dim.cases or [])]
        for i, entry in enumerate(entries):
            kind = "buckets" if dim.buckets else "cases"
            if not _TAG.fullmatch(entry.tag):
                problems.add((*loc, kind, i, "tag"),
                             f"tag {entry.tag!r}: use letters, digits, _ . + -")
            if entry.tag in tag_dimension:
                problems.add((*loc, kind, i, "tag"),
                             f"tag {entry.tag!r} is already a tag of dimension "
                             f"{tag_dimension[entry.tag]!r}; tags must be unique")
            tag_dimension[entry.tag] = dim.name

    # Bucket tags come first; a derived dimension sees those and the derived ones above it.
    later = {e.tag for dim in model.dimensions if dim.cases is not None and dim.buckets is None
             for e in dim.cases}
    compiler = _Compiler(problems, set(tag_dimension) - later, set(tag_dimension),
                         _declared_attributes(model, problems))
    bucket_dims: list[Dimension] = []
    derived_dims: list[Dimension] = []
    for d, dim in enumerate(model.dimensions):
        loc = ("dimensions", d)
        if dim.when_missing is not None and dim.when_missing not in dim.tags_of():
            problems.add((*loc, "when_missing"),
                         f"when_missing {dim.when_missing!r} is not one of this dimension's tags "
                         f"({', '.join(dim.tags_of())})")
        if dim.buckets is not None and dim.cases is None:
            if dim.metric is None:
                problems.add(loc, f"dimension {dim.name!r} has buckets but no `metric:`, "
                                  "e.g. `metric: avg_days_to_pay_weighted`")
                continue
            if not compiler.metric(dim.metric, (*loc, "metric")):
                continue
            buckets = []
            for i, b in enumerate(dim.buckets):
                bounds = tuple((op, Decimal(str(v))) for op in ("gt", "gte", "lt", "lte")
                               if (v := getattr(b, op)) is not None)
                if b.gt is not None and b.gte is not None or b.lt is not None and (
                        b.lte is not None):
                    problems.add(("dimensions", d, "buckets", i),
                                 "a bucket takes at most one lower bound (gt or gte) and one "
                                 "upper bound (lt or lte)")
                buckets.append(Bucket(b.tag, bounds, b.reason))
            bucket_dims.append(Dimension(dim.name, dim.metric, buckets=tuple(buckets),
                                         margin=Decimal(str(dim.margin)),
                                         when_missing=dim.when_missing))
        elif dim.cases is not None and dim.buckets is None:
            if dim.metric is not None:
                problems.add((*loc, "metric"), "a dimension with `cases:` takes no `metric:`; "
                                               "name metrics inside the conditions")
            cases = []
            for i, c in enumerate(dim.cases):
                cond = None
                if c.when is not None:
                    cond = compiler.condition(c.when, (*loc, "cases", i, "when"))
                cases.append((c.tag, cond, c.reason))
            compiler.tags |= {c.tag for c in dim.cases}
            derived_dims.append(Dimension(dim.name, None, cases=tuple(cases),
                                          when_missing=dim.when_missing))
        else:
            problems.add(loc, f"dimension {dim.name!r} needs either `buckets:` (with `metric:`) "
                              "or `cases:`, not both")

    compiler.tags = set(tag_dimension)
    segments: list[Segment] = []
    seg_names: set[str] = set()
    for s, seg in enumerate(model.segments):
        loc = ("segments", s)
        if seg.name in seg_names:
            problems.add((*loc, "name"), f"segment {seg.name!r} is listed twice")
        seg_names.add(seg.name)
        when = compiler.condition(seg.when, (*loc, "when")) if seg.when is not None else None
        for e, name in enumerate(seg.explain):
            if name not in dim_names:
                problems.add((*loc, "explain", e), f"unknown dimension {name!r} in explain"
                                                   f"{suggest(name, dim_names)}")
        credit = None
        if seg.credit is not None:
            cm = seg.credit
            fixed = formula = None
            if cm.limit is not None:
                fixed = _decimal(cm.limit)
                if fixed is None or isinstance(cm.limit, bool):
                    fixed = None
                    formula = compiler.formula(cm.limit, (*loc, "credit", "limit"))
                elif fixed < 0:
                    problems.add((*loc, "credit", "limit"), "a credit limit cannot be negative")
            if cm.floor is not None and cm.cap is not None and cm.floor > cm.cap:
                problems.add((*loc, "credit", "floor"),
                             f"floor {cm.floor} is above cap {cm.cap}; swap them")
            credit = CreditPolicy(fixed, formula, cm.floor, cm.cap, cm.round_to, cm.rounding)
        segments.append(Segment(seg.name, when, credit, seg.terms_days, seg.credit_hold,
                                seg.immediate, tuple(seg.explain), lines(loc),
                                _dunning(seg.dunning, (*loc, "dunning"), problems)))
    if model.default_segment not in seg_names:
        problems.add(("default_segment",),
                     f"default segment {model.default_segment!r} is not in `segments:`"
                     f"{suggest(model.default_segment, seg_names)}")
    problems.raise_if_any()
    return Rules(
        source=label, model=model, dimensions=(*bucket_dims, *derived_dims),
        segments=tuple(segments), default_segment=model.default_segment,
        min_paid_invoices=model.min_history.paid_invoices,
        min_days_in_segment=model.hysteresis.min_days_in_segment,
        default_terms_days=model.default_terms_days, tag_dimension=tag_dimension,
        window_days=model.window_days,
    )


def _dunning(model: DunningModel | None, loc: Loc, problems: Problems) -> DunningPolicy | None:
    """A segment's dunning policy; its steps must be in strictly ascending ``after_days`` (the
    step reached is the last one whose days have passed, so two steps on one day, or a later
    step listed first, would hide one)."""
    if model is None:
        return None
    steps = []
    for i, step in enumerate(model.steps):
        if i and step.after_days <= model.steps[i - 1].after_days:
            before = model.steps[i - 1].after_days
            problems.add((*loc, "steps", i, "after_days"),
                         f"dunning step after_days {step.after_days} is not after the step above "
                         f"it ({before}): list the steps in ascending order of after_days, one "
                         "step per day")
        steps.append(DunningStep(step.after_days, step.action.strip(),
                                 step.channel or model.channel, step.tone or model.tone))
    return DunningPolicy(model.tone, model.channel, tuple(steps))


# -- condition and formula interpreters --------------------------------------------------------


def _all(parts: list[Cond]) -> Cond:
    def cond(m: Metrics, tags: dict[str, str]) -> tuple[bool, list[str]]:
        why: list[str] = []
        for p in parts:
            ok, r = p(m, tags)
            if not ok:
                return False, []
            why.extend(r)
        return True, why
    return cond


def _any(parts: list[Cond]) -> Cond:
    def cond(m: Metrics, tags: dict[str, str]) -> tuple[bool, list[str]]:
        why: list[str] = []
        held = False
        for p in parts:
            ok, r = p(m, tags)
            if ok:
                held = True
                why.extend(r)
        return held, why
    return cond


def _not(inner: Cond) -> Cond:
    def cond(m: Metrics, tags: dict[str, str]) -> tuple[bool, list[str]]:
        ok, _ = inner(m, tags)
        return (not ok), []
    return cond


def _has_tag(tag: str) -> Cond:
    def cond(m: Metrics, tags: dict[str, str]) -> tuple[bool, list[str]]:
        if tag in tags:
            return True, [tags[tag]]
        return False, []
    return cond


def _compare(metric: str, tests: tuple[tuple[str, Decimal], ...]) -> Cond:
    def cond(m: Metrics, tags: dict[str, str]) -> tuple[bool, list[str]]:
        value = _decimal(m.get(metric))
        if value is None:
            return False, []
        for op, bound in tests:
            if not _test(op, value, bound):
                return False, []
        shown = " and ".join(f"{_OPS[op]} {_num(b)}" for op, b in tests)
        return True, [f"{_capital(_label(metric))} {_show(metric, value, tests)} {shown}"
                      f"{_basis(metric, m)}"]
    return cond


def _attribute_scalar(value: Any) -> bool:
    """A value an attribute condition may list: text, a number or true/false."""
    return isinstance(value, str | int | float) and not (isinstance(value, str)
                                                         and not value.strip())


def _fold(value: Any) -> str:
    """An attribute value as compared: text trimmed and case-folded (``Paper`` is ``paper``),
    whole numbers without a decimal point (``391`` is ``391.0``), true/false as words."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip().casefold()


def _attribute_values(m: Metrics, name: str, custom: bool) -> list[tuple[str, str]]:
    """The customer's values of an attribute (several for ``group``), each as shown and as
    compared (:func:`_fold`); [] when missing."""
    raw = (m.get("attributes") or {}).get(name) if custom else m.get(name)
    items = raw if isinstance(raw, list) else [raw]
    out = []
    for item in items:
        if item is None or isinstance(item, dict | list):
            continue
        folded = _fold(item)
        if folded:
            out.append((folded if isinstance(item, bool | float) else str(item).strip(),
                        folded))
    return out


def _attribute_label(name: str, custom: bool) -> str:
    return name.replace("_", " ") if custom else ATTRIBUTES[name]


def _attribute_test(name: str, custom: bool, op: str, listed: tuple[Any, ...],
                    missing: bool) -> Cond:
    wanted = {_fold(v) for v in listed}
    label = _capital(_attribute_label(name, custom))
    listed_words = " or ".join(str(v) for v in listed)

    def cond(m: Metrics, tags: dict[str, str]) -> tuple[bool, list[str]]:
        values = _attribute_values(m, name, custom)
        shown = ", ".join(v for v, _ in values)
        if op == "missing":
            if not values:
                return missing, [f"{label} unknown"] if missing else []
            return (not missing), [] if missing else [f"{label} is {shown}"]
        if not values:
            return False, []
        hits = [v for v, folded in values if folded in wanted]
        if op in ("in", "eq"):
            return (True, [f"{label} is {', '.join(hits)}"]) if hits else (False, [])
        if hits:
            return False, []
        return True, [f"{label} is {shown}, not {listed_words}"]
    return cond


_TESTS: dict[str, Callable[[Any, Any], bool]] = {
    "gt": operator.gt, "gte": operator.ge, "lt": operator.lt, "lte": operator.le,
    "eq": operator.eq, "ne": operator.ne,
}


def _test(op: str, value: Decimal, bound: Decimal) -> bool:
    return _TESTS[op](value, bound)


@functools.cache
def _describe(bucket: Bucket, margin: Decimal) -> str:
    # Cached: every customer's reason repeats its bucket's few bounds.
    return bucket._words(margin)


def _variable(name: str) -> Formula:
    def formula(v: dict[str, Decimal | None]) -> tuple[Decimal | None, str]:
        value = v[name]
        return value, (f"{name} {_num(value)}" if value is not None else f"{name} (unknown)")
    return formula


def _operation(op: str, parts: list[Formula]) -> Formula:
    symbol = _FORMULA_OPS[op]

    def formula(v: dict[str, Decimal | None]) -> tuple[Decimal | None, str]:
        results = [p(v) for p in parts]
        values = [r[0] for r in results]
        if op in ("min", "max"):
            text = f"{op}({', '.join(r[1] for r in results)})"
        else:
            text = "(" + f" {symbol} ".join(r[1] for r in results) + ")"
        if any(x is None for x in values):
            return None, text
        nums = [x for x in values if x is not None]
        try:
            if op == "add":
                out = sum(nums, Decimal(0))
            elif op == "sub":
                out = nums[0] - nums[1]
            elif op == "mul":
                out = Decimal(1)
                for x in nums:
                    out *= x
            elif op == "div":
                out = nums[0] / nums[1]
            elif op == "min":
                out = min(nums)
            else:
                out = max(nums)
        except (InvalidOperation, ZeroDivisionError):
            return None, text
        return out, text
    return formula


# -- evaluation --------------------------------------------------------------------------------


def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int | float):
        return Decimal(str(value))
    if isinstance(value, str):
        try:
            return Decimal(value)
        except InvalidOperation:
            return None
    return None


def _num(value: Decimal | float | int | None) -> str:
    """A number as a consultant reads it: 41.2, 1,000, 12,345.67."""
    if value is None:
        return "unknown"
    d = value if isinstance(value, Decimal) else Decimal(str(value))
    if d == d.to_integral_value():
        return f"{int(d):,}"
    text = f"{d.quantize(Decimal('0.0001')).normalize():,f}"
    return text


_TENTH = Decimal("0.1")


def _show(metric: str, value: Decimal, bounds: tuple[tuple[str, Decimal], ...] = ()) -> str:
    """A metric's value in a reason: money to the cent, shares as percent, days and other
    figures to one decimal (41.2) — to four when one would read as a bound it is compared
    with (30.04 is shown as 30.04, not 30.0 > 30)."""
    if metric in _MONEY:
        return f"{value.quantize(Decimal('0.01')):,}"
    if metric in _SHARES:
        return f"{(value * 100).quantize(_TENTH)}%"
    if value == value.to_integral_value():
        return f"{int(value):,}"
    shown = value.quantize(_TENTH, ROUND_HALF_UP)
    if any(shown == b for _, b in bounds):
        return _num(value)
    return f"{shown:,}"


def _label(metric: str) -> str:
    return METRICS.get(metric, DERIVED.get(metric, metric))


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _basis(metric: str, m: Metrics) -> str:
    if metric in _OVER_PAID and m.get("paid_invoice_count") is not None:
        n = int(m["paid_invoice_count"])
        return f" over {n} paid invoice{'s' if n != 1 else ''}"
    if metric == "disputed_share" and m.get("invoice_count") is not None:
        n = int(m["invoice_count"])
        return f" over {n} invoice{'s' if n != 1 else ''}"
    return ""


def _bucket_reason(dim: Dimension, bucket: Bucket, value: Decimal, m: Metrics,
                   margin_note: str = "") -> str:
    metric = dim.metric or ""
    head = bucket.reason or f"{_capital(dim.name.replace('_', ' '))} {bucket.tag}"
    margin = dim.margin if margin_note else Decimal(0)
    return (f"{head}: {_label(metric)} {_show(metric, value, bucket.bounds)} "
            f"{bucket.describe(margin)}"
            f"{_basis(metric, m)}{margin_note}")


def _tags(rules: Rules, m: Metrics, previous: PreviousAssignment | None
          ) -> tuple[dict[str, str], dict[str, str], list[str]]:
    """(tag -> reason, dimension -> tag, the tags a margin kept) for one customer."""
    tags: dict[str, str] = {}
    by_dim: dict[str, str] = {}
    kept_tags: list[str] = []
    before = set(previous.tags) if previous is not None else set()
    for dim in rules.dimensions:
        chosen: str | None = None
        reason = ""
        if dim.buckets:
            value = _decimal(m.get(dim.metric or ""))
            if value is None:
                if dim.when_missing:
                    chosen = dim.when_missing
                    reason = (f"{_capital(dim.name.replace('_', ' '))} {chosen}: "
                              f"{_label(dim.metric or '')} unknown")
            else:
                kept = next((b for b in dim.buckets if b.tag in before), None)
                natural = next((b for b in dim.buckets if b.holds(value)), None)
                if (kept is not None and natural is not None and kept is not natural
                        and dim.margin > 0 and kept.holds(value, dim.margin)):
                    chosen = kept.tag
                    kept_tags.append(chosen)
                    reason = _bucket_reason(
                        dim, kept, value, m,
                        f" (kept from before: within the margin of {_num(dim.margin)} "
                        f"beyond {kept.describe()}; a new customer would be {natural.tag})")
                elif natural is not None:
                    chosen = natural.tag
                    reason = _bucket_reason(dim, natural, value, m)
        else:
            for tag, cond, why in dim.cases:
                if cond is None:
                    chosen, reason = tag, (why or f"{_capital(dim.name.replace('_', ' '))} "
                                                  f"{tag}: no other case applies")
                    break
                ok, parts = cond(m, tags)
                if ok:
                    head = why or f"{_capital(dim.name.replace('_', ' '))} {tag}"
                    chosen, reason = tag, f"{head} ({'; '.join(parts)})" if parts else head
                    break
            if chosen is None and dim.when_missing:
                chosen = dim.when_missing
                reason = f"{_capital(dim.name.replace('_', ' '))} {chosen}"
        if chosen is not None:
            tags[chosen] = reason
            by_dim[dim.name] = chosen
    return tags, by_dim, kept_tags


class _Variables(dict[str, "Decimal | None"]):
    """A formula's variables, each worked out the first time the formula reads it (a formula
    reads three or four of the dozens there are)."""

    def __init__(self, rules: Rules, m: Metrics, segment: Segment | None) -> None:
        super().__init__()
        self._rules, self._m, self._segment = rules, m, segment

    def __missing__(self, name: str) -> Decimal | None:
        m = self._m
        value: Decimal | None
        if name == "terms_days_or_default":
            terms = self._segment.terms_days if self._segment is not None else None
            if terms is None:
                terms = m.get("terms_days")
            value = Decimal(terms if terms is not None else self._rules.default_terms_days)
        elif name == "paid_on_time_invoices":
            paid = _decimal(m.get("paid_invoice_count")) or Decimal(0)
            late = _decimal(m.get("late_share")) or Decimal(0)
            value = (paid * (1 - late)).quantize(Decimal(1), ROUND_HALF_UP)
        else:
            value = _decimal(m.get(name)) if name in METRICS else None
        self[name] = value
        return value


def _credit(rules: Rules, seg: Segment | None, m: Metrics) -> tuple[Decimal | None, str | None]:
    if seg is None or seg.credit is None:
        return None, None
    c = seg.credit
    if c.formula is None and c.limit is None:
        return None, None
    if c.formula is not None:
        raw, text = c.formula(_Variables(rules, m, seg))
        text = text[1:-1] if text.startswith("(") and text.endswith(")") else text
        if raw is None:
            if c.floor is None:
                return None, f"No credit limit: the formula {text} cannot be computed"
            return c.floor, (f"Credit limit {_num(c.floor)} (the floor): the formula {text} "
                             "cannot be computed")
        how = f"{text} = {_num(raw.quantize(Decimal('0.01'), ROUND_HALF_UP))}"
    else:
        raw = c.limit
        how = "fixed"
        assert raw is not None
    mode = {"down": ROUND_FLOOR, "nearest": ROUND_HALF_UP, "up": ROUND_CEILING}[c.rounding]
    value = (raw / c.round_to).quantize(Decimal(1), mode) * c.round_to
    notes = []
    if value != raw:
        notes.append(f"rounded {c.rounding} to {_num(c.round_to)}")
    if c.floor is not None and value < c.floor:
        value = c.floor
        notes.append(f"raised to the floor {_num(c.floor)}")
    if c.cap is not None and value > c.cap:
        value = c.cap
        notes.append(f"capped at {_num(c.cap)}")
    value = max(value, Decimal(0))
    extra = f", {', '.join(notes)}" if notes else ""
    return value, f"Credit limit {_num(value)}: {how}{extra}"


def _decide(rules: Rules, m: Metrics, tags: dict[str, str], by_dim: dict[str, str]
            ) -> tuple[str, list[str]]:
    paid = int(m.get("paid_invoice_count") or 0)
    if paid < rules.min_paid_invoices:
        return rules.default_segment, [
            f"{rules.default_segment}: insufficient history: {paid} paid invoice"
            f"{'s' if paid != 1 else ''}, at least {rules.min_paid_invoices} needed"]
    for seg in rules.segments:
        if seg.when is None:
            why = [f"{seg.name}: no earlier segment applies"]
            why += [tags[by_dim[d]] for d in seg.explain if d in by_dim]
            return seg.name, why
        ok, parts = seg.when(m, tags)
        if ok:
            why = [f"{seg.name}: first matching segment"] + _unique(parts)
            why += [tags[by_dim[d]] for d in seg.explain if d in by_dim and
                    tags[by_dim[d]] not in why]
            return seg.name, why
    return rules.default_segment, [f"{rules.default_segment}: no segment applies (the default)"]


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def assign(rules: Rules, metrics: Metrics, previous: PreviousAssignment | None,
           lock: Lock | None, today: date, *, hysteresis: bool = True) -> Assignment:
    """Evaluate one customer: tags, segment, credit limit, terms, hold and reasons.

    Pure: reads only its arguments (``metrics`` is a dict of the metrics contract; missing keys
    count as unknown). It never touches the store; the caller records a history row when the
    segment differs from ``previous.segment``.

    Args:
        rules: from :func:`load_rules`.
        metrics: the customer's metrics as of ``today``.
        previous: the current assignment (for hysteresis and minimum days), if any.
        lock: the customer's manual lock, if any; honoured while ``today <= lock.until``.
        today: the run date.
        hysteresis: ``False`` ignores the margins and ``min_days_in_segment`` (where the rules
            alone would put the customer; a manual lock still holds).

    The result's ``held_by`` says which rule kept the customer from the segment the rules alone
    give: ``"min_days"``, ``"margin"`` or ``"lock"``.
    """
    tags, by_dim, kept = _tags(rules, metrics, previous if hysteresis else None)
    segment, reasons = _decide(rules, metrics, tags, by_dim)
    held_by: Literal["min_days", "margin", "lock"] | None = None
    rules_say: str | None = None
    held_reason: str | None = None

    if kept and previous is not None and segment == previous.segment:
        # A margin kept a tag; did it keep the segment too? The plain bounds say.
        plain, plain_dims, _ = _tags(rules, metrics, None)
        plain_segment = _decide(rules, metrics, plain, plain_dims)[0]
        if plain_segment != segment:
            held_by, rules_say = "margin", plain_segment
            held_reason = "; ".join(tags[t] for t in kept)

    if (hysteresis and previous is not None and segment != previous.segment
            and rules.min_days_in_segment):
        target = rules.segment(segment)
        held = rules.segment(previous.segment)
        if held is not None and previous.since is not None and not (
                target is not None and target.immediate):
            days = (today - previous.since).days
            if days < rules.min_days_in_segment:
                reasons = [f"Stays {previous.segment}: {days} day{'s' if days != 1 else ''} in "
                           f"the segment, {rules.min_days_in_segment} needed before moving "
                           f"(rules say {segment})"] + reasons[1:]
                held_by, rules_say, held_reason = "min_days", segment, reasons[0]
                segment = previous.segment

    if lock is not None:
        if lock.active(today):
            until = f" until {lock.until.isoformat()}" if lock.until else ""
            locked = lock.segment or (previous.segment if previous is not None else None)
            if locked is not None:
                say = f" (rules say {segment})" if locked != segment else ""
                reasons = [f"Locked to {locked}{until} by a manual lock{say}"] + reasons[1:]
                # The lock is what holds the customer, whatever else would have: compare with
                # the segment the rules alone give.
                wanted = rules_say if held_by is not None else segment
                held_by, rules_say, held_reason = (
                    ("lock", wanted, reasons[0]) if locked != wanted else (None, None, None))
                segment = locked
            else:
                reasons.append("Manual lock without a segment and no previous segment: "
                               "the rules apply")
        elif lock.until is not None:
            reasons.append(f"Manual lock ended on {lock.until.isoformat()}: the rules apply")

    seg = rules.segment(segment)
    limit, credit_reason = _credit(rules, seg, metrics)
    if seg is None:
        reasons.append(f"Segment {segment!r} is not in the rules ({rules.name}): no credit policy")
    if credit_reason:
        reasons.append(credit_reason)
    if seg is not None and seg.terms_days is not None:
        reasons.append(f"Payment terms net {seg.terms_days} for {segment}")
    hold = bool(seg and seg.credit_hold)
    if hold:
        reasons.append(f"Credit hold: {segment} puts new orders on hold")
    return Assignment(segment=segment, tags=list(tags), credit_limit=limit,
                      terms_days=seg.terms_days if seg else None, credit_hold=hold,
                      reasons=_unique(reasons), held_by=held_by, rules_say=rules_say,
                      held_reason=held_reason)


# -- loading -----------------------------------------------------------------------------------


def shipped_presets() -> list[str]:
    """Names of the presets shipped in ``arconnect.config/presets`` (``load_rules(name)``)."""
    folder = resources.files("arconnect.config").joinpath("presets")
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def _shipped_name(source: str | Path) -> bool:
    return isinstance(source, str) and bool(_NAME.fullmatch(source)) and not source.endswith(
        (".yaml", ".yml"))


def _source_text(source: str | Path) -> tuple[str, str]:
    if _shipped_name(source):
        assert isinstance(source, str)
        package = resources.files("arconnect.config")
        resource = (package.joinpath("segments.yaml") if source == "default"
                    else package.joinpath("presets").joinpath(f"{source}.yaml"))
        if not resource.is_file():
            raise MappingError(
                f"{source}.yaml:1: no rules named {source!r} ship with arconnect (shipped: "
                f"default, {', '.join(shipped_presets())}); give a path to a .yaml file instead")
        return str(resource), resource.read_text(encoding="utf-8")
    return read_text(source)


def load_rules(path_or_name: str | Path = "default") -> Rules:
    """Load and validate a rules file: ``"default"`` is ``config/segments.yaml``, a bare name is a
    shipped preset (``upflow``, ``tesorio``, ``crf_aging``), anything else a path.

    Nothing is half-loaded: either the whole file compiles or nothing is returned.

    Raises:
        MappingError: every problem found, one per line, each starting ``file:line: ``.
    """
    return _load(path_or_name)[0]


def _load(path_or_name: str | Path) -> tuple[Rules, Lines]:
    label, text = _source_text(path_or_name)
    data, lines = load_yaml_with_lines(
        text, label, empty_hint="a rules file has `dimensions:`, `segments:` and "
                                "`default_segment:` (see the shipped config/segments.yaml)")
    return dataclasses.replace(
        _compile(data, lines, label),
        ref=str(path_or_name) if _shipped_name(path_or_name) else label,
        digest=hashlib.sha256(text.encode("utf-8")).hexdigest()), lines


def check_rules(path_or_name: str | Path = "default", warnings: list[str] | None = None
                ) -> list[dict[str, Any]]:
    """Validate a rules file, its logic too (:func:`logic_findings`), and summarise its decision
    list (for ``arconnect rules check``): one row per segment, in order, with its condition,
    credit policy, terms, hold and line. ``warnings`` receives the logic warnings.

    Raises:
        MappingError: as :func:`load_rules`; or every logic finding, one per line, when any of
            them is an error.
    """
    rules, lines = _load(path_or_name)
    findings = logic_findings(rules, lines)
    if any(f.severity == "error" for f in findings):
        raise MappingError("\n".join(f.text for f in findings))
    if warnings is not None:
        warnings.extend(f.text for f in findings)
    rows = []
    for seg, model in zip(rules.segments, rules.model.segments, strict=True):
        credit = model.credit
        limit = "" if credit is None or credit.limit is None else (
            _num(_decimal(credit.limit)) if _decimal(credit.limit) is not None else "formula")
        rows.append({
            "segment": seg.name,
            "when": "otherwise" if model.when is None else _brief(model.when),
            "credit_limit": limit,
            "terms_days": seg.terms_days,
            "credit_hold": seg.credit_hold,
            "default": seg.name == rules.default_segment,
            "line": seg.line,
        })
    return rows


def _brief(spec: Any) -> str:
    """A condition in one line: ``slow and late``, ``oldest_overdue_days ≥ 61``."""
    if isinstance(spec, dict):
        if "all" in spec:
            return " and ".join(_paren(s) for s in spec["all"])
        if "any" in spec:
            return " or ".join(_paren(s) for s in spec["any"])
        if "not" in spec:
            return f"not {_paren(spec['not'])}"
        if "tag" in spec:
            return str(spec["tag"])
        if "metric" in spec:
            return " and ".join(f"{spec['metric']} {_OPS.get(k, k)} {v}"
                                for k, v in spec.items() if k != "metric")
        if "attribute" in spec:
            return " and ".join(_brief_attribute(spec["attribute"], k, v)
                                for k, v in spec.items() if k != "attribute")
    return str(spec)


def _brief_attribute(name: Any, op: Any, value: Any) -> str:
    if op == "missing":
        return f"{name} {'missing' if value is True else 'known'}"
    if op in ("in", "not_in") and isinstance(value, list):
        return f"{name} {'in' if op == 'in' else 'not in'} [{', '.join(map(str, value))}]"
    return f"{name} {_OPS.get(op, op)} {value}"


def _paren(spec: Any) -> str:
    text = _brief(spec)
    return f"({text})" if isinstance(spec, dict) and ("all" in spec or "any" in spec) else text


# -- logic checks (arconnect rules check) ------------------------------------------------------

# Metrics whose values are whole numbers (counts and days): ``lte: 0`` then ``gte: 1`` leaves
# no gap. See arconnect.segmenter.metrics (``int(...)``, ``.days``).
_WHOLE = {"invoice_count", "paid_invoice_count", "oldest_overdue_days", "tenure_days",
          "days_since_last_payment", "terms_days"}
# Metrics that are never below 0 (counts, amounts owed or invoiced, ratios, days since);
# the shares are also at most 1. Days to pay, days late and trend can be negative (paid early).
_NOT_NEGATIVE = {"invoice_count", "paid_invoice_count", "late_share", "disputed_share",
                 "open_balance",
                 "overdue_balance", "aging_current", "aging_1_30", "aging_31_60", "aging_61_90",
                 "aging_91_plus", "oldest_overdue_days", "unapplied_credit", "net_exposure",
                 "turnover_12m", "avg_monthly_sales", "exposure_months", "tenure_days",
                 "days_since_last_payment", "credit_note_ratio", "terms_days"}


@dataclass(frozen=True)
class _Span:
    """An interval of metric values; ``None`` is unbounded. Whole-number metrics use
    ``[a, b + 1)`` for the whole numbers a..b, so that the same arithmetic serves both."""

    lo: Decimal | None
    lo_in: bool
    hi: Decimal | None
    hi_in: bool

    def empty(self) -> bool:
        if self.lo is None or self.hi is None:
            return False
        return self.lo > self.hi or (self.lo == self.hi and not (self.lo_in and self.hi_in))

    def meet(self, other: _Span) -> _Span:
        lo, lo_in = self.lo, self.lo_in
        if other.lo is not None and (lo is None or other.lo > lo):
            lo, lo_in = other.lo, other.lo_in
        elif other.lo is not None and other.lo == lo:
            lo_in = lo_in and other.lo_in
        hi, hi_in = self.hi, self.hi_in
        if other.hi is not None and (hi is None or other.hi < hi):
            hi, hi_in = other.hi, other.hi_in
        elif other.hi is not None and other.hi == hi:
            hi_in = hi_in and other.hi_in
        return _Span(lo, lo_in, hi, hi_in)

    def minus(self, other: _Span) -> list[_Span]:
        if self.meet(other).empty():
            return [self]
        parts = []
        if other.lo is not None:
            parts.append(self.meet(_Span(None, False, other.lo, not other.lo_in)))
        if other.hi is not None:
            parts.append(self.meet(_Span(other.hi, not other.hi_in, None, False)))
        return [p for p in parts if not p.empty()]

    def words(self, whole: bool) -> str:
        lo, hi, lo_in, hi_in = self.lo, self.hi, self.lo_in, self.hi_in
        if whole and hi is not None:
            hi, hi_in = hi - 1, True
        if lo is not None and lo == hi:
            return _num(lo)
        parts = []
        if lo is not None:
            parts.append(f"{'≥' if lo_in else '>'} {_num(lo)}")
        if hi is not None:
            parts.append(f"{'≤' if hi_in else '<'} {_num(hi)}")
        return " and ".join(parts) or "every value"


def _range_note(bounds: Mapping[str, Decimal], metric: str) -> str:
    """Why bounds that look possible are not: the metric's range (empty when that is not why)."""
    if not _span(bounds, metric, ranged=False).empty():
        return " (it is between 0 and 1)" if metric in _SHARES else " (it is never below 0)"
    return ""


def _span(bounds: Mapping[str, Decimal], metric: str, *, ranged: bool = True) -> _Span:
    """The values ``bounds`` (gt, gte, lt, lte, eq) let through, within the metric's range
    (``ranged=False``: on the whole number line)."""
    whole = metric in _WHOLE
    span = _Span(Decimal(0) if ranged and metric in _NOT_NEGATIVE else None, True,
                 Decimal(1) if ranged and metric in _SHARES else None, True)
    for op, b in bounds.items():
        lo_in = op in ("gte", "eq")
        hi_in = op in ("lte", "eq")
        if op in ("gt", "gte", "eq"):
            span = span.meet(_Span(b, lo_in, None, False))
        if op in ("lt", "lte", "eq"):
            span = span.meet(_Span(None, False, b, hi_in))
    if not whole or span.empty():
        return span
    lo = span.lo
    if lo is not None:
        lo = lo.to_integral_value(ROUND_CEILING)
        lo = lo + 1 if lo == span.lo and not span.lo_in else lo
    hi = span.hi
    if hi is not None:
        hi = hi.to_integral_value(ROUND_FLOOR)
        hi = (hi - 1 if hi == span.hi and not span.hi_in else hi) + 1
    return _Span(lo, True, hi, False)


@dataclass(frozen=True)
class Finding:
    """A logic problem :func:`check_rules` found: ``error`` (the rules cannot do what they say)
    or ``warning`` (probably not meant); ``text`` is ``file:line: ...`` with the fix."""

    severity: Literal["error", "warning"]
    line: int
    text: str


def _conditions(spec: Any, loc: Loc) -> Iterator[tuple[Any, Loc]]:
    """Every condition node in ``spec`` with its location, outermost first."""
    yield spec, loc
    if isinstance(spec, dict):
        for kind in ("all", "any"):
            if isinstance(spec.get(kind), list):
                for i, item in enumerate(spec[kind]):
                    yield from _conditions(item, (*loc, kind, i))
        if "not" in spec:
            yield from _conditions(spec["not"], (*loc, "not"))


# Attributes with one value per customer (``group`` and consultant-defined ones may be lists).
_SINGLE_VALUED = {"delivery_mode", "payment_method", "country", "currency"}


def _disjoint_attributes(items: list[Any], loc: Loc,
                         add: Callable[[Literal["error", "warning"], Loc, str], None]) -> None:
    """An error when ``all:`` asks one single-valued attribute for values no one value has
    (``{attribute: country, eq: NZ}`` and ``{attribute: country, in: [AU]}``)."""
    allowed: dict[str, dict[str, str]] = {}  # attribute -> folded value -> as written
    for item in items:
        if not isinstance(item, dict) or item.get("attribute") not in _SINGLE_VALUED:
            continue
        name = item["attribute"]
        values = item.get("in", [item["eq"]] if "eq" in item else None)
        if not isinstance(values, list):
            continue
        wanted = {_fold(v): str(v) for v in values if _attribute_scalar(v)}
        before = allowed.get(name, wanted)
        both = {k: v for k, v in before.items() if k in wanted}
        if not both:
            add("error", loc, f"this condition can never hold: a customer has one {name}, "
                f"never one of {', '.join(before.values())} and one of "
                f"{', '.join(wanted.values())} at once; did you mean `any:`?")
        allowed[name] = both or wanted


def logic_findings(rules: Rules, lines: Lines) -> list[Finding]:
    """What a valid rules file gets wrong in its logic, every problem at once, sorted by line.

    Errors: a segment (or a derived dimension's case) after one without ``when:`` can never be
    chosen; a bucket that can never match (bounds that leave no value, or every value taken by
    the buckets above it); buckets that overlap (the first wins, the second silently loses those
    values); values of a dimension's metric that fall in no bucket; a condition that can never
    hold (bounds that leave no value, or ``all:`` of two tags of one dimension). Warnings: a
    dimension whose tags no condition and no ``explain:`` uses (say ``report_only: true`` when
    its tags are only for the export and tables); the default segment's condition placed
    after a catch-all (it is reached only as the default).
    """
    model, label = rules.model, rules.source
    found: list[Finding] = []

    def add(severity: Literal["error", "warning"], loc: Loc, message: str) -> None:
        line = lines(loc)
        prefix = "warning: " if severity == "warning" else ""
        found.append(Finding(severity, line, f"{label}:{line}: {prefix}{message}"))

    # Unreachable entries of the decision list and of derived dimensions.
    catch_all: SegmentModel | None = None
    for s, seg in enumerate(model.segments):
        if catch_all is not None:
            at = lines(("segments", model.segments.index(catch_all)))
            where = f"{catch_all.name!r} (line {at})"
            if seg.name == model.default_segment:
                add("warning", ("segments", s), f"segment {seg.name!r} comes after {where}, "
                    "which has no `when:` and takes every customer: its own condition is never "
                    "tried (it is reached only as default_segment); move it above")
            else:
                add("error", ("segments", s), f"segment {seg.name!r} can never be chosen: "
                    f"{where} above it has no `when:` and takes every customer left; move "
                    f"{seg.name!r} above it, or give {catch_all.name!r} a condition")
        elif seg.when is None:
            catch_all = seg
    for d, dim in enumerate(model.dimensions):
        otherwise: CaseModel | None = None
        for i, case in enumerate(dim.cases or []):
            if otherwise is not None:
                add("error", ("dimensions", d, "cases", i),
                    f"case {case.tag!r} of dimension {dim.name!r} can never be chosen: case "
                    f"{otherwise.tag!r} above it has no `when:` (otherwise); move it above")
            elif case.when is None:
                otherwise = case

    # Buckets: never matching, overlapping, and the values no bucket takes.
    for d, dim in enumerate(model.dimensions):
        if not dim.buckets or dim.metric is None:
            continue
        metric, whole = dim.metric, dim.metric in _WHOLE
        taken: list[tuple[int, BucketModel, _Span]] = []
        for i, b in enumerate(dim.buckets):
            loc = ("dimensions", d, "buckets", i)
            bounds = {op: Decimal(str(v)) for op in ("gt", "gte", "lt", "lte")
                      if (v := getattr(b, op)) is not None}
            span = _span(bounds, metric)
            if span.empty():
                add("error", loc, f"bucket {b.tag!r} can never match: no {metric} value is "
                    f"{' and '.join(f'{_OPS[op]} {_num(v)}' for op, v in bounds.items())}"
                    f"{_range_note(bounds, metric)}; fix its bounds")
                continue
            rest = [span]
            for _, _, earlier in taken:
                rest = [piece for part in rest for piece in part.minus(earlier)]
            if not rest:
                add("error", loc, f"bucket {b.tag!r} can never match: the buckets above it "
                    "take every value it would (the first matching bucket wins); remove it or "
                    "fix the bounds")
            else:
                for j, other, earlier in taken:
                    both = span.meet(earlier)
                    if not both.empty():
                        end = (f"`gt: {_num(Decimal(str(other.lte)))}`" if other.lte is not None
                               else f"`gte: {_num(Decimal(str(other.lt)))}`"
                               if other.lt is not None else "a bound")
                        add("error", loc, f"buckets {other.tag!r} (line "
                            f"{lines(('dimensions', d, 'buckets', j))}) and {b.tag!r} both "
                            f"match {metric} {both.words(whole)}; the first wins. Start "
                            f"{b.tag!r} where {other.tag!r} ends ({end})")
            taken.append((i, b, span))
        gaps = [_span({}, metric)]
        for _, _, span in taken:
            gaps = [piece for part in gaps for piece in part.minus(span)]
        for gap in gaps:
            after = next((i for i, _, s in taken if gap.hi is not None and s.lo == gap.hi),
                         None)
            gap_at: Loc = ("dimensions", d, "buckets", after) if after is not None else (
                "dimensions", d, "buckets")
            add("error", gap_at, f"dimension {dim.name!r}: {metric} {gap.words(whole)} falls in "
                "no bucket, so those customers get no tag of it; let neighbouring buckets "
                "share the bound (`lte: 30` then `gt: 30`), or add a bucket")

    # Conditions that can never hold; the tags and dimensions the rules use.
    used_tags: set[str] = set()
    used_dims = {name for seg in model.segments for name in seg.explain}
    whens: list[tuple[Any, Loc]] = [(seg.when, ("segments", s, "when"))
                                    for s, seg in enumerate(model.segments) if seg.when]
    whens += [(case.when, ("dimensions", d, "cases", i, "when"))
              for d, dim in enumerate(model.dimensions) for i, case in enumerate(dim.cases or [])
              if case.when is not None]
    for when, top in whens:
        for node, loc in _conditions(when, top):
            if not isinstance(node, dict):
                continue
            if isinstance(node.get("tag"), str):
                used_tags.add(node["tag"])
            if isinstance(node.get("metric"), str):
                bounds = {op: v for op in ("gt", "gte", "lt", "lte", "eq")
                          if (v := _decimal(node.get(op))) is not None}
                if _span(bounds, node["metric"]).empty():
                    add("error", loc, f"this condition can never hold: no {node['metric']} "
                        f"value is {_brief(node)}{_range_note(bounds, node['metric'])}; fix "
                        "the bounds")
            if isinstance(node.get("all"), list):
                seen: dict[str, str] = {}
                for item in node["all"]:
                    tag = item.get("tag") if isinstance(item, dict) else None
                    dim_name = rules.tag_dimension.get(tag) if isinstance(tag, str) else None
                    if dim_name is None or not isinstance(tag, str):
                        continue
                    if dim_name in seen and seen[dim_name] != tag:
                        add("error", loc, f"this condition can never hold: a customer has one "
                            f"tag of dimension {dim_name!r}, never both {seen[dim_name]!r} and "
                            f"{tag!r}; did you mean `any:`?")
                    seen.setdefault(dim_name, tag)
                _disjoint_attributes(node["all"], loc, add)
    for d, dim in enumerate(model.dimensions):
        if dim.report_only or dim.name in used_dims or used_tags & set(dim.tags_of()):
            continue
        add("warning", ("dimensions", d, "name"),
            f"dimension {dim.name!r} ({', '.join(dim.tags_of())}) is used by no segment, "
            "case or `explain:`: its tags only label customers in the export and tables; use "
            "them in a condition, remove the dimension, or say `report_only: true`")
    return sorted(found, key=lambda f: f.line)
