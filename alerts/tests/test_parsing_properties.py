"""The sync parser under property-based testing: arbitrary JSON in any field of a real alert never raises out of the
element handler; the element is stored or kept as malformed, and its page goes on."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alerts.models import Alert, MalformedAlert
from alerts.parsing import MalformedAlertError, parse_alert
from alerts.sync import upsert_page
from portal.inventory.services import vault_index
from portal.testing.factories import alert_item, make_subscription

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=50),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = [
    "alertDisplayName",
    "alertType",
    "severity",
    "status",
    "intent",
    "startTimeUtc",
    "endTimeUtc",
    "timeGeneratedUtc",
    "entities",
    "extendedProperties",
    "remediationSteps",
    "resourceIdentifiers",
    "compromisedEntity",
    "correlationKey",
    "alertUri",
    "supportingEvidence",
    "techniques",
    "subTechniques",
    "extendedLinks",
    "productComponentName",
    "isIncident",
    "systemAlertId",
    "description",
]


@given(field=st.sampled_from(FIELDS), value=JSON)
@settings(max_examples=300, deadline=None)
def test_parse_alert_raises_only_malformed_alert_error(field: str, value: Any) -> None:
    from types import SimpleNamespace

    sub = SimpleNamespace(subscription_id="00000000-0000-0000-0000-0000000000aa")
    item = alert_item(sub, n=1)
    item["properties"][field] = value
    with contextlib.suppress(MalformedAlertError):
        parse_alert(item)


@given(top=st.sampled_from(["id", "name", "properties", "type"]), value=JSON)
@settings(max_examples=100, deadline=None)
def test_parse_alert_survives_a_broken_envelope(top: str, value: Any) -> None:
    from types import SimpleNamespace

    item = alert_item(SimpleNamespace(subscription_id="00000000-0000-0000-0000-0000000000bb"), n=2)
    item[top] = value
    with contextlib.suppress(MalformedAlertError):
        parse_alert(item)


@pytest.mark.django_db
@given(field=st.sampled_from(FIELDS), value=JSON, text=st.text(max_size=30))
@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_element_handler_stores_or_sets_aside_and_the_page_goes_on(
    field: str, value: Any, text: str
) -> None:
    sub = make_subscription()
    broken = alert_item(sub, n=3)
    broken["properties"][field] = value
    broken["properties"]["description"] = text  # any text, NUL characters included
    good = alert_item(sub, n=4)
    result = upsert_page(
        subscription_pk=sub.pk,
        subscription_id=sub.subscription_id,
        items=[broken, good],
        vault_index=vault_index(sub),
        now=timezone.now(),
    )
    assert Alert.objects.filter(subscription=sub, arm_id=good["id"].lower()).exists()  # the page went on
    stored = Alert.objects.filter(subscription=sub).count()
    set_aside = MalformedAlert.objects.filter(subscription=sub).count()
    assert stored + set_aside == 2, (result, stored, set_aside)


@pytest.mark.django_db
def test_an_integer_over_64_bits_is_stored_on_insert_and_on_update() -> None:
    """orjson refuses such integers: the one JSON writer (portal.fields.dumps) falls back, for the COPY of new rows
    and for the update of changed ones."""
    sub = make_subscription()
    item = alert_item(sub, n=5)

    def upsert() -> Any:
        return upsert_page(
            subscription_pk=sub.pk,
            subscription_id=sub.subscription_id,
            items=[item],
            vault_index=vault_index(sub),
            now=timezone.now(),
        )

    item["properties"]["entities"] = [{"type": "ip", "address": "10.0.0.1", "asn": 2**70}]
    assert upsert().malformed == 0
    item["properties"]["entities"] = [{"type": "ip", "address": "10.0.0.1", "asn": 2**71}]
    assert upsert().malformed == 0
    alert = Alert.objects.get(subscription=sub)
    assert str(2**71) in str(alert.entities)
