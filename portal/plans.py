"""Defender plans: pricing names as Azure spells them, with the Azure portal's labels (pure data)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Plan:
    name: str  # Microsoft.Security/pricings/{name}
    label: str  # as the portal's Defender plans table shows it
    resource: str  # what "resource quantity" counts
    alert_prefixes: tuple[str, ...] = ()
    components: tuple[str, ...] = ()  # productComponentName values seen on alerts of this plan
    deprecated: bool = False
    replaced_by: str = ""


PLANS: tuple[Plan, ...] = (
    Plan(
        "VirtualMachines", "Servers", "servers", ("VM_", "Linux_", "Windows_"), ("Servers", "VirtualMachines")
    ),
    Plan(
        "AppServices", "App Service", "instances", ("AppServices_", "APPS_"), ("AppServices", "App Service")
    ),
    Plan("SqlServers", "Azure SQL Databases", "servers", ("SQL_",), ("SqlServers", "Databases", "SQL")),
    Plan("SqlServerVirtualMachines", "SQL servers on machines", "servers", (), ("SqlServerVirtualMachines",)),
    Plan(
        "OpenSourceRelationalDatabases",
        "Open-source relational databases",
        "servers",
        (),
        ("OpenSourceRelationalDatabases",),
    ),
    Plan(
        "StorageAccounts",
        "Storage",
        "storage accounts",
        ("Storage.", "STORAGE_", "Storage_"),
        ("StorageAccounts", "Storage"),
    ),
    Plan(
        "KubernetesService",
        "Kubernetes",
        "kubernetes cores",
        ("K8S_",),
        ("KubernetesService",),
        True,
        "Containers",
    ),
    Plan(
        "ContainerRegistry",
        "Container registries",
        "container registries",
        (),
        ("ContainerRegistry",),
        True,
        "Containers",
    ),
    Plan("Containers", "Containers", "container hosts", ("K8S.", "K8S_"), ("Containers",)),
    Plan("KeyVaults", "Key Vault", "key vaults", ("KV_",), ("KeyVaults", "Key Vault", "KeyVault")),
    Plan(
        "Arm", "Resource Manager", "subscriptions", ("ARM_",), ("Arm", "ResourceManager", "Resource Manager")
    ),
    Plan("Dns", "DNS", "DNS queries", ("DNS_",), ("Dns", "DNS"), True),
    Plan("CosmosDbs", "Azure Cosmos DB", "accounts", ("CosmosDB_",), ("CosmosDbs", "CosmosDB")),
    Plan("CloudPosture", "Defender CSPM", "resources", (), ("CloudPosture",)),
    Plan("Api", "APIs", "APIs", ("API_",), ("Api",)),
    Plan("AI", "AI services", "AI resources", ("AI.",), ("AI",)),
)

BY_NAME: dict[str, Plan] = {p.name.lower(): p for p in PLANS}
_BY_COMPONENT: dict[str, Plan] = {c.lower(): p for p in PLANS for c in p.components}


def plan_label(name: str) -> str:
    plan = BY_NAME.get(name.lower())
    return plan.label if plan else name


def plan_for_alert(product_component_name: str, alert_type: str) -> str:
    """The plan an alert belongs to: from productComponentName, else from its type's prefix (KV_ -> KeyVaults)."""
    if product_component_name:
        plan = _BY_COMPONENT.get(product_component_name.lower()) or BY_NAME.get(
            product_component_name.lower()
        )
        if plan:
            return plan.name
    bare = alert_type.removeprefix("SIMULATED_")
    for plan in PLANS:
        if any(bare.startswith(prefix) for prefix in plan.alert_prefixes):
            return plan.name
    return product_component_name or ""
