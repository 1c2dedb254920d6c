from __future__ import annotations

from django.contrib import admin

from portal.accounts.admin_scoping import ReadOnlyAdminMixin, SubscriptionScopedAdmin
from sync.models import SyncRun


@admin.register(SyncRun)
class SyncRunAdmin(ReadOnlyAdminMixin, SubscriptionScopedAdmin):
    list_display = (
        "subscription",
        "status",
        "trigger",
        "started_at",
        "finished_at",
        "pages",
        "arm_calls",
        "alerts_new",
        "alerts_changed",
        "alerts_unchanged",
    )
    list_filter = ("status", "subscription")
    show_full_result_count = False
