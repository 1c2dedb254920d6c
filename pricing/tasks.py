"""Plan write-back: one task per changed plan (pricings.update), with bounded retries for transient errors."""

from __future__ import annotations

from typing import Any

from celery import Task, shared_task

from portal.arm import errors, operations
from portal.celery import retry_transient
from portal.inventory.azure import config_for
from pricing.models import Pricing
from pricing.services import pricing_push_attempt_failed, pricing_push_result

MAX_RETRIES = 5


# `self: Task[Any, str]`: the task's parameters are the function's own (names and defaults kept).
@shared_task(bind=True, acks_late=True, max_retries=MAX_RETRIES, name="pricing.push_pricing")
def push_pricing(self: Task[Any, str], pricing_pk: int) -> str:
    pricing = Pricing.objects.select_related("subscription__connection").filter(pk=pricing_pk).first()
    if pricing is None or not pricing.pending_tier:
        return "nothing pending"
    tier, sub_plan = pricing.pending_tier, pricing.pending_sub_plan or None
    subscription = pricing.subscription
    try:
        result = operations.update_pricing(
            config_for(subscription.connection), subscription.subscription_id, pricing.name, tier, sub_plan
        )
    except errors.TRANSIENT as exc:
        if self.request.retries < MAX_RETRIES:
            pricing_push_attempt_failed(pricing_pk=pricing.pk, error=str(exc))
        retry_transient(self, exc, limit=MAX_RETRIES)
        pricing_push_result(pricing_pk=pricing.pk, tier=tier, error=f"Azure did not answer: {exc}")
        return f"failed: {exc}"
    except errors.ArmError as exc:
        pricing_push_result(pricing_pk=pricing.pk, tier=tier, error=exc.message or str(exc))
        return f"refused: {exc}"
    pricing_push_result(pricing_pk=pricing.pk, tier=tier, result=result)
    return f"confirmed {tier}"
