"""The CSV adapter: reads an AR history export (one record per row) as pages of raw records.

A spreadsheet export has no API, no cursor and no organisation endpoint: the file *is* the
platform. Each row becomes a dict keyed by the header's column names, plus the row's 1-based line
number in the file under :data:`LINE_KEY`, so every problem found later names the line a
consultant can open. A row that cannot be split into the header's columns carries
:data:`PROBLEM_KEY` instead of being dropped, so the importer reports it like any other reject.

The adapter never touches the store and never decides what a value means: it hands over text
(an empty cell is ``None``, a missing value); the mapping (``mappings/csv_*.yaml``) shapes rows.
"""

from __future__ import annotations

import csv
from collections.abc import Generator, Iterator, Sequence
from pathlib import Path
from typing import TextIO

from arconnect.adapters.base import Cursor, HttpClient, OrgInfo, Page, Record, TenantInfo
from arconnect.errors import ArconnectError

__all__ = ["LINE_KEY", "PROBLEM_KEY", "CsvAdapter", "CsvFileError"]

# Reserved keys added to every record (a header may not use them).
LINE_KEY = "_line"
PROBLEM_KEY = "_problem"
# Delimiters the sniffer may pick; anything else must be given explicitly.
_DELIMITERS = ",;\t|"
_SNIFF_BYTES = 64 * 1024


class CsvFileError(ArconnectError):
    """The CSV file as a whole cannot be read (missing, not text, no header)."""


class CsvAdapter:
    """Reads one CSV file into pages of raw records.

    Args:
        path: the file (UTF-8, with or without a byte-order mark).
        delimiter: the field separator; None sniffs it from the start of the file (``,``
            ``;`` tab or ``|``, falling back to ``,``).
        page_size: records per page.
        encoding: the file's text encoding.

    The adapter satisfies :class:`arconnect.adapters.base.Adapter` (the client and cursor are
    ignored: a file is always read whole) and never writes anything.
    """

    platform = "csv"
    entities: Sequence[str] = ("rows",)

    def __init__(
        self,
        path: str | Path,
        *,
        delimiter: str | None = None,
        page_size: int = 1000,
        encoding: str = "utf-8-sig",
    ) -> None:
        if page_size < 1:
            raise ValueError("page_size must be positive")
        if delimiter is not None and len(delimiter) != 1:
            raise CsvFileError(f"{path}: the delimiter must be one character, not {delimiter!r}")
        self.path = Path(path)
        self.delimiter = delimiter
        self.page_size = page_size
        self.encoding = encoding
        self.header: list[str] = []

    # -- the Adapter protocol ---------------------------------------------------------------

    def organisation(self, client: HttpClient | None, tenant: TenantInfo) -> OrgInfo:
        """The tenant as given: a file states no currency or time zone of its own."""
        return OrgInfo(tenant.name or tenant.external_id, tenant.base_currency or "",
                       tenant.timezone or "")

    def fetch(
        self, client: HttpClient | None, tenant: TenantInfo | None, entity: str = "rows",
        cursor: Cursor | None = None,
    ) -> Iterator[Page]:
        """Yield the file's records in pages (every entity reads the same rows).

        Raises:
            CsvFileError: the file is missing, unreadable, not text, or has no header.
        """
        return self.pages()

    # -- reading ----------------------------------------------------------------------------

    def pages(self) -> Iterator[Page]:
        """Yield pages of raw records, in file order; the last page has ``done=True``.

        Raises:
            CsvFileError: as :meth:`fetch`.
        """
        batch: list[Record] = []
        number = 0
        for record in self.records():
            batch.append(record)
            if len(batch) >= self.page_size:
                number += 1
                yield Page(batch, {"line": record[LINE_KEY]}, number)
                batch = []
        number += 1
        last = batch[-1][LINE_KEY] if batch else None
        yield Page(batch, {"line": last}, number, done=True)

    def read_header(self) -> list[str]:
        """The header's column names, checked (no blank or repeated name), read before any
        row is used; :attr:`header` holds them afterwards.

        Raises:
            CsvFileError: as :meth:`fetch`.
        """
        rows = self.records()
        try:
            next(rows, None)
        finally:
            rows.close()
        return list(self.header)

    def records(self) -> Generator[Record, None, None]:
        """Yield one raw record per data row (blank lines are skipped).

        Each record maps the header's names to the cell text, stripped, with ``None`` for an
        empty cell, plus :data:`LINE_KEY`; a row with more or fewer cells than the header also
        carries :data:`PROBLEM_KEY`.
        """
        try:
            handle = self.path.open(encoding=self.encoding, newline="")
        except FileNotFoundError:
            raise CsvFileError(f"{self.path}: no such file; check the path") from None
        except OSError as err:
            raise CsvFileError(f"{self.path}: cannot be read ({err.strerror})") from None
        with handle:
            yield from self._read(handle)

    def _read(self, handle: TextIO) -> Iterator[Record]:
        line = 0
        try:
            dialect = self._dialect(handle)
            reader = csv.reader(handle, dialect)
            header = next(reader, None)
            line = reader.line_num
            if not header or not any(h.strip() for h in header):
                raise CsvFileError(f"{self.path}:1: no header row; the first line names the "
                                   "columns (e.g. customerID,invoiceNumber,...)")
            self.header = names = self._names(header)
            width = len(names)
            for cells in reader:
                start, line = line + 1, reader.line_num
                if not cells or (len(cells) == 1 and not cells[0].strip()):
                    continue
                record: Record = {
                    name: (cell.strip() or None) for name, cell in zip(names, cells, strict=False)
                }
                record[LINE_KEY] = start
                if len(cells) != width:
                    record[PROBLEM_KEY] = (f"the row has {len(cells)} fields, the header "
                                           f"{width}; check the delimiter and the quoting")
                yield record
        except UnicodeDecodeError as err:
            raise CsvFileError(f"{self.path}:{line + 1}: not {self.encoding} text ({err.reason});"
                               " save the file as UTF-8") from None
        except csv.Error as err:
            raise CsvFileError(f"{self.path}:{line + 1}: {err}") from None

    def _dialect(self, handle: TextIO) -> type[csv.Dialect] | csv.Dialect:
        if self.delimiter is not None:
            delimiter = self.delimiter

            class Given(csv.excel):
                pass

            Given.delimiter = delimiter
            return Given
        sample = handle.read(_SNIFF_BYTES)
        handle.seek(0)
        try:
            sniffed = csv.Sniffer().sniff(sample, delimiters=_DELIMITERS)
        except csv.Error:
            return csv.excel
        # Only take the separator from the sniffer: its quoting guesses are unreliable on
        # small samples, and exports quote the standard way.
        guessed = sniffed.delimiter

        class Sniffed(csv.excel):
            pass

        Sniffed.delimiter = guessed
        return Sniffed

    def _names(self, header: list[str]) -> list[str]:
        names = [h.strip() for h in header]
        seen: dict[str, int] = {}
        for i, name in enumerate(names, start=1):
            if not name:
                raise CsvFileError(f"{self.path}:1: column {i} of the header has no name")
            if name in (LINE_KEY, PROBLEM_KEY):
                raise CsvFileError(f"{self.path}:1: column name {name!r} is reserved; rename "
                                   "the column")
            if name in seen:
                raise CsvFileError(f"{self.path}:1: column {name!r} appears twice (columns "
                                   f"{seen[name]} and {i}); rename one")
            seen[name] = i
        return names

