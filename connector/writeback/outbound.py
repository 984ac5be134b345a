"""Outbound mapping: where segments, tags, credit limits and terms land in the ERP.

The ``outbound:`` section of ``mappings/<platform>.yaml``, validated by a pydantic model with
``file:line`` errors, compiled into :class:`Outbound`: a list of *slots*. A slot is one thing a
customer has in the ERP that write-back owns, of one of three kinds
(:class:`arconnect.adapters.base.SlotKind`):

* **membership** (``groups:``; Xero contact groups): the customer is a member of exactly one of
  the slot's groups, or of none. ``value`` says what picks the group: ``segment``,
  ``tag:<dimension>``, ``credit_hold`` or ``limit_band``; ``name`` is the group name template.
* **reference** (``references:``; QBO ``CustomerTypeRef``, NetSuite ``category``): a field of the
  customer that names an object; ``value`` and ``name`` as for groups, ``target`` the field (a
  writer may accept a family of fields by prefix, ``custentity_*``). Several values of one
  slot may name the same object (six segments, three dunning procedures); ``release`` is the
  value the field goes back to when the segments stop setting it, where the customer's own
  value would be wrong (a credit hold returns to the automatic setting, never to "off").
* **scalar**: a field holding a value — the credit limit in a field (``credit_limit.field``:
  a QBO custom field, NetSuite ``creditLimit``).

Payment terms (``terms:``) are a reference on some platforms (QBO ``SalesTermRef``) and a scalar
on others (Xero's sales payment terms); ``credit_limit.history_note`` adds a note to the
customer's history when its limit changes (Xero).

What each platform can take is declared by its writer (:class:`arconnect.adapters.base.
WriteTargets`); :func:`check_targets` holds the compiled section to it, with ``file:line``
errors and warnings. The planner (:mod:`arconnect.writeback.planner`) only needs a slot's
possible values and a customer's desired value; how a value is written is the writer's business.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from arconnect.adapters.base import RefTarget, SlotKind, SlotSpec, WriteTargets
from arconnect.errors import MappingError
from arconnect.yamlfile import Loc, Problems, validation_problems

__all__ = ["GroupSlot", "Outbound", "check_targets", "compile_outbound", "reference_target"]


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


class ReferenceModel(_Model):
    slot: str = Field(min_length=1, pattern=r"^[a-z][a-z0-9_]*$")
    target: str = Field(min_length=1)
    value: str
    name: str = Field(min_length=1)
    names: dict[str, str] = Field(default_factory=dict)
    bands: list[Decimal] | None = None
    release: str | None = Field(default=None, min_length=1)
    description: str | None = None


class TermsModel(_Model):
    write: bool = True
    type: str | None = None


class LimitModel(_Model):
    history_note: bool | None = None
    note: str = ("Credit limit {limit} {currency} (was {previous}) for segment {segment}, "
                 "set by arconnect.")
    field: str | None = Field(default=None, min_length=1)


class OutboundModel(_Model):
    description: str | None = None
    enforce: bool = False
    batch_size: int | None = Field(default=None, ge=1, le=500)
    groups: list[GroupModel] = Field(default_factory=list)
    references: list[ReferenceModel] = Field(default_factory=list)
    terms: TermsModel = Field(default_factory=TermsModel)
    credit_limit: LimitModel = Field(default_factory=LimitModel)


_KEYS = {
    (): ("description", "enforce", "batch_size", "groups", "references", "terms",
         "credit_limit"),
    ("groups", "*"): ("slot", "value", "name", "names", "bands", "create", "description"),
    ("references", "*"): ("slot", "target", "value", "name", "names", "bands", "release",
                          "description"),
    ("terms",): ("write", "type"),
    ("credit_limit",): ("history_note", "note", "field"),
}
_VALUES = ("segment", "tag:<dimension>", "credit_hold", "limit_band")
_PLACEHOLDERS = {"segment": {"segment"}, "tag": {"tag", "dimension"},
                 "credit_hold": set(), "limit_band": {"band"}}


@dataclass(frozen=True)
class GroupSlot:
    """One slot whose value names an object: a membership slot (the customer is in exactly one
    of ``names``' groups, or in none) or a reference slot (a field names one of ``names``'
    objects, or none).

    Attributes:
        slot: the slot's name (``segment``, ``risk`` ...), as audits and plans show it.
        source: ``segment`` | ``tag`` | ``credit_hold`` | ``limit_band``.
        names: value (segment, tag, ``hold``, band) -> object (group, type) name.
        dimension: the rules' dimension whose tag picks the group (source ``tag``).
        bands: ascending upper bounds of the limit bands (source ``limit_band``).
        create: arconnect creates missing groups (else the ERP admin must create them).
        kind: membership or reference.
        target: the field a reference slot sets (``CustomerTypeRef``).
        where: ``file:line`` of the slot in the mapping.
        release: a reference slot's fixed value for when the segments stop setting it (and
            for anything else it would be set to that is not one of ``names``' objects),
            instead of the customer's own value: a hold field goes back to the ERP's
            automatic setting, never to "no checks". None: the customer's own value.
    """

    slot: str
    source: str
    names: dict[str, str]
    dimension: str | None = None
    bands: tuple[Decimal, ...] = ()
    create: bool = True
    kind: SlotKind = SlotKind.MEMBERSHIP
    target: str = ""
    where: str = ""
    release: str | None = None

    @property
    def key(self) -> str:
        """How plans, audit rows and ``writeback_state`` name the slot."""
        prefix = "group" if self.kind is SlotKind.MEMBERSHIP else "field"
        return f"{prefix}:{self.slot}"

    def spec(self) -> SlotSpec:
        return SlotSpec(self.key, self.kind, self.target, dict(self.names), self.create,
                        self.where)

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

    def released(self, value: Any) -> Any:
        """What the slot may be set to for ``value``: ``value`` itself when it is one of the
        slot's objects or the slot has no ``release``, else the ``release`` value (a hold goes
        back to the automatic setting, never to the customer's "off")."""
        if self.release is None or value in self.names.values():
            return value
        return self.release

    def value_of(self, group: str | None) -> str | None:
        """The value (segment, tag ...) whose group is ``group`` (None when none is, or when
        several values of a reference slot share it: several segments, one procedure)."""
        found = [value for value, name in self.names.items() if name == group]
        return found[0] if len(found) == 1 else None


def band_label(limit: Decimal, bands: Sequence[Decimal]) -> str:
    """``≤ 5,000`` for the first band holding ``limit``, ``> 25,000`` above the last."""
    for b in bands:
        if limit <= b:
            return f"≤ {_amount(b)}"
    return f"> {_amount(bands[-1])}"


def _amount(value: Decimal) -> str:
    return f"{int(value):,}" if value == value.to_integral_value() else f"{value:,}"


LIMIT_FIELD = "field:credit_limit"


@dataclass(frozen=True)
class Outbound:
    """The compiled ``outbound:`` section.

    Attributes:
        groups: the membership slots.
        references: the reference slots.
        terms: write payment terms; ``terms_type`` the platform's kind of terms (None: its
            default).
        limit_note: note a credit limit change in the customer's history (None: when the
            platform can).
        limit_field: the field the credit limit is written to (None: not written to a field).
        batch_size: operations per call (None: the platform's most).
        where: slot key (and ``terms``, ``credit_limit``, ``batch_size``) -> ``file:line``.
    """

    groups: tuple[GroupSlot, ...] = ()
    terms: bool = False
    terms_type: str | None = None
    limit_note: bool | None = False
    note_template: str = LimitModel().note
    enforce: bool = False
    batch_size: int | None = None
    references: tuple[GroupSlot, ...] = ()
    limit_field: str | None = None
    where: dict[str, str] = dataclass_field(default_factory=dict)

    def group_names(self) -> dict[str, GroupSlot]:
        """Every group name write-back may use -> its slot."""
        return {name: slot for slot in self.groups for name in slot.names.values()}

    def named_slots(self) -> tuple[GroupSlot, ...]:
        """Membership and reference slots (a segment, tag ... picks an object by name)."""
        return self.groups + self.references

    def specs(self) -> list[SlotSpec]:
        """Every slot as the writer sees it."""
        out = [s.spec() for s in self.named_slots()]
        if self.terms:
            out.append(SlotSpec("terms", SlotKind.REFERENCE, self.terms_type or "",
                                where=self.where.get("terms", "")))
        if self.limit_field:
            out.append(SlotSpec(LIMIT_FIELD, SlotKind.SCALAR, self.limit_field,
                                where=self.where.get("credit_limit", "")))
        return out


def reference_target(targets: WriteTargets, target: str) -> RefTarget | None:
    """The platform's :class:`RefTarget` for a reference slot's ``target``: its own entry, else
    the entry of a prefix it matches (a key ending in ``*``: ``custentity_*`` stands for every
    custom field whose id starts so)."""
    exact = targets.references.get(target)
    if exact is not None:
        return exact
    for key, ref in targets.references.items():
        if key.endswith("*") and len(target) > len(key) - 1 and target.startswith(key[:-1]):
            return ref
    return None


def check_targets(outbound: Outbound, targets: WriteTargets, platform: str) -> list[str]:
    """Hold ``outbound`` to what the platform's writer can write.

    Returns:
        Warnings (``file:line: ...``) about what may not work (an object name longer than the
        platform's limit as its schema states it).

    Raises:
        MappingError: what cannot work, one ``file:line: ...`` per problem, with the fix.
    """
    errors: list[str] = []
    warnings: list[str] = []
    w = outbound.where
    for g in outbound.groups:
        if not targets.membership:
            errors.append(f"{g.where}: {platform} has no groups a customer joins; use "
                          f"`references:` (targets: {', '.join(targets.references) or 'none'})")
    for r in outbound.references:
        ref = reference_target(targets, r.target)
        if ref is None:
            errors.append(f"{r.where}: target {r.target!r} is not a field {platform} "
                          f"write-back can set; one of: {', '.join(targets.references) or 'none'}")
            continue
        for name in sorted(set(r.names.values())):
            if ref.max_name is not None and len(name) > ref.max_name:
                warnings.append(
                    f"{r.where}: {r.target} name {name!r} is {len(name)} characters; "
                    f"{platform}'s schema allows at most {ref.max_name} (a limit not verified "
                    "against the live API): shorten it with `names:` if it cannot be created")
    if outbound.terms and targets.terms is None:
        errors.append(f"{w.get('terms', '?')}: {platform} write-back cannot write payment "
                      "terms; set `terms: {write: false}`")
    elif outbound.terms and outbound.terms_type is not None \
            and outbound.terms_type not in targets.terms_types:
        errors.append(f"{w.get('terms', '?')}: terms type {outbound.terms_type!r} is not one "
                      f"{platform} takes; one of: {', '.join(targets.terms_types) or 'none'} "
                      "(or leave `type:` out)")
    if outbound.limit_note and not targets.limit_note:
        errors.append(f"{w.get('credit_limit', '?')}: {platform} has no history notes; set "
                      "`history_note: false`")
    if outbound.limit_field and not targets.limit_field:
        errors.append(f"{w.get('credit_limit', '?')}: {platform} write-back cannot write the "
                      "credit limit to a field; remove `field:`")
    if outbound.batch_size is not None and outbound.batch_size > targets.max_batch:
        errors.append(f"{w.get('batch_size', '?')}: batch_size {outbound.batch_size} is more "
                      f"than {platform} takes in one call ({targets.max_batch})")
    if errors:
        raise MappingError("\n".join(errors))
    return warnings



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
    returns None when there are any. What the platform can take is checked afterwards
    (:func:`check_targets`).
    """
    try:
        model = OutboundModel.model_validate(data)
    except ValidationError as err:
        validation_problems(
            err, problems, prefix=prefix,
            allowed_keys=lambda loc: _KEYS.get(tuple("*" if isinstance(p, int) else p
                                                     for p in loc), ()),
            examples={"slot": "slot: segment", "value": "value: segment",
                      "name": 'name: "AR: {segment}"',
                      "target": "target: <a reference field of the platform>"},
        )
        return None
    before = len(problems.items)
    seen_slots: dict[str, str] = {}
    seen_names: dict[tuple[SlotKind, str], str] = {}
    slots: dict[SlotKind, list[GroupSlot]] = {SlotKind.MEMBERSHIP: [], SlotKind.REFERENCE: []}
    entries: list[tuple[SlotKind, str, int, GroupModel | ReferenceModel]] = [
        (SlotKind.MEMBERSHIP, "groups", i, g) for i, g in enumerate(model.groups)]
    entries += [(SlotKind.REFERENCE, "references", i, r) for i, r in enumerate(model.references)]
    for kind, section, i, g in entries:
        loc = (*prefix, section, i)
        slot = _compile_slot(kind, g, loc, problems, segments, dimensions, seen_slots,
                             seen_names, f"{section} {i + 1}")
        if slot is not None:
            slots[kind].append(slot)
    if _fields(model.credit_limit.note) is None or not (_fields(model.credit_limit.note) or set()) \
            <= {"limit", "currency", "previous", "segment", "date"}:
        problems.add((*prefix, "credit_limit", "note"),
                     "note: placeholders allowed: {limit}, {currency}, {previous}, {segment}, "
                     "{date}")
    if len(problems.items) > before:
        return None
    where = {key: f"{problems.label}:{problems.line((*prefix, key))}"
             for key in ("terms", "credit_limit", "batch_size")}
    return Outbound(tuple(slots[SlotKind.MEMBERSHIP]), model.terms.write, model.terms.type,
                    model.credit_limit.history_note, model.credit_limit.note, model.enforce,
                    model.batch_size, tuple(slots[SlotKind.REFERENCE]),
                    model.credit_limit.field, where)


def _compile_slot(kind: SlotKind, g: GroupModel | ReferenceModel, loc: Loc, problems: Problems,
                  segments: Sequence[str], dimensions: dict[str, Sequence[str]],
                  seen_slots: dict[str, str], seen_names: dict[tuple[SlotKind, str], str],
                  label: str) -> GroupSlot | None:
    """One membership or reference slot, or None (its problems added)."""
    if g.slot in seen_slots:
        problems.add((*loc, "slot"), f"slot {g.slot!r} is used twice (also {seen_slots[g.slot]}); "
                                     "give each a name of its own")
    seen_slots[g.slot] = label
    source, _, dim = g.value.partition(":")
    if source not in _PLACEHOLDERS or (source == "tag") != bool(dim):
        problems.add((*loc, "value"), f"value {g.value!r} is not one of {', '.join(_VALUES)}")
        return None
    fields = _fields(g.name)
    if fields is None or not fields <= _PLACEHOLDERS[source]:
        allowed = ", ".join("{" + p + "}" for p in sorted(_PLACEHOLDERS[source])) or "none"
        problems.add((*loc, "name"), f"name {g.name!r}: placeholders allowed for value "
                                     f"{g.value}: {allowed}")
        return None
    values: list[str]
    if source == "segment":
        values = list(segments)
    elif source == "tag":
        if dim not in dimensions:
            problems.add((*loc, "value"), f"no dimension {dim!r} in the rules; known: "
                                          f"{', '.join(dimensions)}")
            return None
        values = list(dimensions[dim])
    elif source == "credit_hold":
        values = ["hold"]
    else:
        if not g.bands:
            problems.add((*loc, "bands"), "value limit_band needs `bands:`, ascending upper "
                                          "bounds, e.g. `bands: [1000, 5000, 25000]`")
            return None
        if list(g.bands) != sorted(set(g.bands)):
            problems.add((*loc, "bands"), "bands must ascend without repeats")
            return None
        values = [band_label(b, g.bands) for b in g.bands]
        values.append(band_label(g.bands[-1] + 1, g.bands))
    for key in g.names:
        if key not in values:
            problems.add((*loc, "names", key), f"names: {key!r} is not a value of "
                                               f"{g.value} (values: {', '.join(values)})")
    names: dict[str, str] = {}
    # Two membership slots may not share a group; two reference slots of one field may not
    # share an object (a slot could not tell its own value from the other's). Values of one
    # reference slot may share one (six segments, three dunning procedures).
    space = (kind, getattr(g, "target", ""))
    own: set[tuple[SlotKind, str]] = set()
    for v in values:
        name = g.names.get(v) or g.name.format(segment=v, tag=v, dimension=dim, band=v)
        name = name.strip()
        seen_key = (space[0], f"{space[1]}\0{name.lower()}")
        if not name:
            problems.add((*loc, "name"), f"the name for {v!r} is empty")
        elif seen_key in own and kind is SlotKind.REFERENCE:
            pass
        elif seen_key in seen_names:
            problems.add((*loc, "name"), f"name {name!r} is also used for "
                                         f"{seen_names[seen_key]}; names must differ")
        else:
            seen_names[seen_key] = f"{g.slot} {v}"
            own.add(seen_key)
        names[v] = name
    where = f"{problems.label}:{problems.line(loc)}"
    if isinstance(g, ReferenceModel):
        return GroupSlot(g.slot, source, names, dim or None, tuple(g.bands or ()), False,
                         SlotKind.REFERENCE, g.target, where, g.release)
    return GroupSlot(g.slot, source, names, dim or None, tuple(g.bands or ()), g.create,
                     where=where)


def check_outbound(source: Any, rules: Any = None, settings: Any = None) -> list[str]:
    """The ``outbound:`` section of mapping file ``source``, compiled against ``rules`` (the
    configured ones by default) and held to its platform's writer: ``arconnect mappings
    check`` runs it.

    Returns:
        Warnings, ``file:line: ...`` (nothing when the file has no outbound section).

    Raises:
        MappingError: ``file:line`` problems of the section.
    """
    from arconnect.mapping import load_mapping
    from arconnect.platforms import get_platform
    from arconnect.segmenter.rules import load_rules
    from arconnect.settings import get_settings

    mapping = load_mapping(source)
    if mapping.outbound_data is None or not mapping.platform:
        return []
    settings = settings or get_settings()
    rules = rules or load_rules(settings.rules_file or "default")
    outbound = mapping.outbound(rules)
    writer = get_platform(mapping.platform).writer(settings, outbound)
    return check_targets(outbound, writer.targets, writer.platform)
