"""Suppression rules' Celery tasks: thin, taking ids. The task names are those they had in the alerts app (queued
messages still run; listed as legacy names in tests/test_layers.py)."""

from __future__ import annotations

from typing import Any

from celery import Task, shared_task

from portal.arm import errors, operations
from portal.celery import retry_transient
from portal.inventory.azure import config_for
from portal.inventory.models import Subscription
from suppression import services
from suppression.models import SuppressionRule
from suppression.rules import rule_properties


# Bound tasks' `self: Task[Any, R]`: the task's parameters are the function's own (names and defaults kept).
@shared_task(bind=True, acks_late=True, max_retries=5, name="alerts.push_rule")
def push_rule(self: Task[Any, str], rule_pk: int) -> str:
    """Create or update a suppression rule in Azure (PUT, 200 only)."""
    rule = SuppressionRule.objects.select_related("subscription__connection").filter(pk=rule_pk).first()
    if rule is None or rule.local_only:
        return "nothing to push"
    subscription = rule.subscription
    try:
        result = operations.put_suppression_rule(
            config_for(subscription.connection),
            subscription.subscription_id,
            rule.name,
            rule_properties(rule),
        )
    except errors.TRANSIENT as exc:
        retry_transient(self, exc)
        services.rule_pushed(rule_pk=rule.pk, result=None, error=str(exc))
        return f"failed: {exc}"
    except errors.ArmError as exc:
        services.rule_pushed(rule_pk=rule.pk, result=None, error=exc.message or str(exc))
        return f"refused: {exc}"
    services.rule_pushed(rule_pk=rule.pk, result=result)
    return "in step"


@shared_task(bind=True, acks_late=True, max_retries=5, name="alerts.delete_rule_in_azure")
def delete_rule_in_azure(
    self: Task[Any, str], subscription_pk: int, name: str, rule_pk: int | None = None
) -> str:
    """DELETE a suppression rule in Azure (204 only). With rule_pk, the local rule stays (it became local-only)."""
    subscription = Subscription.objects.select_related("connection").get(pk=subscription_pk)
    try:
        operations.delete_suppression_rule(
            config_for(subscription.connection), subscription.subscription_id, name
        )
    except errors.ArmNotFound:
        pass
    except errors.TRANSIENT as exc:
        retry_transient(self, exc)
        services.rule_deleted_in_azure(rule_pk=rule_pk, error=str(exc))
        return f"failed: {exc}"
    services.rule_deleted_in_azure(rule_pk=rule_pk)
    return "deleted"


@shared_task(name="alerts.expire_rules")
def expire_rules() -> int:
    return services.expire_rules()
