"""``rules check`` finds logic errors, every one in one pass, each at file:line with the fix;
warnings alone pass. The shipped rules and presets are clean."""

from __future__ import annotations

from pathlib import Path

import pytest

from arconnect.errors import MappingError
from arconnect.segmenter.rules import check_rules, shipped_presets
from tests.clitools import arconnect

# Every logic error at once (the comments say which; `line_of` finds them).
WRONG = """\
version: 1
default_segment: Slow
dimensions:
  - name: speed
    metric: avg_days_to_pay_weighted
    buckets:
      - {tag: fast, lt: 30}
      - {tag: slow, gt: 30}                 # GAP: 30 is neither
  - name: delay
    metric: days_late_weighted
    buckets:
      - {tag: early, lte: 50}
      - {tag: mid, gte: 45, lte: 90}        # OVERLAP: 45 to 50 match early too
      - {tag: never, gt: 60, lte: 80}       # SHADOWED: mid takes all of it
      - {tag: late, gt: 90}
  - name: overdue
    metric: oldest_overdue_days
    buckets:
      - {tag: none_due, lte: 0}
      - {tag: some_due, gte: 1}
      - {tag: impossible, gt: 10, lt: 5}    # EMPTY
  - name: size
    metric: turnover_12m
    buckets:
      - {tag: small, lt: 1000}
      - {tag: big, gte: 1000}
  - name: risk
    cases:
      - {tag: low_risk}
      - {tag: high_risk, when: {tag: late}}   # CASE AFTER OTHERWISE
segments:
  - name: Fast
    when: {all: [{tag: fast}, {tag: slow}]}   # TWO TAGS OF ONE DIMENSION
  - name: Slow
    when:
      any:
        - {metric: late_share, gt: 1}       # NEVER HOLDS
        - {tag: none_due}
  - name: Everyone
    explain: [risk]
  - name: Late                              # AFTER CATCH-ALL
    when: {tag: late}
"""


def line_of(marker: str) -> int:
    return next(i for i, line in enumerate(WRONG.splitlines(), 1)
                if f"# {marker}" in line or line.endswith(marker))


def test_every_logic_error_in_one_pass(tmp_path: Path) -> None:
    path = tmp_path / "wrong.yaml"
    path.write_text(WRONG)
    with pytest.raises(MappingError) as err:
        check_rules(path)
    lines = str(err.value).splitlines()
    expected = {
        "GAP": "avg_days_to_pay_weighted 30 falls in no bucket",
        "OVERLAP": "buckets 'early' (line 12) and 'mid' both match days_late_weighted ≥ 45 "
                   "and ≤ 50; the first wins. Start 'mid' where 'early' ends (`gt: 50`)",
        "SHADOWED": "bucket 'never' can never match: the buckets above it take every value",
        "EMPTY": "bucket 'impossible' can never match: no oldest_overdue_days value is > 10 and "
                 "< 5; fix its bounds",
        "CASE AFTER OTHERWISE": "case 'high_risk' of dimension 'risk' can never be chosen",
        "TWO TAGS OF ONE DIMENSION": "never both 'fast' and 'slow'",
        "NEVER HOLDS": "no late_share value is late_share > 1 (it is between 0 and 1)",
        "AFTER CATCH-ALL": f"segment 'Late' can never be chosen: 'Everyone' (line "
                           f"{line_of('name: Everyone')}) above it has no `when:`",
    }
    for marker, words in expected.items():
        at = f"{path}:{line_of(marker)}: "
        assert any(line.startswith(at) and words in line for line in lines), (marker, lines)
    # and a warning: no rule uses the size dimension
    assert any(line.startswith(f"{path}:22: warning: dimension 'size'") for line in lines)
    assert len(lines) == len(expected) + 1  # nothing else: no gap where whole days meet (0, 1)

    shown = arconnect("rules", "check", str(path), code=2)
    printed = shown.result.output.splitlines()
    assert len(printed) == len(lines)  # one problem a line
    assert printed[0].startswith(f"error: {path}:{line_of('GAP')}: ")


def test_warnings_alone_pass(tmp_path: Path) -> None:
    path = tmp_path / "warned.yaml"
    path.write_text("""\
default_segment: Any
dimensions:
  - name: speed
    metric: avg_days_to_pay
    buckets:
      - {tag: fast, lte: 30}
      - {tag: slow, gt: 30}
segments:
  - name: Any
""")
    warnings: list[str] = []
    rows = check_rules(path, warnings)
    assert [r["segment"] for r in rows] == ["Any"]
    assert warnings == [f"{path}:3: warning: dimension 'speed' (fast, slow) is used by no "
                        "segment, case or `explain:`: its tags only label customers in the "
                        "export and tables; use them in a condition, remove the dimension, or "
                        "say `report_only: true`"]
    shown = arconnect("rules", "check", str(path))
    assert "valid with 1 warning" in " ".join(shown.cells())
    path.write_text(path.read_text().replace("  - name: speed\n",
                                             "  - name: speed\n    report_only: true\n"))
    assert check_rules(path, warnings := []) and warnings == []


@pytest.mark.parametrize("name", ["default", *shipped_presets()])
def test_shipped_rules_are_clean(name: str) -> None:
    warnings: list[str] = []
    check_rules(name, warnings)
    assert warnings == []
