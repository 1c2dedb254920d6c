from __future__ import annotations

from django.contrib import admin

from feedback.models import Feedback, FeedbackReply, FeedbackVersion
from portal.accounts.admin_scoping import ReadOnlyAdminMixin, SubscriptionScopedAdmin


class VersionInline(admin.TabularInline):
    model = FeedbackVersion
    extra = 0
    can_delete = False
    readonly_fields = ("created_at", "useful", "reason", "text", "may_contact")

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
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
