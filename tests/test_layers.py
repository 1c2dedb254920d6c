"""The layers hold for what import-linter cannot see: strings that name another app (STYLE rule 6a).

import-linter (pyproject, run by the README's test command) checks Python imports. A package also depends on
another through strings: templates' `{% include %}`, `{% extends %}` and `{% url %}`, URL names in `reverse()` and
`redirect()`, template names given to `render()` or registered as panels, `"app.Model"` relations,
`apps.get_model`, Celery task names. These tests find them in production code and apply the same layers; only the
composition root (settings, the root and API URLconfs) names every app. Each exception is listed with its reason.

They also check what the issue asked of the imports themselves: no cross-package import inside a function body
without a comment saying why, and no private helper (`_name`) taken from another package.
"""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Lowest first; apps on one rung are independent of each other (the layers contract in pyproject.toml).
RUNGS: list[set[str]] = [
    {"portal"},
    {"alerts"},
    {"pricing", "notifications", "suppression", "accesslogs"},
    {"feedback"},
    {"triage"},
    {"sync"},
]
RANK = {app: i for i, rung in enumerate(RUNGS) for app in rung}
APPS = set(RANK)

# URL namespaces and template folders -> the package that owns them.
NAMESPACES = {
    "alerts": "alerts",
    "suppression": "suppression",
    "notifications": "notifications",
    "pricing": "pricing",
    "pricing_vault": "pricing",
    "feedback": "feedback",
    "accesslogs": "accesslogs",
    "triage": "triage",
    "sync": "sync",
    "inventory": "portal",
    "web": "portal",
    "api": "portal",
    "admin": "portal",  # Django's admin: part of the foundation's chrome
}
TEMPLATE_FOLDERS = {
    **{ns: app for ns, app in NAMESPACES.items() if ns not in ("api", "admin", "pricing_vault")},
    "includes": "portal",
    "registration": "portal",
    "api": "portal",
    "drf_spectacular": "portal",
}

# The composition root names every app: settings (INSTALLED_APPS, the beat schedule) and the URLconfs.
COMPOSITION_ROOT = {"portal/settings.py", "portal/urls.py", "portal/api/urls.py", "portal/celery.py"}

# Celery task names kept from before the split so that queued messages and beat entries still run (the migration
# guide of the layers issue): the name says where the task lived, the code lives in the app that owns it now.
LEGACY_TASK_NAMES = {
    "alerts.push_rule": "suppression",
    "alerts.delete_rule_in_azure": "suppression",
    "alerts.expire_rules": "suppression",
    "alerts.notify_new_alerts": "notifications",
    "alerts.send_due_notifications": "notifications",
    "alerts.push_contact": "notifications",
    "alerts.notify_assignment": "notifications",
    "alerts.requeue_stale": "portal",  # the stale-work sweep moved to portal.recovery (portal.requeue_stale)
    "portal.inventory.tasks.sync_all": "sync",
    "portal.inventory.tasks.sync_subscription": "sync",
}


def allowed(source: str, target: str) -> bool:
    return source == target or RANK[source] > RANK[target]


def production_files(suffix: str = ".py") -> list[Path]:
    found = []
    for app in APPS:
        for path in (ROOT / app).rglob(f"*{suffix}"):
            rel = path.relative_to(ROOT).as_posix()
            if "/tests/" in rel or "/migrations/" in rel or rel.startswith("portal/testing/"):
                continue
            found.append(path)
    return sorted(found)


def owner_of_template(name: str) -> str:
    folder = name.split("/", 1)[0] if "/" in name else ""
    return TEMPLATE_FOLDERS.get(folder, "portal")  # base.html, 403.html...: the foundation's chrome


def package_of(path: Path) -> str:
    rel = path.relative_to(ROOT)
    if rel.parts[0] == "templates":
        return owner_of_template("/".join(rel.parts[1:]))
    return rel.parts[0]


URL_NAME = re.compile(r"""["']([a-z_]+):[a-z0-9_]+["']""")
TEMPLATE_TAG = re.compile(r"""\{%\s*(include|extends|url)\s+["']([^"']+)["']""")
TEMPLATE_NAME = re.compile(r"""["']([a-z_]+/[a-z0-9_]+\.html)(?:#[a-z_]+)?["']""")
MODEL_REF = re.compile(r"""(?:ForeignKey|OneToOneField|ManyToManyField)\(\s*["']([a-z_]+)\.[A-Za-z]+["']""")
GET_MODEL = re.compile(r"""get_model\(\s*["']([a-z_]+)["']""")


def string_references() -> list[tuple[str, str, str]]:
    """(where, source package, target package) of every string that names another package."""
    refs = []
    for path in production_files():
        rel = path.relative_to(ROOT).as_posix()
        if rel in COMPOSITION_ROOT:
            continue
        source = package_of(path)
        text = path.read_text()
        for lineno, line in enumerate(text.splitlines(), 1):
            where = f"{rel}:{lineno}"
            for ns in URL_NAME.findall(line):
                if ns in NAMESPACES:
                    refs.append((where, source, NAMESPACES[ns]))
            for name in TEMPLATE_NAME.findall(line):
                refs.append((where, source, owner_of_template(name)))
            for label in MODEL_REF.findall(line) + GET_MODEL.findall(line):
                refs.append(
                    (where, source, "portal" if label in ("inventory", "accounts", "audit") else label)
                )
    for path in sorted((ROOT / "templates").rglob("*.html")):
        rel = path.relative_to(ROOT).as_posix()
        source = package_of(path)
        for lineno, line in enumerate(path.read_text().splitlines(), 1):
            for tag, arg in TEMPLATE_TAG.findall(line):
                if tag == "url":
                    ns = arg.split(":", 1)[0] if ":" in arg else ""
                    if ns in NAMESPACES:
                        refs.append((f"{rel}:{lineno}", source, NAMESPACES[ns]))
                else:
                    refs.append((f"{rel}:{lineno}", source, owner_of_template(arg)))
    return refs


def test_the_rungs_match_the_import_linter_contract():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (layers,) = [c for c in config["contracts"] if c["id"] == "layers"]
    from_config = [{app.strip() for app in layer.split("|")} for layer in reversed(layers["layers"])]
    assert from_config == RUNGS


def test_every_app_with_tests_is_collected():
    """pytest's testpaths name every package that has tests (two apps' tests once silently did not run)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    with_tests = {p.parent.parent.name for p in ROOT.glob("*/tests/__init__.py")}
    assert with_tests - set(config["testpaths"]) == set()


def test_string_references_follow_the_layers():
    refs = string_references()
    assert len(refs) > 100  # the scan finds what it should (templates alone name URLs hundreds of times)
    upward = [
        f"{where}: {source} names {target}" for where, source, target in refs if not allowed(source, target)
    ]
    assert upward == []


def test_the_scan_sees_an_upward_reference(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The check can fail: an alerts template that includes a triage template is caught."""
    real = TEMPLATE_TAG.findall('{% include "triage/_owner.html" %}')
    assert real == [("include", "triage/_owner.html")]
    assert not allowed("alerts", owner_of_template("triage/_owner.html"))
    assert not allowed("pricing", "suppression")  # siblings are independent
    assert allowed("triage", "alerts")


def test_task_names_belong_to_their_app_or_are_listed_legacy_names():
    found = {}
    for path in production_files():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                for kw in node.keywords:
                    if (
                        kw.arg == "name"
                        and isinstance(kw.value, ast.Constant)
                        and "task" in ast.unparse(node.func)
                    ):
                        found[kw.value.value] = package_of(path)
    assert len(found) >= 15
    wrong = {
        name: app
        for name, app in found.items()
        if name.split(".", 1)[0] != app and LEGACY_TASK_NAMES.get(name) != app
    }
    assert wrong == {}
    stale = {name for name in LEGACY_TASK_NAMES if name not in found}
    assert stale == set(), "a legacy name no longer registered: take it off the list"


def _imports(path: Path) -> list[tuple[ast.AST, str, bool]]:
    """(node, imported module, inside a function) of each absolute import."""
    tree = ast.parse(path.read_text())
    inside: set[int] = set()
    for fn in ast.walk(tree):
        if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
            inside.update(id(n) for n in ast.walk(fn) if isinstance(n, ast.Import | ast.ImportFrom))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.append((node, node.module, id(node) in inside))
        elif isinstance(node, ast.Import):
            found.extend((node, alias.name, id(node) in inside) for alias in node.names)
    return found


def test_no_cross_package_import_inside_a_function_without_a_comment():
    bare = []
    for path in production_files():
        lines = path.read_text().splitlines()
        source = package_of(path)
        for node, module, in_function in _imports(path):
            target = module.split(".", 1)[0]
            if in_function and target in APPS and target != source:
                line, above = lines[node.lineno - 1], lines[node.lineno - 2]
                if "#" not in line and not above.strip().startswith("#"):
                    bare.append(f"{path.relative_to(ROOT)}:{node.lineno}: {line.strip()}")
    assert bare == []


def test_no_private_helper_taken_from_another_package():
    private = []
    for path in production_files():
        source = package_of(path)
        for node, module, _ in _imports(path):
            if isinstance(node, ast.ImportFrom) and module.split(".", 1)[0] in APPS - {source}:
                private += [
                    f"{path.relative_to(ROOT)}: {module}.{a.name}"
                    for a in node.names
                    if a.name.startswith("_")
                ]
    assert private == []


def test_the_emulator_reads_nothing_of_the_project_on_disk():
    """Besides imports (import-linter): no path into the project's apps or ../shared."""
    offending = []
    for path in (ROOT / "emulator").glob("*.py"):
        text = path.read_text()
        if "../shared" in text or "shared/data" in text or "alerts/catalog" in text:
            offending.append(path.name)
    assert offending == []
