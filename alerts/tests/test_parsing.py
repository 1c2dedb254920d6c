"""The parser against the public REST spec examples (what real Azure returns) and bad input."""

from __future__ import annotations

import json

import pytest

from alerts.parsing import MalformedAlertError, content_hash, entity_value, parse_alert
from portal.testing.services import specs_dir


def spec_alerts() -> list[dict]:
    items = []
    for path in sorted((specs_dir() / "alerts-2022-01-01").glob("Get*.json")):
        body = json.loads(path.read_text())["responses"]["200"]["body"]
        items.extend(body.get("value", [body]))
    return items


def test_spec_examples_parse_into_rows():
    items = spec_alerts()
    assert len(items) >= 5
    for item in items:
        parsed = parse_alert(item)
        assert parsed.arm_id == item["id"].lower()
        f = parsed.fields
        props = item["properties"]
        assert f["alert_type"] == props["alertType"]
        assert f["title"] == props["alertDisplayName"]
        assert f["severity"] == props["severity"] and f["severity_rank"] in (1, 2, 3, 4)
        assert f["azure_status"] == props["status"]
        assert f["time_generated"].isoformat().startswith(props["timeGeneratedUtc"][:19])
        assert f["entities"] == props["entities"]
        assert f["extended_properties"] == props["extendedProperties"]
        assert f["supporting_evidence"] == props.get("supportingEvidence")
        assert f["techniques"] == props.get("techniques", [])
        assert f["correlation_key"] == props.get("correlationKey", "")
        assert f["azure_id"] == item["id"]  # original casing kept for actions


def test_spec_quirk_name_differs_from_id():
    item = next(i for i in spec_alerts() if i["name"] != i["id"].rsplit("/", 1)[1])
    parsed = parse_alert(item)
    assert parsed.fields["name"] == item["name"]
    assert parsed.arm_id.endswith(item["id"].rsplit("/", 1)[1].lower())


def test_plan_from_component_or_type_prefix():
    item = spec_alerts()[0]
    kv = json.loads(json.dumps(item))
    kv["properties"].update(alertType="KV_TORAccess", productComponentName="")
    assert parse_alert(kv).fields["plan"] == "KeyVaults"
    kv["properties"]["productComponentName"] = "Servers"
    assert parse_alert(kv).fields["plan"] == "VirtualMachines"


def test_search_text_holds_entities():
    item = spec_alerts()[0]
    text = parse_alert(item).fields["search_text"]
    assert "192.0.2.1" in text and item["properties"]["alertDisplayName"].lower() in text


def test_entity_keys_are_case_insensitive():
    assert entity_value({"Address": "1.2.3.4"}, "address") == "1.2.3.4"
    assert entity_value({"address": "1.2.3.4"}, "Address") == "1.2.3.4"


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda i: i.pop("id"), "not an alert resource id"),
        (
            lambda i: i.update(id="/subscriptions/x/providers/Microsoft.Compute/vm/1"),
            "not an alert resource id",
        ),
        (lambda i: i.update(properties="nope"), "properties is missing"),
        (lambda i: i["properties"].pop("alertType"), "alertType is missing"),
        (lambda i: i["properties"].update(severity="Critical"), "unknown severity"),
        (lambda i: i["properties"].update(status="Closed"), "unknown status"),
        (lambda i: i["properties"].update(timeGeneratedUtc="yesterday"), "not an ISO-8601"),
        (lambda i: (i["properties"].pop("timeGeneratedUtc"), i["properties"].pop("startTimeUtc")), "neither"),
        (lambda i: i["properties"].update(entities={"a": 1}), "entities is not a list"),
        (lambda i: i["properties"].update(extendedProperties=[1]), "extendedProperties is not an object"),
        (lambda i: i["properties"].update(alertDisplayName={"x": 1}), "alertDisplayName is not a string"),
    ],
)
def test_malformed_elements_raise_a_clear_error(mutate, message):
    item = json.loads(json.dumps(spec_alerts()[0]))
    mutate(item)
    with pytest.raises(MalformedAlertError, match=message):
        parse_alert(item)


def test_non_object_is_malformed():
    for bad in (None, 1, "x", [1]):
        with pytest.raises(MalformedAlertError):
            parse_alert(bad)


def test_content_hash_ignores_key_order():
    assert content_hash({"a": 1, "b": [1, 2]}) == content_hash({"b": [1, 2], "a": 1})
    assert content_hash({"a": 1}) != content_hash({"a": 2})


def test_search_text_names_resources_instead_of_holding_their_ids():
    """Resource ids are searched for by their names (the trigram index is the main cost of storing an alert)."""
    item = spec_alerts()[0]
    vault_id = (
        "/subscriptions/0000/resourceGroups/RG-Payments/providers/Microsoft.KeyVault/vaults/KV-Pay-Prod"
    )
    item["properties"]["entities"] = [{"$id": "1", "resourceId": vault_id, "type": "azure-resource"}]
    text = parse_alert(item).fields["search_text"]
    assert "rg-payments kv-pay-prod" in text
    assert "/subscriptions/" not in text and "microsoft.keyvault" not in text
