"""Prints how long mapping 100,000 Xero invoices takes (see speed_check.py; no timed assertion)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest


def test_map_100k_invoices_prints_the_time(capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location(
        "speed_check", Path(__file__).with_name("speed_check.py")
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    seconds = module.run(100_000)
    with capsys.disabled():
        print(f"\nmapped 100,000 Xero invoices in {seconds:.2f} s (target < 1.5 s)")
