"""Bad input at the command line: one clear line, the right exit code, nothing half-done.

Each test runs the console-script entry point (``arconnect.cli.main``) in-process, as a user's
shell would run it, and checks the exit code, that the message is one line naming what was wrong
and where, that no traceback is shown, and that nothing was written.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from arconnect.cli import main
from arconnect.settings import get_settings


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
