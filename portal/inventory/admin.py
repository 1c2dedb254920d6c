from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from portal.accounts.admin_scoping import ReadOnlyAdminMixin, SubscriptionScopedAdmin
from portal.inventory import services
from portal.inventory.models import AzureConnection, KeyVault, Subscription
from portal.web.http import signed_in_user

if TYPE_CHECKING:  # ModelForm and ModelAdmin are generic in django-stubs only (not subscriptable at run time)
    _AzureConnectionFormBase = forms.ModelForm[AzureConnection]
    _AzureConnectionAdminBase = admin.ModelAdmin[AzureConnection]
else:
    _AzureConnectionFormBase = forms.ModelForm
    _AzureConnectionAdminBase = admin.ModelAdmin


class AzureConnectionForm(_AzureConnectionFormBase):
    new_secret = forms.CharField(
        label="New client secret",
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Stored encrypted and never shown again. Leave empty to keep the current one. "
        "Prefer 'Secret from environment variable' in production.",
    )

    class Meta:
        model = AzureConnection
        fields = [
            "name",
            "tenant_id",
            "client_id",
            "auth_method",
            "secret_env_var",
            "certificate_path",
            "authority_host",
            "arm_endpoint",
            "default_group",
            "default_role",
            "is_enabled",
        ]


@admin.register(AzureConnection)
class AzureConnectionAdmin(_AzureConnectionAdminBase):
    """Connections span tenants and hold credentials: superusers only. The secret is write-only."""

    form = AzureConnectionForm
    list_display = (
        "name",
        "tenant_id",
        "client_id",
        "auth_method",
        "is_enabled",
        "is_healthy",
        "health_reason",
    )
    readonly_fields = ("has_secret", "is_healthy", "health_reason", "health_checked_at")

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_superuser

    has_view_permission = has_change_permission = has_add_permission = has_delete_permission = (
        lambda self, request, obj=None: request.user.is_active and request.user.is_superuser
    )

    @admin.display(boolean=True, description="Secret configured")
    def has_secret(self, obj: AzureConnection) -> bool:
        return obj.has_secret

    def save_model(self, request: HttpRequest, obj: AzureConnection, form: Any, change: bool) -> None:
        data = {f: form.cleaned_data.get(f) for f in form.Meta.fields if f != "default_group"}
        data["default_group_id"] = (
            form.cleaned_data["default_group"].pk if form.cleaned_data.get("default_group") else None
        )
        existing = AzureConnection.objects.get(pk=obj.pk) if change else None
        saved = services.connection_save(
            actor=signed_in_user(request),
            connection=existing,
            data=data,
            secret=form.cleaned_data.get("new_secret") or None,
            request=request,
        )
        obj.pk = saved.pk


@admin.register(Subscription)
class SubscriptionAdmin(ReadOnlyAdminMixin, SubscriptionScopedAdmin[Subscription]):
    subscription_field = "pk"
    list_display = (
        "display_name",
        "subscription_id",
        "connection",
        "state",
        "in_azure",
        "last_sync_completed_at",
    )
    search_fields = ("display_name", "subscription_id")
    list_filter = ("connection", "in_azure")


@admin.register(KeyVault)
class KeyVaultAdmin(ReadOnlyAdminMixin, SubscriptionScopedAdmin[KeyVault]):
    list_display = ("name", "resource_group", "location", "subscription", "sku", "in_azure")
    search_fields = ("name", "resource_group")
    list_filter = ("subscription", "location", "in_azure")
    exclude = ("raw",)
    show_full_result_count = False
