"""Outbound mapping: where segments, tags, credit limits and terms land in the ERP.

The ``outbound:`` section of ``mappings/<platform>.yaml``, validated by a pydantic model with
``file:line`` errors, compiled into :class:`Outbound`: a list of *slots*. A slot is one thing a
customer has in the ERP that write-back owns:

* a **group slot** (Xero contact groups): the customer is a member of exactly one of the slot's
  groups, or of none. ``value`` says what picks the group: ``segment``, ``tag:<dimension>``,
  ``credit_hold`` or ``limit_band``; ``name`` is the group name template.
* ``terms``: the customer's default sales payment terms (net days).
* ``limit_note``: a note in the customer's history when its credit limit changes.

The planner (:mod:`arconnect.writeback.plan`) only needs a slot's possible values and a
customer's desired value; how a value is written is the platform writer's business.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from arconnect.yamlfile import Loc, Problems, validation_problems

__all__ = ["GroupSlot", "Outbound", "compile_outbound"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GroupModel(_Model):
    slot: str = Field(min_length=1, pattern=r"^[a-z][a-z0-9_]*$")
    value: str
    name: str = Field(min_length=1)
    names: dict[str, str] = Field(default_factory=dict)
    bands: list[Decimal] | None = None
    create: bool = True
    description: str | None = None


class TermsModel(_Model):
    write: bool = True
    type: Literal["DAYSAFTERBILLDATE"] = "DAYSAFTERBILLDATE"


class LimitModel(_Model):
    history_note: bool = True
    note: str = ("Credit limit {limit} {currency} (was {previous}) for segment {segment}, "
                 "set by arconnect.")


class OutboundModel(_Model):
    description: str | None = None
    enforce: bool = False
    batch_size: int = Field(default=50, ge=1, le=500)
    groups: list[GroupModel] = Field(default_factory=list)
    terms: TermsModel = Field(default_factory=TermsModel)
    credit_limit: LimitModel = Field(default_factory=LimitModel)


_KEYS = {
    (): ("description", "enforce", "batch_size", "groups", "terms", "credit_limit"),
    ("groups", "*"): ("slot", "value", "name", "names", "bands", "create", "description"),
    ("terms",): ("write", "type"),
    ("credit_limit",): ("history_note", "note"),
}
_VALUES = ("segment", "tag:<dimension>", "credit_hold", "limit_band")
_PLACEHOLDERS = {"segment": {"segment"}, "tag": {"tag", "dimension"},
                 "credit_hold": set(), "limit_band": {"band"}}


@dataclass(frozen=True)
class GroupSlot:
    """One group slot: the customer is in exactly one of ``names`` (by value) or in none.

    Attributes:
        slot: the slot's name (``segment``, ``risk`` ...), as audits and plans show it.
        source: ``segment`` | ``tag`` | ``credit_hold`` | ``limit_band``.
        dimension: the rules' dimension whose tag picks the group (source ``tag``).
        names: value (segment, tag, ``hold``, band) -> group name.
        bands: ascending upper bounds of the limit bands (source ``limit_band``).
        create: arconnect creates missing groups (else the ERP admin must create them).
    """

    slot: str
    source: str
    names: dict[str, str]
    dimension: str | None = None
    bands: tuple[Decimal, ...] = ()
    create: bool = True

    def group_for(self, assignment: dict[str, Any], tag_dimension: dict[str, str]) -> str | None:
        """The group a customer with ``assignment`` belongs in (None: none of this slot's)."""
        if self.source == "segment":
            return self.names.get(assignment["segment"])
        if self.source == "credit_hold":
            return self.names["hold"] if assignment.get("credit_hold") else None
        if self.source == "tag":
            for tag in assignment.get("tags") or ():
                if tag_dimension.get(tag) == self.dimension:
                    return self.names.get(tag)
            return None
        limit = assignment.get("credit_limit")
        if limit is None:
            return None
        return self.names[band_label(Decimal(str(limit)), self.bands)]

    def value_of(self, group: str | None) -> str | None:
        """The value (segment, tag ...) whose group is ``group``."""
        for value, name in self.names.items():
            if name == group:
                return value
        return None


def band_label(limit: Decimal, bands: Sequence[Decimal]) -> str:
    """``≤ 5,000`` for the first band holding ``limit``, ``> 25,000`` above the last."""
    for b in bands:
        if limit <= b:
            return f"≤ {_amount(b)}"
    return f"> {_amount(bands[-1])}"


def _amount(value: Decimal) -> str:
    return f"{int(value):,}" if value == value.to_integral_value() else f"{value:,}"


@dataclass(frozen=True)
class Outbound:
    """The compiled ``outbound:`` section."""

    groups: tuple[GroupSlot, ...] = ()
    terms: bool = False
    terms_type: str = "DAYSAFTERBILLDATE"
    limit_note: bool = False
    note_template: str = LimitModel().note
    enforce: bool = False
    batch_size: int = 50

    def group_names(self) -> dict[str, GroupSlot]:
        """Every group name write-back may use -> its slot."""
        return {name: slot for slot in self.groups for name in slot.names.values()}



def _fields(template: str) -> set[str] | None:
    try:
        return {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
    except ValueError:
        return None


def compile_outbound(data: Any, problems: Problems, prefix: Loc, *, segments: Sequence[str],
                     dimensions: dict[str, Sequence[str]]) -> Outbound | None:
    """Validate the ``outbound:`` mapping ``data`` (found at ``prefix`` in the file).

    ``segments`` and ``dimensions`` (name -> tags) come from the rules, so every group name a
    run may need is known before any write. Problems go to ``problems`` (``file:line``);
    returns None when there are any.
    """
    try:
        model = OutboundModel.model_validate(data)
    except ValidationError as err:
        validation_problems(
            err, problems, prefix=prefix,
            allowed_keys=lambda loc: _KEYS.get(tuple("*" if isinstance(p, int) else p
                                                     for p in loc), ()),
            examples={"slot": "slot: segment", "value": "value: segment",
                      "name": 'name: "AR: {segment}"'},
        )
        return None
    before = len(problems.items)
    slots: list[GroupSlot] = []
    seen_slots: dict[str, int] = {}
    seen_names: dict[str, str] = {}
    for i, g in enumerate(model.groups):
        loc = (*prefix, "groups", i)
        if g.slot in seen_slots:
            problems.add((*loc, "slot"), f"slot {g.slot!r} is used twice (also group "
                                         f"{seen_slots[g.slot] + 1}); give each a name of its own")
        seen_slots[g.slot] = i
        source, _, dim = g.value.partition(":")
        if source not in _PLACEHOLDERS or (source == "tag") != bool(dim):
            problems.add((*loc, "value"), f"value {g.value!r} is not one of {', '.join(_VALUES)}")
            continue
        fields = _fields(g.name)
        if fields is None or not fields <= _PLACEHOLDERS[source]:
            allowed = ", ".join("{" + p + "}" for p in sorted(_PLACEHOLDERS[source])) or "none"
            problems.add((*loc, "name"), f"name {g.name!r}: placeholders allowed for value "
                                         f"{g.value}: {allowed}")
            continue
        values: list[str]
        if source == "segment":
            values = list(segments)
        elif source == "tag":
            if dim not in dimensions:
                problems.add((*loc, "value"), f"no dimension {dim!r} in the rules; known: "
                                              f"{', '.join(dimensions)}")
                continue
            values = list(dimensions[dim])
        elif source == "credit_hold":
            values = ["hold"]
        else:
            if not g.bands:
                problems.add((*loc, "bands"), "value limit_band needs `bands:`, ascending upper "
                                              "bounds, e.g. `bands: [1000, 5000, 25000]`")
                continue
            if list(g.bands) != sorted(set(g.bands)):
                problems.add((*loc, "bands"), "bands must ascend without repeats")
                continue
            values = [band_label(b, g.bands) for b in g.bands]
            values.append(band_label(g.bands[-1] + 1, g.bands))
        for key in g.names:
            if key not in values:
                problems.add((*loc, "names", key), f"names: {key!r} is not a value of "
                                                   f"{g.value} (values: {', '.join(values)})")
        names: dict[str, str] = {}
        for v in values:
            name = g.names.get(v) or g.name.format(segment=v, tag=v, dimension=dim, band=v)
            name = name.strip()
            if not name:
                problems.add((*loc, "name"), f"the group name for {v!r} is empty")
            elif name.lower() in seen_names:
                problems.add((*loc, "name"), f"group name {name!r} is also used for "
                                             f"{seen_names[name.lower()]}; names must differ")
            else:
                seen_names[name.lower()] = f"{g.slot} {v}"
            names[v] = name
        slots.append(GroupSlot(g.slot, source, names, dim or None,
                               tuple(g.bands or ()), g.create))
    if _fields(model.credit_limit.note) is None or not (_fields(model.credit_limit.note) or set()) \
            <= {"limit", "currency", "previous", "segment", "date"}:
        problems.add((*prefix, "credit_limit", "note"),
                     "note: placeholders allowed: {limit}, {currency}, {previous}, {segment}, "
                     "{date}")
    if len(problems.items) > before:
        return None
    return Outbound(tuple(slots), model.terms.write, model.terms.type,
                    model.credit_limit.history_note, model.credit_limit.note, model.enforce,
                    model.batch_size)
