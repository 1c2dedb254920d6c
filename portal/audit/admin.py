from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, StreamingHttpResponse

from portal.accounts.admin_scoping import ReadOnlyAdminMixin, SubscriptionScopedAdmin
from portal.audit.models import AuditRecord
from portal.csvexport import csv_response


@admin.register(AuditRecord)
class AuditRecordAdmin(ReadOnlyAdminMixin, SubscriptionScopedAdmin[AuditRecord]):
    """Read-only, scoped to the subscriptions the user can see; records of no subscription: superusers only."""

    list_display = ("created_at", "actor_label", "action", "object_repr", "subscription", "ip_address")
    list_filter = ("action",)
    search_fields = ("actor_label", "action", "object_repr", "object_id")
    date_hierarchy = "created_at"
    actions = ["export_csv"]
    show_full_result_count = False

    @admin.action(description="Export selected records as CSV")
    def export_csv(self, request: HttpRequest, queryset: QuerySet[AuditRecord]) -> StreamingHttpResponse:
        header = [
            "created_at",
            "actor",
            "action",
            "object_type",
            "object_id",
            "object",
            "subscription",
            "ip",
            "before",
            "after",
        ]
        rows = (
            [
                r.created_at,
                r.actor_label,
                r.action,
                r.object_type,
                r.object_id,
                r.object_repr,
                r.subscription_id,
                r.ip_address,
                r.before,
                r.after,
            ]
            for r in queryset.iterator(chunk_size=2000)
        )
        return csv_response(header, rows, filename="audit.csv")
