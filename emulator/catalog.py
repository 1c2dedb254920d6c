"""The emulator's own copy of the Defender for Key Vault alert catalog: the 14 documented alert types.

The emulator plays Azure and imports nothing of the project, so it carries the facts it generates alerts
from (type, title, severity, tactics, description, remediation steps, aliases) here. The order matters:
the seeded worlds draw types from this tuple, so reordering it changes every generated world.
`tests/test_emulator_catalog.py` checks this copy and the product's `alerts.catalog` against
`tests/reference/kv_alert_catalog.json`; change all three together.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AlertTypeInfo:
    alert_type: str
    display_name: str
    severity: str
    tactics: tuple[str, ...]  # as the docs write them, e.g. "Credential Access"
    description: str
    remediation_steps: tuple[str, ...]
    aliases: tuple[str, ...] = ()

    @property
    def intents(self) -> tuple[str, ...]:
        """The tactics as the REST `intent` enum spells them ("Credential Access" -> "CredentialAccess")."""
        return tuple(tactic_to_intent(t) for t in self.tactics)


def tactic_to_intent(tactic: str) -> str:
    return tactic.replace(" ", "").replace("-", "")


KEY_VAULT_ALERT_TYPES: tuple[AlertTypeInfo, ...] = (
    AlertTypeInfo(
        alert_type="KV_SuspiciousIPAccess",
        display_name="Access from a suspicious IP address to a key vault",
        severity="Medium",
        tactics=("Credential Access",),
        description=(
            "A request from an address that Microsoft threat intelligence has flagged as malicious "
            "succeeded against the vault. A successful call from such an address suggests an attacker "
            "may already hold working credentials."
        ),
        remediation_steps=(
            "Look up the caller IP, object ID and UPN in the alert and check whether the address belongs to your organisation or a known partner.",
            "If the address is not yours, turn on the Key Vault firewall and allow only trusted networks and services.",
            "Remove or narrow the access-policy / RBAC grant of the identity that made the call.",
            "Use the vault's diagnostic (AuditEvent) logs to list every object that identity read, then rotate or disable those secrets, keys and certificates.",
        ),
    ),
    AlertTypeInfo(
        alert_type="KV_TORAccess",
        display_name="Access from a TOR exit node to a key vault",
        severity="Medium",
        tactics=("Credential Access",),
        description=(
            "The vault was reached from a known Tor exit relay, meaning the caller deliberately hid its"
            " real origin. Legitimate workloads almost never do this, so it is a strong sign of misuse "
            "of stolen credentials."
        ),
        remediation_steps=(
            "Identify the principal (object ID / UPN / app ID) shown in the alert and ask its owner whether they used Tor.",
            "Block public access with the Key Vault firewall and restrict it to known virtual networks or IP ranges.",
            "Revoke or reduce the permissions of the principal involved.",
            "Review AuditEvent logs for everything accessed from Tor addresses and rotate those objects.",
        ),
    ),
    AlertTypeInfo(
        alert_type="KV_OperationVolumeAnomaly",
        display_name="High volume of operations in a key vault",
        severity="Medium",
        tactics=("Credential Access",),
        description=(
            "A user, service principal or vault showed far more operations than its learned baseline. "
            "The spike may be a new deployment, but it can also mean someone is harvesting the vault's "
            "contents."
        ),
        remediation_steps=(
            "Check with the owner of the principal whether a deployment, migration or new job explains the spike.",
            "If unexplained, restrict or remove the principal's permissions on the vault.",
            "Pull the vault's diagnostic logs for the period and list which secrets/keys were read.",
            "Rotate or disable any objects read without a business reason; suppress the alert for that principal only once the activity is confirmed benign.",
        ),
    ),
    AlertTypeInfo(
        alert_type="KV_PutGetAnomaly",
        display_name="Suspicious policy change and secret query in a key vault",
        severity="Medium",
        tactics=("Credential Access",),
        description=(
            "An identity changed the vault's access policy (a VaultPut) and then read one or more "
            "secrets, a sequence it does not normally perform. This matches an attacker granting itself"
            " rights in order to read secrets it could not reach before."
        ),
        remediation_steps=(
            "Inspect the access-policy change (who made it, which principal gained which permissions) and revert it if unapproved.",
            "Confirm with the identity's owner whether the change and the reads were intended.",
            "Check whether the actor holds an Entra ID or Azure RBAC role that let it edit the policy, and reduce it if not needed.",
            "Rotate every secret that was read after the policy change.",
        ),
    ),
    AlertTypeInfo(
        alert_type="KV_ListGetAnomaly",
        display_name="Suspicious secret listing and query in a key vault",
        severity="Medium",
        tactics=("Credential Access",),
        description=(
            "An identity enumerated the vault's secrets and then fetched one or more of them, a pattern"
            " unusual for it. Listing followed by reads is typical of secret dumping ahead of lateral "
            "movement."
        ),
        remediation_steps=(
            "Verify with the identity's owner whether a tool or script legitimately enumerates the vault.",
            "If not, remove the principal's List/Get permissions or delete its access entry.",
            "Use AuditEvent logs (SecretList followed by SecretGet) to build the list of secrets that were retrieved.",
            "Rotate or disable those secrets and ask the owners of dependent applications to check for misuse.",
        ),
    ),
    AlertTypeInfo(
        alert_type="KV_AccountVolumeAccessDeniedAnomaly",
        display_name="Unusual access denied - User accessing high volume of key vaults denied",
        severity="Low",
        tactics=("Discovery",),
        description=(
            "Within the last day an identity tried to reach an abnormally large number of vaults and "
            "was refused. Nothing was read, but the breadth of attempts looks like reconnaissance for "
            "an accessible vault."
        ),
        remediation_steps=(
            "Identify the identity and ask its owner whether a scanner, inventory tool or automation explains the attempts.",
            "If not explained, treat the identity's credentials as suspect: reset or revoke them.",
            "Confirm the denied vaults still have least-privilege access policies and firewalls in place.",
            "Watch for follow-up successful-access alerts from the same identity.",
        ),
        aliases=("KV_DeniedAccountVolumeAnomaly",),
    ),
    AlertTypeInfo(
        alert_type="KV_UserAccessDeniedAnomaly",
        display_name="Unusual access denied - Unusual user accessing key vault denied",
        severity="Low",
        tactics=("Initial Access", "Discovery"),
        description=(
            "A user who does not normally use this vault attempted to access it and was rejected. The "
            "failure protects the data, but the attempt may be an early probe by someone holding that "
            "user's credentials."
        ),
        remediation_steps=(
            "Contact the user to confirm whether they tried to access the vault and why.",
            "If they did not, investigate the account for compromise (sign-in history, MFA, password reset).",
            "Keep the vault's permissions unchanged (the denial worked) and confirm no broader role would let the user in.",
            "Suppress for that user only if the access attempt is confirmed as expected.",
        ),
    ),
    AlertTypeInfo(
        alert_type="KV_AppAnomaly",
        display_name="Unusual application accessed a key vault",
        severity="Medium",
        tactics=("Credential Access",),
        description=(
            "A service principal that has no history with this vault successfully accessed it. It can "
            "follow a code or infrastructure change, but may also mean an application credential was "
            "stolen and reused."
        ),
        remediation_steps=(
            "Find the application (app ID / object ID) and confirm with its owner that it should use this vault.",
            "If unauthorised, remove the application's access policy or role assignment on the vault.",
            "Rotate the application's own client secret or certificate if it may be compromised.",
            "Review which secrets the app read and rotate them.",
        ),
    ),
    AlertTypeInfo(
        alert_type="KV_OperationPatternAnomaly",
        display_name="Unusual operation pattern in a key vault",
        severity="Medium",
        tactics=("Credential Access",),
        description=(
            "The mix or sequence of operations performed by a user, service principal or vault differs "
            "from its learned profile. A changed workload can cause this, but so can an intruder "
            "exploring the vault."
        ),
        remediation_steps=(
            "Compare the operations in the diagnostic logs with what the principal normally does.",
            "Check with the principal's owner for recent code, pipeline or tooling changes.",
            "If unexplained, restrict the principal's permissions and enable the vault firewall.",
            "Rotate objects touched by the unusual operations.",
        ),
    ),
    AlertTypeInfo(
        alert_type="KV_UserAnomaly",
        display_name="Unusual user accessed a key vault",
        severity="Medium",
        tactics=("Credential Access",),
        description=(
            "A user account that does not usually work with this vault accessed it successfully. It "
            "might be a new team member, or an attacker operating with a compromised account."
        ),
        remediation_steps=(
            "Contact the user and their manager to confirm the access was intended.",
            "If not, revoke the user's vault permissions and investigate the account for compromise.",
            "Check any Entra ID / RBAC role that granted the access and reduce it if excessive.",
            "List and rotate the secrets the user read.",
        ),
    ),
    AlertTypeInfo(
        alert_type="KV_UserAppAnomaly",
        display_name="Unusual user-application pair accessed a key vault",
        severity="Medium",
        tactics=("Credential Access",),
        description=(
            "A combination of user and client application that has not been seen together on this vault"
            " accessed it. A familiar user acting through an unfamiliar tool can indicate token theft "
            "or an attacker's tooling."
        ),
        remediation_steps=(
            "Identify both the user and the client application (app ID) from the alert.",
            "Ask the user whether they used that application (for example a new CLI, SDK or script).",
            "If not, revoke the user's sessions/tokens and restrict vault access.",
            "Review and rotate any secrets accessed through that pair.",
        ),
    ),
    AlertTypeInfo(
        alert_type="KV_AccountVolumeAnomaly",
        display_name="User accessed high volume of key vaults",
        severity="Medium",
        tactics=("Credential Access",),
        description=(
            "A user or service principal successfully touched far more vaults than it usually does. "
            "This breadth can reflect an admin task, or a compromised identity sweeping vaults for "
            "secrets."
        ),
        remediation_steps=(
            "Confirm with the identity's owner whether a migration, audit or automation covered many vaults.",
            "If not, disable or restrict the identity and review its role assignments across subscriptions.",
            "Query the logs of each affected vault for objects the identity read.",
            "Rotate the exposed secrets, keys and certificates.",
        ),
    ),
    AlertTypeInfo(
        alert_type="KV_SuspiciousIPAccessDenied",
        display_name="Denied access from a suspicious IP to a key vault",
        severity="Low",
        tactics=("Credential Access",),
        description=(
            "A request from an address flagged by Microsoft threat intelligence reached the vault but "
            "was refused. No data was exposed, yet it shows the vault is being targeted and that some "
            "environment may be compromised."
        ),
        remediation_steps=(
            "Note the IP and the identity used (if any) and check whether that identity's credentials are in use elsewhere.",
            "Make sure the Key Vault firewall / private endpoint keeps blocking public access.",
            "If a valid identity was presented, rotate its credentials.",
            "Look for related successful-access alerts from the same IP.",
        ),
    ),
    AlertTypeInfo(
        alert_type="KV_UnusualAccessSuspiciousIP",
        display_name="Unusual access to the key vault from a suspicious IP (Non-Microsoft or external)",
        severity="Medium",
        tactics=("Credential Access",),
        description=(
            "Within the last day an identity made anomalous calls to vaults from an address outside "
            "Microsoft's network. External origin combined with unusual behaviour raises the chance "
            "that credentials are being abused off-platform."
        ),
        remediation_steps=(
            "Determine whether the external IP belongs to your offices, VPN or a known partner.",
            "If not, enable the vault firewall or private endpoint so only approved networks can connect.",
            "Restrict or remove the principal's vault permissions and investigate its credentials.",
            "Review AuditEvent logs for objects read from that IP and rotate them.",
        ),
    ),
)
