"""Security Center → Email notifications (per subscription), the delivery log, and what was sent."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from notifications.contact_services import ROLES, SEVERITIES, contact_save, notification_retry
from notifications.models import Notification, SecurityContact
from notifications.services import minimum_hides_key_vault, recipients_for
from portal.accounts import selectors as access
from portal.web.formfields import cleaned
from portal.web.http import AuthedRequest


class DeliveryFilterForm(forms.Form):
    state = forms.ChoiceField(required=False, choices=Notification.State.choices)


class ContactForm(forms.Form):
    emails = forms.CharField(
        label="Additional email addresses",
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Comma-separated. They get mail for this subscription's alerts.",
    )
    notify_by_role = forms.BooleanField(label="Email users with these roles", required=False)
    roles = forms.MultipleChoiceField(
        label="Roles",
        choices=[(r, r) for r in ROLES],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Owner, ServiceAdmin and AccountAdmin: the portal's Owners; "
        "Contributor: the portal's Security Admins.",
    )
    minimal_severity = forms.ChoiceField(
        label="Notify about alerts with the following severity (or higher)",
        choices=[(s, s) for s in SEVERITIES],
    )
    portal_notifications = forms.BooleanField(label="This portal emails new alerts", required=False)
    alert_notifications = forms.BooleanField(
        label="Azure also emails alerts (Defender's own notifications)",
        required=False,
        help_text="Turn off when this portal takes over.",
    )


def _crumbs(*extra: dict[str, str]) -> list[dict[str, str]]:
    return [
        {"label": "Security Center", "url": reverse("alerts:overview")},
        {"label": "Email notifications", "url": reverse("notifications:email_settings")},
        *extra,
    ]


@login_required
@require_GET
def email_settings(request: AuthedRequest) -> HttpResponse:
    subscriptions = list(access.subscriptions_visible_to(request.user))
    contacts = {c.subscription_id: c for c in SecurityContact.objects.filter(subscription__in=subscriptions)}
    rows = [{"subscription": s, "contact": contacts.get(s.pk)} for s in subscriptions]
    return render(
        request,
        "notifications/email_settings.html",
        {
            "page_title": "Email notifications",
            "rows": rows,
            "breadcrumbs": [*_crumbs()[:1], {"label": "Email notifications"}],
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def email_settings_edit(request: AuthedRequest, pk: int) -> HttpResponse:
    subscription = access.subscription_get_for_user(request.user, pk, write=request.method == "POST")
    contact = SecurityContact.objects.filter(subscription=subscription).first()
    initial: dict[str, object] = {
        "minimal_severity": "High",
        "portal_notifications": True,
        "alert_notifications": True,
        "notify_by_role": True,
        "roles": ["Owner"],
    }
    if contact is not None:
        initial = {
            "emails": ", ".join(contact.email_list),
            "notify_by_role": contact.notify_by_role,
            "roles": contact.roles,
            "minimal_severity": contact.minimal_severity,
            "portal_notifications": contact.portal_notifications,
            "alert_notifications": contact.alert_notifications,
        }
    form = ContactForm(request.POST or None, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                contact_save(
                    user=request.user, subscription=subscription, data=form.cleaned_data, request=request
                )
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
                status = 400
            else:
                messages.success(request, "Email notification settings saved; Azure's copy is being updated.")
                return redirect("notifications:email_settings_edit", pk=subscription.pk)
        else:
            status = 400
    chosen = form.data.get("minimal_severity") if form.is_bound else initial["minimal_severity"]
    severity = chosen if isinstance(chosen, str) and chosen else "High"  # a posted or initial value is a str
    recipients, _ = recipients_for(subscription.pk)
    return render(
        request,
        "notifications/email_settings_edit.html",
        {
            "page_title": f"Email notifications | {subscription.display_name}",
            "subscription": subscription,
            "form": form,
            "contact": contact,
            "can_write": access.can_write(request.user, subscription.pk),
            "hides_key_vault": minimum_hides_key_vault(severity),
            "recipients": recipients,
            "breadcrumbs": _crumbs({"label": subscription.display_name}),
        },
        status=status,
    )


@login_required
@require_GET
def deliveries(request: AuthedRequest) -> HttpResponse:
    """The delivery log: what was sent to whom, what waits in a digest, what failed (with Retry)."""
    qs = access.scope_to_user(Notification.objects.select_related("alert"), request.user)
    state = cleaned(DeliveryFilterForm(request.GET), "state", "")
    if state:
        qs = qs.filter(state=state)
    rows = list(qs.order_by("-created_at", "-id")[:200])
    return render(
        request,
        "notifications/deliveries.html",
        {
            "page_title": "Delivery log",
            "rows": rows,
            "state": state,
            "states": Notification.State.choices,
            "breadcrumbs": _crumbs({"label": "Delivery log"}),
        },
    )


@login_required
@require_GET
def delivery(request: AuthedRequest, pk: int) -> HttpResponse:
    """One mail as it was sent (subject and text): so a newcomer sees what the portal sends."""
    row = access.get_for_user(Notification.objects.select_related("alert"), request.user, pk=pk)
    return render(
        request,
        "notifications/delivery.html",
        {
            "page_title": row.subject or "Email",
            "row": row,
            "breadcrumbs": _crumbs(
                {"label": "Delivery log", "url": reverse("notifications:deliveries")}, {"label": "Email"}
            ),
        },
    )


@login_required
@require_POST
def delivery_retry(request: AuthedRequest, pk: int) -> HttpResponse:
    row = access.get_for_user(Notification.objects.all(), request.user, pk=pk, write=True)
    notification_retry(user=request.user, notification=row, request=request)
    messages.success(request, f"The mail to {row.recipient} is queued again.")
    return redirect("notifications:deliveries")
