"""The installed layout: every package folder and data file of the repository ships in the wheel
(built from what the Dockerfile copies) and is reachable through the editable install."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
import zipfile
from importlib import resources
from pathlib import Path

import pytest

from tests.installcheck import REINSTALL, ROOT, package_files, package_roots


def _module(installed: str) -> str:
    """``arconnect/auth/service.py`` -> ``arconnect.auth.service`` (a package for __init__)."""
    parts = installed.removesuffix(".py").split("/")
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_every_folder_with_modules_is_a_package() -> None:
    """A folder of modules without ``__init__.py`` would be left out of the wheel."""
    folders = {Path(rel).parent for rel in package_files() if rel.endswith(".py")}
    missing = sorted(str(f) for f in folders if not (ROOT / f / "__init__.py").is_file())
    assert not missing, f"add an __init__.py to {', '.join(missing)}: without it they do not ship"


def _docker_build_context(dest: Path) -> None:
    """Copy what the Dockerfile's build stage copies into ``dest``."""
    stages = re.split(r"^FROM\s", (ROOT / "Dockerfile").read_text(encoding="utf-8"),
                      flags=re.M)
    stage = stages[1] if len(stages) > 1 else ""
    copies = re.findall(r"^COPY\s+(.+)$", stage, flags=re.M)
    assert copies, "the Dockerfile's build stage copies nothing"
    for line in copies:
        *sources, target = line.split()
        for source in sources:
            src = ROOT / source
            out = dest / source if target.endswith("/") else dest / target
            if src.is_dir():
                shutil.copytree(src, out, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            else:
                out.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, out)


def test_the_wheel_holds_every_package_and_data_file(tmp_path: Path) -> None:
    """Built as the Docker image builds it, the wheel holds every module and data file of
    ``connector/``, ``adapters/``, ``mappings/``, ``config/`` and ``sandbox/`` — a new
    package folder ships without anyone listing it."""
    context, dist = tmp_path / "src", tmp_path / "dist"
    _docker_build_context(context)
    # the next platform's adapter, as it will arrive: a folder nobody lists anywhere
    added = context / "adapters" / "nextplatform"
    added.mkdir()
    (added / "__init__.py").write_text('"""The next platform."""\n')
    (added / "adapter.py").write_text("PLATFORM = 'next'\n")
    # The PEP 517 hook pip and `python -m build` call, without their isolated environment.
    built = subprocess.run(
        [sys.executable, "-c", "import sys, setuptools.build_meta as b; "
         "print(b.build_wheel(sys.argv[1]))", str(dist)],
        cwd=context, capture_output=True, text=True, timeout=120)
    assert built.returncode == 0, built.stderr[-2000:]
    [wheel] = dist.glob("*.whl")
    with zipfile.ZipFile(wheel) as zf:
        shipped = set(zf.namelist())
    missing = sorted(rel for rel, inside in package_files().items() if inside not in shipped)
    assert not missing, f"not in the wheel: {missing[:10]}"
    assert {"arconnect/adapters/nextplatform/__init__.py",
            "arconnect/adapters/nextplatform/adapter.py"} <= shipped, "a new folder is left out"
    assert "arconnect/py.typed" in shipped


def test_every_file_is_reachable_through_the_install() -> None:
    """The editable install links each file (strict mode): one added since the install is
    missing until ``make`` installs again."""
    stale = []
    for rel, inside in package_files().items():
        if rel.endswith(".py"):
            spec = importlib.util.find_spec(_module(inside))
            found = Path(spec.origin).resolve() if spec and spec.origin else None
        else:
            package, _, name = inside.rpartition("/")
            target = resources.files(package.replace("/", ".")).joinpath(name)
            found = Path(str(target)).resolve() if target.is_file() else None
        if found != (ROOT / rel).resolve():
            stale.append(rel)
    if stale:
        pytest.fail(f"not in the installed package: {', '.join(stale[:5])}; install again: "
                    f"{REINSTALL}", pytrace=False)


def test_make_reinstalls_when_the_package_folders_change() -> None:
    """The Makefile's list of package folders (its install stamp watches their files) is
    pyproject.toml's package-dir roots."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    listed = re.search(r"^PACKAGE_DIRS\s*:=\s*(.+)$", makefile, flags=re.M)
    assert listed, "the Makefile lists no PACKAGE_DIRS"
    assert sorted(listed.group(1).split()) == sorted(package_roots().values())
