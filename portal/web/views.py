"""The portal shell: home, global search, preferences, subscriptions and who may do what on them."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required, login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from portal.accounts import selectors as access
from portal.accounts import services as account_services
from portal.accounts.models import RoleAssignment
from portal.web import chrome, pending
from portal.web.formfields import cleaned
from portal.web.forms import (
    BrowserTimezoneForm,
    GrantRoleForm,
    NextForm,
    PendingScopeForm,
    PreferencesForm,
    SearchForm,
    ThemeForm,
)
from portal.web.http import AuthedRequest, safe_next


@login_required
@require_GET
def home(request: AuthedRequest) -> HttpResponse:
    """The first page of the menu (Security Center's Overview, when the alerts app is installed)."""
    return redirect(chrome.home_url(superuser=request.user.is_superuser) or reverse("web:subscriptions"))


@login_required
@require_GET
def search(request: AuthedRequest) -> HttpResponse:
    query = cleaned(SearchForm(request.GET), "q", "").strip()
    results = chrome.search(request.user, query) if query else []
    return render(
        request,
        "web/search.html#results" if request.htmx else "web/search.html",
        {"page_title": "Search", "query": query, "results": results, "breadcrumbs": [{"label": "Search"}]},
    )


@login_required
@require_http_methods(["GET", "POST"])
def preferences(request: AuthedRequest) -> HttpResponse:
    """Time zone and theme, and the fields other apps add (notifications: how often mail comes)."""
    pref = account_services.preference_for(request.user)
    posted = request.method == "POST"
    form = PreferencesForm(
        request.POST if posted else None,
        initial={
            "timezone": "" if pref.timezone_from_browser else pref.timezone,
            "theme": pref.theme,
            "keyboard_shortcuts": pref.keyboard_shortcuts,
        },
    )
    sections = [
        (section, section.form(request.POST if posted else None, initial=section.initial(request.user)))
        for section in chrome.preference_sections()
    ]
    if request.method == "POST" and form.is_valid() and all(f.is_valid() for _s, f in sections):
        tz = form.cleaned_data["timezone"]
        if tz:
            account_services.preference_set_timezone(
                user=request.user, timezone_name=tz, from_browser=False, request=request
            )
        elif not pref.timezone_from_browser:
            pref.timezone_from_browser = True
            pref.save(update_fields=["timezone_from_browser"])
        account_services.preference_set_theme(user=request.user, theme=form.cleaned_data["theme"])
        account_services.preference_set_flag(
            user=request.user, name="keyboard_shortcuts", value=form.cleaned_data["keyboard_shortcuts"]
        )
        for section, section_form in sections:
            section.save(request.user, section_form.cleaned_data)
        messages.success(request, "Preferences saved.")
        return redirect("web:preferences")
    return render(
        request,
        "web/preferences.html",
        {
            "page_title": "Preferences",
            "form": form,
            "section_forms": [f for _s, f in sections],
            "pref": pref,
            "breadcrumbs": [{"label": "Preferences"}],
        },
    )


@login_required
@require_POST
def browser_timezone(request: AuthedRequest) -> HttpResponse:
    """Called once by the page script with the browser's time zone (unless the user chose one)."""
    form = BrowserTimezoneForm(request.POST)
    if not form.is_valid():
        return JsonResponse({"errors": form.errors}, status=400)
    pref = account_services.preference_set_timezone(
        user=request.user, timezone_name=form.cleaned_data["timezone"], from_browser=True, request=request
    )
    return JsonResponse({"timezone": pref.timezone})


@login_required
@require_POST
def theme(request: AuthedRequest) -> HttpResponse:
    form = ThemeForm(request.POST)
    if not form.is_valid():
        return JsonResponse({"errors": form.errors}, status=400)
    account_services.preference_set_theme(user=request.user, theme=form.cleaned_data["theme"])
    if request.htmx or request.headers.get("Accept", "").startswith("application/json"):
        return JsonResponse({"theme": form.cleaned_data["theme"]})
    return redirect(
        safe_next(request, cleaned(NextForm(request.POST), "next", ""), default=reverse("web:preferences"))
    )


@login_required
@require_GET
def subscriptions(request: AuthedRequest) -> HttpResponse:
    rows = [
        {"subscription": s, "role": access.role_on(request.user, s.pk)}
        for s in access.subscriptions_visible_to(request.user).select_related("connection")
    ]
    return render(
        request,
        "web/subscriptions.html",
        {"page_title": "Subscriptions", "rows": rows, "breadcrumbs": [{"label": "Subscriptions"}]},
    )


@login_required
@require_http_methods(["GET", "POST"])
def subscription_access(request: AuthedRequest, pk: int) -> HttpResponse:
    """Access control (IAM) of one subscription: everyone who can see it sees the list; Owners grant."""
    subscription = access.subscription_get_for_user(request.user, pk, grant=request.method == "POST")
    can_grant = access.can_grant(request.user, subscription.pk)
    form = GrantRoleForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            account_services.role_grant(
                actor=request.user,
                subscription=subscription,
                role=data["role"],
                user=data.get("user") if data["principal_type"] == "user" else None,
                group=data.get("group") if data["principal_type"] == "group" else None,
                request=request,
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, "Role assignment saved.")
            return redirect("web:subscription_access", pk=subscription.pk)
    assignments = (
        RoleAssignment.objects.filter(subscription=subscription)
        .select_related("user", "group", "granted_by")
        .order_by("role", "user__username", "group__name")
    )
    return render(
        request,
        "web/subscription_access.html",
        {
            "page_title": f"{subscription} | Access control (IAM)",
            "subscription": subscription,
            "assignments": assignments,
            "form": form,
            "can_grant": can_grant,
            "breadcrumbs": [
                {"label": "Subscriptions", "url": reverse("web:subscriptions")},
                {"label": str(subscription)},
            ],
        },
        status=400 if request.method == "POST" else 200,
    )


@login_required
@require_POST
def role_revoke(request: AuthedRequest, pk: int, assignment_pk: int) -> HttpResponse:
    subscription = access.subscription_get_for_user(request.user, pk, grant=True)
    assignment = access.get_for_user(
        RoleAssignment.objects.select_related("subscription", "user", "group"),
        request.user,
        grant=True,
        pk=assignment_pk,
        subscription=subscription,
    )
    account_services.role_revoke(actor=request.user, assignment=assignment, request=request)
    messages.success(request, "Role assignment removed.")
    return redirect("web:subscription_access", pk=subscription.pk)


@login_required
@require_GET
def pending_state(request: AuthedRequest, kind: str, pk: int) -> HttpResponse:
    """A pending write-back's element, polled while pending (portal.web.pending): access-checked by the kind's own
    loader, so another subscription's object is a 404 and a role's read access suffices."""
    registered = pending.kind_named(kind)
    scope = cleaned(PendingScopeForm(request.GET), "scope", "")
    return HttpResponse(pending.render_element(request, registered, registered.load(request.user, pk), scope))


@login_not_required
def admin_login(request: HttpRequest) -> HttpResponse:
    """The admin's sign-in: the portal's (throttled) sign-in page for someone not signed in; for a signed-in person
    who is not staff, a page saying the administration is for staff (it redirected to the sign-in page, which sent
    them back to /admin/, and the browser gave up with too many redirects)."""
    if request.user.is_authenticated and not request.user.is_staff:
        return render(request, "web/admin_staff_only.html", status=403)
    if request.user.is_authenticated:
        return redirect(
            safe_next(request, cleaned(NextForm(request.GET), "next", ""), default=reverse("admin:index"))
        )
    target = reverse("login")
    following = cleaned(NextForm(request.GET), "next", "")
    return redirect(f"{target}?{urlencode({'next': following})}" if following else target)


@login_not_required
@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness for load balancers and compose: the database answers. Says nothing else."""
    from django.db import connection

    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:
        return JsonResponse({"status": "unavailable"}, status=503)
    return JsonResponse({"status": "ok"})
