"""One in-process emulator per test session (per xdist worker), reset to its seed before every test."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from azure.identity import ClientSecretCredential
from azure.mgmt.security import SecurityCenter

from emulator.server import EmulatorServer

PAGE_SIZE = 50
PROFILE = {
    None: "2024-01-01",
    "alerts": "2022-01-01",
    "pricings": "2024-01-01",
    "security_contacts": "2020-01-01-preview",
    "alerts_suppression_rules": "2019-01-01-preview",
}


@pytest.fixture(scope="session")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorServer]:
    srv = EmulatorServer(
        preset="demo",
        seed=int(os.environ.get("EMULATOR_TEST_SEED", "1")),
        port=0,
        data_dir=tmp_path_factory.mktemp("emulator"),
        page_size=PAGE_SIZE,
    )
    with srv:
        yield srv


@pytest.fixture(autouse=True)
def _fresh(emu: EmulatorServer) -> None:
    emu.runtime.reset()


@pytest.fixture(scope="session")
def ca(emu: EmulatorServer) -> str:
    return str(emu.ca_path)


@pytest.fixture(scope="session")
def tenant(emu: EmulatorServer) -> dict[str, Any]:
    """The first tenant (Contoso: two subscriptions)."""
    return emu.connections[0]


@pytest.fixture(scope="session")
def other_tenant(emu: EmulatorServer) -> dict[str, Any]:
    """The second tenant (Fabrikam: one subscription, on the legacy PerTransaction Key Vault plan)."""
    return emu.connections[1]


def make_credential(
    emu: EmulatorServer, conn: dict[str, Any], secret: str | None = None
) -> ClientSecretCredential:
    return ClientSecretCredential(
        conn["tenant_id"],
        conn["client_id"],
        secret if secret is not None else conn["client_secret"],
        authority=emu.base_url,
        disable_instance_discovery=True,
        connection_verify=str(emu.ca_path),
    )


@pytest.fixture(scope="session")
def credential(emu: EmulatorServer, tenant: dict[str, Any]) -> ClientSecretCredential:
    return make_credential(emu, tenant)


@pytest.fixture(scope="session")
def other_credential(emu: EmulatorServer, other_tenant: dict[str, Any]) -> ClientSecretCredential:
    return make_credential(emu, other_tenant)


@pytest.fixture(scope="session")
def sub_id(tenant: dict[str, Any]) -> str:
    """Contoso Production: KeyVaults Standard with trial time left, suppression rules, RG and sub-level alerts."""
    return str(tenant["subscription_ids"][0])


@pytest.fixture(scope="session")
def dev_sub_id(tenant: dict[str, Any]) -> str:
    """Contoso Development: KeyVaults Free and never enabled (a first enabling starts the trial)."""
    return str(tenant["subscription_ids"][1])


@pytest.fixture(scope="session")
def lab_sub_id(other_tenant: dict[str, Any]) -> str:
    return str(other_tenant["subscription_ids"][0])


@pytest.fixture
def security(
    emu: EmulatorServer, credential: ClientSecretCredential, ca: str
) -> Callable[..., SecurityCenter]:
    def build(
        subscription_id: str, cred: ClientSecretCredential | None = None, **kwargs: Any
    ) -> SecurityCenter:
        return SecurityCenter(
            cred or credential,
            subscription_id,
            base_url=emu.base_url,
            profile=PROFILE,
            connection_verify=ca,
            polling_interval=0,
            **kwargs,
        )

    return build


@pytest.fixture(scope="session")
def token(credential: ClientSecretCredential) -> str:
    return credential.get_token("https://management.azure.com/.default").token


class Http:
    """Plain `requests` against the emulator (trust_env off: this machine sets REQUESTS_CA_BUNDLE)."""

    def __init__(self, emu: EmulatorServer, token: str) -> None:
        self.emu = emu
        self.session = requests.Session()
        self.session.trust_env = False
        self.session.verify = str(emu.ca_path)
        self.token = token

    def arm(self, method: str, path: str, *, auth: bool = True, **kwargs: Any) -> requests.Response:
        headers = dict(kwargs.pop("headers", {}) or {})
        if auth:
            headers.setdefault("Authorization", f"Bearer {self.token}")
        url = path if path.startswith("https://") else f"{self.emu.base_url}{path}"
        return self.session.request(method, url, headers=headers, timeout=30, **kwargs)

    def control(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.emu.control_token}"}
        return self.session.request(
            method, f"{self.emu.control_url}{path}", headers=headers, timeout=30, **kwargs
        )

    def requests_since(self, seq: int, op: str | None = None) -> list[dict[str, Any]]:
        entries = self.control("GET", f"/requests?since={seq}").json()["requests"]
        return [e for e in entries if op is None or e["op"] == op]

    def last_seq(self) -> int:
        return int(self.control("GET", "/requests?since=999999999").json()["last_seq"])


@pytest.fixture
def http(emu: EmulatorServer, token: str) -> Http:
    return Http(emu, token)


def wait_for(check: Callable[[], Any], timeout: float = 5.0) -> Any:
    """Poll `check` until it returns something truthy (no fixed sleeps)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


def specs_dir() -> Path | None:
    candidates = []
    if os.environ.get("AZURE_SPECS_DIR"):
        candidates.append(Path(os.environ["AZURE_SPECS_DIR"]))
    repo_root = Path(__file__).resolve().parents[2]
    # The REST spec examples the checks read are kept with the tests (a copy of the shared azure-specs folder), so
    # the check works on any clone.
    candidates.append(repo_root / "tests" / "reference" / "azure-specs")
    for path in candidates:
        if path.is_dir():
            return path
    return None
