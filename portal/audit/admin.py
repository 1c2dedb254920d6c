from __future__ import annotations

import csv
from typing import Any

from django.contrib import admin
from django.http import HttpRequest, StreamingHttpResponse

from portal.accounts.admin_scoping import ReadOnlyAdminMixin, SubscriptionScopedAdmin
from portal.audit.models import AuditRecord


class _Echo:
    def write(self, value: str) -> str:
        return value


@admin.register(AuditRecord)
class AuditRecordAdmin(ReadOnlyAdminMixin, SubscriptionScopedAdmin):
    """Read-only, scoped to the subscriptions the user can see; records of no subscription: superusers only."""

    list_display = ("created_at", "actor_label", "action", "object_repr", "subscription", "ip_address")
    list_filter = ("action",)
    search_fields = ("actor_label", "action", "object_repr", "object_id")
    date_hierarchy = "created_at"
    actions = ["export_csv"]
    show_full_result_count = False

    @admin.action(description="Export selected records as CSV")
    def export_csv(self, request: HttpRequest, queryset: Any) -> StreamingHttpResponse:
        writer = csv.writer(_Echo())
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

        def rows():  # type: ignore[no-untyped-def]
            yield writer.writerow(header)
            for r in queryset.iterator(chunk_size=2000):
                yield writer.writerow(
                    [
                        r.created_at.isoformat(),
                        r.actor_label,
                        r.action,
                        r.object_type,
                        r.object_id,
                        r.object_repr,
                        r.subscription_id or "",
                        r.ip_address or "",
                        r.before,
                        r.after,
                    ]
                )

        response = StreamingHttpResponse(rows(), content_type="text/csv")
        response["Content-Disposition"] = 'attachment; filename="audit.csv"'
        return response
