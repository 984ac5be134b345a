"""The repository stands alone: no file cites a document a reader of the repository cannot open.

Every claim about a vendor's API cites the vendor's public documentation (URL and section), a
public issue or pull request, or a file in the repository (the OpenAPI spec in
``tests/fixtures/xero_accounting.yaml``, the recorded responses in
``tests/fixtures/xero_recorded/``, ``docs/``, ``sandbox/README.md``). Private reference notes,
their section numbers and their bracketed source keys (``[X-RR]``, ``(X-EFF)``) are refused here,
naming file:line, so a citation nobody can follow never comes back.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

# The outside documents' names are put together here, so that this file, which must name them
# to look for them, never cites one itself.
DESIGN_NAME = "DESIGN" + ".md"
OUTSIDE = {"api": "erp-apis" + ".md", "ar": "ar-domain" + ".md", "peers": "peers" + ".md",
           "dunning": "erp-dunning" + ".md", "design": DESIGN_NAME, "shared": ".." + "/shared"}

ROOT = Path(__file__).resolve().parent.parent
THIS = Path(__file__).resolve().relative_to(ROOT).as_posix()
# Folders a walk skips when git cannot list the files (an unpacked source archive).
SKIPPED_DIRS = {".git", ".venv", "build", "dist", "__pycache__", ".pytest_cache", ".mypy_cache",
                ".ruff_cache", ".hypothesis"}

# Names of documents outside the repository, and the private folders they were kept in.
OUTSIDE_DOCUMENTS = re.compile(
    r"erp-apis\b|ar-domain|erp-dunning|peers\.md|platform-requirements|\.\./shared\b"
    r"|\berp_examples\b|\bdata/recorded/"
)
DESIGN_DOC = re.compile(r"\b" + re.escape(DESIGN_NAME) + r"\b")
# Source keys of those documents: "[X-RR]", "[X-PAGE-IDS]", "[X-SPEC securitySchemes]",
# "[Q-RT5Y]", "[N-JV]" and "(X-EFF)". The key must end the bracket (or be followed by a space),
# so HTTP header names such as "[X-Rate-Limit-Problem" or "(X-MinLimit-Remaining)" do not match.
SOURCE_KEY = re.compile(r"\[[XQN]-[A-Z0-9]+(?:-[A-Z0-9]+)*(?:\]|\s)|\([XQN]-[A-Z]+\)")


def repository_files(root: Path) -> list[str]:
    """The repository's files, relative to ``root``: what git tracks plus new unignored files.

    Falls back to a walk that skips virtual environments, build output and caches when ``root``
    is not a git checkout.
    """
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=root, capture_output=True, check=True, timeout=30,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return sorted(
            p.relative_to(root).as_posix() for p in root.rglob("*")
            if p.is_file() and not SKIPPED_DIRS.intersection(p.relative_to(root).parts)
            and not any(part.endswith(".egg-info") for part in p.relative_to(root).parts)
        )
    return sorted({name for name in out.decode("utf-8").split("\0") if name})


def outside_citations(root: Path, files: list[str]) -> list[str]:
    """``file:line: text`` for every line of a text file in ``files`` citing an outside document.

    The design document (``DESIGN_NAME``) counts as outside only while no file of that name
    is in the repository.
    Binary files and files that are not UTF-8 are skipped, as are files listed but missing.
    """
    has_design = any(Path(name).name == DESIGN_NAME for name in files)
    found = []
    for name in files:
        if name == THIS:
            continue
        try:
            data = (root / name).read_bytes()
        except OSError:
            continue  # deleted in the working tree, or not a regular file
        if b"\0" in data:
            continue
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if (OUTSIDE_DOCUMENTS.search(line) or SOURCE_KEY.search(line)
                    or (not has_design and DESIGN_DOC.search(line))):
                found.append(f"{name}:{number}: {line.strip()[:120]}")
    return found


def test_no_file_cites_a_document_outside_the_repository() -> None:
    found = outside_citations(ROOT, repository_files(ROOT))
    assert not found, (
        "these lines cite documents a reader of the repository does not have; cite the vendor's "
        "public documentation (URL and section), the issue's URL or a file in the repository "
        "instead:\n" + "\n".join(found)
    )


def _cite(template: str) -> str:
    """A sample line: ``{api}``, ``{ar}``... become the outside documents' names."""
    return template.format(**OUTSIDE)


@pytest.mark.parametrize("line", [_cite(t) for t in (
    "MAX_PAGE_SIZE = 1000  # raised on 1 July 2024 ({api} §1.2, [X-PAGE])",
    "# JSON must be asked for ({api} §1, [X-RR]).",
    "# Statuses rather than an OR-chain in `where` (X-EFF).",
    "| Codes single use | [X-AUTHFLOW] | sourced |",
    "base URL [X-SPEC servers]",
    "ids per request ([X-PAGE-IDS])",
    "refresh-token policy [Q-RT5Y]; governance [N-CONC]",
    "Formula sources (``{shared}/reference/{ar}`` §1)",
    "Source: docs.upflow.io (see ar-domain reference §2.3).",
    "Known traps (reference/{peers})",
    "fields the dunning reads (reference/{dunning})",
    "see platform-requirements",
    "targets in {design}",
    "(`data/recorded/xero/*.test.json`, `data/erp_examples/xero/recorded_demo_*.json`)",
)])
def test_outside_citations_are_found(tmp_path: Path, line: str) -> None:
    (tmp_path / "notes.md").write_text(f"first line\n{line}\n", encoding="utf-8")
    assert outside_citations(tmp_path, ["notes.md"]) == [f"notes.md:2: {line.strip()}"]


@pytest.mark.parametrize("line", [
    "429 with `X-Rate-Limit-Problem: minute|day|appminute|concurrent`",
    "headers [X-MinLimit-Remaining, X-DayLimit-Remaining] on every response",
    "(X-AppMinLimit-Remaining) and [X-Rate-Limit-Problem] tell which limit",
    "the header (X-DayLimit-Remaining)",
    "https://developer.xero.com/documentation/api/accounting/requests-and-responses#paging",
    "recorded excerpts in tests/fixtures/xero_recorded/contacts.json",
    "cite https://github.com/calcinai/xero-php/issues/915 [Xero: paging](https://x.example)",
    "RFC 6749 §5.2; docs/segments.md §1",
])
def test_header_names_and_public_citations_pass(tmp_path: Path, line: str) -> None:
    (tmp_path / "notes.md").write_text(line + "\n", encoding="utf-8")
    assert outside_citations(tmp_path, ["notes.md"]) == []


def test_design_md_counts_as_outside_only_while_the_repository_has_none(tmp_path: Path) -> None:
    line = _cite("targets in {design}")
    (tmp_path / "notes.md").write_text(line + "\n", encoding="utf-8")
    assert outside_citations(tmp_path, ["notes.md"]) == [f"notes.md:1: {line}"]
    (tmp_path / DESIGN_NAME).write_text("# Design\n", encoding="utf-8")
    assert outside_citations(tmp_path, ["notes.md", DESIGN_NAME]) == []


def test_binary_and_missing_files_are_skipped(tmp_path: Path) -> None:
    (tmp_path / "blob.bin").write_bytes(b"\0" + _cite("{api} [X-RR]").encode())
    assert outside_citations(tmp_path, ["blob.bin", "gone.md"]) == []
