"""The emulator stands alone: it carries its own Key Vault alert catalog and imports nothing of the project.

Both catalogs (the emulator's `emulator.catalog` and the portal's `alerts.catalog`) must agree with the
reference catalog at `tests/reference/kv_alert_catalog.json` (a byte-for-byte copy of
`shared/data/kv_alert_catalog.json`, kept here because `../shared` exists only on some clones), and no module
of the emulator (its tests aside) may import a project package.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import alerts.catalog as product_catalog
import emulator.catalog as emulator_catalog

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = Path(__file__).resolve().parent / "reference" / "kv_alert_catalog.json"
EMULATOR = ROOT / "emulator"

# The project's own top-level packages and modules: the emulator must import none of them.
PROJECT_PACKAGES = frozenset(
    {
        "alerts",
        "portal",
        "pricing",
        "triage",
        "feedback",
        "suppression",
        "notifications",
        "sync",
        "bench",
        "dev",
    }
)

# Sample alerts: the reference notes document a `SIMULATED_` type prefix for them, so a catalog may carry
# `SIMULATED_<documented type>` besides the documented types, and nothing else.
SIMULATED_PREFIX = "SIMULATED_"
SEVERITIES = frozenset({"Informational", "Low", "Medium", "High"})  # REST alerts API 2022-01-01

CATALOGS = pytest.mark.parametrize(
    "catalog",
    [emulator_catalog, product_catalog],
    ids=["emulator.catalog", "alerts.catalog"],
)


def _reference() -> dict[str, Any]:
    return json.loads(REFERENCE.read_text(encoding="utf-8"))


def _reference_by_type() -> dict[str, dict[str, Any]]:
    return {entry["alert_type"]: entry for entry in _reference()["alerts"]}


def _by_type(catalog: ModuleType) -> dict[str, Any]:
    types = catalog.KEY_VAULT_ALERT_TYPES
    by_type = {info.alert_type: info for info in types}
    assert len(by_type) == len(types), f"{catalog.__name__} lists an alert type twice"
    return by_type


def test_reference_is_complete() -> None:
    doc = _reference()
    types = [entry["alert_type"] for entry in doc["alerts"]]
    assert len(types) == doc["count"] == 14
    assert len(set(types)) == len(types)
    for entry in doc["alerts"]:
        assert entry["display_name"] and entry["severity"] in SEVERITIES and entry["mitre_tactics"], entry


@CATALOGS
def test_catalog_has_every_reference_type(catalog: ModuleType) -> None:
    missing = set(_reference_by_type()) - set(_by_type(catalog))
    assert not missing, f"{catalog.__name__} lacks documented alert types: {sorted(missing)}"


@CATALOGS
def test_catalog_has_no_undocumented_types(catalog: ModuleType) -> None:
    reference = _reference_by_type()
    extra = {
        t
        for t in set(_by_type(catalog)) - set(reference)
        if not (t.startswith(SIMULATED_PREFIX) and t.removeprefix(SIMULATED_PREFIX) in reference)
    }
    assert not extra, f"{catalog.__name__} has alert types the reference does not document: {sorted(extra)}"


@CATALOGS
def test_catalog_matches_reference(catalog: ModuleType) -> None:
    ours = _by_type(catalog)
    mismatches: list[str] = []
    for alert_type, ref in _reference_by_type().items():
        info = ours.get(alert_type)
        if info is None:
            continue  # reported by test_catalog_has_every_reference_type
        expected = {
            "display_name": ref["display_name"],
            "severity": ref["severity"],
            "tactics": tuple(ref["mitre_tactics"]),
            "intents": tuple(catalog.tactic_to_intent(t) for t in ref["mitre_tactics"]),
            "description": ref["description"],
            "remediation_steps": tuple(ref["remediation_steps"]),
            "aliases": tuple(ref.get("alert_type_aliases", ())),
        }
        for field, want in expected.items():
            got = getattr(info, field)
            if got != want:
                mismatches.append(f"{alert_type}.{field}: {got!r} != reference {want!r}")
    assert not mismatches, f"{catalog.__name__} disagrees with {REFERENCE.name}:\n" + "\n".join(mismatches)


@CATALOGS
def test_intents_are_rest_enum_spellings(catalog: ModuleType) -> None:
    assert catalog.tactic_to_intent("Credential Access") == "CredentialAccess"
    assert catalog.tactic_to_intent("Initial Access") == "InitialAccess"
    for info in catalog.KEY_VAULT_ALERT_TYPES:
        assert info.severity in SEVERITIES, info.alert_type
        assert all(i.isalpha() for i in info.intents), info.alert_type


def test_emulator_and_product_catalogs_agree() -> None:
    """Same documented types in the same order with the same facts: the emulator generates what the portal's
    Alert types page shows (sample `SIMULATED_` types, which only the emulator might carry, aside)."""

    def facts(catalog: ModuleType) -> list[tuple[Any, ...]]:
        return [
            (
                i.alert_type,
                i.display_name,
                i.severity,
                i.tactics,
                i.intents,
                i.description,
                i.remediation_steps,
            )
            for i in catalog.KEY_VAULT_ALERT_TYPES
            if not i.alert_type.startswith(SIMULATED_PREFIX)
        ]

    assert facts(emulator_catalog) == facts(product_catalog)


def _emulator_sources() -> list[Path]:
    return sorted(p for p in EMULATOR.rglob("*.py") if "tests" not in p.relative_to(EMULATOR).parts)


def _project_imports(source: str, filename: str = "<source>") -> list[str]:
    """`line: module` for each absolute import (or `__import__`/`import_module` of a literal) of a project package."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source, filename=filename)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif (
            isinstance(node, ast.Call)
            and (
                (isinstance(node.func, ast.Name) and node.func.id in {"__import__", "import_module"})
                or (isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
            )
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names = [node.args[0].value]
        found += [(node.lineno, n) for n in names if n.split(".")[0] in PROJECT_PACKAGES]
    return [f"{line}: {name}" for line, name in sorted(found)]


def test_import_scan_finds_project_imports() -> None:
    """The scanner itself works, so the test below cannot pass by finding nothing. The emulator's own
    `pricing` and `suppression` modules share names with project apps; relative imports of them are fine."""
    source = (
        "import os\n"
        "import alerts.catalog\n"
        "from portal import x\n"
        "from . import pricing\n"
        "from .suppression import y\n"
        "__import__('sync.tasks')\n"
        "importlib.import_module('dev')\n"
        "import triage as t, json\n"
        "import emulator.util\n"
    )
    assert _project_imports(source) == [
        "2: alerts.catalog",
        "3: portal",
        "6: sync.tasks",
        "7: dev",
        "8: triage",
    ]


def test_emulator_imports_nothing_of_the_project() -> None:
    sources = _emulator_sources()
    assert EMULATOR / "catalog.py" in sources and len(sources) > 10
    offenders = {
        str(p.relative_to(ROOT)): hits
        for p in sources
        if (hits := _project_imports(p.read_text(encoding="utf-8"), str(p)))
    }
    assert not offenders, f"the emulator imports project code: {offenders}"


def test_importing_the_emulator_loads_no_project_module() -> None:
    """Import every emulator module in a fresh interpreter and look at what ended up in sys.modules."""
    modules = sorted(
        "emulator." + p.relative_to(EMULATOR).with_suffix("").as_posix().replace("/", ".")
        for p in _emulator_sources()
        if p.name not in {"__init__.py", "__main__.py"}
    )
    script = (
        "import importlib, json, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {sorted(PROJECT_PACKAGES)!r})\n"
        "print(json.dumps(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
