"""The sync engine's read-ahead: a consumer that stops early leaves no fetching thread behind."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

from arconnect.adapters.base import Page
from arconnect.sync import _prefetch


def _pages(n: int) -> Iterator[Page]:
    for i in range(1, n + 1):
        yield Page([{"id": i}], {"page": i}, i, done=i == n)


def test_a_consumer_that_stops_early_ends_the_fetching_thread_at_once() -> None:
    # The fetcher has read every page and waits to hand over its end marker when the
    # consumer stops (a page failed to store): it must give up instead of blocking for good.
    before = set(threading.enumerate())
    reader = _prefetch(_pages(2), depth=1)
    assert next(reader).number == 1
    time.sleep(0.3)  # let the fetcher fill the queue and reach the end marker
    started = time.monotonic()
    reader.close()
    assert time.monotonic() - started < 2, "closing waited for the fetching thread"
    leftover = [t for t in threading.enumerate() if t not in before and t.is_alive()]
    assert not leftover, leftover


def test_pages_and_a_fetch_error_arrive_in_order() -> None:
    def failing() -> Iterator[Page]:
        yield from _pages(2)
        raise RuntimeError("page 3 could not be read")

    got = []
    try:
        for page in _prefetch(failing()):
            got.append(page.number)
    except RuntimeError as err:
        assert "page 3" in str(err)
    assert got == [1, 2]
