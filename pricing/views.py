"""Security Center → Pricing & settings: the Defender plans of each subscription, On/Off, Save."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from portal.accounts import selectors as access
from portal.plans import plan_label
from portal.web.http import AuthedRequest
from pricing import selectors
from pricing.forms import PlansForm
from pricing.services import plans_save


def _crumbs(*extra: dict[str, str]) -> list[dict[str, str]]:
    return [
        {"label": "Security Center", "url": reverse("alerts:overview")},
        {"label": "Pricing & settings", "url": reverse("pricing:subscriptions")},
        *extra,
    ]


def _tier(value: str | None) -> str:
    """A checkbox's value as a tier: on = Standard, absent = Free; anything else is passed on (and refused)."""
    if value == "on":
        return "Standard"
    return "Free" if value in (None, "", "off") else value


@login_required
@require_GET
def subscriptions(request: AuthedRequest) -> HttpResponse:
    rows = selectors.coverage_by_subscription(list(access.subscriptions_visible_to(request.user)))
    return render(
        request,
        "pricing/subscriptions.html",
        {
            "page_title": "Pricing & settings",
            "rows": rows,
            "breadcrumbs": [*_crumbs()[:1], {"label": "Pricing & settings"}],
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def plans(request: AuthedRequest, pk: int) -> HttpResponse:
    subscription = access.subscription_get_for_user(request.user, pk, write=request.method == "POST")
    can_write = access.can_write(request.user, subscription.pk)
    rows = selectors.plan_rows(subscription)
    if request.method == "POST":
        form = PlansForm(request.POST, [r.pricing.name for r in rows])
        if not form.is_valid():
            messages.error(request, "The plans sent were not valid. Nothing was changed.")
            return redirect("pricing:plans", pk=subscription.pk)
        everything, switches = form.cleaned_data.get("all"), form.switches()
        if everything in ("on", "off"):
            desired = {
                r.pricing.name: ("Standard" if everything == "on" else "Free")
                for r in rows
                if not r.pricing.deprecated
            }
        else:
            desired = {}
            for r in rows:
                value = switches.get(r.pricing.name)
                if r.pricing.deprecated and not r.pricing.is_on and value is None:
                    continue  # a deprecated plan that is off is not offered
                desired[r.pricing.name] = _tier(value)
            for name, value in switches.items():
                if name not in desired:
                    desired[name] = _tier(value)  # an unknown plan: the service refuses it
        try:
            changed = plans_save(
                user=request.user, subscription=subscription, desired=desired, request=request
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages) + " Nothing was changed.")
            return redirect("pricing:plans", pk=subscription.pk)
        if changed:
            names = ", ".join(plan_label(p.name) for p in changed)
            messages.success(request, f"Saving {names} to Azure. Each row shows when Azure has confirmed it.")
        else:
            messages.info(request, "Nothing to save: the plans already are as selected.")
        return redirect("pricing:plans", pk=subscription.pk)
    context = {
        "page_title": "Settings | Defender plans",
        "page_subtitle": subscription.display_name,
        "subscription": subscription,
        "rows": rows,
        "can_write": can_write,
        # what the table lists (deprecated plans included): "7 of 10 plans on" above 13 rows did not add up
        "on": sum(1 for r in rows if r.pricing.is_on),
        "total": len(rows),
        "breadcrumbs": _crumbs({"label": subscription.display_name}),
    }
    return render(request, "pricing/plans.html", context)
