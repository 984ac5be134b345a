"""The outbound section's slot kinds (membership, reference, scalar): compiled from the
shipped mappings, held to each platform's writer with file:line errors and warnings."""

from __future__ import annotations

from pathlib import Path

import pytest

from arconnect.adapters.base import SlotKind
from arconnect.adapters.quickbooks.writer import TARGETS as QBO
from arconnect.adapters.xero.writer import TARGETS as XERO
from arconnect.errors import MappingError
from arconnect.mapping import load_mapping
from arconnect.segmenter.rules import load_rules
from arconnect.writeback.outbound import Outbound, check_outbound, check_targets

RULES = load_rules("default")
SHIPPED = Path(__file__).resolve().parents[2] / "mappings"


def _outbound(tmp_path: Path, name: str, text: str) -> tuple[Outbound, Path]:
    shipped = (SHIPPED / f"{name}.yaml").read_text(encoding="utf-8")
    head = shipped[:shipped.index("\noutbound:")]
    path = tmp_path / f"{name}.yaml"
    path.write_text(head + "\n" + text, encoding="utf-8")
    return load_mapping(path).outbound(RULES), path


def _line(path: Path, needle: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if needle in line)


def test_the_shipped_sections_compile_to_their_slot_kinds() -> None:
    xero = load_mapping("xero").outbound(RULES)
    assert [s.kind for s in xero.groups] == [SlotKind.MEMBERSHIP]
    assert [s.key for s in xero.specs()] == ["group:segment", "terms"]
    assert check_targets(xero, XERO, "xero") == []
    qbo = load_mapping("quickbooks").outbound(RULES)
    assert [(s.kind, s.target, s.key) for s in qbo.references] == [
        (SlotKind.REFERENCE, "CustomerTypeRef", "field:segment")]
    assert max(len(n) for n in qbo.references[0].names.values()) <= 15
    assert check_targets(qbo, QBO, "quickbooks") == []


def test_a_section_the_platform_cannot_take_is_refused_with_file_and_line(
        tmp_path: Path) -> None:
    # Xero's groups and history notes, in the QuickBooks mapping
    outbound, path = _outbound(tmp_path, "quickbooks", """outbound:
  batch_size: 50
  groups:
    - slot: segment
      value: segment
      name: "AR: {segment}"
  references:
    - slot: risk
      target: CreditRating
      value: tag:risk
      name: "Risk {tag}"
  credit_limit:
    history_note: true
""")
    with pytest.raises(MappingError) as err:
        check_targets(outbound, QBO, "quickbooks")
    text = str(err.value)
    assert f"{path}:{_line(path, '- slot: segment')}: quickbooks has no groups" in text
    assert f"{path}:{_line(path, '- slot: risk')}: target 'CreditRating' is not a field" in text
    assert "CustomerTypeRef" in text
    assert f"{path}:{_line(path, 'credit_limit:')}: quickbooks has no history notes" in text
    assert f"{path}:{_line(path, 'batch_size: 50')}: batch_size 50 is more than" in text


def test_reference_slots_are_validated_like_groups(tmp_path: Path) -> None:
    with pytest.raises(MappingError) as err:
        _outbound(tmp_path, "quickbooks", """outbound:
  references:
    - slot: segment
      target: CustomerTypeRef
      value: segmnt
      name: "AR {segment}"
    - slot: hold
      target: CustomerTypeRef
      value: credit_hold
      name: "AR {segment}"
""")
    path = tmp_path / "quickbooks.yaml"
    text = str(err.value)
    assert f"{path}:{_line(path, 'value: segmnt')}: value 'segmnt' is not one of" in text
    assert f"{path}:{_line(path, 'value: credit_hold') + 1}: name 'AR {{segment}}'" in text


def test_a_type_name_over_15_characters_is_a_warning_with_its_line(tmp_path: Path) -> None:
    outbound, path = _outbound(tmp_path, "quickbooks", """outbound:
  references:
    - slot: segment
      target: CustomerTypeRef
      value: segment
      name: "AR {segment}"
  terms: {write: true}
""")
    warnings = check_targets(outbound, QBO, "quickbooks")
    line = _line(path, "- slot: segment")
    assert warnings == [
        f"{path}:{line}: CustomerTypeRef name 'AR Occasionally late' is 20 characters; "
        "quickbooks's schema allows at most 15 (a limit not verified against the live API): "
        "shorten it with `names:` if it cannot be created"]
    assert check_outbound(path, RULES) == warnings  # what `arconnect mappings check` prints


def test_xero_terms_type_and_a_credit_limit_field_are_refused(tmp_path: Path) -> None:
    outbound, path = _outbound(tmp_path, "xero", """outbound:
  groups:
    - slot: segment
      value: segment
      name: "AR: {segment}"
  terms:
    type: OFFOLLOWINGMONTH
  credit_limit:
    field: Credit limit
""")
    with pytest.raises(MappingError) as err:
        check_targets(outbound, XERO, "xero")
    text = str(err.value)
    assert f"{path}:{_line(path, 'terms:')}: terms type 'OFFOLLOWINGMONTH'" in text
    assert f"{path}:{_line(path, 'credit_limit:')}: xero write-back cannot write the credit " \
           "limit to a field" in text
