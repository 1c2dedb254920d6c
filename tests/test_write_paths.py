"""One write path per state (STYLE rules 2 and 13): an alert's status, a Defender plan, a suppression rule and a
security contact change in one module each, and Celery tasks write no row themselves.

The scan reads production code (not tests, migrations or portal/testing) for writes of each state's fields: an
attribute assignment (`x.pending_status = …`, also in a tuple), and the keyword arguments of `.update()`,
`.create()`, `.update_or_create()`, `.get_or_create()` and `update_rows()`/`bulk_update()` field lists. Fields that
several models share count when the receiver names the model (`SuppressionRule.objects…update(push_error=…)`) or
the variable is the model's usual name (`rule.in_azure = …`).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = [
    "portal",
    "alerts",
    "suppression",
    "notifications",
    "pricing",
    "accesslogs",
    "feedback",
    "triage",
    "sync",
]


class State:
    def __init__(
        self, model: str, owners: set[str], own: set[str], shared: set[str], names: set[str]
    ) -> None:
        self.model, self.owners, self.own, self.shared, self.names = model, owners, own, shared, names


STATES = [
    State(
        "Alert",
        {"alerts/status.py"},
        own={
            "azure_status",
            "pending_status",
            "pending_attempts",
            "pending_failed",
            "classification_comment",
            "closed_at",
            "closed_by",
            "closed_by_id",
        },
        shared={"status", "classification", "pending_since", "pending_error"},
        names={"alert", "alerts"},
    ),
    State(
        "Pricing",
        {"pricing/services.py"},
        own={"tier", "pending_tier", "pending_sub_plan", "sub_plan"},
        shared={"pending_since", "pending_error", "synced_at", "content_hash"},
        names={"pricing", "plan"},
    ),
    State(
        "SuppressionRule",
        {"suppression/services.py"},
        own={"push_state", "local_modified_at", "expiration_date", "conditions"},
        shared={"push_error", "in_azure", "state", "synced_at", "content_hash", "local_only"},
        names={"rule"},
    ),
    State(
        "SecurityContact",
        {"notifications/contact_services.py"},
        own={"pending_push", "emails", "notify_by_role"},
        shared={"push_error", "in_azure", "synced_at", "content_hash"},
        names={"contact"},
    ),
]

WRITE_CALLS = {"update", "create", "update_or_create", "get_or_create", "requeue"}


def production_files() -> list[Path]:
    files = []
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            rel = path.relative_to(ROOT).as_posix()
            if "/tests/" in rel or "/migrations/" in rel or rel.startswith("portal/testing/"):
                continue
            files.append(path)
    return sorted(files)


def _target_name(node: ast.AST) -> str:
    return node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else ""


def writes_in(source: str) -> list[tuple[int, str, str]]:
    """(line, model, field) of each write of a tracked state in `source`."""
    found = []
    tree = ast.parse(source)
    for node in ast.walk(tree):
        targets: list[ast.AST] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        flat: list[ast.AST] = []
        for t in targets:
            flat.extend(t.elts if isinstance(t, ast.Tuple | ast.List) else [t])
        for t in flat:
            if isinstance(t, ast.Attribute):
                owner = _target_name(t.value).lower()
                for state in STATES:
                    if t.attr in state.own or (
                        t.attr in state.shared
                        and owner in state.names | {"row"}
                        and (owner != "row" or state.model == "Alert")
                    ):
                        found.append((t.lineno, state.model, t.attr))
        if isinstance(node, ast.Call):
            name = _target_name(node.func)
            keywords = {kw.arg for kw in node.keywords if kw.arg}
            fields: set[str] = set()
            if name in WRITE_CALLS:
                fields = keywords
                for kw in node.keywords:
                    if kw.arg == "defaults" and isinstance(kw.value, ast.Dict):
                        fields |= {k.value for k in kw.value.keys if isinstance(k, ast.Constant)}
            elif name in ("bulk_update", "update_rows"):
                for arg in node.args:
                    if isinstance(arg, ast.List | ast.Tuple):
                        fields |= {e.value for e in arg.elts if isinstance(e, ast.Constant)}
            for state in STATES:
                hits = fields & state.own
                if f"{state.model}." in ast.unparse(node) or any(
                    isinstance(a, ast.Name) and a.id == state.model for a in node.args
                ):
                    hits |= fields & state.shared
                found.extend((node.lineno, state.model, f) for f in sorted(hits))
    return found


def test_each_state_has_one_write_path():
    stray = []
    for path in production_files():
        rel = path.relative_to(ROOT).as_posix()
        for line, model, field in writes_in(path.read_text()):
            owners = next(s.owners for s in STATES if s.model == model)
            if rel not in owners:
                stray.append(f"{rel}:{line}: {model}.{field}")
    assert stray == []


def test_the_scan_finds_writes_of_each_kind():
    """The check can fail: each way of writing a state is seen."""
    snippet = """
alert.pending_status = "Dismissed"
row.status, row.pending_failed = "Active", False
Alert.objects.filter(pk=1).update(status="Resolved")
Pricing.objects.filter(pk=1).update(pending_error="x")
rule.push_state = "failed"
SuppressionRule.objects.filter(pk=1).update(in_azure=False)
contact.pending_push = True
SecurityContact.objects.update_or_create(subscription=s, defaults={"emails": "a@b"})
update_rows(Alert, rows, ["status", "closed_at"])
run.status = "failed"
job.state = "done"
"""
    found = {(model, field) for _, model, field in writes_in(snippet)}
    assert found == {
        ("Alert", "pending_status"),
        ("Alert", "status"),
        ("Alert", "pending_failed"),
        ("Alert", "closed_at"),
        ("Pricing", "pending_error"),
        ("SuppressionRule", "push_state"),
        ("SuppressionRule", "in_azure"),
        ("SecurityContact", "pending_push"),
        ("SecurityContact", "emails"),
    }


def test_tasks_write_no_row_themselves():
    """A task takes ids, calls a service to do the work and one to record the result (claims included)."""
    writes = []
    for path in sorted(ROOT.glob("*/tasks.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _target_name(node.func) in {
                "update",
                "save",
                "create",
                "delete",
                "bulk_create",
                "bulk_update",
                "update_or_create",
                "get_or_create",
                "select_for_update",
            }:
                writes.append(f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node.func)}")
    assert writes == []


# request.GET / request.POST read outside a form: the one place it is left, and why
RAW_INPUT_EXCEPTIONS = {
    # msal validates Microsoft's authorization response whole (state, code, PKCE verifier, nonce)
    ("portal/accounts/oidc.py", "acquire_token_by_auth_code_flow"),
}
FORM_CALLS = ("Form", "form", "Serializer", "filter_state")


def raw_input_reads(source: str, rel: str) -> list[str]:
    """`request.GET` / `request.POST` uses that do not go straight into a form or serializer."""
    tree = ast.parse(source)
    parents: dict[int, ast.AST] = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parents[id(child)] = node
    found = []
    for node in ast.walk(tree):
        if not (
            isinstance(node, ast.Attribute)
            and node.attr in ("GET", "POST")
            and isinstance(node.value, ast.Name)
            and node.value.id == "request"
        ):
            continue
        up = parents.get(id(node))
        while isinstance(up, ast.IfExp | ast.BoolOp | ast.keyword):  # `request.POST or None`, `data=…`
            up = parents.get(id(up))
        if isinstance(up, ast.Call) and _target_name(up.func).endswith(FORM_CALLS):
            continue
        if isinstance(up, ast.Compare | ast.If):  # `if request.GET:` (is there a query at all)
            continue
        outer = parents.get(id(parents.get(id(parents.get(id(node))))))  # f(request.GET.dict())
        if isinstance(outer, ast.Call) and (rel, _target_name(outer.func)) in RAW_INPUT_EXCEPTIONS:
            continue
        found.append(f"{rel}:{node.lineno}: {ast.unparse(parents.get(id(node)) or node)[:80]}")
    return found


def test_views_read_input_through_forms():
    raw = []
    for path in production_files():
        raw += raw_input_reads(path.read_text(), path.relative_to(ROOT).as_posix())
    assert raw == []


def test_the_input_check_sees_a_raw_read():
    snippet = """
a = Form(request.POST)
b = Form(request.POST if request.method == "POST" else None)
c = request.GET.get("days", "30")
d = [int(i) for i in request.POST.getlist("ids")]
"""
    found = raw_input_reads(snippet, "x.py")
    assert [line.split(":")[1] for line in found] == ["4", "5"]
