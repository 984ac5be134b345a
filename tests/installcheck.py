"""The package's files in the repository and where the installed ``arconnect`` keeps them.

``make`` installs arconnect in setuptools' strict editable mode: a tree of links, one per file,
that mypy and IDEs read like any installed package. A file added since (a module, a package
folder, a preset) is not in that tree until the next install.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Files of the package folders the product never reads at run time: alembic's template for
# writing a new migration (`alembic revision`) is a development tool.
NOT_SHIPPED = {"connector/store/migrations/script.py.mako"}
REINSTALL = "make (or: pip install -e '.[test]' --config-settings editable_mode=strict)"


def package_roots() -> dict[str, str]:
    """Import name -> repository folder, from ``[tool.setuptools.package-dir]``."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    roots: dict[str, str] = config["tool"]["setuptools"]["package-dir"]
    return roots


def package_files() -> dict[str, str]:
    """Each file of the package folders (repository path) -> its path inside the package
    (``adapters/xero/adapter.py`` -> ``arconnect/adapters/xero/adapter.py``)."""
    out: dict[str, str] = {}
    for name, folder in package_roots().items():
        base = ROOT / folder
        for path in sorted(base.rglob("*")):
            rel = path.relative_to(ROOT).as_posix()
            if (not path.is_file() or "__pycache__" in path.parts or path.suffix == ".pyc"
                    or path.name.startswith(".") or path.name.endswith("~")
                    or rel in NOT_SHIPPED):
                continue
            out[rel] = "/".join([*name.split("."), *path.relative_to(base).parts])
    return out


def not_installed() -> list[str]:
    """Repository files the installed link tree lacks (none for another kind of install)."""
    import arconnect

    installed = Path(arconnect.__file__).parent
    if installed.resolve() == (ROOT / "connector").resolve():
        return []  # a lenient editable install finds every file where it is
    tree = installed.parent
    return [rel for rel, inside in package_files().items() if not (tree / inside).exists()]
