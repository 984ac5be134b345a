"""The engine knows no platform: only the registry names a platform package, and no engine
module speaks a platform's wire vocabulary.

Every engine module (``connector/``, import name ``arconnect``) reaches Xero, QuickBooks Online
and NetSuite through :mod:`arconnect.platforms` and the :class:`arconnect.adapters.base.Platform`
it returns. A platform's field names, statuses, headers and endpoints live in its adapter
package. The check reads the source (``ast``): imports, string literals other than docstrings,
and names; comments and docstrings may cite a platform's documentation.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ENGINE = ROOT / "connector"
PLATFORM_PACKAGES = ("xero", "quickbooks", "netsuite")
# The registry imports the platform packages (lazily, by name). Each platform's settings
# (ARCONNECT_XERO_*, ARCONNECT_QBO_*) live in its package too.
REGISTRY = ENGINE / "platforms.py"

# Words of the platforms' wire formats: statuses, field and header names, endpoints.
VOCABULARY = (
    # Xero (https://developer.xero.com/documentation/api/accounting/types)
    "AUTHORISED", "ACCREC", "ACCPAY", "SUBMITTED", "ContactGroups", "ContactID", "InvoiceID",
    "xero-tenant-id", "X-Rate-Limit-Problem", "X-MinLimit-Remaining", "X-DayLimit-Remaining",
    "X-AppMinLimit-Remaining", "PaymentTerms", "api.xro", "/Date(", "DAYSAFTERBILLDATE",
    "CurrencyRate",
    # QuickBooks Online (https://developer.intuit.com/app/developer/qbo/docs/api/accounting/all-entities/customer)
    "CustomerTypeRef", "SalesTermRef", "SyncToken", "realmId", "QueryResponse", "CDCResponse",
    "BatchItemRequest", "minorversion", "intuit_tid", "ThrottleExceeded", "ExchangeRate",
    # NetSuite (https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_157909186990.html)
    "custentity", "suiteql", "SuiteQL", "creditHoldOverride",
)


def _engine_modules() -> list[Path]:
    return sorted(p for p in ENGINE.rglob("*.py") if "migrations" not in p.parts)


def _imports(tree: ast.AST) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.append((node.lineno, node.module))
            if node.module == "arconnect.adapters":
                out.extend((node.lineno, f"arconnect.adapters.{a.name}") for a in node.names)
    return out


def _docstrings(tree: ast.AST) -> set[int]:
    ids: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def _words(tree: ast.AST) -> list[tuple[int, str, bool]]:
    """String literals (not docstrings), names and attributes, with their lines (and whether
    the word is an attribute: ``settings.xero_day_limit``)."""
    skip = _docstrings(tree)
    out: list[tuple[int, str, bool]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            out.append((node.lineno, node.value, False))
        elif isinstance(node, ast.Name):
            out.append((node.lineno, node.id, False))
        elif isinstance(node, ast.Attribute):
            out.append((node.lineno, node.attr, True))
    return out


def platform_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    return [f"{path.relative_to(ROOT)}:{line}: imports {name}"
            for line, name in _imports(tree)
            if any(name == f"arconnect.adapters.{p}" or name.startswith(f"arconnect.adapters.{p}.")
                   for p in PLATFORM_PACKAGES)]


def vocabulary_uses(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for line, text, attribute in _words(tree):
        for word in VOCABULARY:
            if word in text:
                found.append(f"{path.relative_to(ROOT)}:{line}: {word!r}")
        if attribute and any(
                text.startswith(f"{p}_") for p in ("xero", "qbo", "netsuite")):
            found.append(f"{path.relative_to(ROOT)}:{line}: {text!r} (a platform's setting)")
    return found


def test_only_the_registry_imports_a_platform_package() -> None:
    found = [hit for p in _engine_modules() if p != REGISTRY for hit in platform_imports(p)]
    assert not found, "engine modules importing a platform package:\n" + "\n".join(found)


def test_no_engine_module_speaks_a_platforms_wire_vocabulary() -> None:
    found = [hit for p in _engine_modules() if p != REGISTRY for hit in vocabulary_uses(p)]
    assert not found, ("platform words in the engine (move them behind the platform port, "
                       "adapters/<platform>/):\n" + "\n".join(found))


@pytest.mark.parametrize("bad", [
    "from arconnect.adapters.xero import XeroAdapter\n",
    "import arconnect.adapters.quickbooks.adapter\n",
    "from arconnect.adapters import netsuite\n",
])
def test_the_import_check_catches_each_form(bad: str) -> None:
    probe = ENGINE / "_boundary_probe.py"
    probe.write_text(bad)
    try:
        assert len(platform_imports(probe)) == 1
    finally:
        probe.unlink()


def test_the_vocabulary_check_sees_strings_and_names_but_not_docstrings() -> None:
    probe = ENGINE / "_boundary_probe.py"
    source = ('"""Reads Xero\'s AUTHORISED invoices (a docstring may cite it)."""\n'
              'OPEN = "AUTHORISED"\n'
              'def f(settings):\n'
              '    return settings.xero_day_limit\n')
    probe.write_text(source)
    try:
        hits = vocabulary_uses(probe)
    finally:
        probe.unlink()
    assert [h.split(": ", 1)[1] for h in hits] == ["'AUTHORISED'",
                                                     "'xero_day_limit' (a platform's setting)"]
