"""Value pools the generators draw from: people, applications, addresses, user agents, hostile strings.

Every address below is either from the documentation ranges (RFC 5737) or a made-up one in public
space; the emulator never contacts any of them. People and applications are fictional.
"""

from __future__ import annotations

from typing import Any

# (given name, family name) -> account entities and UPNs
PEOPLE: tuple[tuple[str, str], ...] = (
    ("Alice", "Martin"),
    ("Bilal", "Haddad"),
    ("Chen", "Wei"),
    ("Dmitri", "Volkov"),
    ("Emma", "Johansson"),
    ("Farah", "Nasser"),
    ("Gabriel", "Costa"),
    ("Hana", "Kobayashi"),
    ("Isabel", "Fernandez"),
    ("Jonas", "Becker"),
    ("Kavya", "Iyer"),
    ("Liam", "O'Connor"),
    ("Maya", "Goldberg"),
    ("Noah", "Schmidt"),
    ("Olivia", "Brown"),
    ("Priya", "Raman"),
)

APPS: tuple[str, ...] = (
    "payments-api",
    "ci-deploy-pipeline",
    "terraform-prod",
    "backup-agent",
    "orders-worker",
    "reporting-etl",
    "github-actions-oidc",
    "aks-workload-identity",
    "legacy-batch-runner",
    "customer-portal",
)

# (address, geo) for callers from outside Azure; geo follows the alert entity's location shape
EXTERNAL_IPS: tuple[tuple[str, dict[str, Any]], ...] = (
    (
        "185.220.101.47",
        {
            "countryCode": "DE",
            "countryName": "Germany",
            "state": "Hesse",
            "city": "Frankfurt am Main",
            "latitude": 50.1109,
            "longitude": 8.6821,
            "asn": 205100,
            "carrier": "F3 Netze e.V.",
            "organization": "F3 Netze e.V.",
            "organizationType": "Hosting",
        },
    ),
    (
        "198.51.100.23",
        {
            "countryCode": "US",
            "countryName": "United States",
            "state": "Virginia",
            "city": "Ashburn",
            "latitude": 39.0438,
            "longitude": -77.4874,
            "asn": 14061,
            "carrier": "DigitalOcean LLC",
            "organization": "DigitalOcean LLC",
            "organizationType": "Hosting",
        },
    ),
    (
        "203.0.113.77",
        {
            "countryCode": "NL",
            "countryName": "Netherlands",
            "state": "North Holland",
            "city": "Amsterdam",
            "latitude": 52.3676,
            "longitude": 4.9041,
            "asn": 60781,
            "carrier": "LeaseWeb Netherlands B.V.",
            "organization": "LeaseWeb Netherlands B.V.",
            "organizationType": "Hosting",
        },
    ),
    (
        "192.0.2.145",
        {
            "countryCode": "RU",
            "countryName": "Russia",
            "state": "Moscow",
            "city": "Moscow",
            "latitude": 55.7558,
            "longitude": 37.6173,
            "asn": 12389,
            "carrier": "Rostelecom",
            "organization": "PJSC Rostelecom",
            "organizationType": "ISP",
        },
    ),
    (
        "198.51.100.200",
        {
            "countryCode": "BR",
            "countryName": "Brazil",
            "state": "Sao Paulo",
            "city": "Sao Paulo",
            "latitude": -23.5505,
            "longitude": -46.6333,
            "asn": 28573,
            "carrier": "Claro NXT Telecomunicacoes Ltda",
            "organization": "Claro S.A.",
            "organizationType": "ISP",
        },
    ),
    (
        "203.0.113.9",
        {
            "countryCode": "SG",
            "countryName": "Singapore",
            "state": "Singapore",
            "city": "Singapore",
            "latitude": 1.3521,
            "longitude": 103.8198,
            "asn": 16509,
            "carrier": "Amazon.com, Inc.",
            "organization": "Amazon Data Services Singapore",
            "organizationType": "Hosting",
        },
    ),
    (
        "192.0.2.88",
        {
            "countryCode": "GB",
            "countryName": "United Kingdom",
            "state": "Berkshire",
            "city": "Reading",
            "latitude": 51.4543,
            "longitude": -0.9781,
            "asn": 6584,
            "carrier": "Microsoft Corporation",
            "organization": "Contoso Ltd",
            "organizationType": "Corporate",
        },
    ),
)

# Microsoft-owned (Azure) addresses: callers from inside Azure
AZURE_IPS: tuple[tuple[str, dict[str, Any]], ...] = (
    (
        "20.61.15.4",
        {
            "countryCode": "NL",
            "countryName": "Netherlands",
            "state": "North Holland",
            "city": "Amsterdam",
            "latitude": 52.3740,
            "longitude": 4.8897,
            "asn": 8075,
            "carrier": "Microsoft Corporation",
            "organization": "Microsoft Azure",
            "organizationType": "Hosting",
        },
    ),
    (
        "52.164.206.56",
        {
            "countryCode": "IE",
            "countryName": "Ireland",
            "state": "Dublin",
            "city": "Dublin",
            "latitude": 53.3498,
            "longitude": -6.2603,
            "asn": 8075,
            "carrier": "Microsoft Corporation",
            "organization": "Microsoft Azure",
            "organizationType": "Hosting",
        },
    ),
    (
        "40.78.12.201",
        {
            "countryCode": "US",
            "countryName": "United States",
            "state": "Virginia",
            "city": "Boydton",
            "latitude": 36.6676,
            "longitude": -78.3875,
            "asn": 8075,
            "carrier": "Microsoft Corporation",
            "organization": "Microsoft Azure",
            "organizationType": "Hosting",
        },
    ),
    (
        "13.69.104.3",
        {
            "countryCode": "NL",
            "countryName": "Netherlands",
            "state": "North Holland",
            "city": "Amsterdam",
            "latitude": 52.3667,
            "longitude": 4.9,
            "asn": 8075,
            "carrier": "Microsoft Corporation",
            "organization": "Microsoft Azure",
            "organizationType": "Hosting",
        },
    ),
)

USER_AGENTS: tuple[str, ...] = (
    "azsdk-python-keyvault-secrets/4.8.0 Python/3.11.7 (Linux-6.1.0-18-amd64-x86_64-with-glibc2.36)",
    "azsdk-net-Security.KeyVault.Secrets/4.6.0 (.NET 8.0.1; Microsoft Windows 10.0.20348)",
    "azsdk-java-azure-security-keyvault-secrets/4.8.0 (17.0.9; Linux; 5.15.0-1053-azure)",
    "azsdk-go-azsecrets/v1.1.0 (go1.21.5; linux)",
    "Go-http-client/1.1",
    "curl/8.5.0",
    "python-requests/2.31.0",
    "PowerShell/7.4.1 Az.KeyVault/5.2.0",
    "AzureCLI/2.57.0 (DEB) azsdk-python-azure-keyvault/7.3 Python/3.11.5",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/121.0 Safari/537.36",
)

SECRET_NAMES: tuple[str, ...] = (
    "db-admin-password",
    "storage-connection-string",
    "stripe-api-key",
    "jwt-signing-key",
    "sp-client-secret",
    "redis-access-key",
    "sendgrid-api-key",
    "tls-wildcard-cert",
    "github-deploy-token",
    "cosmos-primary-key",
)

OPERATIONS: tuple[str, ...] = (
    "SecretGet",
    "SecretList",
    "SecretListVersions",
    "VaultGet",
    "KeyGet",
    "KeyDecrypt",
    "KeySign",
    "CertificateGet",
    "CertificateList",
)

# Strings that a portal must render as text, never as markup or template code
HOSTILE_SCRIPT = "<script>alert(1)</script>"
HOSTILE_IMG = "<img src=x onerror=alert(1)>"
HOSTILE_TEMPLATE = "{{7*7}}"
HOSTILE_JS_URL = "javascript:alert(document.cookie)"
NON_LATIN: tuple[str, ...] = (
    "Сервис платежей",  # Cyrillic
    "支付服务-生产",  # CJK
    "خدمة الدفع",  # Arabic (RTL)
    "🔑 vault-bot 🚀",  # emoji
)


def long_text(length: int = 10_000) -> str:
    unit = "A very long value that keeps going to test truncation and wrapping. "
    return (unit * (length // len(unit) + 1))[:length]
