"""CSV: AR history exports (spreadsheets) read as pages of raw records."""

from __future__ import annotations

from arconnect.adapters.csv.adapter import LINE_KEY, PROBLEM_KEY, CsvAdapter, CsvFileError

__all__ = ["LINE_KEY", "PROBLEM_KEY", "CsvAdapter", "CsvFileError"]
