"""CsvAdapter: raw records with their file line, sniffed delimiters, and what it refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from arconnect.adapters.base import TenantInfo
from arconnect.adapters.csv import LINE_KEY, PROBLEM_KEY, CsvAdapter, CsvFileError


def write(tmp_path: Path, text: str, name: str = "export.csv", bom: bool = False) -> Path:
    path = tmp_path / name
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


def test_records_keep_text_and_file_lines(tmp_path: Path) -> None:
    path = write(tmp_path, (
        "id,number,note\r\n"
        "A,0000000101,plain\r\n"
        "\r\n"                                   # a blank line is skipped, lines still count
        'B,0000000102,"two\r\nlines"\r\n'        # a quoted newline: the record starts on 4
        "C, 0000000103 ,\r\n"
    ), bom=True)
    adapter = CsvAdapter(path)
    records = list(adapter.records())
    assert adapter.header == ["id", "number", "note"]  # the BOM is not part of the first name
    assert records == [
        {"id": "A", "number": "0000000101", "note": "plain", LINE_KEY: 2},
        {"id": "B", "number": "0000000102", "note": "two\r\nlines", LINE_KEY: 4},
        {"id": "C", "number": "0000000103", "note": None, LINE_KEY: 6},
    ]


def test_pages(tmp_path: Path) -> None:
    path = write(tmp_path, "id\n" + "".join(f"{i}\n" for i in range(5)))
    pages = list(CsvAdapter(path, page_size=2).pages())
    assert [len(p.records) for p in pages] == [2, 2, 1]
    assert [p.number for p in pages] == [1, 2, 3]
    assert [p.done for p in pages] == [False, False, True]
    assert pages[-1].next_cursor == {"line": 6}
    empty = list(CsvAdapter(write(tmp_path, "id\n", "e.csv")).pages())
    assert len(empty) == 1 and empty[0].records == [] and empty[0].done


def test_protocol_surface(tmp_path: Path) -> None:
    adapter = CsvAdapter(write(tmp_path, "id\nA\n"))
    assert adapter.platform == "csv"
    org = adapter.organisation(None, TenantInfo("T", "T", base_currency="EUR"))
    assert org.base_currency == "EUR" and org.name == "T"
    pages = list(adapter.fetch(None, TenantInfo("T"), "rows", None))
    assert pages[0].records == [{"id": "A", LINE_KEY: 2}]


@pytest.mark.parametrize("sep", [";", "\t", "|"])
def test_delimiter_is_sniffed(tmp_path: Path, sep: str) -> None:
    path = write(tmp_path, f"id{sep}amount{sep}date\nA{sep}1,50{sep}1/2/2013\n"
                           f"B{sep}2,00{sep}1/3/2013\n")
    records = list(CsvAdapter(path).records())
    assert records[0] == {"id": "A", "amount": "1,50", "date": "1/2/2013", LINE_KEY: 2}


def test_delimiter_can_be_given(tmp_path: Path) -> None:
    path = write(tmp_path, "id;x\nA;1\n")
    assert list(CsvAdapter(path, delimiter=",").records())[0] == {"id;x": "A;1", LINE_KEY: 2}
    assert list(CsvAdapter(path, delimiter=";").records())[0] == {"id": "A", "x": "1",
                                                                  LINE_KEY: 2}
    with pytest.raises(CsvFileError, match="one character"):
        CsvAdapter(path, delimiter=";;")


def test_a_row_of_the_wrong_width_is_marked_not_dropped(tmp_path: Path) -> None:
    path = write(tmp_path, "a,b,c\n1,2,3\n1,2\n1,2,3,4\n")
    records = list(CsvAdapter(path).records())
    assert PROBLEM_KEY not in records[0]
    assert records[1][LINE_KEY] == 3 and "has 2 fields, the header 3" in records[1][PROBLEM_KEY]
    assert records[2][LINE_KEY] == 4 and "has 4 fields" in records[2][PROBLEM_KEY]


@pytest.mark.parametrize(("text", "message"), [
    ("", r"export.csv:1: no header row"),
    ("\n\n", r"export.csv:1: no header row"),
    ("a,,c\n", r"export.csv:1: column 2 of the header has no name"),
    ("a,b,a\n", r"export.csv:1: column 'a' appears twice \(columns 1 and 3\)"),
    ("a,_line\n", r"export.csv:1: column name '_line' is reserved"),
])
def test_bad_headers(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(CsvFileError, match=message):
        list(CsvAdapter(write(tmp_path, text)).records())


def test_missing_and_binary_files(tmp_path: Path) -> None:
    with pytest.raises(CsvFileError, match="nope.csv: no such file"):
        list(CsvAdapter(tmp_path / "nope.csv").records())
    path = tmp_path / "latin1.csv"
    path.write_bytes(b"id,name\nA,caf\xe9\n")
    with pytest.raises(CsvFileError, match="latin1.csv:1: not utf-8-sig text"):
        list(CsvAdapter(path).records())
    assert list(CsvAdapter(path, encoding="latin-1").records())[0]["name"] == "café"
