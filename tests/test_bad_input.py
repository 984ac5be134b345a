"""Bad input at the command line: one clear line, the right exit code, nothing half-done.

Each test runs the console-script entry point (``arconnect.cli.main``) in-process, as a user's
shell would run it, and checks the exit code, that the message is one line naming what was wrong
and where, that no traceback is shown, and that nothing was written.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

import arconnect.mapping
import arconnect.segmenter.rules
from arconnect.cli import main
from arconnect.settings import get_settings

assert arconnect.mapping and arconnect.segmenter.rules  # imported up front: timings are fair


@dataclass
class Ran:
    code: int
    out: str
    err: str

    @property
    def said(self) -> str:
        """stderr on one line (rich wraps long lines at the terminal width)."""
        return " ".join(self.err.split())


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> Ran:
    """``arconnect ARGS`` through the console-script entry point, in this process."""
    get_settings.cache_clear()
    argv = sys.argv
    sys.argv = ["arconnect", *args]
    try:
        main()
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else int(exit_.code is not None)
    finally:
        sys.argv = argv
        get_settings.cache_clear()
    captured = capsys.readouterr()
    return Ran(code, captured.out, captured.err)


def assert_one_line_error(ran: Ran, *needles: str) -> None:
    assert ran.code == 2, (ran.out, ran.err)
    assert "Traceback" not in ran.err
    assert ran.err.startswith("error: ") and len(ran.err.strip().splitlines()) == 1, ran.err
    for needle in needles:
        assert needle in ran.said, ran.err


# -- YAML files ----------------------------------------------------------------------------------

_BOMB = """\
version: 1
a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
segments: [*g]
"""


@pytest.mark.parametrize("command", [("rules", "check"), ("mappings", "check")])
def test_a_yaml_alias_bomb_is_refused_fast(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                           command: tuple[str, ...]) -> None:
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(_BOMB)  # 9^7 = 4.8 million values once expanded
    started = time.perf_counter()
    ran = run_cli(capsys, *command, str(bomb))
    assert time.perf_counter() - started < 0.5
    # Line 7 is where the expansion passes the limit (f: nine times e's 66,430 values).
    assert_one_line_error(ran, f"{bomb}:7: YAML aliases (*name) expand this file to more than "
                               "100,000 values")


def test_a_yaml_alias_inside_its_own_anchor_is_refused(capsys: pytest.CaptureFixture[str],
                                                      tmp_path: Path) -> None:
    loop = tmp_path / "loop.yaml"
    loop.write_text("version: 1\nsegments: &s\n  - name: A\n  - *s\n")
    ran = run_cli(capsys, "rules", "check", str(loop))
    assert_one_line_error(ran, f"{loop}:4: the YAML alias *s stands inside the value it names "
                               "(&s on line 2)")


def test_the_shipped_csv_mapping_keeps_its_aliases(capsys: pytest.CaptureFixture[str]) -> None:
    shipped = Path(__file__).parent.parent / "mappings" / "csv_ibm.yaml"
    ran = run_cli(capsys, "mappings", "check", str(shipped))
    assert ran.code == 0, ran.err


# -- settings ------------------------------------------------------------------------------------


def test_an_unknown_log_level_is_one_line() -> None:
    # A subprocess: the level reaches logging.basicConfig only in a process with no handlers.
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCONNECT_")}
    env["ARCONNECT_LOG_LEVEL"] = "bogus"
    out = subprocess.run([sys.executable, "-m", "arconnect.cli", "tenants", "list"], env=env,
                         capture_output=True, text=True, timeout=60)
    ran = Ran(out.returncode, out.stdout, out.stderr)
    assert_one_line_error(ran, "ARCONNECT_LOG_LEVEL: unknown level 'bogus'; use one of DEBUG, "
                               "INFO, WARNING, ERROR, CRITICAL")


def test_a_sqlite_store_in_a_missing_folder_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "nonexistent" / "dir"
    monkeypatch.setenv("ARCONNECT_DATABASE_URL", f"sqlite:///{missing}/x.db")
    ran = run_cli(capsys, "tenants", "list")
    assert_one_line_error(ran, f"ARCONNECT_DATABASE_URL: the folder {missing} does not exist; "
                               "create it or point the URL at a file in an existing folder")
    assert not (tmp_path / "nonexistent").exists()  # no folder made behind the user's back


def test_a_missing_mappings_folder_is_an_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARCONNECT_MAPPINGS_DIR", str(tmp_path / "mapings"))
    ran = run_cli(capsys, "mappings", "check")
    assert_one_line_error(ran, f"ARCONNECT_MAPPINGS_DIR: {tmp_path / 'mapings'} is not a folder; "
                               "fix the path, or unset it to use the shipped mappings")
    # An existing folder's xero.yaml is the mapping checked (and used).
    (tmp_path / "maps").mkdir()
    (tmp_path / "maps" / "xero.yaml").write_text("entities: {}\n")
    monkeypatch.setenv("ARCONNECT_MAPPINGS_DIR", str(tmp_path / "maps"))
    ran = run_cli(capsys, "mappings", "check")
    assert_one_line_error(ran, f"{tmp_path / 'maps' / 'xero.yaml'}:1: entities is empty")


# -- export --------------------------------------------------------------------------------------


def test_export_to_a_missing_folder_writes_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from arconnect.csv_import import import_csv

    url = f"sqlite:///{tmp_path}/store.db"
    monkeypatch.setenv("ARCONNECT_DATABASE_URL", url)
    export = tmp_path / "ar.csv"
    export.write_text(IBM_HEADER + "\n" + IBM_ROW + "\n")
    import_csv(url, export, "csv_ibm", "Sample")
    target = tmp_path / "missing" / "dir" / "out.csv"
    ran = run_cli(capsys, "export", "Sample", "-o", str(target))
    assert_one_line_error(ran, f"--output {target}: the folder {target.parent} does not exist; "
                               "create it or give another path")
    assert not (tmp_path / "missing").exists()
    # A path that cannot be written (here: a folder) is one line too, and leaves no file.
    ran = run_cli(capsys, "export", "Sample", "-o", str(tmp_path))
    assert_one_line_error(ran, f"--output {tmp_path}: cannot write it")
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    ran = run_cli(capsys, "export", "Sample", "-o", str(tmp_path / "out.json"))
    assert ran.code == 0 and (tmp_path / "out.json").read_text().startswith("[")


IBM_HEADER = ("countryCode,customerID,PaperlessDate,invoiceNumber,InvoiceDate,DueDate,"
              "InvoiceAmount,Disputed,SettledDate,PaperlessBill,DaysToSettle,DaysLate")
IBM_ROW = "391,0379-NEVHP,4/6/2013,0000611365,1/2/2013,2/1/2013,55.94,No,1/15/2013,Paper,13,0"


# -- import csv ----------------------------------------------------------------------------------


def _store_counts(url: str) -> tuple[int, int]:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return (conn.execute(text("SELECT count(*) FROM tenant")).scalar_one(),
                    conn.execute(text("SELECT count(*) FROM document")).scalar_one())
    finally:
        engine.dispose()


def test_import_refusals_are_one_line_and_write_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path}/store.db"
    monkeypatch.setenv("ARCONNECT_DATABASE_URL", url)
    data = tmp_path / "ar.csv"
    data.write_text(IBM_HEADER.replace("InvoiceAmount", "InvoiceAmnt") + "\n" + IBM_ROW + "\n")
    ran = run_cli(capsys, "import", "csv", str(data), "--mapping", "csv_ibm", "--tenant", "A")
    assert_one_line_error(ran, f"{data}:1: no column 'InvoiceAmount' (mapping ",
                          "did you mean 'InvoiceAmnt'?", "(nothing was imported)")
    assert _store_counts(url) == (0, 0)
    # A mapping that names tenant_id (rows into another tenant) is refused at load.
    data.write_text(IBM_HEADER + "\n" + IBM_ROW + "\n")
    hostile = tmp_path / "hostile.yaml"
    shipped = Path(__file__).parent.parent / "mappings" / "csv_ibm.yaml"
    hostile.write_text(shipped.read_text().replace(
        "          external_id: invoiceNumber\n",
        "          external_id: invoiceNumber\n          tenant_id: {const: 1}\n", 1))
    ran = run_cli(capsys, "import", "csv", str(data), "--mapping", str(hostile), "--tenant", "X")
    assert_one_line_error(ran, f"{hostile}:", "column tenant_id is filled by arconnect")
    assert _store_counts(url) == (0, 0)


def test_an_import_with_rejected_rows_exits_non_zero_and_says_how_many(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    monkeypatch.setenv("ARCONNECT_DATABASE_URL", f"sqlite:///{tmp_path}/store.db")
    data = tmp_path / "ar.csv"
    rows = [IBM_ROW, IBM_ROW.replace("0000611365", "0000611366").replace("55.94", "-1"),
            IBM_ROW.replace("0000611365", "0000611367")]
    data.write_text("\n".join([IBM_HEADER, *rows]) + "\n")
    args = ("import", "csv", str(data), "--mapping", "csv_ibm", "--tenant", "A")
    ran = run_cli(capsys, *args)
    assert ran.code == 1 and "Traceback" not in ran.err
    assert f"rejected {data}:line 3: document.total: -1.00 is negative" in ran.said
    assert ran.said.endswith("1 of 3 rows rejected (the others were imported): fix them and "
                             "import the file again (importing again updates the same rows)")
    ran = run_cli(capsys, *args, "--format", "json")
    assert ran.code == 1 and ran.err == ""
    doc = json.loads(ran.out)
    assert doc["rows_read"] == 3 and doc["rejected"] == 1 and doc["warnings"] == []
    assert doc["imported"] == {"customer": 1, "document": 2, "allocation": 2}
    assert doc["rejects"] == [{"line": 3, "problem": doc["rejects"][0]["problem"]}]
    data.write_text("\n".join([IBM_HEADER, rows[0], rows[2]]) + "\n")
    ran = run_cli(capsys, *args)
    assert ran.code == 0 and "rejected" not in ran.err
