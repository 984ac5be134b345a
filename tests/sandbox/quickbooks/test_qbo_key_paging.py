"""Key paging in the QBO sandbox: a query bounded below on the time it orders by is answered by
bisection from the cached result of its other conditions; it must return exactly what filtering
every record returns, on every page, at every bound (ties and both operators), and after a
write."""

from __future__ import annotations

from random import Random

import pytest

from arconnect.sandbox.quickbooks import QboSandbox
from arconnect.sandbox.quickbooks import query as Q
from arconnect.sandbox.quickbooks.model import Company
from arconnect.sandbox.quickbooks.wire import stamp

from .conftest import small_config


def _filtered(company: Company, text: str) -> tuple[list[str], int]:
    """The answer by filtering every record (no cache, no bisection)."""
    query = Q.parse(text)
    keys = Q._select(company, company.tables[query.entity], query)
    if query.count:
        return [], len(keys)
    first = query.start - 1
    return keys[first:first + query.max_results], len(keys)


@pytest.fixture(scope="module")
def company() -> Company:
    return QboSandbox(small_config()).companies[0]


@pytest.mark.parametrize("entity,extra", [
    ("Invoice", ""), ("Payment", ""), ("Customer", " AND Active IN (true, false)"),
    ("Customer", ""), ("Invoice", " AND Balance > '0'")])
def test_bounded_queries_match_filtering_every_record(company: Company, entity: str,
                                                      extra: str) -> None:
    table = company.tables[entity]
    times = sorted(set(table.updated.values()))
    rng = Random(3)
    bounds = [times[0], times[-1], *rng.sample(times, min(12, len(times)))]
    for at in bounds:
        literal = stamp(at, company.tz)
        for op in (">=", ">"):
            where = f"MetaData.LastUpdatedTime {op} '{literal}'{extra}"
            for start, size in ((1, 1000), (1, 7), (5, 7), (10_000, 10)):
                text = (f"SELECT * FROM {entity} WHERE {where} ORDERBY "
                        f"MetaData.LastUpdatedTime STARTPOSITION {start} MAXRESULTS {size}")
                assert Q.run(company, Q.parse(text)) == _filtered(company, text), text
            count = f"SELECT COUNT(*) FROM {entity} WHERE {where}"
            assert Q.run(company, Q.parse(count)) == _filtered(company, count)


def test_a_write_is_seen_by_the_next_page() -> None:
    sb = QboSandbox(small_config())
    c = sb.companies[0]
    first = min(c.tables["Invoice"].updated.values())
    text = (f"SELECT * FROM Invoice WHERE MetaData.LastUpdatedTime >= '{stamp(first, c.tz)}' "
            "ORDERBY MetaData.LastUpdatedTime STARTPOSITION 1 MAXRESULTS 1000")
    before, total = Q.run(c, Q.parse(text))
    inv = next(iter(c.tables["Invoice"]))
    sb.mutate(c.realm_id).edit_invoice(inv)
    after, total_after = Q.run(c, Q.parse(text))
    assert total_after == total and after[-1] == inv != before[-1]
    assert (after, total_after) == _filtered(c, text)


def test_a_bad_bound_is_refused_as_before(company: Company) -> None:
    with pytest.raises(Q.QueryError) as err:
        Q.run(company, Q.parse("SELECT * FROM Invoice WHERE MetaData.LastUpdatedTime >= "
                               "'yesterday' ORDERBY MetaData.LastUpdatedTime"))
    assert "is not a date-time" in str(err.value)
