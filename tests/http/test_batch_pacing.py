"""Batch pacing: batch requests are held to ``batch_per_minute`` whether the caller names the
path with a leading slash or not (the client joins both under its base URL; the QuickBooks
writer posts to ``batch``); other calls are not."""

from __future__ import annotations

from typing import Any

import pytest

from arconnect.pacing import MINUTE_SPAN, Limits, Pacer

LIMITS = Limits(per_minute=500, concurrency=10, batch_per_minute=2)


@pytest.mark.parametrize("path", ["batch", "/batch", "/batch/", "batch?requestid=7",
                                  "/v3/company/9341/batch"])
def test_the_third_batch_in_a_minute_waits(vclock: Any, path: str) -> None:
    pacer = Pacer("quickbooks:9341", LIMITS, clock=vclock)
    for _ in range(2):
        with pacer.slot(path):
            vclock.advance(1)
    with pacer.slot(path):
        pass
    assert vclock.sleeps == [pytest.approx(MINUTE_SPAN - 2)]


@pytest.mark.parametrize("path", ["query", "/query", "/batches", "notbatch", ""])
def test_other_calls_are_not_batches(vclock: Any, path: str) -> None:
    pacer = Pacer("quickbooks:9341", LIMITS, clock=vclock)
    for _ in range(5):
        with pacer.slot(path):
            vclock.advance(1)
    assert vclock.sleeps == []
