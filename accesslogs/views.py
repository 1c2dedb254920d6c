"""A vault's access-log collection (Key vault → Security → Collect access logs) and a local detection's evidence as
JSON. Reading needs sign-in and a role on the vault's subscription; changing needs Security Admin or Owner."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accesslogs import selectors
from accesslogs.forms import StorageAccountForm
from accesslogs.services import collection_start, collection_stop, storage_listing_request
from alerts.selectors import alert_get_for_user
from portal.inventory.hooks import vault_tab_url
from portal.inventory.selectors import vault_get_for_user
from portal.inventory.views import vault_crumbs
from portal.web.http import AuthedRequest


def security_url(vault_pk: int) -> str:
    return vault_tab_url(vault_pk, "security")


@login_required
@require_http_methods(["GET", "POST"])
def collect(request: AuthedRequest, pk: int) -> HttpResponse:
    """Collect access logs → pick a storage account of the vault's region → Turn on. The subscription's accounts
    are listed by a task (pages never call Azure): opening the page asks for a new listing when the last one is
    more than a few minutes old, and the list settles in place."""
    vault = vault_get_for_user(request.user, pk, write=True)
    if request.method == "GET":
        storage_listing_request(subscription_pk=vault.subscription_id)
    usable, _others = selectors.storage_accounts(vault)
    form = StorageAccountForm(request.POST if request.method == "POST" else None, usable)
    if request.method == "POST" and form.is_valid():
        chosen = next(a for a in usable if str(a.pk) == form.cleaned_data["storage_account"])
        try:
            collection_start(user=request.user, vault=vault, account=chosen, request=request)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, f"Access-log collection is being turned on for {vault.name}.")
            return redirect(security_url(vault.pk))
    return render(
        request,
        "accesslogs/collect.html",
        {
            "page_title": f"{vault.name} | Collect access logs",
            "vault": vault,
            "form": form,
            "collection": selectors.collection_of(vault),
            "unavailable": selectors.unavailable_reason(),
            "back_url": security_url(vault.pk),
            "breadcrumbs": vault_crumbs(vault, {"label": "Collect access logs"}),
        },
    )


@login_required
@require_POST
def stop(request: AuthedRequest, pk: int) -> HttpResponse:
    vault = vault_get_for_user(request.user, pk, write=True)
    try:
        collection_stop(user=request.user, vault=vault, request=request)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Access-log collection is being turned off for {vault.name}.")
    return redirect(security_url(vault.pk))


@login_required
@require_GET
def evidence_json(request: AuthedRequest, pk: int) -> HttpResponse:
    """A local detection's evidence records, as stored in the vault's log, for download."""
    alert = alert_get_for_user(request.user, pk)
    evidence = selectors.evidence_of(alert)
    if evidence is None:
        return JsonResponse(
            {"error": "This alert is not a local detection: it has no access-log evidence."}, status=404
        )
    response = JsonResponse(
        {
            "alert": alert.arm_id,
            "detection": evidence.detection_type,
            "explanation": evidence.explanation,
            "identity": evidence.identity,
            "start": evidence.start.isoformat(),
            "end": evidence.end.isoformat(),
            "records": evidence.records,
        },
        json_dumps_params={"indent": 1},
    )
    response["Content-Disposition"] = f'attachment; filename="evidence-{alert.pk}.json"'
    return response
