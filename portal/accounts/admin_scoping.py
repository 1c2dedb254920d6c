"""The admin is no side door: every ModelAdmin scopes rows and permissions by the user's subscription roles."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generic

from django.contrib import admin
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from typing_extensions import TypeVar

from portal.accounts import selectors as access
from portal.accounts.models import WRITE_RANK
from portal.inventory.models import Subscription

# The admin's model. Unnamed (a bare `SubscriptionScopedAdmin`), it is left unchecked, as with a bare ModelAdmin.
_M = TypeVar("_M", bound=Model, default=Any)

if TYPE_CHECKING:
    _ModelAdmin = admin.ModelAdmin
else:

    class _ModelAdmin(admin.ModelAdmin, Generic[_M]):
        """Django's ModelAdmin, subscriptable: django-stubs declares it generic in its model, Django's class is
        not (and django_stubs_ext.monkeypatch is not used)."""


class SubscriptionScopedAdmin(_ModelAdmin[_M]):
    """Rows of subscriptions the user holds a role on; changes only where the role allows writes.

    `subscription_field` is the lookup path from the model to its Subscription ("pk" for Subscription itself).
    Subclasses save through services by overriding save_model/delete_model. `SubscriptionScopedAdmin[Model]` names
    the model, for type checking.
    """

    subscription_field = "subscription"
    write_rank = WRITE_RANK

    def get_queryset(self, request: HttpRequest) -> QuerySet[_M]:
        return access.scope_to_user(
            super().get_queryset(request), request.user, field=self.subscription_field
        )

    def _subscription_pk(self, obj: Model) -> int:
        if self.subscription_field in ("", "pk"):
            pk: int = obj.pk
            return pk
        return access._follow(obj, self.subscription_field)

    def _allowed(self, request: HttpRequest, obj: Model | None, min_rank: int) -> bool:
        user = request.user
        if not (user.is_active and user.is_staff):
            return False
        if user.is_superuser:
            return True
        pks = access.subscription_pks_for(user, min_rank=min_rank)
        if obj is None:
            return bool(pks)
        return self._subscription_pk(obj) in (pks or [])

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._allowed(request, None, 0)

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._allowed(request, obj, 0)

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._allowed(request, obj, self.write_rank)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self._allowed(request, None, self.write_rank)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._allowed(request, obj, self.write_rank)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.related_model is Subscription:
            pks = access.subscription_pks_for(request.user, min_rank=self.write_rank)
            qs = Subscription.objects.all()
            kwargs["queryset"] = qs if pks is None else qs.filter(pk__in=pks)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class ReadOnlyAdminMixin:
    """For records only the system writes (audit, sync runs): viewable, never editable in the admin."""

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False
