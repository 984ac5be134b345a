"""Package discovery for the installed layout; everything else is in ``pyproject.toml``.

The repository's top-level folders are installed under the one import name ``arconnect``
(``[tool.setuptools.package-dir]``: ``connector/`` is ``arconnect``, ``adapters/`` is
``arconnect.adapters``...). ``[tool.setuptools.packages.find]`` cannot rename what it finds, so
the packages are found here instead: every folder holding an ``__init__.py`` under one of those
roots, so that a new folder (``adapters/quickbooks``) ships in the wheel and the Docker image
without a list to keep. ``tests/test_layout.py`` builds a wheel and checks it.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).resolve().parent


def packages() -> list[str]:
    """Every package under the roots of ``[tool.setuptools.package-dir]``, by import name."""
    config = tomllib.loads((HERE / "pyproject.toml").read_text(encoding="utf-8"))
    roots: dict[str, str] = config["tool"]["setuptools"]["package-dir"]
    found: set[str] = set()
    for name, folder in roots.items():
        found.add(name)
        found.update(f"{name}.{sub}" for sub in find_packages(str(HERE / folder)))
    return sorted(found)


setup(packages=packages())
