"""`arconnect report`: one self-contained HTML page (inline CSS and SVG, nothing fetched),
every name escaped, written whole; and the charts it is drawn with."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import pytest
from sqlalchemy import Engine

from arconnect.charts import bar_chart, line_chart, stacked_bar_chart
from arconnect.report import build_report, segment_moves
from arconnect.segmenter.service import segment_tenant
from arconnect.settings import get_settings
from arconnect.store.models import SegmentHistory, Tenant
from tests.segmenter.test_as_of import Row
from tests.segmenter.test_kpis import _tiny
from tests.test_bad_input import assert_one_line_error, run_cli

# A customer id (the imported layout's name) that is markup; the CSV cannot hold a comma or a
# quote unescaped, so the markup goes without them.
EVIL = "<script>alert(1)</script><img src=x onerror=alert(2)>&amp;"
RUN = date(2013, 6, 30)
ROWS = [
    Row(EVIL, "A1", date(2013, 3, 1), date(2013, 3, 31), Decimal(1000), date(2013, 4, 20)),
    Row(EVIL, "A2", date(2013, 5, 1), date(2013, 5, 31), Decimal(500), None),
    Row("B", "B1", date(2013, 2, 1), date(2013, 3, 3), Decimal(2000), date(2013, 3, 1)),
    Row("B", "B2", date(2013, 4, 10), date(2013, 5, 10), Decimal(800), None),
]


@dataclass
class Page(HTMLParser):
    """The tags of a page, with their attributes, and which <svg> has a <title>."""

    tags: list[tuple[str, dict[str, str | None]]] = field(default_factory=list)
    svgs: list[dict[str, str | None]] = field(default_factory=list)
    titled: int = 0
    _in_svg: bool = False
    _first_in_svg: bool = False

    def __post_init__(self) -> None:
        super().__init__()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if self._first_in_svg:
            self.titled += tag == "title"
            self._first_in_svg = False
        if tag == "svg":
            self.svgs.append(dict(attrs))
            self._first_in_svg = True


def parsed(text: str) -> Page:
    page = Page()
    page.feed(text)
    page.close()
    return page


def assert_self_contained(text: str) -> Page:
    """No URL, no resource attribute, no script; every chart an inline SVG with role="img" and
    a <title> first."""
    assert "http://" not in text and "https://" not in text
    page = parsed(text)
    for tag, attrs in page.tags:
        assert tag not in ("script", "link", "img", "iframe", "object", "embed"), tag
        assert not {"src", "href", "xlink:href", "srcset"} & attrs.keys(), (tag, attrs)
        assert not any(k.startswith("on") for k in attrs), (tag, attrs)
    assert page.svgs and all(s.get("role") == "img" for s in page.svgs)
    assert page.titled == len(page.svgs)
    return page


@pytest.fixture
def tiny(sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
         ) -> Iterator[tuple[Engine, Tenant]]:
    monkeypatch.setenv("ARCONNECT_DATABASE_URL", sqlite_url)
    get_settings.cache_clear()
    yield from _tiny(sqlite_url, tmp_path, ROWS)


def test_the_page_is_self_contained_and_escapes_every_name(
        tiny: tuple[Engine, Tenant]) -> None:
    db, tenant = tiny
    segment_tenant(db, tenant, run_date=date(2013, 4, 30))
    segment_tenant(db, tenant, run_date=RUN)
    text = build_report(db, tenant, generated_at=datetime(2026, 12, 3, 21, 0, tzinfo=UTC)).html
    page = assert_self_contained(text)
    assert len(page.svgs) == 4  # customers, open amount, aging, moves
    assert "<script>" not in text and "<img" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;&amp;amp;" \
        in text
    for heading in ("Segments", "Aging by segment", "KPIs per segment",
                    "Moves between segments", "Worklist: who to call first"):
        assert f"<h2>{heading}</h2>" in text
    assert "<dt>As of</dt><dd>2013-06-30</dd>" in text
    assert "<dt>Generated</dt><dd>2026-12-03 21:00 UTC</dd>" in text
    # the KPI table's whole-ledger row: open 1300 (A2, B2), DSO = 1300 / 1300 x 90
    ledger = re.search(r'<tr class="total">(.*?)</tr>', text.split("KPIs per segment")[1])
    assert ledger is not None and "<td class=n>1,300</td>" in ledger.group(1)
    assert "<td class=n>90.0</td>" in ledger.group(1)


def test_a_back_dated_report_is_computed_for_that_day(tiny: tuple[Engine, Tenant]) -> None:
    db, tenant = tiny
    notes: list[str] = []
    report = build_report(db, tenant, run_date=date(2013, 4, 30), notes=notes)
    assert report.run_date == date(2013, 4, 30)
    assert_self_contained(report.html)
    assert "computed for this date (not stored)" in report.html
    assert "No segment history yet" in report.html  # nothing was stored


def test_moves_count_changes_of_segment_per_run_date(tiny: tuple[Engine, Tenant]) -> None:
    db, tenant = tiny
    runs = (datetime(2026, 1, 5, 9, tzinfo=UTC), datetime(2026, 2, 5, 9, tzinfo=UTC))
    rows = [("a", None, "New", runs[0]), ("b", None, "New", runs[0]),
            ("a", "New", "Reliable", runs[1]), ("b", "New", "At risk", runs[1]),
            ("c", "Reliable", "Reliable", runs[1])]  # a limit changed: not a move
    with db.begin() as conn:
        conn.execute(SegmentHistory.__table__.insert(), [  # type: ignore[attr-defined]
            {"tenant_id": tenant.id, "customer_external_id": c, "from_segment": f,
             "to_segment": t, "changed_at": at} for c, f, t, at in rows])
    moves = segment_moves(db, tenant)
    assert moves.dates == [date(2026, 1, 5), date(2026, 2, 5)]
    assert moves.first == [2, 0]
    assert moves.into == {"At risk": [0, 1], "New": [0, 0], "Reliable": [0, 1]}
    assert moves.matrix == {("(first assignment)", "New"): 2, ("New", "Reliable"): 1,
                            ("New", "At risk"): 1}
    assert segment_moves(db, tenant, through=date(2026, 1, 31)).dates == [date(2026, 1, 5)]


def test_charts_escape_labels_and_name_themselves() -> None:
    label = '"><script>x</script>'
    charts = [bar_chart("Open <b>", [label], [3.0]),
              stacked_bar_chart("Aging", [label], [("current", [1.0]), ("91+", [2.0])]),
              line_chart("Moves", ["2026-01-05", "2026-02-05"], [(label, [1.0, 4.0])])]
    for svg in charts:
        assert "<script>" not in svg and "&lt;script&gt;" in svg
        assert_self_contained(svg)
    assert "<title id=\"chart" in charts[0] and "Open &lt;b&gt;" in charts[0]
    with pytest.raises(ValueError, match="one value per label"):
        bar_chart("x", ["a", "b"], [1.0])


def test_the_command_writes_the_file_whole(tiny: tuple[Engine, Tenant], tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    db, tenant = tiny
    out = tmp_path / "r.html"
    ran = run_cli(capsys, "report", "tiny", "--as-of", RUN.isoformat(), "-o", str(out))
    assert ran.code == 0, ran.err
    assert_self_contained(out.read_text(encoding="utf-8"))
    assert f"wrote {out}" in " ".join(ran.err.split())
    assert not list(tmp_path.glob(".r.html.*"))  # no temporary file left
    # no -o: a default name in the current folder (the tests run in tmp_path)
    ran = run_cli(capsys, "report", "tiny", "--as-of", RUN.isoformat())
    assert ran.code == 0, ran.err
    assert (tmp_path / "report-tiny-2013-06-30.html").is_file()
    # a folder: the default name in it
    (tmp_path / "reports").mkdir()
    assert run_cli(capsys, "report", "tiny", "--as-of", "2013-05-31", "-o",
                   str(tmp_path / "reports")).code == 0
    assert (tmp_path / "reports" / "report-tiny-2013-05-31.html").is_file()
    # - : stdout
    ran = run_cli(capsys, "report", "tiny", "--as-of", RUN.isoformat(), "-o", "-")
    assert ran.code == 0 and ran.out.startswith("<!DOCTYPE html>")


def test_the_command_errors_clearly(tiny: tuple[Engine, Tenant], tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert_one_line_error(
        run_cli(capsys, "report", "tiny", "-o", str(tmp_path / "missing" / "r.html")),
        "does not exist")
    # no stored run yet, and no date
    assert_one_line_error(run_cli(capsys, "report", "tiny", "-o", str(tmp_path / "r.html")),
                          "run `arconnect segment` first")
    assert not (tmp_path / "r.html").exists()
