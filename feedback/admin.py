from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib import admin
from django.http import HttpRequest

from feedback.models import Feedback, FeedbackReply, FeedbackVersion
from portal.accounts.admin_scoping import ReadOnlyAdminMixin, SubscriptionScopedAdmin

if TYPE_CHECKING:
    _VersionInlineBase = admin.TabularInline[FeedbackVersion, Feedback]
else:  # generic only in the stubs (no django_stubs_ext.monkeypatch at run time)
    _VersionInlineBase = admin.TabularInline


class VersionInline(_VersionInlineBase):
    model = FeedbackVersion
    extra = 0
    can_delete = False
    readonly_fields = ("created_at", "useful", "reason", "text", "may_contact")

    def has_add_permission(self, request: HttpRequest, obj: Feedback | None = None) -> bool:
        return False


@admin.register(Feedback)
class FeedbackAdmin(ReadOnlyAdminMixin, SubscriptionScopedAdmin):
    """Feedback is written by analysts on the alert page (through the service); here it is read and filtered."""

    list_display = ("updated_at", "user", "useful", "reason", "alert", "subscription", "may_contact")
    list_filter = ("useful", "reason", "may_contact", "subscription")
    search_fields = ("text", "user__username", "alert__title", "alert__alert_type")
    list_select_related = ("user", "alert", "subscription")
    inlines = [VersionInline]
    show_full_result_count = False


@admin.register(FeedbackReply)
class FeedbackReplyAdmin(ReadOnlyAdminMixin, SubscriptionScopedAdmin):
    subscription_field = "feedback__subscription"
    list_display = ("sent_at", "author", "feedback")
