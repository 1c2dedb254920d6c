from __future__ import annotations

from django.contrib import admin

from portal.accounts.admin_scoping import ReadOnlyAdminMixin, SubscriptionScopedAdmin
from pricing.models import Pricing


@admin.register(Pricing)
class PricingAdmin(ReadOnlyAdminMixin, SubscriptionScopedAdmin):
    """Defender plans as Azure reports them; changed on the Pricing & settings page (written back to Azure)."""

    list_display = (
        "subscription",
        "name",
        "tier",
        "sub_plan",
        "free_trial_remaining",
        "enablement_time",
        "pending_tier",
    )
    list_filter = ("name", "tier", "subscription")
