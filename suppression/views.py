"""Security alerts → Suppression rules: list, create (also from an alert or a feedback suggestion), edit, Simulate,
enable/disable, delete, apply to open alerts."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from alerts.selectors import alert_get_for_user, alerts_visible_to
from portal.accounts import selectors as access
from portal.web.formfields import cleaned
from portal.web.http import AuthedRequest, safe_next
from suppression.forms import (
    RuleCommandForm,
    RuleForm,
    RulePrefillForm,
    initial_conditions,
    initial_from_alert,
    initial_from_rule,
)
from suppression.models import SuppressionRule
from suppression.rules import warnings_for
from suppression.selectors import rule_get_for_user, rules_visible_to
from suppression.services import (
    Simulation,
    active_matches,
    rule_apply_to_active,
    rule_delete,
    rule_save,
    rule_set_state,
    simulate,
)


def _crumbs(*extra: dict[str, str]) -> list[dict[str, str]]:
    return [
        {"label": "Security Center", "url": reverse("alerts:overview")},
        {"label": "Security alerts", "url": reverse("alerts:list")},
        {"label": "Suppression rules", "url": reverse("suppression:rules")},
        *extra,
    ]


def _rules(user: User) -> QuerySet[SuppressionRule]:
    return rules_visible_to(user).select_related("created_by", "updated_by")


@login_required
@require_GET
def rule_list(request: AuthedRequest) -> HttpResponse:
    rules = _rules(request.user).order_by("subscription__display_name", "name")
    return render(
        request,
        "suppression/rules.html",
        {
            "page_title": "Suppression rules",
            "rules": rules,
            "can_create": access.can_write_any(request.user),
            "breadcrumbs": [*_crumbs()[:2], {"label": "Suppression rules"}],
        },
    )


def _form(
    request: AuthedRequest,
    data: QueryDict | None = None,
    initial: dict[str, Any] | None = None,
    portal_only: list[tuple[str, str]] | None = None,
) -> RuleForm:
    subscriptions = list(
        access.subscriptions_visible_to(request.user, write=True).values_list("pk", "display_name")
    )
    seen = list(
        alerts_visible_to(request.user).values_list("alert_type", flat=True).distinct().order_by()[:200]
    )
    return RuleForm(
        data, initial=initial, subscriptions=subscriptions, seen_types=seen, portal_only=portal_only
    )


def _render_form(
    request: AuthedRequest,
    form: RuleForm,
    rule: SuppressionRule | None,
    *,
    simulation: Simulation | None = None,
    status: int = 200,
) -> HttpResponse:
    warnings = []
    if form.is_bound and form.is_valid():
        d = form.cleaned_data
        warnings = warnings_for(d["alert_type"], d["conditions"], d["expiration"]).messages()
    elif rule is not None:
        warnings = warnings_for(rule.alert_type, rule.conditions, rule.expiration_date).messages()
    return render(
        request,
        "suppression/rule_form.html",
        {
            "page_title": f"Suppression rule {rule.name}" if rule else "Create suppression rule",
            "form": form,
            "rule": rule,
            "simulation": simulation,
            "warnings": warnings,
            "can_write": rule is None or access.can_write(request.user, rule.subscription_id),
            "active_count": len(active_matches(rule))
            if rule is not None and rule.state == "Enabled"
            else None,
            "breadcrumbs": _crumbs({"label": rule.name if rule else "Create"}),
        },
        status=status,
    )


def _save_or_simulate(request: AuthedRequest, form: RuleForm, rule: SuppressionRule | None) -> HttpResponse:
    if not form.is_valid():
        return _render_form(request, form, rule, status=400)
    subscription = access.subscription_get_for_user(
        request.user, form.cleaned_data["subscription"], write=True
    )
    if cleaned(RuleCommandForm(request.POST), "action", "save") == "simulate":
        d = form.cleaned_data
        result = simulate(subscription=subscription, alert_type=d["alert_type"], conditions=d["conditions"])
        return _render_form(request, form, rule, simulation=result)
    try:
        saved = rule_save(
            user=request.user, subscription=subscription, data=form.rule_data(), rule=rule, request=request
        )
    except ValidationError as exc:
        for field_name, errors in exc.message_dict.items():
            form.add_error(field_name if field_name in form.fields else None, errors)
        return _render_form(request, form, rule, status=400)
    where = "in this portal only" if saved.local_only else "and is being saved to Azure"
    messages.success(request, f"Suppression rule {saved.name} was saved {where}.")
    return redirect("suppression:rule_edit", pk=saved.pk)


@login_required
@require_http_methods(["GET", "POST"])
def rule_create(request: AuthedRequest) -> HttpResponse:
    if request.method == "POST":
        return _save_or_simulate(request, _form(request, request.POST), None)
    initial: dict[str, Any] = {"state": "Enabled"}
    portal_only: list[tuple[str, str]] = []
    prefill = RulePrefillForm(request.GET)
    asked = prefill.cleaned_data if prefill.is_valid() else {}
    if asked.get("from_alert"):
        initial, portal_only = initial_from_alert(alert_get_for_user(request.user, asked["from_alert"]))
    elif asked.get("alert_type"):
        field_name, value = asked.get("field", ""), asked.get("value", "")
        initial.update(
            {
                "subscription": asked.get("subscription"),
                "alert_type": asked["alert_type"],
                "reason": asked.get("reason", ""),
                **(
                    initial_conditions([{"field": field_name, "in": [value]}]) if field_name and value else {}
                ),
            }
        )
    if not access.subscriptions_visible_to(request.user, write=True).exists():
        return HttpResponse("Only Security Admins and Owners create suppression rules.", status=403)
    return _render_form(request, _form(request, initial=initial, portal_only=portal_only), None)


@login_required
@require_http_methods(["GET", "POST"])
def rule_edit(request: AuthedRequest, pk: int) -> HttpResponse:
    rule = rule_get_for_user(request.user, pk, write=request.method == "POST")
    if request.method == "POST":
        return _save_or_simulate(request, _form(request, request.POST), rule)
    return _render_form(request, _form(request, initial=initial_from_rule(rule)), rule)


@login_required
@require_POST
def rule_state(request: AuthedRequest, pk: int) -> HttpResponse:
    rule = rule_get_for_user(request.user, pk, write=True)
    command = RuleCommandForm(request.POST)
    command.is_valid()
    state = command.cleaned_data.get("state", "")
    try:
        rule_set_state(user=request.user, rule=rule, state=state, request=request)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Rule {rule.name} is now {state}.")
    return redirect(
        safe_next(request, command.cleaned_data.get("next"), default=reverse("suppression:rules"))
    )


@login_required
@require_POST
def rule_remove(request: AuthedRequest, pk: int) -> HttpResponse:
    rule = rule_get_for_user(request.user, pk, write=True)
    name = rule.name
    rule_delete(user=request.user, rule=rule, request=request)
    messages.success(request, f"Rule {name} was removed. Alerts it dismissed stay dismissed.")
    return redirect("suppression:rules")


@login_required
@require_POST
def rule_apply(request: AuthedRequest, pk: int) -> HttpResponse:
    """Apply a rule to the alerts already open (the form showed the count first)."""
    rule = rule_get_for_user(request.user, pk, write=True)
    count = rule_apply_to_active(user=request.user, rule=rule, request=request)
    messages.success(request, f"{count} open alert(s) were dismissed by {rule.name}.")
    return redirect("suppression:rule_edit", pk=rule.pk)
