"""The shipped NetSuite outbound section: it compiles, the writer takes every slot, several
segments share a dunning procedure, the hold slot's release value; and what the section may
not say (a shared object across two slots, a field NetSuite write-back cannot set)."""

from __future__ import annotations

from pathlib import Path

import pytest

from arconnect.adapters.base import SlotKind
from arconnect.adapters.netsuite.writer import TARGETS
from arconnect.errors import MappingError
from arconnect.mapping import load_mapping
from arconnect.segmenter.rules import load_rules
from arconnect.writeback.outbound import check_outbound, check_targets

RULES = load_rules("default")
SHIPPED = Path(__file__).resolve().parents[3] / "mappings" / "netsuite.yaml"


def _with(tmp_path: Path, text: str) -> Path:
    shipped = SHIPPED.read_text(encoding="utf-8")
    path = tmp_path / "netsuite.yaml"
    path.write_text(shipped[:shipped.index("\noutbound:")] + "\n" + text, encoding="utf-8")
    return path


def test_the_shipped_section_compiles_and_the_writer_takes_it() -> None:
    outbound = load_mapping("netsuite").outbound(RULES)
    assert [(s.key, s.kind, s.target, s.release) for s in outbound.references] == [
        ("field:segment", SlotKind.REFERENCE, "category", None),
        ("field:hold", SlotKind.REFERENCE, "creditholdoverride", "AUTO"),
        ("field:dunning", SlotKind.REFERENCE, "custentity_3805_dunning_procedure", None)]
    assert [s.key for s in outbound.specs()] == [
        "field:segment", "field:hold", "field:dunning", "terms", "field:credit_limit"]
    dunning = outbound.references[2]
    assert set(dunning.names.values()) == {"Standard", "Gentle", "Firm"}
    assert set(dunning.names) == {s.name for s in RULES.segments}  # every segment has one
    assert dunning.value_of("Firm") is None  # two segments: no single one to lock to
    assert outbound.references[0].value_of("AR Reliable") == "Reliable"
    assert outbound.batch_size == 1 and outbound.limit_field == "creditlimit"
    assert check_targets(outbound, TARGETS, "netsuite") == []
    assert check_outbound(SHIPPED, RULES) == []


def test_a_custom_field_target_and_a_release_value_compile(tmp_path: Path) -> None:
    path = _with(tmp_path, """outbound:
  batch_size: 1
  references:
    - slot: tag
      target: custentity_ar_segment
      value: segment
      name: "{segment}"
    - slot: hold
      target: creditholdoverride
      value: credit_hold
      name: "ON"
      release: AUTO
  credit_limit: {field: custentity_ar_limit}
""")
    outbound = load_mapping(path).outbound(RULES)
    assert check_targets(outbound, TARGETS, "netsuite") == []
    assert outbound.references[1].release == "AUTO"


def test_what_netsuite_write_back_cannot_take_is_refused_with_its_line(
        tmp_path: Path) -> None:
    path = _with(tmp_path, """outbound:
  batch_size: 30
  references:
    - slot: rep
      target: salesrep
      value: segment
      name: "{segment}"
""")
    with pytest.raises(MappingError) as err:
        check_targets(load_mapping(path).outbound(RULES), TARGETS, "netsuite")
    text = str(err.value)
    assert "target 'salesrep' is not a field netsuite write-back can set" in text
    assert "custentity_*" in text
    assert "batch_size 30 is more than netsuite takes in one call (1)" in text


def test_two_slots_of_one_field_may_not_share_an_object(tmp_path: Path) -> None:
    path = _with(tmp_path, """outbound:
  references:
    - slot: dunning
      target: custentity_3805_dunning_procedure
      value: segment
      name: "Standard"
    - slot: hold_dunning
      target: custentity_3805_dunning_procedure
      value: credit_hold
      name: "Standard"
""")
    with pytest.raises(MappingError) as err:
        load_mapping(path).outbound(RULES)
    assert "name 'Standard' is also used for dunning" in str(err.value)
