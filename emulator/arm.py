"""ARM endpoints other than alerts: subscriptions, tenants, key vaults, generic resources, pricings,
security contacts, alert suppression rules and the cloud metadata endpoint."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import orjson

from . import contacts, pricing, suppression
from .routing import RG, SEC, SUB, Ctx, route
from .state import Subscription
from .util import api_version_at_least
from .web import (
    Response,
    decode_skip_token,
    empty,
    encode_skip_token,
    error_response,
    json_response,
    next_link,
    page_body,
)


def page_link(ctx: Ctx, token: str | None) -> str | None:
    """A list page's nextLink: absolute, to the page after `token` (None: no more pages). Faults: `nextlink_loop`
    points it at the request itself; `relative_nextlink` leaves out scheme and host (path and query only);
    `foreign_nextlink` names another host (`localhost` for `127.0.0.1`, and the other way round: this server, which a
    client must still not send its token to, since it is not the endpoint it was configured with)."""
    link = ctx.req.url if ctx.loop_next else (next_link(ctx.req, token) if token is not None else None)
    if link and ctx.relative_next:
        parts = urlsplit(link)
        link = urlunsplit(("", "", parts.path, parts.query, ""))
    if link and ctx.foreign_next:
        parts = urlsplit(link)
        other = "localhost" if parts.hostname != "localhost" else "127.0.0.1"
        link = urlunsplit((parts.scheme, f"{other}:{parts.port}", parts.path, parts.query, ""))
    return link


def paged(ctx: Ctx, items: list[bytes]) -> Response:
    """Serve a materialised list page by page (`$top` or the emulator's page size) with `$skipToken`."""
    after = decode_skip_token(ctx.req.param("$skiptoken"))
    if after is None:
        return error_response(400, "InvalidSkipToken", "The $skipToken is not valid.")
    top = ctx.req.param("$top")
    size = ctx.rt.page_size
    if top:
        if not top.isdigit() or int(top) < 1:
            return error_response(400, "InvalidTopValue", f"The value '{top}' of $top is not valid.")
        size = min(int(top), 1000)
    start = after + 1
    chunk = items[start : start + size]
    more = start + size < len(items)
    return Response(
        200, page_body(chunk, page_link(ctx, encode_skip_token(start + size - 1) if more else None))
    )


def bad_body(ctx: Ctx) -> Response | None:
    try:
        ctx.req.json()
    except orjson.JSONDecodeError:
        return error_response(400, "InvalidRequestContent", "The request content was not valid JSON.")
    return None


# -- subscriptions and tenants --------------------------------------------------------------------
def render_subscription(sub: Subscription, api_version: str | None) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": f"/subscriptions/{sub.subscription_id}",
        "subscriptionId": sub.subscription_id,
    }
    new_shape = api_version_at_least(api_version, "2019-06-01")
    if new_shape:
        doc["tenantId"] = sub.tenant_id
    doc["displayName"] = sub.display_name
    doc["state"] = sub.state
    doc["subscriptionPolicies"] = {
        "locationPlacementId": "Public_2014-09-01",
        "quotaId": sub.quota_id,
        "spendingLimit": sub.spending_limit,
    }
    doc["authorizationSource"] = "RoleBased"
    if new_shape:
        doc["managedByTenants"] = [{"tenantId": t} for t in sub.managed_by_tenants]
        doc["tags"] = dict(sub.tags)
    return doc


@route("GET", r"/subscriptions", "subscriptions.list", scope="tenant")
def subscriptions_list(ctx: Ctx, m: re.Match[str]) -> Response:
    assert ctx.principal is not None
    subs = ctx.rt.state.subscriptions_of(ctx.principal.tenant_id)
    return paged(ctx, [orjson.dumps(render_subscription(s, ctx.req.api_version)) for s in subs])


@route("GET", SUB, "subscriptions.get")
def subscriptions_get(ctx: Ctx, m: re.Match[str]) -> Response:
    assert ctx.sub is not None
    return json_response(200, render_subscription(ctx.sub, ctx.req.api_version))


@route("GET", r"/tenants", "tenants.list", scope="tenant")
def tenants_list(ctx: Ctx, m: re.Match[str]) -> Response:
    assert ctx.principal is not None
    tenant = ctx.rt.state.tenant_by_id(ctx.principal.tenant_id)
    items = []
    if tenant is not None:
        items.append(
            orjson.dumps(
                {
                    "id": f"/tenants/{tenant.tenant_id}",
                    "tenantId": tenant.tenant_id,
                    "tenantCategory": "Home",
                    "countryCode": "US",
                    "displayName": tenant.display_name,
                    "domains": [tenant.domain],
                    "defaultDomain": tenant.domain,
                    "tenantType": "AAD",
                }
            )
        )
    return paged(ctx, items)


# -- key vaults and generic resources -------------------------------------------------------------
def _vaults(ctx: Ctx, rg: str | None = None) -> list[Any]:
    assert ctx.sub is not None
    vaults = ctx.rt.state.vaults.get(ctx.sub.subscription_id.lower(), [])
    if rg is not None:
        vaults = [v for v in vaults if v.resource_group.lower() == rg.lower()]
    return vaults


def _rg_missing(ctx: Ctx, rg: str) -> Response | None:
    assert ctx.sub is not None
    if ctx.rt.known_resource_group(ctx.sub.subscription_id, rg):
        return None
    return error_response(404, "ResourceGroupNotFound", f"Resource group '{rg}' could not be found.")


@route("GET", SUB + r"/providers/Microsoft\.KeyVault/vaults", "vaults.list")
def vaults_list(ctx: Ctx, m: re.Match[str]) -> Response:
    return paged(ctx, [v.raw() for v in _vaults(ctx)])


@route("GET", SUB + RG + r"/providers/Microsoft\.KeyVault/vaults", "vaults.list_by_resource_group")
def vaults_list_rg(ctx: Ctx, m: re.Match[str]) -> Response:
    return _rg_missing(ctx, m["rg"]) or paged(ctx, [v.raw() for v in _vaults(ctx, m["rg"])])


@route("GET", SUB + RG + r"/providers/Microsoft\.KeyVault/vaults/(?P<name>[^/]+)", "vaults.get")
def vaults_get(ctx: Ctx, m: re.Match[str]) -> Response:
    missing = _rg_missing(ctx, m["rg"])
    if missing:
        return missing
    for v in _vaults(ctx, m["rg"]):
        if v.name.lower() == m["name"].lower():
            return Response(200, v.raw())
    return error_response(
        404,
        "ResourceNotFound",
        f"The Resource 'Microsoft.KeyVault/vaults/{m['name']}' under resource group '{m['rg']}' was not found. "
        "For more details please go to https://aka.ms/ARMResourceNotFoundFix",
    )


_TYPE_FILTER = re.compile(r"^\s*resourceType\s+eq\s+'([^']+)'\s*$", re.IGNORECASE)


def _resources(ctx: Ctx, rg: str | None) -> Response:
    flt = ctx.req.param("$filter")
    wanted = None
    if flt:
        fm = _TYPE_FILTER.match(flt)
        if not fm:
            return error_response(
                400,
                "InvalidFilterInQueryString",
                f"Invalid $filter '{flt}' (supported: resourceType eq '<type>').",
            )
        wanted = fm.group(1).lower()
    items: list[bytes] = []
    if wanted in (None, "microsoft.keyvault/vaults"):
        for v in _vaults(ctx, rg):
            items.append(
                orjson.dumps(
                    {
                        "id": v.doc["id"],
                        "name": v.name,
                        "type": v.doc["type"],
                        "location": v.location,
                        "tags": v.doc["tags"],
                    }
                )
            )
    return paged(ctx, items)


@route("GET", SUB + r"/resources", "resources.list")
def resources_list(ctx: Ctx, m: re.Match[str]) -> Response:
    return _resources(ctx, None)


@route("GET", SUB + RG + r"/resources", "resources.list")
def resources_list_rg(ctx: Ctx, m: re.Match[str]) -> Response:
    return _rg_missing(ctx, m["rg"]) or _resources(ctx, m["rg"])


# -- pricings -------------------------------------------------------------------------------------
def _pricing_error(exc: pricing.PricingError) -> Response:
    return error_response(exc.status, exc.code, exc.message)


def _plan(ctx: Ctx, name: str) -> pricing.PricingPlan | None:
    assert ctx.sub is not None
    canonical = pricing.canonical_plan(name)
    if canonical is None:
        return None
    return ctx.rt.state.pricings[ctx.sub.subscription_id.lower()][canonical]


def _no_plan(name: str) -> Response:
    return error_response(
        404,
        "ResourceNotFound",
        f"The pricing '{name}' was not found. Supported pricings: {', '.join(pricing.PLANS)}.",
    )


@route("GET", SUB + SEC + r"/pricings", "pricings.list")
def pricings_list(ctx: Ctx, m: re.Match[str]) -> Response:
    assert ctx.sub is not None
    try:
        names = pricing.parse_name_filter(ctx.req.param("$filter"))
    except pricing.PricingError as exc:
        return _pricing_error(exc)
    now = ctx.rt.state.clock.now()
    plans = ctx.rt.state.pricings[ctx.sub.subscription_id.lower()]
    with ctx.rt.state.lock:
        value = [
            pricing.render(p, ctx.sub.subscription_id, now, ctx.req.api_version)
            for p in plans.values()
            if names is None or p.name.lower() in names
        ]
    return json_response(200, {"value": value})


@route("GET", SUB + SEC + r"/pricings/(?P<name>[^/]+)", "pricings.get")
def pricings_get(ctx: Ctx, m: re.Match[str]) -> Response:
    assert ctx.sub is not None
    plan = _plan(ctx, m["name"])
    if plan is None:
        return _no_plan(m["name"])
    with ctx.rt.state.lock:
        doc = pricing.render(plan, ctx.sub.subscription_id, ctx.rt.state.clock.now(), ctx.req.api_version)
    return json_response(200, doc)


@route("PUT", SUB + SEC + r"/pricings/(?P<name>[^/]+)", "pricings.update", kind="writes")
def pricings_update(ctx: Ctx, m: re.Match[str]) -> Response:
    assert ctx.sub is not None
    plan = _plan(ctx, m["name"])
    if plan is None:
        return _no_plan(m["name"])
    invalid = bad_body(ctx)
    if invalid:
        return invalid
    now = ctx.rt.state.clock.now()
    with ctx.rt.state.lock:
        try:
            pricing.update(plan, ctx.req.json(), now)
        except pricing.PricingError as exc:
            return _pricing_error(exc)
        doc = pricing.render(plan, ctx.sub.subscription_id, now, ctx.req.api_version, after_put=True)
    return json_response(200, doc)


@route("DELETE", SUB + SEC + r"/pricings/(?P<name>[^/]+)", "pricings.delete", kind="deletes")
def pricings_delete(ctx: Ctx, m: re.Match[str]) -> Response:
    return error_response(
        400,
        "InvalidInputError",
        "Deleting a pricing is supported only on resource-level scopes, not on subscriptions.",
    )


# -- security contacts ----------------------------------------------------------------------------
def _contact_name_ok(name: str) -> bool:
    return name.lower() == "default"


def _contact_404(name: str) -> Response:
    return error_response(404, "NotFound", f"Security contact '{name}' was not found.")


@route("GET", SUB + SEC + r"/securityContacts", "contacts.list")
def contacts_list(ctx: Ctx, m: re.Match[str]) -> Response:
    assert ctx.sub is not None
    contact = ctx.rt.state.contacts.get(ctx.sub.subscription_id.lower())
    items = (
        []
        if contact is None
        else [orjson.dumps(contacts.render(contact, ctx.sub.subscription_id, ctx.req.api_version))]
    )
    return paged(ctx, items)


@route("GET", SUB + SEC + r"/securityContacts/(?P<name>[^/]+)", "contacts.get")
def contacts_get(ctx: Ctx, m: re.Match[str]) -> Response:
    assert ctx.sub is not None
    contact = ctx.rt.state.contacts.get(ctx.sub.subscription_id.lower())
    if contact is None or not _contact_name_ok(m["name"]):
        return _contact_404(m["name"])
    return json_response(200, contacts.render(contact, ctx.sub.subscription_id, ctx.req.api_version))


@route("PUT", SUB + SEC + r"/securityContacts/(?P<name>[^/]+)", "contacts.create", kind="writes")
def contacts_create(ctx: Ctx, m: re.Match[str]) -> Response:
    assert ctx.sub is not None
    if not _contact_name_ok(m["name"]):
        return error_response(
            400, "InvalidInputError", f"The security contact name '{m['name']}' is not valid; use 'default'."
        )
    invalid = bad_body(ctx)
    if invalid:
        return invalid
    sid = ctx.sub.subscription_id.lower()
    with ctx.rt.state.lock:
        current = ctx.rt.state.contacts.get(sid)
        try:
            contact = contacts.parse(ctx.req.json(), ctx.req.api_version, current)
        except contacts.ContactError as exc:
            return error_response(exc.status, exc.code, exc.message)
        ctx.rt.state.contacts[sid] = contact
    status = 200 if current is not None else 201
    return json_response(status, contacts.render(contact, ctx.sub.subscription_id, ctx.req.api_version))


@route("DELETE", SUB + SEC + r"/securityContacts/(?P<name>[^/]+)", "contacts.delete", kind="deletes")
def contacts_delete(ctx: Ctx, m: re.Match[str]) -> Response:
    assert ctx.sub is not None
    sid = ctx.sub.subscription_id.lower()
    with ctx.rt.state.lock:
        existed = _contact_name_ok(m["name"]) and ctx.rt.state.contacts.pop(sid, None) is not None
    return empty(200 if existed else 204)


# -- alert suppression rules ----------------------------------------------------------------------
def _rules(ctx: Ctx) -> dict[str, suppression.Rule]:
    assert ctx.sub is not None
    return ctx.rt.state.rules.setdefault(ctx.sub.subscription_id.lower(), {})


def _rule_404(name: str) -> Response:
    return error_response(404, "NotFound", f"Alerts suppression rule '{name}' was not found.")


@route("GET", SUB + SEC + r"/alertsSuppressionRules", "rules.list")
def rules_list(ctx: Ctx, m: re.Match[str]) -> Response:
    assert ctx.sub is not None
    alert_type = ctx.req.param("alerttype")
    now = ctx.rt.state.clock.now()
    with ctx.rt.state.lock:
        items = [
            orjson.dumps(suppression.render(r, ctx.sub.subscription_id, now))
            for r in _rules(ctx).values()
            if not alert_type or r.alert_type.lower() == alert_type.lower()
        ]
    return paged(ctx, items)


@route("GET", SUB + SEC + r"/alertsSuppressionRules/(?P<name>[^/]+)", "rules.get")
def rules_get(ctx: Ctx, m: re.Match[str]) -> Response:
    assert ctx.sub is not None
    rule = _rules(ctx).get(m["name"].lower())
    if rule is None:
        return _rule_404(m["name"])
    return json_response(200, suppression.render(rule, ctx.sub.subscription_id, ctx.rt.state.clock.now()))


@route("PUT", SUB + SEC + r"/alertsSuppressionRules/(?P<name>[^/]+)", "rules.put", kind="writes")
def rules_put(ctx: Ctx, m: re.Match[str]) -> Response:
    assert ctx.sub is not None
    invalid = bad_body(ctx)
    if invalid:
        return invalid
    now = ctx.rt.state.clock.now()
    try:
        rule = suppression.parse(m["name"], ctx.req.json(), now)
    except suppression.RuleError as exc:
        return error_response(exc.status, exc.code, exc.message)
    with ctx.rt.state.lock:
        rules = _rules(ctx)
        existing = rules.get(rule.name.lower())
        if existing is not None:
            rule.name = existing.name
        rules[rule.name.lower()] = rule
    return json_response(200, suppression.render(rule, ctx.sub.subscription_id, now))


@route("DELETE", SUB + SEC + r"/alertsSuppressionRules/(?P<name>[^/]+)", "rules.delete", kind="deletes")
def rules_delete(ctx: Ctx, m: re.Match[str]) -> Response:
    with ctx.rt.state.lock:
        _rules(ctx).pop(m["name"].lower(), None)
    return empty(204)  # the SDK accepts only 204; deleting a missing rule is a no-op, as ARM deletes are


# -- cloud metadata (anonymous) -------------------------------------------------------------------
_AUDIENCES = ["https://management.core.windows.net/", "https://management.azure.com/"]


def _cloud(base: str) -> dict[str, Any]:
    return {
        "portal": "https://portal.azure.com",
        "authentication": {
            "loginEndpoint": f"{base}/",
            "audiences": list(_AUDIENCES),
            "tenant": "common",
            "identityProvider": "AAD",
        },
        "media": "https://rest.media.azure.net",
        "graphAudience": "https://graph.windows.net/",
        "graph": "https://graph.windows.net/",
        "name": "AzureCloud",
        "suffixes": {
            "azureDataLakeStoreFileSystem": "azuredatalakestore.net",
            "acrLoginServer": "azurecr.io",
            "sqlServerHostname": "database.windows.net",
            "azureDataLakeAnalyticsCatalogAndJob": "azuredatalakeanalytics.net",
            "keyVaultDns": "vault.azure.net",
            "storage": "core.windows.net",
            "azureFrontDoorEndpointSuffix": "azurefd.net",
            "storageSyncEndpointSuffix": "afs.azure.net",
            "mhsmDns": "managedhsm.azure.net",
            "mysqlServerEndpoint": "mysql.database.azure.com",
            "postgresqlServerEndpoint": "postgres.database.azure.com",
            "mariadbServerEndpoint": "mariadb.database.azure.com",
            "synapseAnalytics": "dev.azuresynapse.net",
            "attestationEndpoint": "attest.azure.net",
        },
        "batch": "https://batch.core.windows.net/",
        "resourceManager": f"{base}/",
        "vmImageAliasDoc": "https://raw.githubusercontent.com/Azure/azure-rest-api-specs/main/arm-compute/quickstart-templates/aliases.json",
        "activeDirectoryDataLake": "https://datalake.azure.net/",
        "sqlManagement": "https://management.core.windows.net:8443/",
        "microsoftGraphResourceId": "https://graph.microsoft.com/",
        "appInsightsResourceId": "https://api.applicationinsights.io",
        "appInsightsTelemetryChannelResourceId": "https://dc.applicationinsights.azure.com/v2/track",
        "attestationResourceId": "https://attest.azure.net",
        "synapseAnalyticsResourceId": "https://dev.azuresynapse.net",
        "logAnalyticsResourceId": "https://api.loganalytics.io",
        "ossrDbmsResourceId": "https://ossrdbms-aad.database.windows.net",
    }


def _sovereign(
    name: str, domain: str, login: str, portal: str, graph: str, ms_graph: str, suffixes: dict[str, str]
) -> dict[str, Any]:
    """The other public clouds, as ARM lists them next to the current one (data only: nothing contacts them)."""
    return {
        "portal": portal,
        "authentication": {
            "loginEndpoint": login,
            "audiences": [f"https://management.core.{domain}", f"https://management.{domain}"],
            "tenant": "common",
            "identityProvider": "AAD",
        },
        "media": f"https://media.{domain}",
        "graphAudience": graph,
        "graph": graph,
        "name": name,
        "suffixes": suffixes,
        "batch": f"https://batch.core.{domain}/" if "usgov" in domain else f"https://batch.{domain}/",
        "resourceManager": f"https://management.{domain}/",
        "sqlManagement": f"https://management.core.{domain}:8443/",
        "microsoftGraphResourceId": ms_graph,
    }


_OTHER_CLOUDS = [
    _sovereign(
        "AzureChinaCloud",
        "chinacloudapi.cn",
        "https://login.chinacloudapi.cn",
        "https://portal.azure.cn",
        "https://graph.chinacloudapi.cn",
        "https://microsoftgraph.chinacloudapi.cn",
        {
            "acrLoginServer": "azurecr.cn",
            "sqlServerHostname": "database.chinacloudapi.cn",
            "keyVaultDns": "vault.azure.cn",
            "storage": "core.chinacloudapi.cn",
            "mhsmDns": "managedhsm.azure.cn",
            "mysqlServerEndpoint": "mysql.database.chinacloudapi.cn",
            "postgresqlServerEndpoint": "postgres.database.chinacloudapi.cn",
            "mariadbServerEndpoint": "mariadb.database.chinacloudapi.cn",
        },
    ),
    _sovereign(
        "AzureUSGovernment",
        "usgovcloudapi.net",
        "https://login.microsoftonline.us",
        "https://portal.azure.us",
        "https://graph.windows.net/",
        "https://graph.microsoft.us/",
        {
            "acrLoginServer": "azurecr.us",
            "sqlServerHostname": "database.usgovcloudapi.net",
            "keyVaultDns": "vault.usgovcloudapi.net",
            "storage": "core.usgovcloudapi.net",
            "mhsmDns": "managedhsm.usgovcloudapi.net",
            "mysqlServerEndpoint": "mysql.database.usgovcloudapi.net",
            "postgresqlServerEndpoint": "postgres.database.usgovcloudapi.net",
            "mariadbServerEndpoint": "mariadb.database.usgovcloudapi.net",
        },
    ),
]


@route("GET", r"/metadata/endpoints", "metadata", scope="anonymous")
def metadata_endpoints(ctx: Ctx, m: re.Match[str]) -> Response:
    """As ARM answers it: `2022-09-01` and later, the current cloud's object (azure-cli 2.x's `az cloud register
    --endpoint-resource-manager` reads exactly that); `2019-05-01` up to then, the list of all clouds (the current
    one first); older versions, the legacy single object (`galleryEndpoint`, `graphEndpoint`, `portalEndpoint`,
    `authentication`). The current cloud is the emulator (`AzureCloud` with its URL as ARM and login endpoint)."""
    version = ctx.req.api_version
    if not version:
        return error_response(
            400,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        )
    base = ctx.req.base_url
    if api_version_at_least(version, "2022-09-01"):
        return json_response(200, _cloud(base))
    if api_version_at_least(version, "2019-05-01"):
        return json_response(200, [_cloud(base), *_OTHER_CLOUDS])
    doc: dict[str, Any] = {
        "galleryEndpoint": "https://gallery.azure.com/",
        "graphEndpoint": "https://graph.windows.net/",
        "graphAudience": "https://graph.windows.net/",
        "portalEndpoint": "https://portal.azure.com/",
        "authentication": {"loginEndpoint": f"{base}/", "audiences": list(_AUDIENCES)},
    }
    if api_version_at_least(version, "2018-01-01"):
        host = urlsplit(base).netloc
        locations = sorted({s.asc_location for s in ctx.rt.state.subscriptions.values()})
        doc["cloudEndpoint"] = {"public": {"endpoint": host, "locations": locations}}
    return json_response(200, doc)
