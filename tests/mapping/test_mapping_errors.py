"""Every load error is a MappingError starting ``file:line: `` that says what and how to fix."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from arconnect.errors import MappingError
from arconnect.mapping import load_mapping

HEAD = """\
entities:
  invoices:
    rows:
      - table: document
        fields:
          external_id: InvoiceID
          kind: {const: invoice}
          status: Status
"""
LINE = 9  # the first line after HEAD


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "custom.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def error_of(tmp_path: Path, text: str) -> tuple[Path, str]:
    path = write(tmp_path, text)
    with pytest.raises(MappingError) as err:
        load_mapping(path)
    return path, str(err.value)


def assert_at(message: str, path: Path, line: int, *needles: str) -> None:
    assert message.startswith(f"{path}:{line}: "), message
    for needle in needles:
        assert needle in message, message


def test_the_head_is_valid(tmp_path: Path) -> None:
    mapping = load_mapping(write(tmp_path, HEAD))
    assert list(mapping.entities) == ["invoices"]


def test_unknown_transform_lists_the_known_ones(tmp_path: Path) -> None:
    text = HEAD + "          issue_date: {path: Date, transform: xero_dat}\n"
    path, msg = error_of(tmp_path, text)
    assert_at(msg, path, LINE, "unknown transform 'xero_dat'", "did you mean 'xero_date'",
              "known transforms: iso_datetime, iso_date, decimal", "xero_datetime, xero_date")


def test_unknown_column_lists_the_tables_columns(tmp_path: Path) -> None:
    text = HEAD + "          isue_date: {path: Date, transform: xero_date}\n"
    path, msg = error_of(tmp_path, text)
    assert_at(msg, path, LINE, "table document has no column 'isue_date'",
              "did you mean 'issue_date'", "its columns: tenant_id, external_id, kind")


def test_id_is_not_a_mappable_column(tmp_path: Path) -> None:
    path, msg = error_of(tmp_path, HEAD + "          id: InvoiceID\n")
    assert_at(msg, path, LINE, "map the ERP's id to external_id")


def test_unknown_table(tmp_path: Path) -> None:
    path, msg = error_of(tmp_path, HEAD.replace("table: document", "table: documents"))
    assert_at(msg, path, 4, "unknown table 'documents'", "did you mean 'document'",
              "tables: customer, document, payment, allocation")


def test_missing_external_id(tmp_path: Path) -> None:
    path, msg = error_of(tmp_path, HEAD.replace("          external_id: InvoiceID\n", ""))
    assert_at(msg, path, 5, "table document needs `external_id`", "external_id: Id")


def test_missing_not_null_column(tmp_path: Path) -> None:
    path, msg = error_of(tmp_path, HEAD.replace("          kind: {const: invoice}\n", ""))
    assert_at(msg, path, 5, "table document needs `kind`", "{const: ...}")


@pytest.mark.parametrize(
    "bad", ["Invoice..Number", "Invoice.Number[x]", "Line Items", ".X", "a.b["]
)
def test_bad_path_syntax(tmp_path: Path, bad: str) -> None:
    path, msg = error_of(tmp_path, HEAD + f"          number: '{bad}'\n")
    assert_at(msg, path, LINE, "bad path", "dotted field names such as CustomerRef.value")


def test_parent_path_outside_each(tmp_path: Path) -> None:
    path, msg = error_of(tmp_path, HEAD + "          number: ^.InvoiceNumber\n")
    assert_at(msg, path, LINE, "reads the parent record (^.)", "has no `each:`")


def test_yaml_syntax_error_has_its_line(tmp_path: Path) -> None:
    path, msg = error_of(tmp_path, HEAD + "          number: {path: InvoiceNumber\n"
                                          "          reference: Reference\n")
    assert msg.startswith(f"{path}:")
    line = int(msg.split(":")[1])
    assert line in (LINE, LINE + 1, LINE + 2), msg
    assert "YAML syntax error" in msg


def test_yaml_bad_indentation(tmp_path: Path) -> None:
    path, msg = error_of(tmp_path, HEAD + "        number: InvoiceNumber\n"
                                          "           reference: Reference\n")
    assert "YAML syntax error" in msg and msg.startswith(f"{path}:{LINE + 1}: "), msg


def test_unknown_transform_argument_on_its_own_line(tmp_path: Path) -> None:
    path, msg = error_of(tmp_path, HEAD + textwrap.indent(textwrap.dedent("""\
        total:
          path: Total
          transform: decimal
          rnd: 2
        """), "          "))
    assert_at(msg, path, LINE + 3, "unknown argument 'rnd' for transform decimal",
              "did you mean 'round'", "its arguments: round")


def test_bad_transform_argument_value(tmp_path: Path) -> None:
    text = HEAD + "\n" + "          total: {path: Total, transform: decimal, round: lots}\n"
    path, msg = error_of(tmp_path, text)
    assert_at(msg, path, LINE + 1, "transform decimal: argument `round`")


def test_missing_transform_argument(tmp_path: Path) -> None:
    path, msg = error_of(tmp_path, HEAD + "          is_deleted: {path: Status, transform: in}\n")
    assert_at(msg, path, LINE, "transform in: argument `values` is required")


def test_unknown_field_key(tmp_path: Path) -> None:
    text = HEAD + "          number: {path: InvoiceNumber, requird: true}\n"
    path, msg = error_of(tmp_path, text)
    assert_at(msg, path, LINE, "unknown key 'requird'", "did you mean 'required'")


def test_unknown_context_value(tmp_path: Path) -> None:
    path, msg = error_of(tmp_path, HEAD + "          currency: {context: base_curency}\n")
    assert_at(msg, path, LINE, "unknown context value 'base_curency'",
              "tenant_id, synced_at, base_currency")


def test_a_number_is_not_a_path(tmp_path: Path) -> None:
    path, msg = error_of(tmp_path, HEAD + "          number: 42\n")
    assert_at(msg, path, LINE, "{const: 42}")


def test_column_type_needs_its_transform(tmp_path: Path) -> None:
    path, msg = error_of(tmp_path, HEAD + "          issue_date: Date\n")
    assert_at(msg, path, LINE, "column issue_date holds a date", "transform: iso_date")
    # a mapping that declares its platform is pointed at the platform's own date format
    xero = "platform: xero\n" + HEAD
    path, msg = error_of(tmp_path, xero + "          issue_date: Date\n")
    assert_at(msg, path, LINE + 1, "column issue_date holds a date", "transform: xero_date")
    path, msg = error_of(tmp_path, HEAD + "          total: {path: Total, transform: xero_date}\n")
    assert_at(msg, path, LINE, "holds a decimal but transform xero_date gives a date",
              "transform: decimal")


def test_default_must_fit_the_column(tmp_path: Path) -> None:
    path, msg = error_of(tmp_path, HEAD + "          total: {path: Total, transform: decimal,"
                                          " default: lots}\n")
    assert_at(msg, path, LINE, "column total (decimal): default 'lots' is not a number")


def test_path_and_const_together(tmp_path: Path) -> None:
    path, msg = error_of(tmp_path, HEAD + "          number: {path: X, const: Y}\n")
    assert_at(msg, path, LINE, "give only one of path, const, context")


def test_bad_conditions(tmp_path: Path) -> None:
    head = HEAD.replace("        fields:\n", "        skip_if: {path: Type, equalz: ACCREC}\n"
                                            "        fields:\n")
    path, msg = error_of(tmp_path, head)
    assert_at(msg, path, 5, "unknown condition key 'equalz'", "did you mean 'equals'")
    head = HEAD.replace("        fields:\n", "        skip_if:\n"
                                            "          any:\n"
                                            "            - {path: Type, equals: A}\n"
                                            "            - {path: Type}\n"
                                            "        fields:\n")
    path, msg = error_of(tmp_path, head)
    assert_at(msg, path, 8, "a condition needs `path:` and exactly one of")
    head = HEAD.replace("        fields:\n", "        skip_if: {path: Type, in: ACCREC}\n"
                                            "        fields:\n")
    path, msg = error_of(tmp_path, head)
    assert_at(msg, path, 5, "`in:` takes a list of values")


def test_each_cannot_read_the_parent(tmp_path: Path) -> None:
    head = HEAD.replace("        fields:\n", "        each: ^.Allocations\n        fields:\n")
    path, msg = error_of(tmp_path, head)
    assert_at(msg, path, 5, "each:")


def test_duplicate_key(tmp_path: Path) -> None:
    path, msg = error_of(tmp_path, HEAD + "          status: Status\n")
    assert_at(msg, path, LINE, "duplicate key 'status' (first on line 8)")


def test_shape_errors(tmp_path: Path) -> None:
    path, msg = error_of(tmp_path, "entitys:\n  invoices: {}\n")
    assert msg.startswith(f"{path}:1: "), msg
    assert "unknown key 'entitys'" in msg and "did you mean 'entities'" in msg
    path, msg = error_of(tmp_path, HEAD.replace("    rows:", "    rowz:"))
    assert_at(msg, path, 3, "unknown key 'rowz'", "allowed here: description, rows")
    path, msg = error_of(tmp_path, HEAD.replace("      - table: document\n", "      - each: X\n"))
    assert_at(msg, path, 4, "`table:` is missing")
    path, msg = error_of(tmp_path, "entities:\n  invoices:\n    rows: []\n")
    assert_at(msg, path, 3, "is empty")
    path, msg = error_of(tmp_path, "- just\n- a list\n")
    assert_at(msg, path, 1, "starts with `entities:`")


def test_empty_file(tmp_path: Path) -> None:
    path, msg = error_of(tmp_path, "# nothing yet\n")
    assert_at(msg, path, 1, "the file is empty")


def test_missing_file_and_unknown_name(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match=r"nope\.yaml:1: no such file"):
        load_mapping(tmp_path / "nope.yaml")
    with pytest.raises(MappingError, match=r"^quickbookz\.yaml:1: .*shipped: .*xero"):
        load_mapping("quickbookz")


def test_every_problem_is_reported_in_line_order(tmp_path: Path) -> None:
    path, msg = error_of(tmp_path, HEAD.replace("table: document", "table: documents")
                         + "  payments:\n"
                         "    rows:\n"
                         "      - table: payment\n"
                         "        fields:\n"
                         "          external_id: PaymentID\n"
                         "          paid_on: {path: Date, transform: nope}\n")
    lines = msg.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"{path}:4: ") and lines[1].startswith(f"{path}:14: ")


def test_nothing_is_half_loaded(tmp_path: Path) -> None:
    text = HEAD + "  payments:\n    rows:\n      - table: payment\n        fields:\n" \
                  "          paid_on: {path: Date, transform: xero_date}\n"
    with pytest.raises(MappingError):
        load_mapping(write(tmp_path, text))  # the good `invoices` entity is not returned either


def test_two_entries_for_one_table_need_the_same_columns(tmp_path: Path) -> None:
    text = HEAD + "      - table: document\n        fields:\n          external_id: X\n" \
                  "          kind: {const: invoice}\n          status: S\n          number: N\n"
    path, msg = error_of(tmp_path, text)
    assert_at(msg, path, LINE, "also filled by the rows entry on line 4")
