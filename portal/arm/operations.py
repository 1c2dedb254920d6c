"""Azure operations as plain functions over plain data (JSON dicts as ARM spells them).

Reads of large collections (alerts) go through the SDK pipeline (credential, retries, paging URLs) with raw JSON
bodies parsed by orjson: building an SDK model per alert would cap a sync at ~3k alerts/s. Writes use the SDK's
operations and models. Every Azure exception leaves this module as one of portal.arm.errors.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import orjson

from portal.arm import errors
from portal.arm.session import (
    API_ALERTS,
    API_CONTACTS,
    API_DIAGNOSTICS,
    API_PRICINGS,
    API_RULES,
    API_STORAGE,
    API_SUBSCRIPTIONS,
    API_VAULTS,
    ArmSession,
    ConnectionConfig,
    drop_session,
    get_session,
)

T = TypeVar("T")

# REST status -> the action segment of the state-change POST and the SDK method suffix
STATE_ACTIONS = {
    "Active": "activate",
    "InProgress": "in_progress",
    "Resolved": "resolve",
    "Dismissed": "dismiss",
}


def _translate(exc: Exception) -> errors.ArmError:
    from azure.core import exceptions as az

    if isinstance(exc, errors.ArmError):
        return exc
    status = getattr(getattr(exc, "response", None), "status_code", None) or getattr(exc, "status_code", None)
    code, message = "", str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
    err = getattr(exc, "error", None)
    if err is not None:
        code = getattr(err, "code", "") or ""
        message = getattr(err, "message", "") or message
    if isinstance(exc, az.ClientAuthenticationError) or status in (401, 403):
        return errors.ArmAuthError(message, status=status, code=code)
    if isinstance(exc, az.ResourceNotFoundError) or status == 404:
        return errors.ArmNotFound(message, status=status, code=code)
    if status == 429:
        retry_after = None
        headers = getattr(getattr(exc, "response", None), "headers", {}) or {}
        if headers.get("Retry-After", "").isdigit():
            retry_after = float(headers["Retry-After"])
        else:  # Resource Graph says when its per-user quota resets instead
            retry_after = _hms_seconds(headers.get("x-ms-user-quota-resets-after"))
        return errors.ArmThrottled(message, status=status, code=code, retry_after=retry_after)
    if status is not None and status >= 500:
        return errors.ArmTransient(message, status=status, code=code)
    if isinstance(exc, az.ServiceRequestError | az.ServiceResponseError):
        return errors.ArmTransient(message, code=exc.__class__.__name__)
    if isinstance(exc, az.DecodeError | ValueError | orjson.JSONDecodeError):
        return errors.ArmMalformed(f"Azure sent a response that is not valid JSON: {message}")
    if isinstance(exc, az.HttpResponseError):
        return errors.ArmRejected(message, status=status, code=code)
    return errors.ArmTransient(message, code=exc.__class__.__name__)


def call(config: ConnectionConfig, fn: Callable[[ArmSession], T]) -> T:
    """Run `fn` with the connection's session; a first 401 gets one retry with a fresh token."""
    session = get_session(config)
    try:
        return fn(session)
    except Exception as exc:
        err = _translate(exc)
        if not (isinstance(err, errors.ArmAuthError) and err.status == 401):
            raise err from exc
    drop_session(config)
    session = get_session(config)
    try:
        return fn(session)
    except Exception as exc:
        raise _translate(exc) from exc


def arm_calls(config: ConnectionConfig) -> int:
    """How many HTTP requests this process has sent for the connection (retries included)."""
    return get_session(config).counter.count


# --- raw JSON reads ----------------------------------------------------------------------------------------------


def _raw_get(session: ArmSession, url: str) -> Any:
    """A list page through the SDK pipeline, its raw JSON parsed (an empty body is malformed: a page has a body)."""
    return _raw_send(session, "GET", url, what="a page", empty_ok=False)


def _raw_send(
    session: ArmSession,
    method: str,
    url: str,
    body: Any = None,
    *,
    what: str = "an answer",
    empty_ok: bool = True,
) -> Any:
    """A request through the SDK pipeline (auth, retries, counting), raw JSON both ways; None for an empty body
    (a write's or a delete's) when `empty_ok`."""
    from azure.core.rest import HttpRequest

    request = HttpRequest(method, url, json=body) if body is not None else HttpRequest(method, url)
    response = session.pipeline().send_request(request, stream=True)
    raw = response.read()
    if response.status_code >= 400:
        _raise_for_status(response, raw)
    if not raw and empty_ok:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise errors.ArmMalformed(
            f"Azure sent {what} that is not valid JSON ({len(raw)} bytes): {exc}"
        ) from exc


def _raise_for_status(response: Any, body: bytes) -> None:
    code, message = "", f"HTTP {response.status_code}"
    try:
        err = orjson.loads(body).get("error") or {}
        code, message = err.get("code", ""), err.get("message", message)
    except (orjson.JSONDecodeError, AttributeError):
        pass
    status = response.status_code
    if status in (401, 403):
        raise errors.ArmAuthError(message, status=status, code=code)
    if status == 404:
        raise errors.ArmNotFound(message, status=status, code=code)
    if status == 429:
        ra = response.headers.get("Retry-After", "")
        raise errors.ArmThrottled(
            message, status=status, code=code, retry_after=float(ra) if ra.isdigit() else None
        )
    if status >= 500:
        raise errors.ArmTransient(message, status=status, code=code)
    raise errors.ArmRejected(message, status=status, code=code)


def _url(config: ConnectionConfig, path: str, api_version: str, **query: str) -> str:
    base = config.arm_endpoint.rstrip("/")
    return f"{base}{path}?{urlencode({'api-version': api_version, **query})}"


def _absolute(config: ConnectionConfig, link: str) -> str:
    """A nextLink (or a resume token made of one) as a URL to request: a relative link (path and query, as some
    providers send it; the SDK's pagers accept it) is resolved against the connection's ARM endpoint; an absolute
    one stays as it is."""
    return urljoin(config.arm_endpoint.rstrip("/") + "/", link)


def _same_origin(url: str, endpoint: str) -> bool:
    a, b = urlsplit(url), urlsplit(endpoint)
    return (a.scheme.lower(), a.hostname, a.port or 443) == (b.scheme.lower(), b.hostname, b.port or 443)


def _with_api_version(url: str, api_version: str) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "api-version"]
    query.append(("api-version", api_version))
    return urlunsplit(parts._replace(query=urlencode(query)))


@dataclass
class Page:
    items: list[dict[str, Any]]
    next_link: str | None  # the continuation token (as Azure sent it: absolute or relative): resume from here
    url: str


def iter_pages(
    config: ConnectionConfig,
    first_url_path: str,
    api_version: str,
    *,
    start: str | None = None,
    max_pages: int = 100_000,
) -> Iterator[Page]:
    """Follow nextLink pages of a list operation (a relative nextLink or `start` is resolved against the connection's
    ARM endpoint). Detects a nextLink loop. Raises ArmMalformed on a bad page."""
    url = start or ""
    seen: set[str] = set()
    for _ in range(max_pages):
        if url:
            url = _with_api_version(_absolute(config, url), api_version)
            if not _same_origin(url, config.arm_endpoint):
                raise errors.ArmMalformed(
                    f"a nextLink to another host ({urlsplit(url).netloc}) than the ARM endpoint: not followed, "
                    "so that the connection's token never leaves its endpoint"
                )
        else:
            url = _url(config, first_url_path, api_version)
        if url in seen:
            raise errors.ArmMalformed(f"nextLink loop: Azure pointed back to a page already read ({url})")
        seen.add(url)
        body = call(config, functools.partial(_raw_get, url=url))
        if not isinstance(body, dict) or not isinstance(body.get("value"), list):
            raise errors.ArmMalformed("a list page without a 'value' array")
        next_link = body.get("nextLink") or None
        yield Page(items=body["value"], next_link=next_link, url=url)
        if not next_link:
            return
        url = next_link
    raise errors.ArmMalformed(f"more than {max_pages} pages: giving up")


def iter_alert_pages(
    config: ConnectionConfig, subscription_id: str, *, start: str | None = None
) -> Iterator[Page]:
    return iter_pages(
        config,
        f"/subscriptions/{subscription_id}/providers/Microsoft.Security/alerts",
        API_ALERTS,
        start=start,
    )


def _list_all(config: ConnectionConfig, path: str, api_version: str) -> list[dict[str, Any]]:
    return [item for page in iter_pages(config, path, api_version) for item in page.items]


def list_subscriptions(config: ConnectionConfig) -> list[dict[str, Any]]:
    return _list_all(config, "/subscriptions", API_SUBSCRIPTIONS)


def list_vaults(config: ConnectionConfig, subscription_id: str) -> list[dict[str, Any]]:
    return _list_all(
        config, f"/subscriptions/{subscription_id}/providers/Microsoft.KeyVault/vaults", API_VAULTS
    )


def list_pricings(config: ConnectionConfig, subscription_id: str) -> list[dict[str, Any]]:
    return _list_all(
        config, f"/subscriptions/{subscription_id}/providers/Microsoft.Security/pricings", API_PRICINGS
    )


def list_contacts(config: ConnectionConfig, subscription_id: str) -> list[dict[str, Any]]:
    return _list_all(
        config,
        f"/subscriptions/{subscription_id}/providers/Microsoft.Security/securityContacts",
        API_CONTACTS,
    )


def list_suppression_rules(config: ConnectionConfig, subscription_id: str) -> list[dict[str, Any]]:
    return _list_all(
        config,
        f"/subscriptions/{subscription_id}/providers/Microsoft.Security/alertsSuppressionRules",
        API_RULES,
    )


@dataclass
class GraphAnswer:
    """A Resource Graph query's rows (every page), and what its last answer said of the user's quota."""

    rows: list[dict[str, Any]]
    calls: int
    truncated: bool
    quota_remaining: int | None
    quota_resets_after: float | None  # seconds


def _hms_seconds(value: str | None) -> float | None:
    if not value:
        return None
    try:
        hours, minutes, seconds = (float(part) for part in value.split(":"))
    except ValueError:
        return None
    return hours * 3600 + minutes * 60 + seconds


def resource_graph_query(
    config: ConnectionConfig,
    subscriptions: list[str],
    query: str,
    *,
    page_size: int = 1000,
) -> GraphAnswer:
    """One KQL query over `subscriptions` through ResourceGraphClient, every page (1 call per 1,000 rows). The quota
    headers (x-ms-user-quota-remaining, -resets-after) come back with the rows: the caller schedules from them.
    azure-core does not retry a POST's 429 (only its 500, 503 and 504): a 429 comes back at once as ArmThrottled,
    with `retry_after` from the quota's reset."""
    from azure.mgmt.resourcegraph.models import QueryRequest, QueryRequestOptions

    def run(session: ArmSession) -> GraphAnswer:
        client = session.resource_graph()
        answer = GraphAnswer(rows=[], calls=0, truncated=False, quota_remaining=None, quota_resets_after=None)
        token: str | None = None
        headers: dict[str, str] = {}

        def keep(response: Any) -> None:
            headers.clear()
            headers.update(response.http_response.headers)

        while True:
            page = client.resources(
                QueryRequest(
                    subscriptions=subscriptions,
                    query=query,
                    options=QueryRequestOptions(top=page_size, skip_token=token, result_format="objectArray"),
                ),
                raw_response_hook=keep,
            )
            answer.calls += 1
            if not isinstance(page.data, list):
                raise errors.ArmMalformed("Resource Graph answered rows that are not a list")
            answer.rows += page.data
            answer.truncated = answer.truncated or str(page.result_truncated).lower() == "true"
            remaining = headers.get("x-ms-user-quota-remaining", "")
            answer.quota_remaining = int(remaining) if remaining.isdigit() else None
            answer.quota_resets_after = _hms_seconds(headers.get("x-ms-user-quota-resets-after"))
            token = page.skip_token
            if not token:
                return answer

    return call(config, run)


# --- writes through the SDK --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AlertAddress:
    """Where to send an action for an alert, taken from its ARM id (never from `name`, which can differ)."""

    subscription_id: str
    resource_group: str | None
    location: str
    name: str

    @classmethod
    def from_id(cls, arm_id: str) -> AlertAddress:
        parts = [p for p in arm_id.split("/") if p]
        lower = [p.lower() for p in parts]
        try:
            sub = parts[lower.index("subscriptions") + 1]
            loc = parts[lower.index("locations") + 1]
            name = parts[lower.index("alerts") + 1]
        except (ValueError, IndexError) as exc:
            raise errors.ArmRejected(f"not an alert resource id: {arm_id!r}") from exc
        rg = parts[lower.index("resourcegroups") + 1] if "resourcegroups" in lower else None
        return cls(sub, rg, loc, name)


def set_alert_state(config: ConnectionConfig, arm_id: str, status: str) -> None:
    """POST the state change for one alert (204 only), at resource-group level when the alert lives under one."""
    if status not in STATE_ACTIONS:
        raise errors.ArmRejected(f"unknown alert status {status!r}")
    address = AlertAddress.from_id(arm_id)
    action = STATE_ACTIONS[status]

    def run(session: ArmSession) -> None:
        alerts = session.security(address.subscription_id).alerts
        if address.resource_group:
            getattr(alerts, f"update_resource_group_level_state_to_{action}")(
                address.resource_group, address.location, address.name
            )
        else:
            getattr(alerts, f"update_subscription_level_state_to_{action}")(address.location, address.name)

    call(config, run)


def simulate_alerts(
    config: ConnectionConfig, subscription_id: str, location: str, bundles: list[str]
) -> None:
    from azure.mgmt.security.v2022_01_01.models import (
        AlertSimulatorBundlesRequestProperties,
        AlertSimulatorRequestBody,
    )

    body = AlertSimulatorRequestBody(properties=AlertSimulatorBundlesRequestProperties(bundles=bundles))
    call(config, lambda s: s.security(subscription_id).alerts.begin_simulate(location, body).result())


def update_pricing(
    config: ConnectionConfig, subscription_id: str, name: str, tier: str, sub_plan: str | None = None
) -> dict[str, Any]:
    from azure.mgmt.security.v2024_01_01.models import Pricing

    pricing = Pricing(pricing_tier=tier, sub_plan=sub_plan)
    result = call(
        config,
        lambda s: s.security(subscription_id).pricings.update(
            f"subscriptions/{subscription_id}", name, pricing
        ),
    )
    serialized: dict[str, Any] = result.serialize(keep_readonly=True)  # the SDK model's JSON (a dict)
    return serialized


def put_contact(config: ConnectionConfig, subscription_id: str, properties: dict[str, Any]) -> dict[str, Any]:
    from azure.mgmt.security.v2020_01_01_preview.models import SecurityContact

    contact = SecurityContact.deserialize({"properties": properties})
    result = call(config, lambda s: s.security(subscription_id).security_contacts.create("default", contact))
    serialized: dict[str, Any] = result.serialize(keep_readonly=True)  # the SDK model's JSON (a dict)
    return serialized


def put_suppression_rule(
    config: ConnectionConfig, subscription_id: str, name: str, properties: dict[str, Any]
) -> dict[str, Any]:
    from azure.mgmt.security.v2019_01_01_preview.models import AlertsSuppressionRule

    rule = AlertsSuppressionRule.deserialize({"properties": properties})
    result = call(config, lambda s: s.security(subscription_id).alerts_suppression_rules.update(name, rule))
    serialized: dict[str, Any] = result.serialize(keep_readonly=True)  # the SDK model's JSON (a dict)
    return serialized


def delete_suppression_rule(config: ConnectionConfig, subscription_id: str, name: str) -> None:
    call(config, lambda s: s.security(subscription_id).alerts_suppression_rules.delete(name))


# --- access logs (issue 24): storage accounts and a vault's diagnostic settings ---------------------------------------


def list_storage_accounts(config: ConnectionConfig, subscription_id: str) -> list[dict[str, Any]]:
    return _list_all(
        config, f"/subscriptions/{subscription_id}/providers/Microsoft.Storage/storageAccounts", API_STORAGE
    )


def _setting_path(resource_id: str, name: str) -> str:
    return f"{resource_id.rstrip('/')}/providers/Microsoft.Insights/diagnosticSettings/{name}"


def put_diagnostic_setting(
    config: ConnectionConfig, resource_id: str, name: str, properties: dict[str, Any]
) -> dict[str, Any]:
    """Create or replace a diagnostic setting on a resource (a key vault): the raw PUT through the SDK pipeline,
    as azure-mgmt-monitor has no operation for it. Returns what Azure stored."""
    url = _url(config, _setting_path(resource_id, name), API_DIAGNOSTICS)
    answer = call(config, lambda s: _raw_send(s, "PUT", url, {"properties": properties}))
    if not isinstance(answer, dict):
        raise errors.ArmMalformed("Azure answered a diagnostic setting's PUT without the setting")
    return answer


def get_diagnostic_setting(config: ConnectionConfig, resource_id: str, name: str) -> dict[str, Any] | None:
    """The setting as Azure has it (the read-back that confirms a change), or None when there is none."""
    url = _url(config, _setting_path(resource_id, name), API_DIAGNOSTICS)
    try:
        answer = call(config, lambda s: _raw_send(s, "GET", url))
    except errors.ArmNotFound:
        return None
    if answer is not None and not isinstance(answer, dict):
        raise errors.ArmMalformed("Azure answered a diagnostic setting that is not a JSON object")
    return answer


def delete_diagnostic_setting(config: ConnectionConfig, resource_id: str, name: str) -> None:
    url = _url(config, _setting_path(resource_id, name), API_DIAGNOSTICS)
    call(config, lambda s: _raw_send(s, "DELETE", url))
